"""The ``history`` command: the label journal as an audit trail.

With an ITEM, every change of that item's labels (a disputed label: who gave what, who
changed it, what an undo took back); without one, every change in the project, filtered
by annotator, task and time and streamed (a journal of a million rows lists in bounded
memory). Times are UTC, as the app shows them.
"""

from __future__ import annotations

import argparse
import json

from crisisdesk.cli import OK, _fail, _open_store


def cmd_history(args: argparse.Namespace) -> int:
    from crisisdesk.core.bidi import terminal_marks
    from crisisdesk.core.store import store_time
    from crisisdesk.core.store.history import journal_time

    try:
        since = None if args.since is None else store_time(args.since)
    except ValueError:
        return _fail(f"--since {args.since!r} is no ISO-8601 time "
                     "(e.g. 2024-05-01 or 2024-05-01T14:00Z; no zone: UTC)")
    with _open_store(args.project) as store:
        try:
            if args.task is not None:
                store.scheme(args.task)  # a task misspelt lists nothing, without a word
            item = None if args.item is None else store.resolve_item(args.item)
        except (KeyError, LookupError) as exc:
            return _fail(exc.args[0])
        if item is not None:
            # One item's changes are few: filtered here, as the listing's query does.
            events = (e for e in store.label_history(item.id, args.task)
                      if args.annotator in (None, e.changed_by)
                      and (since is None or e.at >= since))
        else:
            events = store.label_events(annotator=args.annotator, task=args.task,
                                        since=since)
        shown, marks = 0, terminal_marks()  # never in --json
        for event in events:
            shown += 1
            if args.json:
                print(json.dumps(event.as_json(), ensure_ascii=False))
            else:
                where = "" if item is not None else f"{marks.uid(event.item_uid)}  "
                print(f"{journal_time(event.at)}  {where}{event.task}  {event.in_words()}")
    if not shown and not args.json:
        print(f"no label changes for {marks.uid(item.uid)}" if item is not None and not (
            args.task or args.annotator or since) else "no label changes match")
    return OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the ``history`` command to the main parser."""
    p = sub.add_parser(
        "history", help="who changed which label, when: the label journal",
        description="Every label change, oldest first: the time (UTC), the task, the "
                    "label (or cleared), its source and who gave it; an undo or redo says "
                    "whose step it took back. With ITEM, that item's changes; without, "
                    "the whole project's.")
    p.add_argument("project")
    p.add_argument("item", metavar="ITEM_ID", nargs="?",
                   help="an item's id, or its <post id>_<n> (as `crisisdesk label` takes)")
    p.add_argument("--task", help="only this task's labels")
    p.add_argument("--annotator", help="only the changes this person made")
    p.add_argument("--since", metavar="ISO_TIME",
                   help="only changes made at or after this time (no zone: UTC)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per change and line (JSON Lines)")
    p.set_defaults(func=cmd_history)
