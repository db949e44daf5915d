"""Output that is not UTF-8 (a Windows console at cp1252, output redirected to a file
there): a character it cannot write (a file name's Arabic, an arrow, an emoji) is escaped,
and the command ends as it should. Before, the import was done and committed, then the
summary raised UnicodeEncodeError: a traceback, exit 1 and no report line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(args: list[str], cwd: Path, encoding: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": encoding, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "crisisdesk", *args], cwd=cwd, env=env,
                          capture_output=True, timeout=120)


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
def test_a_summary_naming_what_the_console_cannot_write_is_escaped(tmp_path: Path,
                                                                   encoding: str) -> None:
    (tmp_path / "ok.csv").write_text("id,text\n1,flood\n", encoding="utf-8")
    done = _run(["import", "P", "ok.csv", "missing-\u2192-\u0641\u064a\u0636.csv"], tmp_path,
                encoding)
    out, err = done.stdout.decode("ascii", "replace"), done.stderr.decode("ascii", "replace")
    assert "Traceback" not in err, err
    assert done.returncode == 1  # one source read, one missing: done with problems
    assert "missing-\\u2192-\\u0641\\u064a\\u0636.csv: no such file" in out
    assert "Report: " in out
