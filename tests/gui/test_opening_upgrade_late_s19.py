"""The app opening an old project whose upgrade is quick (session 19): the opening window
flashed "Upgrading the project for this version of crisisdesk: step 1 of 5…" for a
fraction of a second (a screen reader began to say it as it went). Now it says the steps
only once the upgrade has run a moment; the note in the main window says it was
upgraded. The time is the test's to say (``clock``), never waited for."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel
from test_cli_upgrade_note_s17 import OLD, old_project, schema_of
from test_opening_upgrades_s18_gui import close, opened
from upgrade_clock import Clock, clock  # noqa: F401 - the fixture, by name

from crisisdesk.core.progress import Progress
from crisisdesk.core.store.schema import SCHEMA_VERSION
from crisisdesk.gui import app


def test_a_quick_upgrade_is_not_flashed_in_the_opening_window(
        qtbot, tmp_path, monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    root = old_project(tmp_path)
    assert schema_of(root) == OLD
    shown: list[str] = []
    show = app.OpeningWindow.show_progress

    def recording(self, progress: Progress) -> None:
        shown.append(progress.message)
        show(self, progress)

    monkeypatch.setattr(app.OpeningWindow, "show_progress", recording)
    opener = opened(qtbot, root)
    notes = [n.text() for n in opener.window.findChildren(QLabel)
             if "upgraded" in n.text()]
    close(opener)
    assert schema_of(root) == SCHEMA_VERSION
    assert not [words for words in shown if "pgrading" in words], shown
    assert notes  # said once it is done, in the main window
    assert clock.waits and all(cancelled[0] for _call, cancelled in clock.waits)
