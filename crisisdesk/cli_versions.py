"""``crisisdesk versions``: list a project's model versions per task, and make an older
one active again (the command-line side of the app's Model versions window)."""

from __future__ import annotations

import argparse
import json

from crisisdesk.cli import OK, _fail
from crisisdesk.core.words import plural


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "versions", help="list each task's model versions, or make one active again",
        description="Lists each task's model versions, newest first (* marks the active "
                    "one, whose predictions the app shows), with what each reads and how "
                    "it scored. With --activate, that version becomes its task's active "
                    "one; then run `crisisdesk predict` for the items it has not scored.")
    p.add_argument("project")
    p.add_argument("--task", help="only this task's versions")
    p.add_argument("--activate", type=int, metavar="ID",
                   help="make version ID its task's active version")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_versions)


def cmd_versions(args: argparse.Namespace) -> int:
    from crisisdesk.core.project import Project

    project = Project.open(args.project)
    if args.activate is not None:
        return _activate(project, args.activate, args.project)
    from crisisdesk.core.fusion.versions import summarise_versions

    with project.open_store() as store:
        tasks = list(store.schemes())
        if args.task is not None and args.task not in tasks:
            try:  # a task whose stored scheme was left out: KeyError says why
                store.scheme(args.task)
            except KeyError as exc:
                return _fail(str(exc.args[0]))
        listing = {task: summarise_versions(store, task)
                   for task in ([args.task] if args.task else tasks)}
    if args.json:
        print(json.dumps({task: [v.as_dict() for v in versions]
                          for task, versions in listing.items()}, indent=2))
        return OK
    for task, versions in listing.items():
        if not versions:
            print(f"{task}: no versions yet (crisisdesk predict starts one; crisisdesk "
                  f"train {args.project} --task {task} trains one)")
            continue
        print(f"{task} ({plural(len(versions), 'version')})")
        for version in versions:
            print(*_lines(version), sep="\n")
    return OK


def _lines(v: object) -> list[str]:
    """The three lines of one version in the listing."""
    from crisisdesk.core.fusion.versions import VersionSummary

    assert isinstance(v, VersionSummary)
    mark = "*" if v.active else " "
    head = f"  {mark} {v.id}  {v.name}" + ("  (active)" if v.active else "")
    reads = " + ".join(f"{kind} {name}" for kind, name in
                       (("image", v.image_encoder), ("text", v.text_encoder)) if name)
    what = f"{v.kind} {v.created_at[:16].replace('T', ' ')} UTC; {v.variant or '?'}"
    if reads:
        what += f" on {reads}"
    if v.text_source and v.text_source != "tweet":
        what += f" ({v.text_source})"
    if v.macro_f1 is not None and v.scored_split:
        seeds = f" (best of {v.seeds} seeds)" if v.seeds > 1 else ""
        accuracy = f"accuracy {v.accuracy:.1%}, " if v.accuracy is not None else ""
        scored = f"{v.scored_split}: {accuracy}macro F1 {v.macro_f1:.1%}{seeds}"
    else:
        scored = "no figures recorded"
    scored += f"; {plural(v.predicted, 'item')} predicted"
    if v.missing:
        scored += f"; cannot be made active: {v.missing}"
    return [head, f"      {what}", f"      {scored}"]


def _activate(project: object, version_id: int, where: str) -> int:
    """Make ``version_id`` active after checking its head loads; say what it has left to
    predict."""
    from crisisdesk.core.fusion.checkpoint import CheckpointError
    from crisisdesk.core.fusion.predict import NoModel
    from crisisdesk.core.fusion.versions import version_encoders
    from crisisdesk.core.retrain import reactivate_version

    with project.open_store() as store:  # type: ignore[attr-defined]
        row = store.model_version(version_id)
        if row is None:
            return _fail(f"no model version {version_id} in this project; `crisisdesk "
                         f"versions {where}` lists them")
        task = row["task"]
        before = store.active_model_version(task)
        try:
            reactivate_version(store, version_id)
        except (CheckpointError, NoModel) as exc:
            return _fail(str(exc))
        # As predict counts them: a version reading no text (image-only, zero-shot
        # without text embeddings) can only ever predict the items with an image.
        reads_text = version_encoders(store, row)[1] is not None
        left = len(store.items_without_prediction(task, version_id,
                                                  with_image=not reads_text))
    was = "" if before is None or before["id"] == version_id else \
        f" (was {before['id']} {before['name']})"
    print(f"{task}: version {version_id} {row['name']} is active{was}.")
    if left:
        print(f"  {plural(left, 'item')} {'has' if left == 1 else 'have'} no prediction "
              f"from it yet: run crisisdesk predict {where} --task {task}")
    return OK
