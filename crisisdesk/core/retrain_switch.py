"""Switching a task's active model version: ``apply_retrain`` activates a retrain's
recommended (or overridden) candidates and re-predicts those tasks, refusing a task whose
active version changed after the comparison (:class:`ActiveChanged`) or whose new
version's checkpoint files are gone or damaged (:class:`SwitchRefused`);
``reactivate_version`` makes an older version active again once its head loads.
The retrain itself (train, compare on the holdout) is :mod:`crisisdesk.core.retrain`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisisdesk.core.fusion.checkpoint import CheckpointError, checkpoint_paths
from crisisdesk.core.fusion.predict import (
    BUNDLED,
    ZERO_SHOT,
    NoModel,
    PredictJob,
    check_classes,
    load_version,
)
from crisisdesk.core.fusion.starts import replaced_activation
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.store import Store

if TYPE_CHECKING:  # retrain imports this module: its report types for hints only
    from crisisdesk.core.retrain import RetrainReport, TaskRetrain


def reactivate_version(store: Store, version: int) -> None:
    """Make ``version`` its task's active one again, once its head loads: a version whose
    checkpoint is gone or damaged raises CheckpointError (NoModel for a shipped head
    this installation lacks, or one a later release replaced) naming it, and stays
    inactive; activated, it would fail every later prediction (:func:`check_loads`)."""
    row = store.model_version(version)
    if row is None:
        raise KeyError(f"no model version {version}")
    try:
        check_loads(store, row)
    except CheckpointError as exc:
        raise CheckpointError(f"{row['name']} cannot be made active: {exc}") from exc
    store.activate_model_version(version)


def check_loads(store: Store, row: dict[str, Any]) -> None:
    """Raise as a prediction with model version ``row`` would before its first item: its
    checkpoint pair does not load (a file cut short, other bytes, a spoilt sidecar, a
    config its weights do not fit: CheckpointError naming the file), its classes are not
    its task's scheme's, or it is a shipped head this installation lacks or a later
    release replaced (NoModel). Checked before a version is made active, outside any
    write transaction: loading takes a while and would hold the write lock meanwhile.
    Zero-shot versions are checked when they predict."""
    if row["path"].startswith(BUNDLED) and (why := replaced_activation(store, row)):
        raise NoModel(why)  # load_version's words would advise predicting again
    if not row["path"].startswith(ZERO_SHOT):
        check_classes(store, row["task"], row, load_version(row)[1])


def apply_retrain(project: Project, report: RetrainReport, *,
                  override_tasks: Sequence[str] = (), keep_tasks: Sequence[str] = ()
                  ) -> Iterator[Progress]:
    """Activate each task's candidate where recommended or in ``override_tasks`` (the
    analyst's override), except tasks in ``keep_tasks``; then re-predict those tasks'
    items. A generator job: yields the prediction's Progress; at its end, ActiveChanged
    for tasks left as they are because another version became active meanwhile, or
    SwitchRefused where a new version's checkpoint files are gone or damaged as well or
    instead."""
    switch = [task for task, entry in report.tasks.items()
              if entry.candidate is not None and task not in keep_tasks and
              (entry.recommend_switch or task in override_tasks)]
    with project.open_store() as store:
        refused = {task: why for task in switch if (why := _switch(store, report.tasks[task]))}
        switch = [task for task in switch if task not in refused]
        kept = _kept(store, report, switch, refused)
    if not switch and not refused:
        yield Progress(0, 0, "; ".join(["nothing switched", *kept]))
        return
    done = ""
    if switch:
        predict, last = PredictJob(project, switch), Progress(0, 0)
        with closing(predict.run()) as steps:
            for last in steps:
                yield last
        # The jobs panel's last words: what was switched and kept, then what the
        # prediction wrote (it read only that, in a row counting "items").
        switched = [f"{task} switched to {report.tasks[task].candidate_name}"
                    for task in switch]
        done = "; ".join([*switched, *kept]) + f". {predict.report.outcome()}"
        yield Progress(last.done, last.total, done)
    if refused:
        # After the other tasks' switch and predictions: a failed job's message is all
        # the report and the jobs panel show, so it says what was switched too (the
        # analyst took the refusal for the whole switch, and never learnt that other
        # tasks now run a new version).
        kind = (ActiveChanged if all(isinstance(r, ActiveChanged) for r in refused.values())
                else SwitchRefused)
        raise kind(" ".join(str(r) for r in refused.values())
                   + (f" Done for the other tasks: {done}" if done else ""), switched=switch)


def _kept(store: Store, report: RetrainReport, switch: list[str],
          refused: dict[str, SwitchRefused]) -> list[str]:
    """Why each task with a new version still has its active one: "kept damage-v3
    active for damage (the new one scored lower)", or "damage: damage-v4 is active
    already" (a report opened again after its switch: nothing was kept, nobody asked)."""
    out = []
    for task, entry in report.tasks.items():
        if entry.candidate is None or task in switch or task in refused:
            continue
        version = store.model_version(entry.candidate)
        if version is not None and version["active"]:
            out.append(f"{task}: {entry.candidate_name} is active already")
            continue
        why = ("its new version was deleted" if version is None or
               missing_checkpoint_file(version["path"]) is not None
               else not_recommended_because(entry) if not entry.recommend_switch
               # Left out by the report, which said so: not the analyst's wish.
               else "its new version's files are damaged" if load_refusal(
                   store, version) is not None
               else "as asked")
        out.append((f"kept {entry.active_name} active for {task}" if entry.active_name
                    else f"left {task} without an active version") + f" ({why})")
    return out


def missing_checkpoint_file(path: str) -> Path | None:
    """A trained head's checkpoint file (weights or sidecar) that is gone, or None
    (shipped heads and zero-shot have none in the project)."""
    if path.startswith((BUNDLED, ZERO_SHOT)):
        return None
    return next((file for file in checkpoint_paths(path) if not file.is_file()), None)


def not_recommended_because(entry: TaskRetrain) -> str:
    """Why a task's new version is not recommended (the retrain's verdict and the
    switch's "kept" line say the same)."""
    return ("the new one scored lower" if entry.new is not None
            else "the new one sees no holdout item")


class SwitchRefused(RuntimeError):
    """A retrain's switch refused for some tasks (their new version's checkpoint files
    are gone or do not load, or see ActiveChanged); the message names them, why and what
    to do, then what was switched for the other tasks, which ``switched`` lists."""

    def __init__(self, message: str, switched: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.switched = list(switched)


class ActiveChanged(SwitchRefused):
    """A retrain's switch refused for tasks whose active version changed after the
    retrain compared its new version with the one active then (another window's switch,
    ``crisisdesk train`` beside the app)."""


def _switch(store: Store, entry: TaskRetrain) -> SwitchRefused | None:
    """Make ``entry``'s candidate active, unless its checkpoint files are gone or do not
    load (active, it would fail every later prediction of the task) or another version
    became active since the retrain compared the candidate (that one was never compared,
    and the report's figures would replace it on a comparison with a version no longer
    active): why not (to raise once the other tasks are switched), or None. Its files
    are loaded first, outside the write transaction (loading there would hold the write
    lock while it loads); then checked again and switched in one transaction, as another
    process may switch (or delete) meanwhile."""
    assert entry.candidate is not None
    version = store.model_version(entry.candidate)
    if version is not None and missing_checkpoint_file(version["path"]) is None and (
            why := load_refusal(store, version)) is not None:
        return _refused(entry, why)
    with store.transaction():
        version = store.model_version(entry.candidate)
        missing = None if version is None else missing_checkpoint_file(version["path"])
        if version is None or missing is not None:
            return _refused(entry, "it no longer exists in this project (deleted after "
                            "the retrain)" if version is None
                            else f"its file {missing} is gone (deleted after the retrain)")
        now = store.active_model_version(entry.task)
        if now is not None and now["id"] not in (entry.active, entry.candidate):
            return ActiveChanged(
                f"{entry.task} not switched: version {now['id']} {now['name']} became "
                f"active after this retrain compared {entry.candidate_name} with "
                f"{entry.active_name or 'no version'}. Retrain to compare with it, or "
                f"make {entry.candidate_name} active from the task's model versions.")
        store.activate_model_version(entry.candidate)
    return None


def _refused(entry: TaskRetrain, why: str) -> SwitchRefused:
    """The refusal of ``entry``'s switch because of ``why`` (its new version's files are
    gone or damaged), and what to do: the same words for each."""
    return SwitchRefused(f"{entry.task} not switched: its new version {entry.candidate_name} "
                         f"cannot be made active, as {why}. Run Retrain again for a new "
                         "version.")


def load_refusal(store: Store, row: dict[str, Any]) -> str | None:
    """Why model version ``row`` cannot be made active as its head does not load
    (:func:`check_loads`): "its file <weights> is damaged: <why>", on one line; None when
    it loads. Loads the pair: run outside a write transaction, off the UI thread."""
    try:
        check_loads(store, row)
    except (CheckpointError, NoModel) as exc:
        return _damaged(row["path"], exc) or "its files do not load"
    return None


def _damaged(path: str, exc: BaseException) -> str:
    """What is wrong with a checkpoint that does not load, naming its file: "its file
    <weights> is damaged: <why>" where ``exc`` (CheckpointError's words start with the
    file) names one of the pair, else ``exc``'s words, on one line."""
    # One line (the jobs panel's): the shapes' list is on several.
    said = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    for file in checkpoint_paths(path):
        if said.startswith(f"{file}: "):
            return f"its file {file} is damaged: {said[len(str(file)) + 2:]}"
    return said
