"""Quitting the app while a job is stuck between two yields (a model still loading, a
download): the process ends with the app's exit status, not a Qt abort."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import threading, sys
from crisisdesk.core.progress import Progress
from crisisdesk.gui import app
from crisisdesk.gui.worker import JobRunner

stuck = threading.Event()

def loading_a_model():
    stuck.wait()  # never set: the job never reaches its next yield
    yield Progress(1, 1, "loaded")

app.make_application()
runner = JobRunner("Caption images", loading_a_model)
runner.start()
sys.exit(app.main(sys.argv[1]))
"""


def test_quitting_with_a_job_stuck_in_a_model_load_does_not_abort(demo_like_project,
                                                                  tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CRISISDESK_SMOKE_TEST="1",
               HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(demo_like_project.root)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert "Destroyed while thread" not in done.stderr
    assert done.returncode == 0, done.stderr
    assert "painted" in done.stdout
