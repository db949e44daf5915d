"""What a command says while its open upgrades an older project (session 19).

"Upgrading the project ... step k of n" was printed on stderr (and shown in the app's
opening window) for an upgrade of a fraction of a second, just before the note that the
project was upgraded. Now the steps are said only once the upgrade has run a moment
(``upgrade_steps.SAY_AFTER_S``); the time is the test's to say (``clock``), never waited
for. And Ctrl-C mid-upgrade on a terminal left a blank line before "interrupted"."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_cli_upgrade_note_s17 import (  # noqa: F401 - old: the fixture, by name
    OLD,
    notes,
    old,
    schema_of,
)
from test_review_followups_s18 import _Terminal
from upgrade_clock import Clock, clock, steps_said_at_once  # noqa: F401 - fixtures

from crisisdesk.cli import main
from crisisdesk.core.store import schema
from crisisdesk.core.store.schema import SCHEMA_VERSION


def _at_step(monkeypatch: pytest.MonkeyPatch, number: int,
             then: Callable[[], None]) -> None:
    """Call ``then`` as the upgrade's ``number``-th step (1: its first) runs."""
    index = OLD + number - 1
    step = schema.MIGRATIONS[index]

    def run(db) -> None:
        then()
        step(db)

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS[:index], run,
                                               *schema.MIGRATIONS[index + 1:]])


@pytest.mark.parametrize("terminal", [False, True], ids=["log", "terminal"])
def test_a_quick_upgrade_is_said_by_its_note_alone(
        old: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch, terminal: bool) -> None:
    err = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["info", str(old), "--json"]) == 0
    said = err.getvalue()
    assert schema_of(old) == SCHEMA_VERSION
    assert "upgrading" not in said.lower(), said
    assert notes(said) == 1
    assert clock.waits and all(cancelled[0] for _call, cancelled in clock.waits)
    clock.time_passes(even_cancelled=True)  # a timer woken as the upgrade ended
    assert err.getvalue() == said


def test_an_upgrade_past_the_moment_is_said_from_the_step_it_is_at(
        old: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    steps = SCHEMA_VERSION - OLD
    seen: list[str] = []

    def mid_step() -> None:
        seen.append(err.getvalue())  # before the moment: nothing said yet
        clock.time_passes()  # during this (long) step
        seen.append(err.getvalue())

    _at_step(monkeypatch, 2, mid_step)
    assert main(["info", str(old), "--json"]) == 0
    before, during = seen
    assert "upgrading" not in before.lower(), before
    assert str(old) in during and f"step 2 of {steps}" in during, during
    said = err.getvalue()
    # The steps after it rewrite the line, the last ends it; then the note.
    screen = [line.rsplit("\r", 1)[-1] for line in said.split("\n")]
    assert any(f"step {steps} of {steps}" in line for line in screen), said
    assert notes(screen[-2]) == 1 and screen[-1] == "", said


def test_a_log_gets_the_first_step_said_only(
        old: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    _at_step(monkeypatch, 2, clock.time_passes)
    assert main(["info", str(old)]) == 0
    err = capsys.readouterr().err
    upgrading = [line for line in err.splitlines() if "upgrading" in line]
    assert len(upgrading) == 1 and "\r" not in err, err
    assert notes(err) == 1


def test_ctrl_c_mid_upgrade_on_a_terminal_leaves_no_blank_line(
        old: Path, steps_said_at_once: None, monkeypatch: pytest.MonkeyPatch) -> None:
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)

    def ctrl_c() -> None:
        raise KeyboardInterrupt

    _at_step(monkeypatch, 3, ctrl_c)
    assert main(["info", str(old)]) == 130
    said = err.getvalue()
    assert "upgrading" in said and "interrupted" in said, said
    screen = [line.rsplit("\r", 1)[-1] for line in said.split("\n")]
    assert "crisisdesk: interrupted" in screen, said
    assert "" not in screen[:-1], said  # the terminal's "^C" ends the step line
