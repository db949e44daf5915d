"""The app on an analyst's laptop and with a screen reader: windows and dialogs that fit
a small screen (1280 x 720, or 1920 x 1080 at 150 %), and what a screen reader says for
the widgets that show no text of their own (the item list's painted rows, the image)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication, QPushButton
from window_helpers import open_window

from crisisdesk.core.store import Prediction
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainReport, TaskRetrain
from crisisdesk.core.schemes import display_name, scheme_from_json
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog
from crisisdesk.gui.dialogs.settings_dialog import SettingsDialog
from crisisdesk.gui.main_window import MainWindow
from crisisdesk.gui.screen_fit import fit_to_screen

LONG_CLASSES = ["severe_structural_damage_to_critical_infrastructure_and_utilities",
                "moderate_damage_to_residential_buildings_and_private_vehicles",
                "no_visible_damage_in_image_or_text_of_the_post"]
LONG_TASK = "infrastructure_damage_severity_assessment"
#: A 1920 x 1080 laptop at 150 %, less a task bar: what Qt gives its windows.
LAPTOP = QRect(0, 0, 1280, 680)


def _read_out(window: MainWindow, row: int) -> str:
    """What a screen reader says for the item list's row ``row`` (its accessible name)."""
    table = QAccessible.queryAccessibleInterface(window.items)
    cells = [table.child(n) for n in range(table.childCount())]
    cells = [c for c in cells if c.role() == QAccessible.Role.Cell]  # a row: one cell
    return cells[row].text(QAccessible.Text.Name)


def test_an_item_row_reads_out_its_labels_predictions_and_image(
        qtbot, demo_like_project: Project) -> None:
    """The rows are painted: a screen reader said the post's text alone, never the chips
    (the labels and the model's predictions the analyst triages by) nor that the image
    is missing or that the post has none."""
    with demo_like_project.open_store() as store:
        version = store.add_model_version("humanitarian", "hum-v1", "models/hum-v1")
        items = [r[0] for r in store.conn.execute("SELECT id FROM items ORDER BY id")]
        store.add_predictions(version, [Prediction(
            i, "humanitarian", {"affected_individuals": 0.57, "vehicle_damage": 0.43})
            for i in items])
    window = open_window(qtbot, demo_like_project)
    rows = [window.model.row_at(n) for n in range(window.model.total)]
    assert all(rows)
    for n, row in enumerate(rows):
        said = _read_out(window, n)
        assert said.startswith(" ".join(row.text.split())), said
        for task, (cls, conf) in row.predicted.items():
            if task not in row.labels:
                assert f"{task}: predicted {display_name(cls)}, {conf:.0%}" in said, said
        for task, cls in row.labels.items():
            assert f"{task}: labelled {display_name(cls)}" in said, said
        assert ("text only" in said.lower()) == (row.image_path is None), said
    assert any(row.labels for row in rows) and any(row.predicted for row in rows)


def test_the_image_says_what_it_shows_to_a_screen_reader(qtbot, demo_like_project: Project
                                                         ) -> None:
    """The image's description was its zoom keys, whatever it showed: a text-only post,
    a file gone since the import or still loading were drawn as words a screen reader
    never said."""
    window = open_window(qtbot, demo_like_project)
    view = window.detail.image
    text_only = next(n for n in range(window.model.total)
                     if window.model.row_at(n).image_path is None)
    window.items.setCurrentIndex(window.model.index(text_only))
    qtbot.waitUntil(lambda: view.message.startswith("Text-only"))
    assert view.message in view.accessibleDescription()
    pictured = next(n for n in range(window.model.total)
                    if window.model.row_at(n).image_path is not None)
    window.items.setCurrentIndex(window.model.index(pictured))
    qtbot.waitUntil(view.has_image)
    said = view.accessibleDescription()
    assert "Text-only" not in said and "zoom" in said
    size = f"{view.pixmap.width()} × {view.pixmap.height()}"
    assert size not in said or "shown at most" in said  # not the file's size: unsaid


def _report(tasks: dict[str, list[str]]) -> RetrainReport:
    """A retrain report recommending a switch for every task in ``tasks``."""
    entries = {}
    for n, (task, classes) in enumerate(tasks.items()):
        k = len(classes)
        scores = {"macro_f1": 0.8, "n": 2 * k, "classes": classes,
                  "confusion": [[2 if r == c else 0 for c in range(k)] for r in range(k)],
                  "per_class": {c: {"f1": 0.8} for c in classes}}
        entries[task] = TaskRetrain(task, holdout_split="test", holdout=2 * k,
                                    candidate=10 + n, candidate_name=f"{task}-v2",
                                    new=scores, current=scores, active=n + 1,
                                    active_name=f"{task}-v1", recommend_switch=True)
    return RetrainReport(entries)


def test_the_retrain_report_fits_a_laptop_screen(qtbot, demo_like_project: Project) -> None:
    """The report opened 880 x 720 on a 720-pixel-high screen: its Switch and Keep
    buttons were below the screen's edge. With three long task names Switch named them
    all on one line and the report could not be made narrower than the screen."""
    tasks = {LONG_TASK: LONG_CLASSES, f"{LONG_TASK}_for_roads_and_bridges": LONG_CLASSES,
             "humanitarian": ["affected_individuals", "vehicle_damage"]}
    dialog = RetrainDialog(demo_like_project, _report(tasks))
    qtbot.addWidget(dialog)
    screen = dialog.screen().availableGeometry()  # the tests' screen: 800 x 800
    assert dialog.width() <= screen.width() and dialog.height() <= screen.height()
    fit_to_screen(dialog, LAPTOP)
    assert dialog.width() <= LAPTOP.width() and dialog.height() <= LAPTOP.height() - 24
    assert dialog.minimumSizeHint().width() <= LAPTOP.width()
    dialog.show()
    qtbot.waitUntil(lambda: dialog.armed, timeout=5_000)
    assert dialog.switch.isEnabled()
    assert all(task in dialog.switch.toolTip() for task in tasks)  # named, if not in full


def test_the_settings_fit_a_small_screen(qtbot) -> None:
    """At 150 % on a 1366 x 768 laptop (911 x 512 for Qt, less a task bar) the settings
    were 568 pixels high and could not be made smaller: Save was off the screen."""
    small = QRect(0, 0, 911, 472)
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    fit_to_screen(dialog, small)
    dialog.show()
    assert dialog.height() <= small.height() - 24
    assert dialog.minimumSizeHint().height() <= small.height() - 24
    save = next(b for b in dialog.findChildren(QPushButton) if b.text() == "&Save")
    qtbot.waitUntil(lambda: not save.visibleRegion().isEmpty())
    # Every field can still be reached: Tab scrolls to the one it moves to.
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    dialog.device.setFocus()
    for _ in range(40):
        if QApplication.focusWidget() is dialog.blur_all:
            break
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is dialog.blur_all
    qtbot.waitUntil(lambda: dialog.blur_all.visibleRegion().boundingRect().height()
                    == dialog.blur_all.height())


def test_the_main_window_opens_within_a_laptop_screen(qtbot, demo_like_project: Project,
                                                       tmp_path: Path) -> None:
    """The window opened 1400 x 860 on any screen: on a 1366 x 768 or a 1920 x 1080
    laptop at 150 % its jobs panel, status bar and the detail panel's right edge were
    off the screen."""
    with demo_like_project.open_store() as store:
        store.add_scheme(scheme_from_json({"task": LONG_TASK, "classes": LONG_CLASSES},
                                          "long.json"))
    window = MainWindow(demo_like_project, annotator="tester")
    qtbot.addWidget(window)
    assert fit_to_screen(window, LAPTOP)
    assert window.width() <= LAPTOP.width() and window.height() <= LAPTOP.height() - 24
    big = QRect(0, 0, 2560, 1440)
    other = MainWindow(demo_like_project, annotator="tester")
    qtbot.addWidget(other)
    before = other.size()
    assert not fit_to_screen(other, big) and other.size() == before  # room: as designed
