"""Words and small layout leftovers: OS errors said without Python's "[Errno 28]"
(the file name kept), counts held to their word where a report wraps ("Trained on 75"
at a line's end, "labels" on the next), and the help (F1) explaining the item list's
chips and tiles, which the shortcut table alone did not."""

from __future__ import annotations

import errno
from pathlib import Path

import test_error_words_s16
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QWidget
from test_error_words_s16 import _called, _raise, failed_export
from test_retrain_report_reading_s16 import _kept_together, _version

from crisisdesk.core.importers import ImportReport
from crisisdesk.core.importers.records import Problem, Where
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import TaskRetrain
from crisisdesk.gui.advice import plain_error
from crisisdesk.gui.chips import TASK_SHORT
from crisisdesk.gui.dialogs.import_dialog import ImportDialog
from crisisdesk.gui.dialogs.retrain_headline import headline
from crisisdesk.gui.dialogs.versions_dialog import figures_text
from crisisdesk.gui.help_overlay import HelpOverlay

OUT = "/media/usb/exports/damage.csv"


def _full(filename: str | None = OUT) -> OSError:
    """A full drive's error as open() or write() raises it, naming the file."""
    return OSError(errno.ENOSPC, "No space left on device", filename)


def _plain(text: str) -> None:
    """``text`` says the OS's words without Python's errno bracket."""
    assert "[Errno" not in text and "Errno 28" not in text, text


# ---------------------------------------------------------------------- OS errors


def test_an_os_error_reads_as_the_os_words_and_the_file() -> None:
    said = plain_error(_full())
    _plain(said)
    assert "No space left on device" in said and OUT in said, said
    # A message of the core's that quotes one keeps its own words around it.
    said = plain_error(ValueError(f"cannot write {OUT}: {_full(None)}; export stopped"))
    _plain(said)
    assert said.startswith(f"cannot write {OUT}: No space left on device"), said
    assert said.endswith("; export stopped"), said


def test_a_failed_background_call_says_the_os_words(qtbot) -> None:
    said = _called(qtbot, _raise(PermissionError(errno.EACCES, "Permission denied", OUT)))
    _plain(said)
    assert "Permission denied" in said and OUT in said, said


def test_the_export_dialog_says_the_os_words(qtbot, demo_like_project, tmp_path: Path,
                                             monkeypatch) -> None:
    monkeypatch.setattr(test_error_words_s16, "_full", _full)  # naming its file
    shown = failed_export(qtbot, demo_like_project, tmp_path, monkeypatch).status.text()
    _plain(shown)
    assert "No space left on device" in shown and "damage.csv" in shown, shown


def test_the_import_report_says_the_os_words(qtbot, project: Project) -> None:
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    message = f"cannot extract: {_full('/tmp/unpacked/photo.jpg')}; skipped"
    dialog.show_report(ImportReport(problems=[Problem(Where("posts.zip"), message)]))
    row = dialog.problems.topLevelItem(0)
    for shown in (row.text(3), row.toolTip(3)):
        _plain(shown)
        assert "No space left on device" in shown and "photo.jpg" in shown, shown


def test_the_retrain_report_says_why_the_active_version_cannot_be_scored_in_os_words(
        ) -> None:
    gone = FileNotFoundError(errno.ENOENT, "No such file or directory",
                             "/p/models/damage-v3.safetensors")
    entry = TaskRetrain("damage", candidate=7, candidate_name="damage-v7", holdout=30,
                        holdout_split="test", new={"macro_f1": 0.61, "n": 30},
                        active=3, active_name="damage-v3", active_error=str(gone))
    said = headline(entry)
    _plain(said)
    assert "No such file or directory" in said and "damage-v3.safetensors" in said, said


# ---------------------------------------------------------------------- counts and words


def _headline_text(entry: TaskRetrain) -> str:
    document = QTextDocument()
    document.setHtml(headline(entry))
    return document.toRawText()


def test_a_count_stays_on_the_line_of_its_word_in_the_retrain_report(qtbot) -> None:
    """ "Trained on 75" ended a line and "labels" began the next."""
    compared = TaskRetrain("damage", candidate=7, candidate_name="damage-v7", holdout=1234,
                           holdout_split="test", new={"macro_f1": 0.61, "n": 1200},
                           current={"macro_f1": 0.6, "n": 1200},
                           sizes={"train": 7500, "validation": 900})
    _kept_together(_headline_text(compared), ("7,500", "labels"),
                   ("900", "validation"), ("1,234", "labelled"), ("1,200", "both"),
                   ("34", "left"))
    unscored = TaskRetrain("damage", candidate=7, candidate_name="damage-v7", holdout=40,
                           holdout_split="test")
    _kept_together(_headline_text(unscored), ("40", "holdout"))


def test_a_count_stays_on_the_line_of_its_word_in_the_versions_table(qtbot) -> None:
    """ "(best of 3" ended a line of the figures' cell and "seeds)" began the next."""
    _kept_together(figures_text(_version("damage-v7", 7, True)), ("3", "seeds)"))


# ---------------------------------------------------------------------- the help


def test_the_help_explains_the_marks_of_the_item_list(qtbot) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.resize(1100, 760)
    parent.show()
    help_card = HelpOverlay(parent)
    help_card.toggle()
    for said in (help_card.text.text(), help_card.accessibleDescription()):
        # A label's chip (green, ✓), a prediction's (its confidence), the "+N" of the
        # tasks that did not fit, the tiles in place of an image and a blurred one's tag.
        for mark in ("✓", "%", "+2", "sensitive", "text", "missing", "unreadable"):
            assert mark in said, (mark, said)
        for short in TASK_SHORT.values():  # the tasks as the chips shorten them
            assert short in said, (short, said)
    card = help_card.card.geometry()
    assert parent.rect().contains(card), (card, parent.rect())
