"""Command-line commands that label: ``label`` (one item, one task) and ``undo`` /
``redo`` (an annotator's last label change), as journal rows like the app's."""

from __future__ import annotations

import argparse

from crisisdesk.cli import OK, _annotator, _fail, _open_store


def cmd_label(args: argparse.Namespace) -> int:
    from crisisdesk.core.bidi import terminal_marks
    from crisisdesk.core.store import LabelChange

    with _open_store(args.project) as store:
        try:  # the project's schemes: its own tasks are labelled the same way
            scheme = store.scheme(args.task)
        except KeyError as exc:
            return _fail(exc.args[0])
        label = scheme.normalise(args.label)
        if label is None:
            return _fail(f"{args.label!r} is not a class of task {args.task} "
                         f"(one of: {', '.join(scheme.classes)})")
        try:
            item = store.resolve_item(args.item)
        except LookupError as exc:
            return _fail(exc.args[0])
        before = store.current_label(item.id, args.task)
        store.add_labels([LabelChange(item.id, args.task, label)], annotator=args.annotator)
    uid = terminal_marks().uid(item.uid)  # an Arabic source name keeps its place
    if before is not None and before.label == label:  # nothing written: no undo step
        print(f"{uid} {args.task}: {label} already ({before.source}); no change")
        return OK
    was = f" (was {before.label}, {before.source})" if before else ""
    print(f"{uid} {args.task}: {label}{was}")
    return OK


def cmd_undo_redo(args: argparse.Namespace) -> int:
    from crisisdesk.core.bidi import terminal_marks

    marks = terminal_marks()
    with _open_store(args.project) as store:
        undo = args.command == "undo"
        reachable = store.stack_sizes(args.annotator)[0 if undo else 1]
        changes = (store.undo if undo else store.redo)(args.annotator)
        if not changes:
            if reachable:
                # The step is used up all the same: the next one reaches the one before.
                print(f"nothing to {args.command} for {args.annotator}: every label of that "
                      f"step was changed since by someone else, and stays; "
                      f"{args.command} again for the step before")
            else:
                print(f"nothing to {args.command} for {args.annotator}")
            return OK
        uids = store.item_uids_of(c.item for c in changes)  # one query for the step
        for change in changes:
            print(f"{marks.uid(uids[change.item])} {change.task}: {change.label or '(no label)'}")
    return OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the ``label``, ``undo`` and ``redo`` commands to the main parser."""
    from crisisdesk.core.settings import login_name

    annotator = login_name()
    p = sub.add_parser("label", help="give an item a label for a task")
    p.add_argument("project")
    p.add_argument("item", metavar="ITEM_ID")
    p.add_argument("--task", required=True)
    p.add_argument("--label", required=True)
    p.add_argument("--annotator", type=_annotator, default=annotator)
    p.set_defaults(func=cmd_label)

    for name in ("undo", "redo"):
        p = sub.add_parser(name, help=f"{name} the annotator's last label change")
        p.add_argument("project")
        p.add_argument("--annotator", type=_annotator, default=annotator)
        p.set_defaults(func=cmd_undo_redo)
