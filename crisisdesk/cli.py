"""The ``crisisdesk`` command line: a thin front end over the core.

Exit codes: 0 success, 1 done with item-level problems reported (or a job cancelled
with Ctrl-C, its work kept), 2 bad usage or unusable input, 130 Ctrl-C before a job ran.

A command opens its project with ``Project.open`` (or :func:`_open_store`) and lets a
ProjectError rise: :func:`main` says it in one line and returns 2, for every command.
The command's own open upgrades an older project, after the command checked its
arguments; :func:`main` has it said on stderr as it runs and once it is done
(:func:`crisisdesk.cli_opening.upgrade_said`), as the app does.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

from crisisdesk import __version__

OK, PROBLEMS, USAGE = 0, 1, 2
#: Exit status after Ctrl-C outside a job's progress loop (128 + SIGINT, as shells use).
INTERRUPTED = 130


def _fail(message: str) -> int:
    print(f"crisisdesk: error: {message}", file=sys.stderr)
    return USAGE


def say_report(job: object) -> None:
    """Print where a job's report was saved, or (stderr) why it could not be."""
    path = getattr(job, "report_path", None)
    if path is not None:
        print(f"Report: {path}")
    elif getattr(job, "report_not_saved", ""):
        print(f"crisisdesk: {job.report_not_saved}", file=sys.stderr)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def stop_signals_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (``kill``, a scheduler's time limit, a service stopping) and SIGHUP (the
    terminal closed) stop a job as Ctrl-C does: what was committed is kept, the job is
    recorded as cancelled and its report saved. By default they killed the process, its
    job left "running" and no report written."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    # Only where the signal would kill: `nohup` ignores SIGHUP so that a watch (or a
    # long embed) outlives its terminal, and so it must.
    signals = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
               if hasattr(signal, name) and
               signal.getsignal(getattr(signal, name)) is signal.SIG_DFL]
    before = {sig: signal.signal(sig, _interrupt) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def drive(job: Iterator, unit: str = "post") -> bool:
    """Run a core job generator with a progress bar; False when the user cancelled
    (Ctrl-C, or SIGTERM / SIGHUP: see :func:`stop_signals_as_ctrl_c`).

    Off a terminal (``nohup``, cron, ``2> log``) the bar writes nothing, so plain lines
    go to stderr instead (:mod:`crisisdesk.cli_progress`): a long job is not read as hung."""
    from crisisdesk.cli_progress import progress_view

    view = progress_view(sys.stderr, unit)
    finished = False
    with stop_signals_as_ctrl_c():
        try:
            for progress in job:
                view.update(progress)
            finished = True
        except KeyboardInterrupt:
            return False
        finally:
            view.close(finished)
    return True


def open_app(project: str | None) -> int:
    """Open the desktop app on ``project`` (None: the last project, or the demo).

    The GUI is imported here, not at the top, so the other commands never load Qt.
    """
    # Without a display Qt aborts the process (a core dump) with advice to reinstall;
    # the doctor's qt check tells the same case apart the same way.
    if sys.platform.startswith("linux") and not any(
            os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY",
                                              "QT_QPA_PLATFORM")):
        return _fail("no display: the app cannot open here (DISPLAY and WAYLAND_DISPLAY "
                     "are not set); start crisisdesk in a desktop session, or set "
                     "QT_QPA_PLATFORM (e.g. offscreen) to start it anyway. The other "
                     "commands work here: crisisdesk --help")
    from crisisdesk.gui.app import main as gui_main

    return gui_main(project)


def _annotator(text: str) -> str:
    """An annotator name given on the command line: not blank, as the journal's rows
    say who gave each label (the audit and each annotator's undo stack rest on it); one
    line, as the app's Settings keep it (a name with a line break is another annotator)."""
    from crisisdesk.core.settings import one_line_name

    name = one_line_name(text)
    if not name:
        raise argparse.ArgumentTypeError("needs a name (default: your login name)")
    return name


def _open_store(path: str):
    """The store of the project at ``path``; ProjectError (said by main) when there is none."""
    from crisisdesk.core.project import Project

    return Project.open(path).open_store()


def cmd_info(args: argparse.Namespace) -> int:
    from crisisdesk.core.bidi import terminal_marks
    from crisisdesk.core.words import plural

    with _open_store(args.project) as store:
        counts, problems = store.counts(), store.scheme_problems()
    # On stderr (as `schemes list` says them): the JSON on stdout keeps its shape.
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps(counts, indent=2, ensure_ascii=False))
        return OK
    print(f"Project {store.path.parent}")  # as opened: "~" written out
    print(f"  posts: {counts['posts']:,}   items: {counts['items']:,} "
          f"({counts['text_only_items']:,} text-only)")
    media = ", ".join(f"{n:,} {s}" for s, n in counts["media"].items()) or "none"
    print(f"  media: {media}")
    for task, entry in counts["labels"].items():
        sources = ", ".join(f"{n:,} {s}" for s, n in entry["by_source"].items())
        splits = ", ".join(f"{n:,} {s}" for s, n in counts["splits"].get(task, {}).items())
        print(f"  {task}: {plural(entry['total'], 'label')} ({sources})"
              + (f"; splits: {splits}" if splits else ""))
    if counts["events"]:
        # An Arabic event name took the counts after it (and the names) into its run.
        field = terminal_marks().field
        print("  events: " + ", ".join(f"{field(e) if e else '(none)'} {n:,}"
                                       for e, n in counts["events"].items()))
    return OK


def cmd_export(args: argparse.Namespace) -> int:
    from crisisdesk.core.exporters import Exporter

    # Without --format the file's suffix says it: `labels.jsonl` once got CSV.
    fmt = args.format or ("jsonl" if Path(args.out).suffix.lower() in
                          (".jsonl", ".ndjson") else "csv")
    if args.for_spreadsheet and fmt != "csv":
        return _fail(f"--for-spreadsheet writes CSV only (this export is {fmt})")
    with _open_store(args.project) as store:
        try:
            exporter = Exporter(store, tasks=[args.task] if args.task else None,
                                only_corrected=args.only_corrected,
                                hash_authors=args.hash_authors,
                                for_spreadsheet=args.for_spreadsheet)
        except ValueError as exc:
            return _fail(str(exc))
        try:
            # A job as the others are: a progress bar (seconds at 100,000 items), and
            # Ctrl-C, SIGTERM or SIGHUP stop it leaving no temp file beside the export.
            # Closed here: a stop between two chunks removes the half-written file now.
            with closing(exporter.writing(Path(args.out), fmt)) as job:
                finished = drive(job, unit="item")
        except (OSError, ValueError) as exc:  # a folder in the way, no permission, disk full
            return _fail(f"cannot export to {args.out}: {exc}")
    # Stopped as its last step was shown, the files are in place: that is no Cancel.
    if not finished and not exporter.files:
        print(f"Cancelled; {exporter.cancelled_note(Path(args.out))}.")
        return PROBLEMS
    for file in exporter.files:
        print(f"wrote {file}")
    return OK


def build_parser() -> argparse.ArgumentParser:
    from crisisdesk.core.exporters import EXPORT_FORMATS

    parser = argparse.ArgumentParser(
        prog="crisisdesk",
        description="Triage crisis social-media posts. With no command, opens the app.",
        # Said here as in the README: scripts around a collector or a watch test it.
        epilog="exit status: 0 success; 1 done with item-level problems reported (or a "
               "job stopped with Ctrl-C, SIGTERM or SIGHUP: its work is kept, run it again "
               "to resume; an export stopped leaves no file; a --watch, which runs until stopped, exits 0 then); 2 bad "
               "usage or unusable input (a damaged project store, a path that is no plain "
               "file, no display for the app); 130 Ctrl-C before a job started")
    parser.add_argument("--version", action="version", version=f"crisisdesk {__version__}")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("open", help="open a project in the desktop app")
    # Optional: the desktop menu's entry runs `crisisdesk open %f`, and %f is nothing when
    # it is started from the menu (no file dropped on it): then the last project or demo.
    p.add_argument("project", nargs="?", help="the project folder (default: the last "
                   "project, or the demo on first run)")

    from crisisdesk.cli_import import add_parser as add_import

    add_import(sub)

    p = sub.add_parser("info", help="counts of posts, items, media, labels and splits")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    from crisisdesk.cli_labels import add_parsers as add_labels

    add_labels(sub)

    p = sub.add_parser("export", help="export labels (and latest predictions)")
    p.add_argument("project")
    p.add_argument("out", metavar="OUT")
    p.add_argument("--format", choices=EXPORT_FORMATS,
                   help="default: jsonl for OUT ending in .jsonl, else csv")
    p.add_argument("--task")
    p.add_argument("--only-corrected", action="store_true",
                   help="only items with a label given by a person (CrisisMMD: per "
                        "task file, only the labels a person gave in that task)")
    p.add_argument("--hash-authors", action="store_true",
                   help="replace author handles by a salted hash, leave out post "
                        "URLs (they name the poster), and write only the caption model's "
                        "name (not the folder path or server URL it ran from)")
    p.add_argument("--for-spreadsheet", action="store_true",
                   help="CSV to read in Excel or LibreOffice: a UTF-8 byte order mark, and "
                        "a ' before text starting with = + - @ tab or CR (no formula runs); "
                        "re-import the plain CSV or JSONL instead, as the ' stays in the text")
    p.set_defaults(func=cmd_export)

    from crisisdesk.cli_captions import add_parsers as add_captions
    from crisisdesk.cli_doctor import add_parsers as add_doctor
    from crisisdesk.cli_explain import add_parsers as add_explain
    from crisisdesk.cli_fusion import add_parsers as add_fusion
    from crisisdesk.cli_history import add_parsers as add_history
    from crisisdesk.cli_media import add_parsers as add_media
    from crisisdesk.cli_models import add_parsers as add_models
    from crisisdesk.cli_schemes import add_parsers as add_schemes

    add_models(sub)
    add_schemes(sub)
    add_captions(sub)
    add_fusion(sub)
    add_media(sub)
    add_doctor(sub)
    add_explain(sub)
    add_history(sub)
    return parser


def _why_project_unusable(args: argparse.Namespace) -> str | None:
    """Why the command's PROJECT cannot be opened (a damaged store, one written by a newer
    crisisdesk, a read-only one: as the app says it), or None when it opens."""
    from crisisdesk.core.launch import ProjectNotOpened, open_checked

    if not getattr(args, "project", None):
        return None
    try:
        open_checked(args.project)
    except ProjectNotOpened as exc:
        return str(exc)
    return None


def _upgrade_failed_then_done(args: argparse.Namespace, exc: Exception) -> str | None:
    """What to say when the command's upgrade of its older PROJECT failed (``exc``) and
    the check after it (open_checked) upgraded it well: the cause passed (a busy or
    flaky drive). The command did nothing yet; run again, it opens. None for any other
    error, which keeps its traceback (a bug of ours in a project that opens)."""
    from crisisdesk.core.store.upgrades import failed_upgrade

    upgrade = failed_upgrade(exc) or getattr(exc, "upgrade", None)  # SQLite's or ours
    if upgrade is None or not getattr(args, "project", None):
        return None
    root = Path(args.project).expanduser().absolute()
    cause = exc.__cause__ or exc  # an UpgradeError's message says the whole upgrade
    why = f"SQLite: {exc}" if isinstance(exc, sqlite3.Error) else \
        f"{type(cause).__name__}: {cause}"
    return (f"{root}: upgrading it from schema {upgrade.start} to {upgrade.target} "
            f"failed at step {upgrade.step} ({upgrade.name}): {why}; a second try just "
            "now finished the upgrade, so nothing of this command was done: run the "
            "same command again")


def printable_output() -> None:
    """Let stdout write what its encoding cannot (as ``\\u2192``) instead of raising.

    Output redirected to a file on Windows (or a console left at cp1252 / cp437) is not
    UTF-8: a file name, a tweet or an arrow in a summary raised UnicodeEncodeError after
    the work was done, so the command ended in a traceback and without its report line.
    stderr escapes already (Python's default there)."""
    stream = sys.stdout
    # UTF-8 too: half a surrogate pair quoted from a stranger's JSON has no UTF-8 form.
    if hasattr(stream, "reconfigure"):
        stream.reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crisisdesk`` command."""
    printable_output()
    try:
        # Building the parser imports the store, numpy and the importers (a second on a
        # busy laptop): a Ctrl-C then is one line and 130 too, not a traceback.
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        return _interrupted()
    if args.command is None:
        return open_app(None)
    if args.command == "open":
        return open_app(args.project)
    from crisisdesk.cli_opening import upgrade_said
    from crisisdesk.core.project import ProjectError

    try:
        with upgrade_said(args):
            return args.func(args)
    except ProjectError as exc:
        # No project there (or one that cannot be made, or one moved away while a job
        # ran): one line for every command, so none repeats the same try.
        return _fail(str(exc))
    except BrokenPipeError:
        # The reader went away (`crisisdesk info --json | head`): not an error of ours.
        # Point stdout at nothing so that flushing it at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
    except (sqlite3.DatabaseError, RuntimeError) as exc:
        # The store's own errors as it opens (SQLite's, or StoreError: a newer schema, no
        # WAL): say why, as `crisisdesk open` does. Any other RuntimeError (torch's) is
        # not the project's: it keeps its message and traceback, as does one from a
        # project that opens well.
        from crisisdesk.core.store.schema import StoreError

        if not isinstance(exc, (sqlite3.DatabaseError, StoreError)):
            raise
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            # Another process held the project's write lock past the busy timeout (a big
            # import, a predict, the app): busy, not broken, and nothing was written.
            return _fail("the project is busy: another crisisdesk (an import, a watch, a "
                         "job in the app) held its write lock for too long; run the same "
                         "command again when it has finished")
        from crisisdesk.core.launch import not_saved_for_want_of_room

        # A commit with no room left (a label, an import's batch): the project opens
        # well, so the check below found nothing to say and the traceback stood.
        full = not_saved_for_want_of_room(getattr(args, "project", None), exc)
        if full is not None:
            return _fail(full)
        why = _why_project_unusable(args)
        if why is None:
            why = _upgrade_failed_then_done(args, exc)
        if why is None:
            raise
        return _fail(why)
    except KeyboardInterrupt:
        # Ctrl-C while torch or a model loads, before any job runs (a job's own Ctrl-C
        # is caught by drive and keeps its work): nothing was started, so one line.
        return _interrupted()


def _interrupted() -> int:
    """Say that Ctrl-C stopped the command before any job ran; its exit status."""
    print("\ncrisisdesk: interrupted", file=sys.stderr)
    return INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
