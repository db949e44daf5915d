"""The command line stays quick to start: commands that need no model never import torch
(`crisisdesk info` must answer in well under a second on a large project)."""

from __future__ import annotations

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
