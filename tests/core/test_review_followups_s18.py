"""Defects found reviewing session 18's commits, in what is said of an upgrade that
stopped: on a terminal its "step k of n" line was left open, so the error was written on
the same line ("...step 5 of 5...crisisdesk: error: ..."); and an upgrade run again after
a failed step said it from where the retry began ("nothing in it was changed, so the
release that wrote it (schema 14) still opens it") though earlier steps were saved and
the release that wrote it (schema 10) refuses it from then on."""

from __future__ import annotations

import io
import sqlite3
import sys
from pathlib import Path

import pytest
from test_cli_upgrade_note_s17 import OLD, old_project, schema_of
from test_upgrade_fails_s13 import read_only_sqlite, refused_at_launch
from upgrade_clock import steps_said_at_once  # noqa: F401 - the fixture

from crisisdesk.cli import main
from crisisdesk.core.project import Project
from crisisdesk.core.store import schema
from crisisdesk.core.store.schema import SCHEMA_VERSION


def _flaky_drive(db) -> None:
    """The last step of the upgrade, failing as on a flaky drive, every try."""
    raise sqlite3.OperationalError("disk I/O error")


class _Terminal(io.StringIO):
    """Standard error as a terminal: the upgrade's line is rewritten step by step."""

    def isatty(self) -> bool:
        return True


def test_an_upgrade_stopped_on_a_terminal_ends_its_line_before_the_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, steps_said_at_once: None) -> None:
    old = old_project(tmp_path)
    assert schema_of(old) == OLD < SCHEMA_VERSION

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS[:-1], _flaky_drive])
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["info", str(old)]) == 2
    said = err.getvalue()
    assert "upgrading" in said and "crisisdesk: error:" in said, said
    # What is left on screen: each \r rewrites its line; the error starts one of its own.
    screen = [line.rsplit("\r", 1)[-1] for line in said.split("\n")]
    assert any(line.startswith("crisisdesk: error:") for line in screen), said


def test_an_upgrade_that_fails_again_does_not_say_the_old_release_still_opens_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    # Steps 11 to 14 were saved, then the last one failed, and failed again on the retry
    # (the command's check, or the next open): the retry started at 14 and said that
    # "nothing was changed, so the release that wrote it (schema 14) still opens it",
    # though the release that wrote it is schema 10's, which refuses it from now on.
    old = old_project(tmp_path)
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS[:-1], _flaky_drive])
    for _try in range(2):  # the analyst runs the command again, as the error advises
        assert main(["info", str(old)]) == 2
        err = capsys.readouterr().err
        assert schema_of(old) == SCHEMA_VERSION - 1  # the steps before the last are kept
        assert "still opens it" not in err, err
        assert f"from schema {OLD} to {SCHEMA_VERSION}" in err, err
        assert f"schema {OLD}, no longer opens it" in err, err


def test_a_read_only_project_left_half_upgraded_names_no_release_that_refuses_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An upgrade saved steps 11 to 14 and stopped; the folder is read-only now (a
    # copy on a write-protected drive): the release of schema 10 no longer reads it.
    old = old_project(tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS[:-1], _flaky_drive])
        assert main(["info", str(old)]) == 2
    assert schema_of(old) == SCHEMA_VERSION - 1
    project = Project(old)
    read_only_sqlite(monkeypatch, project)
    said = refused_at_launch(project)
    assert "read-only" in said and f"from schema {SCHEMA_VERSION - 1} to" in said, said
    assert f"release that wrote it (schema {OLD})" not in said, said
    assert f"schema {SCHEMA_VERSION - 1}" in said
