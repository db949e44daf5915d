"""``crisisdesk import``: posts into a project (created if needed), once or watching a
folder, with the media they name fetched on request."""

from __future__ import annotations

import argparse
from pathlib import Path

from crisisdesk.cli import OK, PROBLEMS, USAGE, _fail, drive, say_report
from crisisdesk.cli_media import add_allow_network


def add_parser(sub: argparse._SubParsersAction) -> None:
    from crisisdesk.core.importers import FORMATS

    p = sub.add_parser("import", help="import posts into a project (created if needed)")
    p.add_argument("project")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("--format", choices=FORMATS, default="auto")
    p.add_argument("--images-root", metavar="DIR",
                   help="folder the sources' image paths are relative to "
                        "(for CrisisMMD: the folder holding data_image/)")
    p.add_argument("--event", help="event name for every imported post")
    p.add_argument("--source", help="stable name of the source (default: from its path)")
    p.add_argument("--map", action="append", metavar="FIELD=COLUMN",
                   help="take a post field (id, text, image, created_at, author, ...) "
                        "from this column; repeatable")
    p.add_argument("--fetch-media", action="store_true",
                   help="download media given as URLs (else they are recorded as remote)")
    add_allow_network(p)  # with --fetch-media: an intranet's media server
    p.add_argument("--watch", action="store_true",
                   help="keep importing new and grown files of the folder until Ctrl-C")
    p.add_argument("--interval", type=float, default=2.0, metavar="S",
                   help="with --watch: seconds between looks at the folder (default 2)")
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from crisisdesk.cli_media import new_project_folders, remove_new_project

    from crisisdesk.core.bidi import unmarked
    from crisisdesk.core.importers.naming import given_name_problem
    from crisisdesk.core.project import ProjectError

    # A name copied from a terminal holds the marks that kept it in place there: the
    # source's was refused ("holds the bidi control"), an event's filed apart.
    if args.event is not None:
        args.event = unmarked(args.event)
    # Before the project is made or opened: the name goes into every item id.
    if args.source is not None:
        given, args.source = args.source, unmarked(args.source).strip()  # as the dialog does
        if not args.source:  # taken as a name of spaces, or ignored when ""
            return _fail(f"--source {given!r} is empty; give a name, or leave --source "
                         "out to name the posts' source from its path")
    if args.source and (why := given_name_problem(args.source)):
        return _fail(f"--source {args.source!r} {why}; give another name")
    made = new_project_folders(args.project)  # None: a project (or no path) is there
    try:
        code = _import(args, made is not None)
    except ProjectError:  # said by main; a folder made for it must not stay either
        if made is not None:
            remove_new_project(args.project, made)
        raise
    if code == USAGE and made is not None:
        # Refused, or every source unusable: nothing was written. The project made for
        # nothing would stay, and the analyst's fixed command would import into it.
        remove_new_project(args.project, made)
    return code


def _import(args: argparse.Namespace, new_store: bool) -> int:
    from crisisdesk.core.importers import ImportJob, ImportOptions
    from crisisdesk.core.project import Project

    mapping = {}
    for entry in args.map or []:
        field, sep, column = entry.partition("=")
        if not sep or not field or not column:
            return _fail(f"--map {entry!r}: expected FIELD=COLUMN")
        mapping[field.strip()] = column
    if args.images_root and not Path(args.images_root).is_dir():
        return _fail(f"--images-root {args.images_root}: no such folder")
    project = Project.open(args.project, create=True)
    options = ImportOptions(
        format=args.format, images_root=Path(args.images_root) if args.images_root else None,
        event=args.event, source=args.source, mapping=mapping)
    if args.watch:
        from crisisdesk.cli_media import watch_folder

        return watch_folder(project, args, options)
    job = ImportJob(project, [Path(s) for s in args.sources], options)
    finished = drive(job.run())
    report = job.report
    print(report.summary())
    unusable = finished and report.unusable_sources == len(args.sources) and not report.records
    if not (unusable and new_store):  # else the project goes, and its report with it
        say_report(job)
    if not finished:
        print("Import cancelled; what was committed stays. Run the same command to resume.")
        return PROBLEMS
    if unusable:
        return USAGE
    fetch_problems = False
    if args.fetch_media:
        from crisisdesk.cli_media import fetch_command, fetch_media

        fetch_problems = fetch_media(project, args) != OK
        if fetch_problems:
            # Its lines say "tried again next run": of the fetch, which an import runs
            # only with --fetch-media, after reading every source again.
            print(f"To try again the media not fetched: {fetch_command(args)} (add "
                  "--retry-unreadable to try the refused ones too)")
    return PROBLEMS if report.errors or fetch_problems else OK
