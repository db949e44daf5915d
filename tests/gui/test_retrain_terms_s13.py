"""The retrain report explains its own words: macro F1, the points, the recommendation,
the frozen holdout, early stopping, F1 per class, the confusion matrices and "Scored when
trained" each carry a short note, by mouse (tooltip), by keyboard (a "?" link Tab
reaches) and to a screen reader (the accessible description)."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QToolTip

from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainReport, TaskRetrain
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog
from crisisdesk.gui.dialogs.versions_dialog import VersionsDialog

CLASSES = ["little_or_none", "mild", "severe"]


def _scores(right: int) -> dict:
    k = len(CLASSES)
    return {"macro_f1": 0.61 + right / 100, "n": 3 * k, "classes": CLASSES,
            "confusion": [[right if r == c else 1 for c in range(k)] for r in range(k)],
            "per_class": {c: {"f1": 0.6} for c in CLASSES}}


def _dialog(qtbot, project: Project, recommend: bool = True) -> RetrainDialog:
    entry = TaskRetrain("damage", holdout_split="test", holdout=9, candidate=7,
                        candidate_name="damage-v7", new=_scores(3), current=_scores(2),
                        active=3, active_name="damage-v3", recommend_switch=recommend,
                        sizes={"train": 75, "validation": 9, "dev": 18})
    dialog = RetrainDialog(project, RetrainReport({"damage": entry}))
    qtbot.addWidget(dialog)
    return dialog


def _says(text: str, *words: str) -> None:
    for word in words:
        assert word.lower() in text.lower(), (word, text)


#: Each term of the headline, the link that explains it and words its note must say.
HEADLINE_TERMS = {
    "macro_f1": ("average", "class", "rare", "higher is better"),
    "points": ("percentage points", "minus", "chance"),
    "recommendation": ("at least", "macro F1", "override"),
    "holdout": ("never trained on", "same items", "both versions", "stored"),
    "early_stopping": ("validation", "stop", "training labels", "not the holdout"),
}


def test_each_term_of_the_headline_opens_a_note_by_mouse_keyboard_and_screen_reader(
        qtbot, demo_like_project: Project) -> None:
    """The headline said "Macro F1", "points", "Recommended", "frozen test split" and
    "early-stopped on 9 validation labels" with nothing to say what they measure."""
    dialog = _dialog(qtbot, demo_like_project)
    label = dialog.pages["damage"].headline
    links = re.findall(r"href=['\"]term:(\w+)['\"]", label.text())
    assert sorted(links) == sorted(HEADLINE_TERMS)
    flags = label.textInteractionFlags()
    assert flags & Qt.TextInteractionFlag.LinksAccessibleByKeyboard  # Tab, then Enter
    for term, words in HEADLINE_TERMS.items():
        QToolTip.hideText()
        label.linkActivated.emit(f"term:{term}")  # a click, or Enter on the focused link
        assert QToolTip.isVisible()
        _says(QToolTip.text(), *words)
        _says(label.accessibleDescription(), *words)  # what a screen reader reads
    QToolTip.hideText()


def test_the_charts_say_what_they_measure_and_how_to_read_them(
        qtbot, demo_like_project: Project) -> None:
    dialog = _dialog(qtbot, demo_like_project)
    page = dialog.pages["damage"]
    notes = {"per_class_f1": ("each class", "precision", "recall", "0", "1", "holdout"),
             "confusion": ("rows", "labelled", "columns", "predicted", "diagonal",
                           "mistake")}
    for term, words in notes.items():
        links = [w for w in page.findChildren(QLabel) if f"term:{term}" in w.text()]
        assert len(links) == 1, term
        link = links[0]
        # The group box around the chart: its tooltip and description, and the "?"
        # link beside the chart that Tab reaches.
        box = link.parentWidget()
        _says(box.toolTip(), *words)
        _says(box.accessibleDescription(), *words)
        assert link.textInteractionFlags() & Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        _says(link.accessibleDescription(), *words)
        QToolTip.hideText()
        link.linkActivated.emit(f"term:{term}")
        assert QToolTip.isVisible()
        _says(QToolTip.text(), *words)
    QToolTip.hideText()
    # Each matrix still names its version, and says which way it reads.
    assert "damage-v7" in page.new_grid.toolTip() and "damage-v3" in page.active_grid.toolTip()
    _says(page.new_grid.toolTip(), "rows", "columns", "predicted")


def test_scored_when_trained_says_it_is_not_the_holdout_comparison(
        qtbot, demo_like_project: Project) -> None:
    """The column's note was a header tooltip only (a screen reader never reads it), in
    the words "registered head"."""
    words = ("when it was trained", "accuracy", "share", "macro F1", "different items",
             "holdout")
    page = _dialog(qtbot, demo_like_project).pages["damage"]
    _says(page.versions.headerItem().toolTip(2), *words)
    _says(page.versions.accessibleDescription(), "Scored when trained", *words)
    assert "registered head" not in page.versions.headerItem().toolTip(2)
    window = VersionsDialog(demo_like_project)
    qtbot.addWidget(window)
    _says(window.tree.headerItem().toolTip(3), *words)
    _says(window.tree.accessibleDescription(), "Scored when trained", *words)


def test_a_tab_says_what_its_mark_means(qtbot, demo_like_project: Project) -> None:
    """The tabs said "damage ✓" or "damage ✗": a mark a screen reader reads as a
    character and a new analyst has to guess."""
    for recommend, says in ((True, "switch recommended"),
                            (False, "keep the active version")):
        dialog = _dialog(qtbot, demo_like_project, recommend)
        _says(dialog.tabs.tabToolTip(0), "damage", says)
        _says(dialog.tabs.tabBar().accessibleTabName(0), "damage", says)


def test_tab_to_the_headline_then_enter_opens_a_note_and_does_not_switch(
        qtbot, demo_like_project: Project) -> None:
    """Enter is the report's Switch once armed: tabbed to, the headline must have a link
    picked, so that Enter opens its note rather than switching the model versions."""
    dialog = _dialog(qtbot, demo_like_project)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.armed, timeout=5_000)
    headline = dialog.pages["damage"].headline
    dialog.tabs.setFocus()
    for _ in range(4):
        if dialog.focusWidget() is headline:
            break
        qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab)
    assert dialog.focusWidget() is headline
    QToolTip.hideText()
    qtbot.keyClick(headline, Qt.Key.Key_Return)
    assert dialog.runner is None and dialog.isVisible()
    assert QToolTip.isVisible() and "Macro F1" in QToolTip.text()
    QToolTip.hideText()
