"""The command line stays quick to start: commands that need no model never import torch
(`crisisdesk info` must answer in well under a second on a large project)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_info_does_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from crisisdesk.cli import main\n"
        f"main(['import', {str(tmp_path / 'p')!r}, {str(tmp_path / 'posts.csv')!r}])\n"
        f"main(['info', {str(tmp_path / 'p')!r}])\n"
        "heavy = [m for m in ('torch', 'transformers', 'open_clip') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    (tmp_path / "posts.csv").write_text("id,text\n1,road closed\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "HEAVY []" in out


def test_the_main_window_paints_before_torch_is_imported() -> None:
    """The window's modules import no model library: the first paint of a 100,000-item
    project took 2.7 s and 640 MB instead of 0.2 s and 150 MB when one did (the job
    libraries are preloaded after the paint)."""
    code = (
        "import sys\n"
        "import crisisdesk.gui.main_window, crisisdesk.gui.app\n"
        "heavy = [m for m in ('torch', 'transformers', 'open_clip') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}
                         ).stdout
    assert "HEAVY []" in out
