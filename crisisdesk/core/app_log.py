"""The app's log: a file an engineer reads after a failure, in the user's data folder.

``logs/crisisdesk.log`` under :func:`~crisisdesk.core.settings.user_data_dir`, rotated at
:data:`MAX_BYTES` with :data:`BACKUPS` older files kept, so it never grows without bound
(but while two instances of the app run on Windows, where neither may move the file the
other has open: it grows on until one ends, losing no line).
It holds the app's start (crisisdesk, Python, the system; torch and the device once torch
is loaded, off the UI thread: :func:`log_runtime`), each project opened, each job's start
and end (how it ended, how long it took, a failed one's traceback), failed background
calls, and every exception nobody caught, on the UI thread (a Qt slot's included) or any
other: the hooks log it, then hand it to the hooks that were there, so it is still shown
as before. Never a label's or a post's text (posts may be sensitive): paths, job titles
and tracebacks only.

Any thread may log; one writer thread writes the file. A line is handed over in a queue,
so the thread that logs it (the UI thread among them) never waits on the file: a log
folder on a network drive that stops answering, or a disk that filled, stalled the
window with each job's start and end. What is waiting is written before the process
ends (:func:`stop_log`, run at exit and by the app before its quick exit).

Only the app keeps it (``crisisdesk.gui.app.main`` calls :func:`start_log`); the CLI says
what it has to say in the terminal. A folder that cannot be written (read-only, full) is
said once on stderr and the app goes on without a log (:func:`log_problem` keeps why,
until a line is written again).
No Qt here.
"""

from __future__ import annotations

import atexit
import logging
import os
import platform
import queue
import sys
import threading
from contextlib import suppress
from logging.handlers import QueueHandler, QueueListener, RotatingFileHandler
from pathlib import Path
from types import TracebackType
from typing import Any

from crisisdesk import __version__
from crisisdesk.core.settings import user_data_dir

LOG_FOLDER = "logs"
LOG_NAME = "crisisdesk.log"
MAX_BYTES = 1_000_000  # about 10,000 lines: weeks of jobs, or one bad day's tracebacks
BACKUPS = 3  # crisisdesk.log.1 .. .3: at most 4 MB in all
FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"
#: Lines waiting for the writer at most: a folder that stopped answering holds them in
#: memory until it answers again; those past this many are dropped (said once).
MAX_WAITING = 10_000
#: Seconds the end of the process waits for the writer to write what is waiting: a
#: folder that does not answer must not keep the app from ending.
END_WAIT_S = 5.0

logger = logging.getLogger("crisisdesk.app")
#: The loggers the log file hangs on: the root (every library that passes its records
#: up) and transformers', which passes none up once imported (its own handler, with
#: propagation off unless the CI variable is set): a model load's warning is often the
#: only word on what went wrong.
_LOGGERS = ("", "transformers")

_handler: _LogFile | None = None  # the file, written by the writer thread only
_to_writer: _ToWriter | None = None  # on the loggers: hands each line to the writer
_writer: QueueListener | None = None
_stop_at_exit = False  # stop_log registered with atexit (once per process)
_problem: str | None = None
_previous_hooks: tuple[Any, Any] | None = None


def log_folder() -> Path:
    """The folder the app's log files are in (not created here)."""
    return user_data_dir() / LOG_FOLDER


def log_file() -> Path | None:
    """The log being written, or None (not started, or it could not be)."""
    return _handler.path if _handler is not None else None


def log_problem() -> str | None:
    """Why no log is being written (or no longer), said as a sentence; None when fine."""
    return _problem


class _LogFile(RotatingFileHandler):
    """The rotating log file; a write that fails is said once, never raised or repeated
    (Python's logging printed a traceback to stderr for every line on a full disk)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
        self.path = path
        self._refused_at = 0  # the file's size when a rotation was last refused
        self._failed = False  # the line being written failed (said by handleError)

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # noqa: N802
        # After a refused rotation, tried again only once the file grew a tenth more:
        # not on every line.
        return super().shouldRollover(record) and (
            not self._refused_at or self.stream.tell() >= self._refused_at + MAX_BYTES // 10)

    def doRollover(self) -> None:  # noqa: N802 - logging's name
        """Rotate, moving the file being written away first: where that is refused (on
        Windows, another instance of the app has it open) nothing else has moved and
        the lines go on into it. logging's own rotation moved the older files first,
        deleting the oldest, then failed, and failed again for every later line, each
        of them lost."""
        if self.stream:
            self.stream.close()
            self.stream = None  # type: ignore[assignment]
        moving = self.path.with_name(f"{LOG_NAME}.{os.getpid()}.rotating")
        try:
            os.replace(self.path, moving)  # replace: a crashed rotation's leftover goes
        except FileNotFoundError:
            pass  # another instance rotated it just now
        except OSError:
            self.stream = self._open()
            self._refused_at = self.stream.tell()
            return
        else:
            for n in range(BACKUPS - 1, 0, -1):
                with suppress(FileNotFoundError):
                    os.replace(f"{self.path}.{n}", f"{self.path}.{n + 1}")
            os.replace(moving, f"{self.path}.1")
        self._refused_at = 0
        self.stream = self._open()

    def emit(self, record: logging.LogRecord) -> None:
        self._failed = False
        super().emit(record)  # a write that fails goes to handleError, never raised
        # Over once the writer has caught up: while lines still wait, a full queue would
        # drop the next line again (and its note, said as a new problem).
        if not self._failed and _problem is not None and (
                _writer is None or _writer.queue.empty()):
            _written_again()

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        self._failed = True
        error = sys.exc_info()[1]
        reason = getattr(error, "strerror", None) or error
        _say_once(f"the log {self.path} can no longer be written ({reason}); the app "
                  "goes on without it")


class _ToWriter(QueueHandler):
    """Hands each line, formatted (its traceback with it), to the writer thread; never
    waits: past :data:`MAX_WAITING` lines waiting, a line is dropped and that is said."""

    def __init__(self, lines: queue.Queue[logging.LogRecord], path: Path) -> None:
        super().__init__(lines)
        self.path = path

    def handle(self, record: logging.LogRecord) -> bool:
        # The handler hangs on the root and on transformers' logger: where transformers
        # passes its records up too (it does when the CI variable is set) the same
        # record reaches it twice, and is written once.
        if getattr(record, "_crisisdesk_logged", False):
            return False
        record._crisisdesk_logged = True
        return bool(super().handle(record))

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if isinstance(sys.exc_info()[1], queue.Full):
            _say_once(f"the log {self.path} is not being written (its folder does not "
                      f"answer: {MAX_WAITING} lines wait); lines are dropped until it does")
        else:  # a record that cannot be formatted: logging's own report
            super().handleError(record)


def _say_once(problem: str) -> None:
    """Tell stderr why the log is not kept, the first time only (until it is written
    again: :func:`_written_again`)."""
    global _problem
    if _problem is None:
        _problem = problem
        print(f"crisisdesk: {problem}", file=sys.stderr, flush=True)


def _written_again() -> None:
    """The lines reached the file after a problem (the folder answers again, the disk
    has room again): it is over, so Help opens the folder again instead of saying it,
    and a next problem is said in its turn. The log says that lines are missing, and
    why: an engineer reading it would not know. In the writer thread, which has caught
    up: its line comes next."""
    global _problem
    problem, _problem = _problem, None
    if problem is not None:
        logger.warning("lines are missing from the log before this one: %s", problem)


def loggable(details: str, error: BaseException | None) -> str:
    """``details`` (a failure's message or traceback) as the log may keep it: the
    message of each exception in ``error``'s chain that carries a ``log_message`` (it
    quotes a server's answer, which may echo a post) replaced by that."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        safe = getattr(error, "log_message", None)
        if isinstance(safe, str) and str(error):
            details = details.replace(str(error), safe)
        error = error.__cause__ or error.__context__
    return details


def start_log() -> Path | None:
    """Start writing the app's log and logging the exceptions nobody caught; return the
    log file, or None when its folder cannot be written (said once on stderr: the app
    goes on). Once per process: a second call returns the same file."""
    global _handler, _to_writer, _writer, _stop_at_exit
    if _handler is not None:
        return _handler.path
    path = log_folder() / LOG_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = _LogFile(path)  # opens the file now: a read-only folder is found here
    except OSError as exc:
        _say_once(f"no log is kept: {path} cannot be written "
                  f"({exc.strerror or exc}); the app goes on without it")
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    lines: queue.Queue[logging.LogRecord] = queue.Queue(MAX_WAITING)
    _writer = QueueListener(lines, handler)
    _writer.start()
    _to_writer = _ToWriter(lines, path)
    _to_writer.setLevel(logging.INFO)
    for name in _LOGGERS:
        logging.getLogger(name).addHandler(_to_writer)  # other libraries' warnings, too
    logging.getLogger("crisisdesk").setLevel(logging.INFO)
    _handler = handler
    if not _stop_at_exit:
        # The writer is a daemon thread: without this, the lines still waiting when the
        # process ends (a failed job's traceback, as the app closes) would be lost.
        atexit.register(stop_log)
        _stop_at_exit = True
    _install_hooks()
    logger.info("crisisdesk %s started: Python %s, %s", __version__,
                platform.python_version(), platform.platform())
    return path


def flush_log(timeout: float | None = 30.0) -> bool:
    """Wait until the writer wrote every line logged so far (at most ``timeout``
    seconds; None: without limit); False when it did not (its folder does not answer).
    For the end of the process and for tests that read the file."""
    if _writer is None:
        return True
    lines = _writer.queue
    with lines.all_tasks_done:  # queue.Queue's own: task_done() follows each write
        return lines.all_tasks_done.wait_for(lambda: not lines.unfinished_tasks, timeout)


def stop_log() -> None:
    """Stop the log: write what is waiting (at most :data:`END_WAIT_S` seconds), close
    the file and give the exception hooks back. Run at exit, by the app before its quick
    exit (which skips the exit's handlers), and by tests."""
    global _handler, _to_writer, _writer, _problem, _previous_hooks
    if _previous_hooks is not None:
        sys.excepthook, threading.excepthook = _previous_hooks
        _previous_hooks = None
    if _to_writer is not None:
        for name in _LOGGERS:
            logging.getLogger(name).removeHandler(_to_writer)
        logging.getLogger("crisisdesk").setLevel(logging.NOTSET)
    if _writer is not None and _handler is not None:
        if flush_log(END_WAIT_S):
            _writer.stop()  # idle now: returns at once
            _handler.close()
        else:
            # Stuck in a write: left to end with the process (a daemon thread).
            _say_once(f"the log {_handler.path} did not take its last lines within "
                      f"{END_WAIT_S:g} s; they are lost")
            # logging's own exit handler, which runs after this one, takes the file's
            # lock (held by that write) and flushes its stream (stuck): the app never
            # ended. Without them it passes this file by; the write, should it return,
            # finds nothing to release.
            _handler.lock = None  # type: ignore[assignment]
            _handler.stream = None  # type: ignore[assignment]
    _handler, _to_writer, _writer, _problem = None, None, None, None


def log_runtime() -> None:
    """Log torch's version and the devices jobs may use. Imports torch and asks CUDA
    (seconds on a cold start): for a background thread, never the UI thread."""
    from crisisdesk.core.gpu_names import learn_gpu_name

    try:
        import torch

        if torch.cuda.is_available():
            # A card's name needs CUDA set up (torch's lazy init), which an app that runs
            # no GPU job never pays for: named only once a job has set it up.
            named = torch.cuda.is_initialized()
            device = "; ".join(
                f"GPU {index}" + (f", {learn_gpu_name(f'cuda:{index}') or 'name unknown'}"
                                  if named else "")
                for index in range(torch.cuda.device_count()))
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            device = "the Apple GPU"
        else:
            device = "the CPU (no GPU seen)"
        logger.info("torch %s (CUDA build %s); jobs can run on %s", torch.__version__,
                    torch.version.cuda or "none", device)
    except Exception:  # noqa: BLE001 - a torch that fails here fails its jobs, said there
        logger.warning("torch and its devices could not be read", exc_info=True)


def _install_hooks() -> None:
    """Log exceptions nobody caught, then pass them to the hooks that were there."""
    global _previous_hooks
    if _previous_hooks is not None:
        return
    before_main, before_thread = sys.excepthook, threading.excepthook
    _previous_hooks = (before_main, before_thread)

    def main_hook(kind: type[BaseException], value: BaseException,
                  tb: TracebackType | None) -> None:
        # A Qt slot's exception comes here too (PySide6 hands it to sys.excepthook).
        if not issubclass(kind, KeyboardInterrupt):
            _log_unhandled("unhandled exception", (kind, value, tb))
        before_main(kind, value, tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if not issubclass(args.exc_type, SystemExit):  # a thread's quiet way out
            name = args.thread.name if args.thread is not None else "a thread"
            _log_unhandled(f"unhandled exception in thread {name}",
                           (args.exc_type, args.exc_value, args.exc_traceback))
        before_thread(args)

    sys.excepthook, threading.excepthook = main_hook, thread_hook


def _log_unhandled(what: str, exc_info: tuple[Any, Any, Any]) -> None:
    try:
        logger.error(what, exc_info=exc_info)
    except Exception:  # noqa: BLE001 - the hook that shows it must still run
        pass
