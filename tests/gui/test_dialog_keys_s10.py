"""The dialogs driven from the keyboard: Alt mnemonics on every field label and button,
unique within their dialog; labels with buddies; Tab in the order laid out; widths that
hold their texts at a large font; the help giving the keys back where they were."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDialog,
    QFormLayout,
    QGroupBox,
    QLabel,
    QWidget,
)
from window_helpers import open_window

from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainReport, TaskRetrain
from crisisdesk.gui.dialogs.export_dialog import ExportDialog
from crisisdesk.gui.dialogs.import_dialog import ImportDialog
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog
from crisisdesk.gui.dialogs.settings_dialog import SettingsDialog
from crisisdesk.gui.dialogs.versions_dialog import VersionsDialog

SCORES = {"macro_f1": 0.9, "classes": ["yes", "no"], "confusion": [[3, 0], [1, 2]],
          "per_class": {"yes": {"f1": 0.9}, "no": {"f1": 0.8}}}


def _report(recommend: bool) -> RetrainReport:
    entry = TaskRetrain("damage", holdout_split="dev", holdout=6, candidate=7,
                        candidate_name="damage-v7", new=SCORES, current=SCORES, active=3,
                        active_name="damage-v3", recommend_switch=recommend)
    return RetrainReport({"damage": entry})


def _mnemonic(text: str) -> str | None:
    """The letter after a single '&' ("&&" is a literal ampersand), lower case."""
    i = 0
    while i < len(text) - 1:
        if text[i] == "&":
            if text[i + 1] != "&":
                return text[i + 1].lower()
            i += 1
        i += 1
    return None


def _dialog(name: str, project: Project, tmp_path: Path) -> QDialog:
    if name == "import":
        table = tmp_path / "posts.csv"
        table.write_text("tweet_id,tweet_text\n1,water rising\n", encoding="utf-8")
        dialog = ImportDialog(project)
        dialog.add_source(table)  # the twelve column boxes shown too
        return dialog
    if name == "export":
        return ExportDialog(project)
    if name == "settings":
        return SettingsDialog()
    if name == "retrain":
        dialog = RetrainDialog(project, _report(recommend=False))
        dialog.pages["damage"].override.setChecked(True)  # Switch enabled, named
        dialog._arm()  # as it is 1.5 s after it appeared
        return dialog
    return VersionsDialog(project)


@pytest.mark.parametrize("name", ["import", "export", "settings", "retrain", "versions"])
def test_every_label_and_button_of_a_dialog_has_its_own_alt_key(
        qtbot, demo_like_project: Project, tmp_path: Path, name: str) -> None:
    """The dialogs had no Alt key on their field labels or buttons: an analyst without a
    mouse tabbed through a dozen boxes to reach Event or Export."""
    dialog = _dialog(name, demo_like_project, tmp_path)
    qtbot.addWidget(dialog)
    shown = [w for w in dialog.findChildren(QWidget) if w.isVisibleTo(dialog)]
    keys: dict[str, str] = {}
    for widget in shown:
        if isinstance(widget, QAbstractButton) and widget.text():
            key = _mnemonic(widget.text())
            assert key, f"{name}: button {widget.text()!r} has no Alt key"
        elif isinstance(widget, QGroupBox):
            key = _mnemonic(widget.title())
        elif isinstance(widget, QLabel) and widget.text() and "<" not in widget.text():
            key = _mnemonic(widget.text())  # (rich text: '&' starts an entity there)
            assert key is None or widget.buddy() is not None, \
                f"{name}: label {widget.text()!r} has an Alt key that goes nowhere"
        else:
            continue
        if key:
            text = widget.title() if isinstance(widget, QGroupBox) else widget.text()
            assert key not in keys, f"{name}: Alt+{key} is {keys[key]!r} and {text!r}"
            keys[key] = text
    # Each field label of a form names its box and reaches it (or its box, a check box,
    # carries the key).
    for form in dialog.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            label = item.widget() if item is not None else None
            if isinstance(label, QLabel) and label.text() and label.isVisibleTo(dialog):
                buddy = label.buddy()
                assert buddy is not None, f"{name}: {label.text()!r} has no buddy"
                assert _mnemonic(label.text()) or (
                    isinstance(buddy, QAbstractButton) and _mnemonic(buddy.text())), \
                    f"{name}: {label.text()!r} has no Alt key"


def test_alt_e_in_the_import_dialog_reaches_the_event_box(
        qtbot, demo_like_project: Project) -> None:
    """A mnemonic is only worth having if it lands: Alt+E reaches the Event box."""
    dialog = ImportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)  # shortcuts go to the active window only
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_E, Qt.KeyboardModifier.AltModifier)
    assert QApplication.focusWidget() is dialog.event


@pytest.mark.parametrize("name", ["export", "settings"])
def test_a_dialog_at_a_large_font_is_as_wide_as_its_texts(
        qtbot, demo_like_project: Project, tmp_path: Path, name: str) -> None:
    """setMinimumWidth(520) overrode the layout's minimum: at 150% font the dialog
    opened narrower than its check boxes, "Hash author handles (salted) and leave out
    po" cut off on the right."""
    app = QApplication.instance()
    before = app.font()
    large = QFont(before)
    large.setPointSizeF(before.pointSizeF() * 1.5)
    app.setFont(large)
    try:
        dialog = _dialog(name, demo_like_project, tmp_path)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        assert dialog.width() >= dialog.minimumSizeHint().width()
    finally:
        app.setFont(before)


def test_alt_s_switches_only_once_the_report_is_armed_like_enter(
        qtbot, demo_like_project: Project) -> None:
    dialog = RetrainDialog(demo_like_project, _report(recommend=True))
    qtbot.addWidget(dialog)
    # A key pressed as the report appears was meant for the list: no Alt key either.
    assert _mnemonic(dialog.switch.text()) is None
    dialog._arm()
    assert _mnemonic(dialog.switch.text()) == "s"


def test_the_view_menus_jobs_entry_has_an_alt_key(qtbot, demo_like_project: Project) -> None:
    window = open_window(qtbot, demo_like_project)
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    texts = [a.text() for a in view.actions() if a.text()]
    assert all(_mnemonic(t) for t in texts), texts
    assert len({_mnemonic(t) for t in texts}) == len(texts)


def test_closing_the_help_opened_from_the_search_box_gives_the_keys_back_to_it(
        qtbot, demo_like_project: Project) -> None:
    """F1 in the search box, then a key to close the help: the keys went to the list,
    where the next letter or digit labelled an item instead of searching."""
    window = open_window(qtbot, demo_like_project)
    window.search.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.search)
    qtbot.keyClick(window.search, Qt.Key.Key_F1)
    assert window.help.isVisible()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert not window.help.isVisible()
    assert QApplication.focusWidget() is window.search
    # Opened from the list, closing it still gives the keys to the list.
    window.items.setFocus()
    qtbot.keyClick(window.items, Qt.Key.Key_F1)
    assert window.help.isVisible()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert QApplication.focusWidget() is window.items


@pytest.mark.parametrize(("data", "name"), [
    ("id;text;image\r\n1;Überflutung;a.jpg\r\n".encode("cp1252"), "semi.csv"),
    ("\ufeffsep=;\r\nid;text;image\r\n1;a;b\r\n".encode(), "sep.csv"),
    ("id\ttext\timage\r\n1\ta\tb\r\n".encode("utf-16"), "unicode.txt"),
])
def test_the_import_dialog_offers_the_columns_of_sheets_from_excel(tmp_path, data,
                                                                   name) -> None:
    # The importer reads these sheets; the dialog's column boxes offered one column
    # named "id;text;image", or "sep=;", or UTF-16 read as UTF-8, to map.
    from crisisdesk.gui.dialogs.import_dialog import read_columns

    sheet = tmp_path / name
    sheet.write_bytes(data)
    assert read_columns(sheet) == ["id", "text", "image"]
