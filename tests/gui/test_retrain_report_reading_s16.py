"""Reading the retrain report, at the usual font and at large text (150 %): the confusion
grids' column heads name their class (they were "aff…", "inf…"), a long version name does
not push the versions table sideways, a figure stays on the line of its name ("macro F1"
at a line's end, "72.3%" on the next), the bars give F1 in percent as the headline does,
and Esc over a tooltip closes the tooltip before the report."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QFontMetrics, QHelpEvent, QTextDocument, QTextLayout, QTextOption
from PySide6.QtWidgets import QApplication, QGroupBox, QToolTip, QWidget
from test_large_text_s14 import large_font  # noqa: F401 - the fixture, used by name
from test_large_text_s15 import HUMANITARIAN, _fits, _Recorder
from test_retrain_terms_s13 import _dialog
from test_small_screens_s12 import _report

from crisisdesk.core.project import Project
from crisisdesk.core.retrain import TaskRetrain
from crisisdesk.core.schemes import display_name
from crisisdesk.gui.dialogs import charts
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog
from crisisdesk.gui.dialogs.retrain_headline import headline
from crisisdesk.gui.dialogs.versions_dialog import figures_text

#: Two classes whose first words are the same: cut to a word, their heads were one.
SAME_FIRST_WORD = ["infrastructure_damage", "infrastructure_and_utility_damage",
                   "not_humanitarian", "not_relevant"]
LONG_NAME = "humanitarian-2024-06-01-clip-vit-b32-plus-minilm-captions-tuned-v7"


@pytest.fixture(params=["usual", "large"])
def font_size(request) -> str:
    """Each test at the usual font and at 150 %."""
    if request.param == "large":
        request.getfixturevalue("large_font")
    return request.param


def _shown_report(qtbot, project: Project, classes: list[str]) -> RetrainDialog:
    dialog = RetrainDialog(project, _report({"humanitarian": classes}))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def _tooltip_at(widget: QWidget, pos: QPoint) -> str:
    """The tooltip the mouse resting at ``pos`` shows ("" for none)."""
    QToolTip.hideText()
    QApplication.sendEvent(widget, QHelpEvent(QHelpEvent.Type.ToolTip, pos,
                                              widget.mapToGlobal(pos)))
    return QToolTip.text() if QToolTip.isVisible() else ""


# ---------------------------------------------------------------------- column heads

@pytest.mark.parametrize("classes", [HUMANITARIAN, SAME_FIRST_WORD])
def test_each_column_head_of_a_confusion_grid_is_whole_and_says_its_class(
        qtbot, font_size, demo_like_project: Project, monkeypatch, classes) -> None:
    """The heads were each class's first word, cut to a cell ("aff…" for "affected
    individuals"; two "infra…" for two infrastructure classes): which column was which?"""
    monkeypatch.setattr(charts, "QPainter", _Recorder)
    dialog = _shown_report(qtbot, demo_like_project, classes)
    for grid in (dialog.pages["humanitarian"].new_grid,
                 dialog.pages["humanitarian"].active_grid):
        _Recorder.drawn = []
        grid.grab()
        drawn = list(_Recorder.drawn)
        rows = {text: rect for text, rect, _ in drawn if text in map(display_name, classes)}
        first_row = min(rect.top() for rect in rows.values())
        heads = sorted(((text, rect, metrics) for text, rect, metrics in drawn
                        if rect.bottom() < first_row and text != grid.title),
                       key=lambda head: head[1].left())
        assert len(heads) == len(classes), [h[0] for h in heads]
        assert len({text for text, _, _ in heads}) == len(classes), [h[0] for h in heads]
        for (text, rect, metrics), cls in zip(heads, classes, strict=True):
            assert "…" not in text and _fits(metrics, rect, text), (text, rect)
            # Its class's whole name, or a key drawn beside that class's row.
            row = rows[display_name(cls)]
            keyed = any(t == text and r.bottom() >= row.top() and r.top() <= row.bottom()
                        for t, r, _ in drawn if r.top() >= first_row)
            assert text == display_name(cls) or keyed, (text, cls)
            # The mouse on the head names the class in full.
            assert display_name(cls) in _tooltip_at(grid, rect.center()), cls
    QToolTip.hideText()


# ---------------------------------------------------------------------- versions table

def _version(name: str, version: int, active: bool) -> SimpleNamespace:
    """A row of ``summarise_versions`` (what the versions table shows)."""
    return SimpleNamespace(id=version, name=name, created_at="2024-06-01T10:00:00+00:00",
                           active=active, scored_split="test", accuracy=0.8512,
                           macro_f1=0.7234, seeds=3)


def test_a_long_version_name_does_not_push_the_versions_table_sideways(
        qtbot, font_size, demo_like_project: Project) -> None:
    """A 66-character name made its column as wide as the name: the table (and the
    report's page) scrolled sideways, the figures and "Active" out of sight."""
    dialog = _shown_report(qtbot, demo_like_project, HUMANITARIAN)
    page = dialog.pages["humanitarian"]
    qtbot.waitUntil(lambda: getattr(dialog, "versions_loaded", False), timeout=10_000)
    page.show_versions([_version(LONG_NAME, 11, False), _version("humanitarian-v1", 1,
                                                                 True)])
    qtbot.wait(50)  # the header sizes its sections in the next turn of the event loop
    table = page.versions
    assert table.horizontalScrollBar().maximum() == 0
    assert table.header().length() <= table.viewport().width()
    long = table.topLevelItem(0)
    # The whole name stays reachable: the mouse, a screen reader (the item's text).
    assert LONG_NAME in long.toolTip(0)
    assert LONG_NAME in long.text(0)


# ---------------------------------------------------------------------- figures and names

def _lines(text: str, width: int, metrics_font) -> list[str]:
    """``text`` broken into lines ``width`` pixels wide, as Qt wraps words."""
    layout = QTextLayout(text, metrics_font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WordWrap)
    layout.setTextOption(option)
    layout.beginLayout()
    lines = []
    while (line := layout.createLine()).isValid():
        line.setLineWidth(width)
        lines.append(text[line.textStart():line.textStart() + line.textLength()])
    layout.endLayout()
    return lines


def _kept_together(text: str, *pairs: tuple[str, str]) -> None:
    """At any width, each figure is on the line its name ends: never "macro F1" at the
    end of one line and "72.3%" starting the next."""
    font = QApplication.font()
    widest = QFontMetrics(font).horizontalAdvance(text)
    for width in range(20, widest + 20, 3):
        lines = _lines(text, width, font)
        for name, figure in pairs:
            for n, line in enumerate(lines[1:], 1):
                if line.lstrip().startswith(figure):
                    assert not lines[n - 1].rstrip().endswith(name), (width, lines)


def test_a_figure_stays_on_the_line_of_its_name_in_the_versions_table(qtbot,
                                                                     font_size) -> None:
    """The versions table's figures wrap in their column: "macro F1" ended a line and
    "72.3%" began the next."""
    version = _version("damage-v7", 7, True)
    _kept_together(figures_text(version), ("macro", "F1"), ("macro F1", "72.3%"),
                   ("acc", "85.1%"))


def test_a_figure_stays_on_the_line_of_its_name_in_the_headline(qtbot, font_size) -> None:
    """The headline broke "new" (or "Macro F1") from its figure alike."""
    entry = TaskRetrain("damage", candidate=7, candidate_name="damage-v7", holdout=30,
                        holdout_split="test", new={"macro_f1": 0.7234, "n": 30},
                        current={"macro_f1": 0.70, "n": 30})
    document = QTextDocument()
    document.setHtml(headline(entry))
    _kept_together(document.toRawText(), ("Macro", "F1"), ("new", "72.3%"),
                   ("active", "70.0%"), ("+2.3", "points"))


# ---------------------------------------------------------------------- one unit

def test_the_f1_bars_give_percent_as_the_headline_does(qtbot, font_size,
                                                       monkeypatch) -> None:
    """The headline said "macro F1 72.3%", the bars under it "0.72": two units for one
    measure in one report, and a screen reader heard "0.88"."""
    monkeypatch.setattr(charts, "QPainter", _Recorder)
    classes = ["not_informative", "informative"]
    bars = charts.F1Bars(classes, [0.5, 0.875], [0.25, 1.0])
    qtbot.addWidget(bars)
    bars.resize(500, bars.sizeHint().height())
    _Recorder.drawn = []
    bars.grab()
    figures = {text: (rect, metrics) for text, rect, metrics in _Recorder.drawn}
    for figure in ("50.0%", "87.5%", "25.0%", "100.0%"):
        assert figure in figures, list(figures)
        rect, metrics = figures[figure]
        assert _fits(metrics, rect, figure), (figure, rect)
        assert rect.right() <= bars.width()
    assert not any(text.startswith("0.") for text in figures)
    said = bars.accessibleDescription()
    assert "informative: new 87.5%, active 100.0%" in said
    assert "0.88" not in said


# ---------------------------------------------------------------------- Esc

def _esc(qtbot, dialog: RetrainDialog) -> None:
    qtbot.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_Escape)


def _settled(qtbot, window: QWidget) -> None:
    """``window`` shown and active, its activation's events delivered: they close any
    tooltip, as they would a real one shown before the window was active."""
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)
    qtbot.wait(20)


@pytest.mark.parametrize("where", ["grid", "bars box", "tab"])
def test_esc_over_a_tooltip_closes_the_tooltip_then_the_report(
        qtbot, demo_like_project: Project, where) -> None:
    """The mouse resting on a chart shows its note as a tooltip; Esc to close it closed
    the whole report (as Keep): the comparison cannot be opened again."""
    dialog = _dialog(qtbot, demo_like_project)
    _settled(qtbot, dialog)
    page = dialog.pages["damage"]
    widget, pos = {
        "grid": (page.new_grid, QPoint(4, 4)),
        "bars box": (page.findChildren(QGroupBox)[0], QPoint(4, 4)),
        "tab": (dialog.tabs.tabBar(), dialog.tabs.tabBar().tabRect(0).center()),
    }[where]
    assert _tooltip_at(widget, pos)
    qtbot.wait(10)  # the next turns of the event loop, as a real tooltip leaves
    assert QToolTip.isVisible()
    _esc(qtbot, dialog)
    assert dialog.isVisible()
    qtbot.waitUntil(lambda: not QToolTip.isVisible(), timeout=5_000)
    _esc(qtbot, dialog)
    assert not dialog.isVisible()


def test_two_quick_escs_over_a_tooltip_close_it_and_the_report(
        qtbot, demo_like_project: Project) -> None:
    """The tooltip fades out for a moment after the first Esc: the second still closes."""
    dialog = _dialog(qtbot, demo_like_project)
    _settled(qtbot, dialog)
    assert _tooltip_at(dialog.pages["damage"].new_grid, QPoint(4, 4))
    qtbot.wait(10)
    assert QToolTip.isVisible()
    _esc(qtbot, dialog)
    assert dialog.isVisible()
    _esc(qtbot, dialog)
    assert not dialog.isVisible()


def test_esc_over_a_tooltip_of_another_window_is_left_alone(
        qtbot, demo_like_project: Project) -> None:
    """Only the report's tooltips hold Esc back: another window's Esc is its own."""
    dialog = _dialog(qtbot, demo_like_project)
    other = QWidget()
    other.setToolTip("another window's tip")
    qtbot.addWidget(other)
    _settled(qtbot, other)
    _settled(qtbot, dialog)
    assert _tooltip_at(other, QPoint(2, 2))
    qtbot.wait(10)
    assert QToolTip.isVisible()
    _esc(qtbot, dialog)  # the report's Esc, the other window's tip showing
    assert not dialog.isVisible()
    QToolTip.hideText()
