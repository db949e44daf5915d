"""Image checks run in a thread pool: what Pillow warns must not leak from one thread."""

from __future__ import annotations

import subprocess
import sys


def test_pillows_bomb_warning_is_ignored_in_every_thread_once_imaging_is_loaded() -> None:
    # Images are checked in a thread pool; a catch_warnings() block around each decode
    # is not thread-safe (one thread leaving it restores the filters under another), and
    # CI printed Pillow's DecompressionBombWarning for an image our own limit refuses.
    code = ("import threading, warnings\n"
            "import crisisdesk.core.imaging\n"
            "from PIL import Image\n"
            "t = threading.Thread(target=lambda: warnings.warn(\n"
            "    Image.DecompressionBombWarning('95 MP')))\n"
            "t.start(); t.join()\n"
            "warnings.warn(Image.DecompressionBombWarning('95 MP'))\n")
    done = subprocess.run([sys.executable, "-W", "error::Warning", "-c", code],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "DecompressionBomb" not in done.stderr, done.stderr
