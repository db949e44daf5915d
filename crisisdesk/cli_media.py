"""Command-line commands for a project's media: ``crisisdesk media fetch`` and
``media relink``, and the ``--watch`` / ``--fetch-media`` halves of ``crisisdesk import``
(with taking back a project that an import made for nothing)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from crisisdesk.cli import OK, PROBLEMS, _fail, say_report

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crisisdesk.core.http_get import Network
    from crisisdesk.core.importers import ImportOptions
    from crisisdesk.core.media_fetch import FetchLimits
    from crisisdesk.core.progress import Progress
    from crisisdesk.core.project import Project


def _limits(args: argparse.Namespace | None = None) -> FetchLimits:
    """Fetch limits from the command's options (defaults without them; a command with
    ``--allow-network`` but no size options, as ``import`` may be, passes only that)."""
    from crisisdesk.core.media_fetch import FetchLimits

    allowed = tuple(getattr(args, "allow_network", None) or ())
    if args is None or not hasattr(args, "max_file_mb"):
        return FetchLimits(allowed_networks=allowed)
    mb = 1024 * 1024
    return FetchLimits(concurrency=args.concurrency, timeout=args.timeout,
                       max_file_bytes=int(args.max_file_mb * mb),
                       max_total_bytes=int(args.max_total_mb * mb),
                       allowed_networks=allowed)


def _network(text: str) -> Network:
    """argparse's reading of ``--allow-network``: an IP address or a network."""
    from crisisdesk.core.http_get import allowed_network

    try:
        return allowed_network(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_allow_network(parser: argparse.ArgumentParser) -> None:
    """The opt-in to fetching from addresses that are not public, for a command that
    fetches media (repeatable)."""
    parser.add_argument(
        "--allow-network", action="append", type=_network, metavar="CIDR",
        help="also fetch from this network, which is not public (your intranet's media "
             "server: 10.1.2.0/24, 192.168.1.20); repeatable. Without it, URLs naming "
             "this machine, a private network or a cloud's metadata service are not "
             "fetched")


def fetch_media(project: Project, args: argparse.Namespace | None = None) -> int:
    """Fetch a project's remote media with a progress bar; print the summary."""
    from crisisdesk.cli import drive
    from crisisdesk.core.media_fetch import MediaFetchJob

    retry = bool(getattr(args, "retry_unreadable", False))
    job = MediaFetchJob(project, _limits(args), retry_unreadable=retry)
    finished = drive(job.run(), unit="media")
    if args is not None and not hasattr(args, "max_total_mb"):
        # `import --fetch-media` has no size options: the command that has them.
        then = f"to fetch them: {fetch_command(args)} (its --max-total-mb raises the limit)"
    else:
        # The unreadable media counted as left are tried only with the option again.
        keep = " with --retry-unreadable" if retry else ""
        then = f"run again{keep} to fetch them (or raise --max-total-mb)"
    print(job.report.summary(then=then))
    say_report(job)
    if not finished:
        print("Fetch cancelled; files fetched so far stay. Run it again to resume.")
        return PROBLEMS
    return PROBLEMS if job.report.problems else OK


def fetch_command(args: argparse.Namespace) -> str:
    """The ``media fetch`` command for the project and networks of ``args`` (an
    import's): what fetches the media its fetch left."""
    allowed = "".join(f" --allow-network {net}" for net in args.allow_network or ())
    return f"crisisdesk media fetch {args.project}{allowed}"


def new_project_folders(project: str) -> list[Path] | None:
    """The folders an import into ``project`` would make (the project folder and its
    parents not there yet; [] for an empty folder), or None when it holds a store
    already, or the path cannot be looked at (Project.open then says why)."""
    from crisisdesk.core.project import DB_NAME, folders_to_make

    try:
        root = Path(project).expanduser().absolute()
        return None if (root / DB_NAME).exists() else folders_to_make(root)
    except (RuntimeError, OSError):  # "~nobody/...", a folder we may not enter
        return None


def remove_new_project(project: str, made: list[Path]) -> None:
    """Take back the project an import made for nothing (see project.remove_made)."""
    from crisisdesk.core.project import DB_NAME, remove_made

    root = Path(project).expanduser().absolute()
    if not (root / DB_NAME).is_file():
        return  # refused before the project was made
    remove_made(root, made)
    print(f"Nothing imported: the new project {root} was not kept.", file=sys.stderr)


def _notes_said(job: Iterator[Progress]) -> Iterator[Progress]:
    """``job``'s progress, its notes printed as they come: a watch runs until Ctrl-C, and
    a note kept for its summary came hours late (a fetch stopped by its size limit)."""
    from tqdm import tqdm

    for progress in job:
        for note in progress.notes:
            tqdm.write(note, file=sys.stdout)  # above the progress bar, which stays whole
        yield progress


def watch_folder(project: Project, args: argparse.Namespace, options: ImportOptions) -> int:
    """``crisisdesk import PROJECT DIR --watch``: import until Ctrl-C."""
    from crisisdesk.cli import drive
    from crisisdesk.core.importers import WatchJob, WatchOptions

    if len(args.sources) != 1:
        return _fail("--watch takes one folder (or one file) to watch")
    folder = Path(args.sources[0])
    if not folder.exists():
        return _fail(f"{folder}: no such folder or file")
    # isfinite: nan passes a "<= 0" test, and time.sleep(nan) or (inf) raises mid-watch.
    if not (math.isfinite(args.interval) and args.interval > 0):
        return _fail("--interval must be a finite number of seconds more than 0")
    watch = WatchOptions(interval=args.interval,
                         fetch=_limits(args) if args.fetch_media else None)
    job = WatchJob(project, folder, options, watch)
    print(f"Watching {folder.absolute()} (source {job.source}); Ctrl-C stops.")
    drive(_notes_said(job.run()))
    print(job.report.summary(stopped="Stopped"))  # Ctrl-C is how a watch ends
    say_report(job)
    return PROBLEMS if job.report.errors else OK


def cmd_media_fetch(args: argparse.Namespace) -> int:
    from crisisdesk.core.project import Project

    # isfinite: nan passes a "<= 0" test, and nan or inf megabytes are no byte count.
    if args.concurrency < 1 or not all(math.isfinite(v) and v > 0 for v in (
            args.timeout, args.max_file_mb, args.max_total_mb)):
        return _fail("--concurrency, --timeout, --max-file-mb and --max-total-mb must be "
                     "finite numbers more than 0")
    # Under one byte once counted in bytes: every file was refused as too large (and left
    # "unreadable"), or the run stopped at once, for a limit of nothing.
    for option, value in (("--max-file-mb", args.max_file_mb),
                          ("--max-total-mb", args.max_total_mb)):
        if int(value * 1024 * 1024) < 1:
            return _fail(f"{option} {value:g} is less than one byte (the size is in MB: "
                         "0.001 is about 1 KB); give a larger size")
    return fetch_media(Project.open(args.project), args)


def cmd_media_relink(args: argparse.Namespace) -> int:
    """``crisisdesk media relink PROJECT OLD NEW``: images (and checkpoints) stored
    under folder OLD now point at the same files under NEW, where those are there."""
    from crisisdesk.core.project import Project
    from crisisdesk.core.store.relocate import written_path
    from crisisdesk.core.words import first_few, plural

    # Not resolved: OLD is usually gone, and stored paths name folders as given. A rooted
    # folder is taken as written, as the system that wrote it reads it: made absolute
    # here, a colleague's C:\... became a name under the current folder (on Linux), and
    # a /media/... one gained this drive (on Windows): neither matched anything.
    written = written_path(args.old)
    old = written if written.anchor else Path(args.old).expanduser().absolute()
    new = Path(args.new).expanduser().absolute()
    if not new.is_dir():
        return _fail(f"{new}: no such folder")
    with Project.open(args.project).open_store() as store:
        done = store.relink(old, new)
    if not done.moved and not done.not_found:
        print(f"No stored file is under {old}; nothing to relink.")
        return PROBLEMS
    print(f"Relinked {plural(done.moved, 'file')} from {old} to {new}.")
    if done.not_found:
        print(f"Not found under {new}, left as stored: "
              f"{plural(len(done.not_found), 'file')} ({first_few(done.not_found)})")
    return PROBLEMS if done.not_found else OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the media command to the main parser."""
    p = sub.add_parser("media", help="media of a project (fetch remote media, relink "
                                     "moved folders)")
    media = p.add_subparsers(dest="media_command", required=True)
    f = media.add_parser("fetch", help="download media recorded as remote (URLs from "
                                       "collectors); a re-run fetches only what is missing")
    f.add_argument("project")
    f.add_argument("--concurrency", type=int, default=8, metavar="N",
                   help="downloads at once (default 8)")
    f.add_argument("--timeout", type=float, default=20.0, metavar="S",
                   help="seconds to connect and between reads (default 20)")
    f.add_argument("--max-file-mb", type=float, default=50.0, metavar="MB",
                   help="refuse files larger than this (default 50)")
    f.add_argument("--max-total-mb", type=float, default=5120.0, metavar="MB",
                   help="stop this run after downloading this much (default 5120)")
    f.add_argument("--retry-unreadable", action="store_true",
                   help="also try again media refused before (not an image, too large, "
                        "gone for good: HTTP 410)")
    add_allow_network(f)
    f.set_defaults(func=cmd_media_fetch)
    r = media.add_parser("relink", help="images stored under OLD (a folder that moved, a "
                                        "drive letter that changed) now point under NEW; "
                                        "only those whose file is there")
    r.add_argument("project")
    r.add_argument("old", metavar="OLD_FOLDER")
    r.add_argument("new", metavar="NEW_FOLDER")
    r.set_defaults(func=cmd_media_relink)
