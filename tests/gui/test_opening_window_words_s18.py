"""The small window the app shows while it opens a project, as an analyst saw it while an
older project was upgraded (session 18): "Opening the last project…" sized the window,
and the longer words of the upgrade that followed were cut after "…crisisdesk: step",
the step count (the point of them) out of sight, at the usual font as at 1.5 times it.
A screen reader heard a bar without a name.

Each check is on what Qt lays out: the label's text measured with its font against the
room the window gives it."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication
from test_dialog_words_s16 import _fits_in, font_scale  # noqa: F401 - the fixture, by name

from crisisdesk.core.launch import upgrading_words
from crisisdesk.core.progress import Progress
from crisisdesk.gui.app import OpeningWindow


def _upgrading(qtbot, opening: str, done: int, total: int) -> OpeningWindow:
    """The opening window first saying ``opening``, then a step of an upgrade, as the
    app's Opener shows them."""
    window = OpeningWindow(opening)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    words = upgrading_words(done, total)
    window.show_progress(Progress(done, total, words[0].upper() + words[1:] + "…"))
    QApplication.processEvents()
    return window


@pytest.mark.parametrize("opening", ["Opening the last project…",
                                     "Opening /home/analyst/projects/harvey…"])
def test_the_upgrade_step_shows_whole(qtbot, font_scale, opening: str) -> None:
    window = _upgrading(qtbot, opening, 2, 12)
    label = window.label
    assert "step 3 of 12" in label.text()
    assert _fits_in(label, label.contentsRect()), (label.text(), label.size())
    assert window.rect().contains(label.geometry())


def test_a_screen_reader_hears_what_the_bar_is_for(qtbot) -> None:
    window = _upgrading(qtbot, "Opening the last project…", 0, 5)
    assert window.bar.accessibleName() == window.label.text()
    assert "step 1 of 5" in window.bar.accessibleName()
