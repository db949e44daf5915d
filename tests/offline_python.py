"""Running a snippet of Python in a fresh interpreter, offline: what a test of which
modules get imported needs (the test process has imported everything already)."""

from __future__ import annotations

import os
import subprocess
import sys


def run_offline(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` run by this interpreter in a child process (HF_HUB_OFFLINE=1)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
