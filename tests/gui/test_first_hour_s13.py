"""A new analyst's first hour: what the window tells someone who has not read the README.

The toolbar's buttons say what they do and their key, a class row says which key gives
that class (a click on it only picks the overlay's class), and the import dialog says
which required column of an odd table it could not find, before Import is pressed and
in the app's words (the core's message names the command line's --map).
"""

from __future__ import annotations

from import_helpers import write_csv
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QToolBar
from window_helpers import open_window

from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs.import_dialog import ImportDialog


def _plain(text: str) -> str:
    return text.replace("&", "").rstrip("…").strip()


def test_each_toolbar_button_says_what_it_does_and_its_key(qtbot, demo_like_project) -> None:
    window = open_window(qtbot, demo_like_project)
    (toolbar,) = window.findChildren(QToolBar)
    actions = [a for a in toolbar.actions() if not a.isSeparator()]
    assert actions
    for action in actions:
        tip = action.toolTip()
        # Qt's default tooltip is the button's own text: "Embed images and texts" and
        # "Predict" said nothing more of what they would do to the project.
        assert _plain(tip) != _plain(action.text()), action.text()
        assert len(tip) > len(_plain(action.text())) + 10, (action.text(), tip)
        key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if key:  # a key that works but showed nowhere but in the menus
            assert key in tip, (action.text(), tip)


def test_a_class_row_names_the_key_that_gives_that_class(qtbot, demo_like_project) -> None:
    window = open_window(qtbot, demo_like_project)
    qtbot.waitUntil(lambda: bool(window.detail.task_boxes))
    box = window.detail.task_boxes[0]
    for n, cls in enumerate(box.view.classes[:9]):
        widgets = [w for w, c in box._row_of.items() if c == cls]
        assert widgets
        for widget in widgets:
            # The newcomer clicks a class to label it: nothing visible happens (the
            # click picks the overlay's class); the tooltip is where the key is learnt.
            assert f"{n + 1}" in widget.toolTip() and "label" in widget.toolTip().lower(), \
                widget.toolTip()


def _odd_table(tmp_path):
    return write_csv(tmp_path / "odd.csv", ["Tweet ID", "Message Body", "Posted At"], [
        ["91", "Flood water rising near the bridge", "2024-06-01 10:00"],
        ["92", "Road closed by the landslide", "2024-06-01 11:00"],
    ])


def test_an_odd_table_says_which_columns_to_pick_before_import(qtbot, project: Project,
                                                                tmp_path) -> None:
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    dialog.add_source(_odd_table(tmp_path))
    qtbot.waitUntil(lambda: dialog.columns["id"].count() == 4, timeout=5000)  # header read
    said = dialog.status.text()
    assert "id" in said and "text" in said and "Columns" in said, said
    assert "--map" not in said
    # Picked, the hint for that field goes; the other stays until it is picked too.
    dialog.columns["id"].setCurrentIndex(dialog.columns["id"].findData("Tweet ID"))
    said = dialog.status.text()
    assert "post's id" not in said and "text" in said, said
    dialog.columns["text"].setCurrentIndex(dialog.columns["text"].findData("Message Body"))
    assert dialog.status.text() == ""


def test_import_with_a_required_column_unpicked_is_refused_in_the_apps_words(
        qtbot, project: Project, tmp_path) -> None:
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.add_source(_odd_table(tmp_path))
    qtbot.waitUntil(lambda: dialog.columns["id"].count() == 4, timeout=5000)
    qtbot.mouseClick(dialog.start, Qt.MouseButton.LeftButton)
    assert dialog.runner is None  # no import job ran into "required column 'id' is missing"
    said = dialog.status.text()
    assert "id" in said and "--map" not in said, said
    assert dialog.columns["id"].hasFocus()
    with project.open_store() as store:
        assert store.counts()["posts"] == 0


def test_make_active_greyed_with_nothing_picked_says_why(qtbot, project: Project) -> None:
    from crisisdesk.gui.dialogs.versions_dialog import VersionsDialog

    dialog = VersionsDialog(project)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.loaded, timeout=10_000)
    dialog.tree.setCurrentItem(None)
    dialog._update_button()
    assert not dialog.activate.isEnabled()
    # Greyed with no tooltip, the button gave no reason (a task's row, or none, picked).
    assert "select" in dialog.activate.toolTip().lower(), dialog.activate.toolTip()
