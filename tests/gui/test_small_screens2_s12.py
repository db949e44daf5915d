"""The laptop screen and the screen reader, second round: what a screen reader says for
the detail panel's task boxes (which task the number keys label was an outline only),
the main window and the versions window within a 1366 x 768 laptop at 150 %, the
settings' editable drop-downs, and the item list's chips left out of a narrow row."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QAccessible, QImage
from PySide6.QtWidgets import QStyleOptionViewItem
from test_analyst_day_s10 import Recorder
from window_helpers import open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.review import ItemRow, TaskView
from crisisdesk.core.schemes import display_name
from crisisdesk.core.store import Prediction
from crisisdesk.gui.chips import chip_tasks
from crisisdesk.gui.dialogs.settings_dialog import SettingsDialog
from crisisdesk.gui.dialogs.versions_dialog import VersionsDialog
from crisisdesk.gui.item_list import ItemDelegate
from crisisdesk.gui.item_model import ROW_ROLE
from crisisdesk.gui.main_window import MainWindow
from crisisdesk.gui.screen_fit import FRAME, fit_to_screen
from crisisdesk.gui.task_box import TaskBox

#: A 1366 x 768 laptop at 150 %, as Qt sees it, less a task bar.
SMALL = QRect(0, 0, 911, 472)


def _said(widget, text: QAccessible.Text = QAccessible.Text.Name) -> str:
    return QAccessible.queryAccessibleInterface(widget).text(text)


def _predict(project: Project) -> None:
    """A damage and a humanitarian prediction for every item."""
    with project.open_store() as store:
        items = [r[0] for r in store.conn.execute("SELECT id FROM items ORDER BY id")]
        damage = store.add_model_version("damage", "dmg-v1", "models/dmg-v1")
        store.add_predictions(damage, [Prediction(
            i, "damage", {"severe_damage": 0.57, "mild_damage": 0.3,
                          "little_or_no_damage": 0.13}) for i in items])
        hum = store.add_model_version("humanitarian", "hum-v1", "models/hum-v1")
        store.add_predictions(hum, [Prediction(
            i, "humanitarian", {"affected_individuals": 0.61, "vehicle_damage": 0.39})
            for i in items])


# ---------------------------------------------------------------------- task boxes

def _focused_said(window: MainWindow) -> list[bool]:
    """For each task box: whether a screen reader is told the number keys label it."""
    return ["number keys label this task" in
            (_said(box) + " " + _said(box, QAccessible.Text.Description))
            for box in window.detail.task_boxes]


def test_a_task_box_says_its_task_prediction_label_and_focus(
        qtbot, demo_like_project: Project) -> None:
    """A task box was a nameless frame to a screen reader: no task name, and the task
    the number keys label was a blue outline only."""
    _predict(demo_like_project)
    window = open_window(qtbot, demo_like_project)
    qtbot.waitUntil(lambda: any(b.view.probabilities for b in window.detail.task_boxes))
    boxes = window.detail.task_boxes
    for box in boxes:
        said = _said(box)
        view = box.view
        assert view.task in said, said
        if view.predicted:
            top = f"{display_name(view.predicted)}, {view.probabilities[view.predicted]:.0%}"
            assert top in said, said
        assert ("no label" in said) == (view.label is None), said
    assert _focused_said(window) == [n == window.detail.focused_task
                                     for n in range(len(boxes))]
    # Tab hands the keys to the next task: what is said follows.
    qtbot.keyClick(window.items, Qt.Key.Key_Tab)
    assert _focused_said(window) == [n == 1 for n in range(len(boxes))]
    # A label given: the box says it, and who gave it.
    task = window.detail.focused_view().task
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    settle(qtbot, window)
    qtbot.waitUntil(lambda: window.detail.focused_view().label is not None)
    box = window.detail.task_boxes[window.detail.focused_task]
    said = _said(box)
    assert box.view.task == task
    assert f"labelled {display_name(box.view.label)}" in said and "human" in said, said
    assert _focused_said(window) == [n == 1 for n in range(len(boxes))]


def test_a_probability_bar_reads_its_class_and_percentage(qtbot) -> None:
    """The bars' value was read out of 1000 ("573" for 57 %)."""
    view = TaskView("damage", ("severe_damage", "mild_damage"),
                    {"severe_damage": 0.573, "mild_damage": 0.427}, "severe_damage",
                    "damage-v2", None, None, None)
    box = TaskBox(view)
    qtbot.addWidget(box)
    for cls, prob in view.probabilities.items():
        bar = box.bars[cls]
        assert f"{display_name(cls)} {prob:.0%}" in _said(bar)
        assert _said(bar, QAccessible.Text.Value).rstrip("%") == f"{prob * 100:.0f}"


# ---------------------------------------------------------------------- small screens

def test_the_main_window_fits_a_911_pixel_wide_screen(qtbot,
                                                      demo_like_project: Project) -> None:
    """The three panels' minimum widths made the window 928 wide at the least: on a
    1366 x 768 laptop at 150 % (911 wide) it stuck out past the screen's edge. At its
    narrowest every panel still shows what it is for."""
    _predict(demo_like_project)
    window = open_window(qtbot, demo_like_project)
    assert window.minimumSizeHint().width() + FRAME.width() <= SMALL.width()
    fit_to_screen(window, SMALL)
    assert window.width() + FRAME.width() <= SMALL.width()
    window.resize(window.minimumSizeHint().width(), 600)
    qtbot.waitUntil(lambda: window.width() == window.minimumSizeHint().width())
    qtbot.waitUntil(lambda: any(b.view.probabilities for b in window.detail.task_boxes))
    detail = window.detail
    qtbot.waitUntil(lambda: detail.scroll.horizontalScrollBar().maximum() == 0)
    box = detail.task_boxes[detail.focused_task]
    detail.scroll.ensureWidgetVisible(box)
    for bar in box.bars.values():  # the bars and their percentages, whole
        qtbot.waitUntil(lambda bar=bar: bar.visibleRegion().boundingRect().width()
                        == bar.width())
    assert window.items.viewport().width() > 2 * 64  # thumbnail, text and chips
    assert window.queues.columnWidth(0) >= 120  # the queues' names


def test_the_versions_window_leaves_room_for_its_frame(qtbot, monkeypatch,
                                                       demo_like_project: Project) -> None:
    """Widened to show every column, the window took the screen's whole width, its
    frame past the edge (and opened 1060 wide on any screen)."""
    import crisisdesk.gui.screen_fit as screen_fit

    laptop = QRect(0, 0, 1093, 615)
    monkeypatch.setattr(screen_fit, "available_area", lambda _window: laptop)
    with demo_like_project.open_store() as store:
        for n in range(3):
            store.add_model_version("damage", f"damage-{n}-" + "x" * 150, f"models/d{n}")
    dialog = VersionsDialog(demo_like_project)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.loaded, timeout=10_000)
    assert dialog.width() + FRAME.width() <= laptop.width()
    assert dialog.height() + FRAME.height() <= laptop.height()
    assert dialog.width() > 1000  # widened for the columns, as far as it fits
    laptop = QRect(0, 0, 800, 600)  # the default size is fitted too
    other = VersionsDialog(demo_like_project)
    qtbot.addWidget(other)
    assert other.width() + FRAME.width() <= laptop.width()


# ---------------------------------------------------------------------- settings

def test_the_settings_editable_lists_name_their_text_fields(qtbot) -> None:
    """The encoders', captioner's and model name's lists take typed names: the focus is
    in their text field, which a screen reader announced without a name."""
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    fields = {"Image encoder": dialog.image_encoder, "Text encoder": dialog.text_encoder,
              "Captioner": dialog.captioner, "Model name": dialog.model_name}
    for name, combo in fields.items():
        assert combo.isEditable()
        assert name.lower() in _said(combo.lineEdit()).lower(), name


# ---------------------------------------------------------------------- chips

def test_chips_left_out_of_a_row_are_counted(qtbot, demo_like_project: Project) -> None:
    """Chips that did not fit the row were dropped with no sign that there were more."""
    _predict(demo_like_project)
    window = open_window(qtbot, demo_like_project)
    index = window.model.index(0)
    qtbot.waitUntil(lambda: index.data(ROW_ROLE) is not None)
    row: ItemRow = index.data(ROW_ROLE)
    tasks = chip_tasks(row, None)
    assert len(tasks) >= 2
    delegate = ItemDelegate()

    def paint(width: int) -> list[str]:
        image = QImage(QSize(width, 90), QImage.Format.Format_ARGB32)
        painter = Recorder(image)
        option = QStyleOptionViewItem()
        option.rect = QRect(0, 0, width, 90)
        option.font = window.items.font()
        delegate.paint(painter, option, index)
        painter.end()
        return painter.texts

    def chips(texts: list[str]) -> int:
        return sum(any(t.startswith(f"{short}: ") for short in ("inf", "hum", "dmg"))
                   for t in texts)

    cut = []
    for width in range(200, 1000, 20):
        texts = paint(width)
        shown, markers = chips(texts), [t for t in texts if t.startswith("+")]
        if shown < len(tasks):
            assert markers == [f"+{len(tasks) - shown}"], (width, texts)
            cut.append(shown)
        else:
            assert not markers, (width, texts)
    assert 0 < len(cut) < 40 and max(cut) > 0  # some rows cut short, chips still shown
