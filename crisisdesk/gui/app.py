"""Starting the desktop app: the QApplication, which project to open, the main window.

``crisisdesk`` alone opens the last project (or builds the demo on first run);
``crisisdesk open PROJECT`` opens that one. Finding or building the project runs off the
UI thread, with a small window saying what is happening, so the app paints at once even
when the demo must be built first. Nothing here imports torch: jobs load it in their
worker threads.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from crisisdesk import __version__
from crisisdesk.core.app_log import log_runtime, start_log, stop_log
from crisisdesk.core.desktop_install import APP_ID
from crisisdesk.core.progress import Progress
from crisisdesk.gui import style
from crisisdesk.gui.opening_window import OpeningWindow, demo_words, refused_words
from crisisdesk.gui.pool_drain import wait_for_dropped_calls
from crisisdesk.gui.qt_check import missing_x11_library
from crisisdesk.gui.worker import Background, JobRunner, jobs_still_running

#: How long quitting waits for the background calls the closed windows dropped (as long
#: as closing a window once waited for them).
QUIT_CALLS_WAIT_MS = 5000

logger = logging.getLogger(__name__)

if TYPE_CHECKING:  # the core loads off the UI thread, when the project is looked for
    from crisisdesk.core.launch import DemoOpening, ProjectError, ProjectNotOpened
    from crisisdesk.core.project import Project


@dataclass(frozen=True)
class _DemoFirst:
    """What finding the project says when the demo opens but is not built yet (in place
    of a last project that was refused, or gone since it was looked for): the build
    runs first, as a job with its steps in the opening window, then the find again.
    ``words``: what the opening window says meanwhile."""

    words: str


def make_application() -> QApplication:
    """The QApplication (the existing one in tests), named, with its icon, and light
    whatever the desktop's colour scheme (see style.apply_light)."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    style.apply_light(app)
    app.setApplicationName("crisisdesk")
    app.setOrganizationName("crisisdesk")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(window_icon())
    # Wayland matches a window to its menu entry (name, icon in the dock) by this id:
    # the one install-desktop writes.
    app.setDesktopFileName(APP_ID)
    return app


def window_icon() -> QIcon:
    """The icon set shipped in resources/icons (drawn by style.app_icon if absent)."""
    from crisisdesk.core.resources import resource

    icon = QIcon()
    for size in (16, 32, 48, 64, 128, 256):
        png = resource("icons", f"crisisdesk-{size}.png")
        if png.is_file():
            icon.addFile(str(png))
    return icon if not icon.isNull() else style.app_icon()


class Opener(QObject):
    """Finds (or builds) the project off the UI thread, then shows its main window.

    ``window`` is the main window once shown. The demo build, when needed, runs as a job
    with its progress in the small opening window; finding the project (which imports
    the core's job modules, and so torch) runs in the background too.
    """

    opened = Signal(object)  # the MainWindow
    #: A step of the project's upgrade begins (Progress): emitted from the thread that
    #: opens it, shown in the opening window on the UI thread.
    upgrading = Signal(object)
    #: The last project's folder (Path) is being looked into: emitted from the thread
    #: that looks, so that the window can say what it waits on if its drive hangs.
    looking = Signal(object)

    def __init__(self, project_arg: str | None, *, annotator: str | None = None) -> None:
        super().__init__()
        self.project_arg, self.annotator = project_arg, annotator
        self.window = None
        #: Why the project could not be opened (the app then quits), else None.
        self.failure: str | None = None
        self.background = Background(self)
        self.runner: JobRunner | None = None
        self._demo_built = False  # the demo is known to be built (it opens, built)
        # Which project crisisdesk alone opens is looked for in the background: the last
        # one's folder may be on a drive that hangs (the window froze before it painted).
        self.opening = OpeningWindow(f"Opening {project_arg}…" if project_arg
                                     else "Starting crisisdesk…")
        self.opening.show()
        self.upgrading.connect(self.opening.show_progress)
        self.looking.connect(self.opening.waiting_on)
        if project_arg:
            self._find()
        else:
            self.background.call(lambda: _demo_opening(self._look), self._last_or_demo,
                                 self._failed)

    def _look(self, last: Path) -> None:
        """The last project's folder is about to be looked into (in the thread that
        looks)."""
        try:
            self.looking.emit(last)
        except RuntimeError:
            pass  # the app quit meanwhile: nobody is left to tell

    def _last_or_demo(self, demo: DemoOpening | None) -> None:
        """Open the last project (``demo`` None), else say why the demo opens, building
        it first when it is not built yet."""
        self.opening.answered()
        self._demo_built = demo is not None and demo.built
        self.opening.say(demo_words(demo))
        if demo is None or demo.built:
            self._find()
        else:
            self._build_demo()

    def _build_demo(self) -> None:
        """Build the demo as a job, its steps in the opening window, then find again."""
        self.runner = JobRunner("Building the demo project", _demo_job, self)
        self.runner.progress.connect(self.opening.show_progress)
        self.runner.finished.connect(self._demo_finished)
        self.runner.start()

    def _demo_finished(self, state: str, value: object) -> None:
        if state == "done":
            self._find()
        else:
            self._failed(f"the demo project could not be built: {value or state}")

    def _find(self) -> None:
        arg = self.project_arg
        # The demo known built (by this opener's job, or before): choose builds nothing.
        demo_ready = self._demo_built or self.runner is not None

        def find() -> (tuple[Project, ProjectNotOpened | None, str | None] | ProjectError
                       | _DemoFirst):
            """The project opened, why the last project could not be (if it could not)
            and what to say of its upgrade (if this open upgraded it), or why the
            project asked for cannot be opened, or that the demo must be built first."""
            from crisisdesk.core import launch  # imports torch: never on the UI thread
            from crisisdesk.core.project import Project
            from crisisdesk.core.store.schema import upgrades_heard
            from crisisdesk.core.upgrade_steps import DelayedSteps

            try:
                # Its first open upgrades an older project (seconds to minutes for a big
                # one): the opening window says so, and which step of how many, once it
                # has run a moment (a quick one's words only flashed by).
                with DelayedSteps(self._heard) as steps, upgrades_heard(steps):
                    chosen = launch.choose(arg, build_demo=demo_ready)
                    if (not arg and not demo_ready and chosen.root == launch.demo_root()
                            and not launch.demo_built(chosen.root)):
                        # Built as a job, its steps in view: inside choose, the
                        # window said "Opening the last project…" the whole build.
                        return _DemoFirst(refused_words(chosen.not_opened)
                                          if chosen.not_opened is not None else
                                          demo_words(launch.DemoOpening(None, False)))
                    # Here, not on the UI thread: opening marks the jobs of a process
                    # killed meanwhile as interrupted, which writes to the store (and
                    # waits for another program's write lock).
                    project = Project.open(chosen.root)
                chosen = replace(chosen, upgraded_from=launch.take_upgrade(project))
                return project, chosen.not_opened, launch.upgraded_words(chosen)
            except launch.ProjectError as exc:
                return exc  # said as it is, not as an unexpected error with its type

        self.background.call(find, self._found, self._failed)

    def _heard(self, done: int, total: int) -> None:
        """A step of the upgrade of the project being opened begins (in the opening
        thread; the first said, in the thread of the wait once the upgrade has run a
        moment): said in the opening window."""
        from crisisdesk.core.launch import upgrading_words

        words = upgrading_words(done, total)
        try:
            self.upgrading.emit(Progress(done, total, words[0].upper() + words[1:] + "…"))
        except RuntimeError:
            pass  # the app quit meanwhile: nobody is left to tell

    def _found(self, found: tuple[Project, ProjectNotOpened | None, str | None]
               | ProjectError | _DemoFirst) -> None:
        from crisisdesk.core.project import ProjectError
        from crisisdesk.core.settings import remember_project
        from crisisdesk.gui.main_window import MainWindow
        from crisisdesk.gui.screen_fit import fit_to_screen

        if isinstance(found, ProjectError):
            self._failed(str(found))
            return
        if isinstance(found, _DemoFirst):
            self.opening.say(found.words)
            self._build_demo()
            return
        project, not_opened, upgraded = found
        logger.info("project opened: %s%s", project.root,
                    "" if upgraded is None else " (upgraded from an older version)")
        # Torch is loaded by now (finding the project imported it): its version and the
        # GPU, asked of CUDA (seconds on a cold start) in the background.
        self.background.call(log_runtime, lambda _none: None, lambda _message: None)
        if not_opened is None:
            # The demo opened in the last project's place is not remembered: with the
            # drive or share back, the next start opens that project again.
            remember_project(project.root)
        window = MainWindow(project, annotator=self.annotator, preload=True)
        window.setWindowIcon(window_icon())
        if fit_to_screen(window):
            # Smaller than the window's default (a 1366 x 768 laptop, or 1920 x 1080 at
            # 150 %): it took the screen and more, its status bar and jobs below the edge.
            window.showMaximized()
        else:
            window.show()
        if not_opened is not None:
            from crisisdesk.gui.launch_notice import show_launch_notice

            # Said in the window: the demo must not be taken for the analyst's own
            # project gone empty. A note, wrapped, not the status bar's one line: a
            # failed upgrade's reason was cut there mid-word.
            show_launch_notice(
                window, f"The last project, {not_opened.root}, could not be opened: "
                f"{not_opened.reason}. This is the demo (the last project is tried "
                "again at the next start); open another with: crisisdesk open FOLDER")
        if upgraded is not None:
            from crisisdesk.gui.launch_notice import show_launch_notice

            # Once, in the window whose open ran the upgrade: the next start, or a
            # second window opened meanwhile, finds the project upgraded already.
            show_launch_notice(window, upgraded, name="Project upgraded",
                               close_name="Close the note on the upgrade")
        self.window = window
        self.opening.hide()
        self.opened.emit(window)

    def _failed(self, message: str) -> None:
        self.failure = message
        self.opening.answered()  # a drive's wait not said over the error
        logger.error("the project could not be opened: %s", message)
        # Also on stderr: `crisisdesk open` run from a terminal ends with it there.
        print(f"crisisdesk: error: {message}", file=sys.stderr, flush=True)
        self.opening.hide()
        if not os.environ.get("CRISISDESK_SMOKE_TEST"):
            # A headless smoke test has nobody to close the box: it would wait for ever
            # instead of ending with exit status 2.
            QMessageBox.critical(None, "crisisdesk", f"Could not open the project:\n{message}")
        QApplication.quit()

    def shutdown(self) -> None:
        """Stop the background work (the app is quitting)."""
        if self.runner is not None and self.runner.is_running():
            self.runner.cancel()
            self.runner.wait(10_000)
        self.background.shutdown()


def open_project_window(project_arg: str | None, *, annotator: str | None = None) -> Opener:
    """Open ``project_arg`` (None: the last project, or the demo) in a main window."""
    return Opener(project_arg, annotator=annotator)


def _demo_job() -> Iterator[Progress]:
    """The demo build (runs in the job's thread; nothing to do when already built)."""
    from crisisdesk.core.demo import DemoJob, demo_root, is_built

    if is_built(demo_root()):
        return iter(())
    return DemoJob().run()


def _demo_opening(looking: Callable[[Path], None]) -> DemoOpening | None:
    """How ``crisisdesk`` alone opens the demo, None: the last project (in a background
    thread: it looks into the last project's folder, telling ``looking`` which first;
    the light launch module, not the demo's, which imports torch)."""
    from crisisdesk.core.launch import demo_opening

    return demo_opening(looking=looking)


def _smoke_done(window: QWidget) -> None:
    """End a smoke test: paint the window once, say so, quit."""
    window.grab()  # renders every child widget: the first paint, whatever the platform
    print(f"smoke test: {window.windowTitle()!r} painted", flush=True)
    QApplication.quit()


def window_problem() -> str | None:
    """Why Qt cannot open a window here (None when it can, as far as can be told).

    A platform plugin that does not load makes Qt abort the process (a core dump and
    advice to reinstall) where the command line owes a message and exit status 2: the
    usual gap on a fresh Linux desktop is a system library of the X11 plugin.
    """
    missing = missing_x11_library()
    if missing is None:
        return None
    why, package = missing
    return (f"Qt cannot open a window on this X11 desktop: {why}. Install the system "
            f"library it names (on Debian and Ubuntu: sudo apt install {package}), "
            "then start crisisdesk again; crisisdesk doctor checks the rest")


#: glibc's mallopt parameter for the most malloc arenas (malloc.h's M_ARENA_MAX).
_M_ARENA_MAX = -8
#: Arenas the app's threads share: the UI thread and a job's thread may still allocate
#: side by side; the compute threads allocate little (a large tensor is an mmap).
MALLOC_ARENAS = 2


def share_malloc_arenas() -> None:
    """Let the app's threads share :data:`MALLOC_ARENAS` glibc malloc arenas.

    By default each thread that allocates (Qt's pool, the job thread, torch's OpenMP and
    tokenizers' rayon workers) gets an arena of its own, up to 8 per core, and each keeps
    what its thread freed. Measured with bench/gui_bench.py (100,000 items, embed then
    retrain): peak 794 MB with the cap against 813 MB without (means of four paired
    runs), the jobs as far along. Must run before the threads exist: an arena made is
    never given back. Only glibc has arenas; an analyst's own MALLOC_ARENA_MAX (or
    GLIBC_TUNABLES, both read by glibc at start) wins.
    """
    if (not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX")
            or "arena_max" in os.environ.get("GLIBC_TUNABLES", "")):
        return
    try:
        if "glibc" not in (os.confstr("CS_GNU_LIBC_VERSION") or ""):
            return  # musl: no arenas, and no mallopt
        import ctypes

        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, ValueError, AttributeError):
        return  # a libc that does not say or has no mallopt: its own default stands


def main(project_arg: str | None) -> int:
    """Run the app on ``project_arg`` (None: the last project, or the demo)."""
    share_malloc_arenas()  # first: before any thread (Qt's, torch's) allocates
    start_log()  # then the log, so that whatever follows can be read there
    from crisisdesk.gui.window_actions import leave_a_core_to_the_ui

    problem = window_problem()
    if problem:
        print(f"crisisdesk: error: {problem}", file=sys.stderr)
        return 2  # the command line's code for "no display for the app"
    leave_a_core_to_the_ui()  # before anything loads torch: opening the project does
    app = make_application()
    opener = open_project_window(project_arg)
    if os.environ.get("CRISISDESK_SMOKE_TEST"):
        # Packaging check (packaging/README.md): quit once the main window has painted.
        opener.opened.connect(lambda window: QTimer.singleShot(0, lambda: _smoke_done(window)))
    code = app.exec()
    if opener.failure is not None:
        code = 2  # the command line's code for unusable input
    window = getattr(opener, "window", None)
    if window is not None:
        window.close()
    opener.shutdown()
    # Closing no longer waits for the windows' background calls (a read hung on a share
    # froze the window); quitting still does, a while: a pool Python's exit destroys
    # while a call runs would wait for it without limit.
    calls_ended = wait_for_dropped_calls(QUIT_CALLS_WAIT_MS)
    if jobs_still_running() or not calls_ended:
        # A job cancelled but still short of its next yield (a model loading, a download)
        # past the wait: Python destroying its QThread would abort the process (a crash
        # report, exit status 134); a call still hung would hang it. End here instead;
        # the job's store writes are transactions, so a cancelled job resumes where it
        # stopped next time (and a call's write is rolled back, never half done).
        stop_log()  # its writer's waiting lines: os._exit runs no exit handler
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
