"""Regressions found on an end-to-end day with session 12's changes (CrisisMMD import,
label, undo, redo, history, exports and their re-import, MiniLM embed, train, eval,
predict, versions, explain, the app): each test names what an analyst hit."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisisdesk import cli
from crisisdesk.cli import main


def test_ctrl_c_while_the_command_line_is_read_is_one_line_and_130(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Ctrl-C in the first second of a command (a wrong project typed): building the
    parser imports the store, numpy and the importers, outside main's Ctrl-C handling,
    so the analyst got a screen of traceback instead of README's one line and 130."""
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    try:
        code = main(["info", str(tmp_path / "p")])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C while the command line was read escaped main (a traceback)")
    assert code == cli.INTERRUPTED
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
