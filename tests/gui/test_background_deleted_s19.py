"""A Background deleted with its window while its calls end never kills the app.

Pool threads used to emit a signal of the Background itself: a window deleted on the GUI
thread as one of its calls ended left them emitting on a half-destroyed object, and the
process died (a segmentation fault in CI, in a test's teardown). They now hand results to
one relay that is never deleted. Run in a subprocess, so that a crash fails this test
instead of ending the test run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

ROUNDS = textwrap.dedent("""\
    import sys
    from PySide6.QtCore import QCoreApplication, QEvent, QObject
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from crisisdesk.gui.background import Background

    delivered = []
    for round_ in range(int(sys.argv[1])):
        window = QObject()  # stands for a window or dialog, deleted as its calls end
        background = Background(window)
        for _ in range(4):
            background.call(lambda: round_, delivered.append)
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        app.processEvents()
    app.processEvents()
    print("ended", len(delivered))
    """)


def test_windows_deleted_as_their_calls_end_never_crash_the_app() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", ROUNDS, "3000"], capture_output=True,
                          text=True, timeout=300, env=env)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    # Every window was deleted before its calls could report: none reached a callback.
    assert done.stdout.split() == ["ended", "0"]
