"""Command-line commands for a project's tasks: ``schemes list`` and ``schemes add``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crisisdesk.cli import OK, _fail, _open_store


def cmd_schemes_list(args: argparse.Namespace) -> int:
    from crisisdesk.core.schemes import builtin_schemes

    with _open_store(args.project) as store:
        schemes, problems = store.schemes(), store.scheme_problems()
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    width = max(len(task) for task in schemes)
    for task, scheme in schemes.items():
        origin = "built-in" if task in builtin_schemes() else "project"
        print(f"{task:{width}}  {origin:8}  {', '.join(scheme.classes)}")
        if scheme.merges:
            merges = ", ".join(f"{raw} -> {into}" for raw, into in scheme.merges.items())
            print(f"{'':{width}}  {'':8}  merges: {merges}")
    return OK


def cmd_schemes_add(args: argparse.Namespace) -> int:
    from crisisdesk.core.schemes import SchemeError, scheme_from_json

    path = Path(args.file)
    try:
        # utf-8-sig: Windows Notepad and PowerShell 5 save UTF-8 with a byte order mark.
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        return _fail(f"cannot read {path}: {exc}")
    except json.JSONDecodeError as exc:
        return _fail(f"{path}: not JSON (line {exc.lineno}: {exc.msg})")
    try:
        scheme = scheme_from_json(data, str(path))
    except SchemeError as exc:
        return _fail(str(exc))
    with _open_store(args.project) as store:
        try:
            # A scheme stored before today's label rules keeps its classes' spellings.
            scheme = scheme.spelled_as(store.schemes().get(scheme.task), data["classes"])
            added = store.add_scheme(scheme)
        except SchemeError as exc:
            return _fail(str(exc))
    if not added:
        print(f"task {scheme.task} is in the project already, unchanged")
        return OK
    print(f"task {scheme.task}: {', '.join(scheme.classes)}")
    if len(scheme.classes) > 9:
        print(f"note: in the app, {scheme.classes[9]} and the classes after it take two "
              "digits typed quickly (1 0 for the tenth)")
    if len(scheme.classes) > 99:
        print(f"note: {scheme.classes[99]} and after have no key in the app: give them with "
              "crisisdesk label (or a label column on import)")
    print(f"label it in the app or with crisisdesk label, import a column named "
          f"{scheme.task} or label_{scheme.task}, then crisisdesk train --task {scheme.task}")
    return OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the ``schemes`` command to the main parser."""
    schemes = sub.add_parser(
        "schemes", help="list a project's tasks, or add one of its own",
        description="A task's label scheme: its classes, in order, and merges of source "
                    "labels into them. The three built-in tasks are informative, "
                    "humanitarian and damage; a project may add its own.")
    ssub = schemes.add_subparsers(dest="schemes_command", required=True)
    p = ssub.add_parser("list", help="each task, built-in or the project's, and its classes")
    p.add_argument("project")
    p.set_defaults(func=cmd_schemes_list)
    p = ssub.add_parser(
        "add", help="add a task of the project's own from a JSON file",
        description='FILE holds {"task": "name", "classes": [...], "merges": {"source '
                    'label": "class"}, "description": "..."}, as the shipped '
                    "resources/label_schemes/*.json do. The task name is lower case "
                    "(a-z, 0-9, _); at least 2 classes. Adding the same file again changes "
                    "nothing; a task's classes cannot change once it has labels.")
    p.add_argument("project")
    p.add_argument("file", metavar="FILE.json")
    p.set_defaults(func=cmd_schemes_add)
