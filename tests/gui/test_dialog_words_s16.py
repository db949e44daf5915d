"""Words and empty states an analyst met in the search box and the import, export and
settings dialogs (session 16): a placeholder cut at a large font, jargon ("hash author
handles (salted)", "quantization"), a path whose folder was scrolled out of sight, a
placeholder that named the wrong file, empty lists that said nothing, and the item
list's "+1" that nothing explained.

Each check is on what Qt lays out: a text measured with the widget's font against the
room the widget gives it, a hint label's visibility."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, QRect, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import (
    QApplication,
    QFormLayout,
    QLabel,
    QLineEdit,
    QStyle,
    QStyleOptionFrame,
    QToolButton,
    QToolTip,
)
from window_helpers import open_window

from crisisdesk.core.models import registry
from crisisdesk.core.project import Project
from crisisdesk.core.store.labels import LabelChange
from crisisdesk.gui.dialogs.export_dialog import ExportDialog
from crisisdesk.gui.dialogs.import_dialog import ImportDialog
from crisisdesk.gui.dialogs.settings_dialog import SettingsDialog

WRAP = int(Qt.TextFlag.TextWordWrap)


@pytest.fixture(params=[1.0, 1.5], ids=["1x", "1.5x"])
def font_scale(request, qapp: QApplication):
    """The application font at its size and at 1.5 times it (large text); put back."""
    before = qapp.font()
    font = qapp.font()
    font.setPointSizeF(before.pointSizeF() * request.param)
    qapp.setFont(font)
    yield request.param
    qapp.setFont(before)


def _text_room(field: QLineEdit) -> int:
    """The width a line edit draws its (placeholder) text in: its contents less Qt's
    margins and the clear button, counted whether shown or not (it shows once typed)."""
    option = QStyleOptionFrame()
    field.initStyleOption(option)
    contents = field.style().subElementRect(QStyle.SubElement.SE_LineEditContents, option,
                                            field)
    margins = field.textMargins()
    buttons = sum(b.width() for b in field.findChildren(QToolButton))
    return contents.width() - margins.left() - margins.right() - 2 * 2 - buttons


def _fits_in(label: QLabel, room: QRect) -> bool:
    """Whether ``label``'s text, wrapped at its words, fits ``room`` whole."""
    needed = label.fontMetrics().boundingRect(QRect(0, 0, room.width(), 100_000), WRAP,
                                              label.text())
    return needed.width() <= room.width() and needed.height() <= room.height()


# --------------------------------------------------------------------------- search box

def test_the_search_placeholder_fits_its_box(qtbot, font_scale,
                                             demo_like_project: Project) -> None:
    """At 1.5x on a 1366 x 768 screen the placeholder was cut to "Search text, captions,
    alt tex…", its "(Ctrl+F)" lost; what is searched and the key are in the tooltip and
    said to a screen reader."""
    window = open_window(qtbot, demo_like_project)
    window.resize(1366, 768)
    qtbot.waitUntil(lambda: window.search.width() > 0)
    search = window.search
    placeholder = search.placeholderText()
    assert placeholder
    assert search.fontMetrics().horizontalAdvance(placeholder) <= _text_room(search), (
        placeholder, _text_room(search))
    for said in (search.toolTip(), search.accessibleDescription()):
        assert "Ctrl+F" in said and "caption" in said and "alt text" in said, said


# --------------------------------------------------------------------------- export

def test_the_author_option_says_what_it_does_for_the_analyst(
        qtbot, demo_like_project: Project) -> None:
    """"Hash author handles (salted)": words of cryptography, not of what the analyst
    gets. The exact words stay in the tooltip."""
    dialog = ExportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    shown = dialog.hash_authors.text().replace("&", "").lower()
    assert "hash" not in shown and "salt" not in shown, shown
    assert "author" in shown and "code" in shown and "link" in shown, shown
    tip = dialog.hash_authors.toolTip().lower()
    assert "salted" in tip and "hash" in tip and "same code" in tip, tip


def test_the_export_path_shows_its_folder_at_a_large_font(
        qtbot, font_scale, tmp_path: Path) -> None:
    """At 1.5x the "Write to" field showed the path's end only
    ("_longish_name/demo_like/exports/labels.csv"): which folder, hidden. Its start shows
    and its tooltip holds the whole path."""
    deep = tmp_path / "analyst_projects" / "hurricane_season_2024_field_reports" / "demo"
    project = Project.open(deep, create=True)
    dialog = ExportDialog(project)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    out = dialog.out

    def first_shown() -> int:
        """The character at the field's left edge (its scroll is set as it paints)."""
        out.grab()
        return out.cursorPositionAt(QPoint(3, out.height() // 2))  # past the frame

    assert out.fontMetrics().horizontalAdvance(out.text()) > out.width()  # it must scroll
    assert first_shown() == 0
    assert out.toolTip() == out.text() == str(deep / "exports" / "labels.csv")
    dialog.format.setCurrentIndex(dialog.format.findData("jsonl"))  # a new suggestion
    assert first_shown() == 0
    assert out.toolTip() == out.text() and out.text().endswith(".jsonl")


# --------------------------------------------------------------------------- import

def test_the_images_folder_says_which_folder_is_used_when_empty(
        qtbot, demo_like_project: Project) -> None:
    """"next to the table": the posts may be JSON Lines or a folder, and a CrisisMMD
    import has no default at all."""
    dialog = ImportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    placeholder = dialog.images_root.placeholderText()
    assert "table" not in placeholder and "posts file" in placeholder, placeholder
    tip = dialog.images_root.toolTip()
    assert "CrisisMMD" in tip and "posts file" in tip, tip


def test_the_empty_sources_list_says_what_goes_there(
        qtbot, font_scale, demo_like_project: Project, tmp_path: Path) -> None:
    dialog = ImportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    (hint,) = [w for w in dialog.sources.viewport().findChildren(QLabel)]
    assert hint.isVisible() and "Add files" in hint.text() and "Add folder" in hint.text()
    assert _fits_in(hint, dialog.sources.viewport().rect()), (hint.text(),
                                                              dialog.sources.viewport().size())
    dialog.add_source(tmp_path / "posts.csv")
    assert not hint.isVisible()
    dialog.sources.setCurrentRow(0)
    dialog._remove_selected()
    assert hint.isVisible()


# --------------------------------------------------------------------------- settings

def test_the_empty_model_folders_table_says_it_is_empty_and_how_to_fill_it(
        qtbot, font_scale, tmp_path: Path) -> None:
    """Empty, the table showed its headers only, and looked broken."""
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    (hint,) = [w for w in dialog.models.viewport().findChildren(QLabel)]
    assert hint.isVisible() and "download" in hint.text() and "Add a model folder" \
        in hint.text(), hint.text()
    assert _fits_in(hint, dialog.models.viewport().rect()), (hint.text(),
                                                             dialog.models.viewport().size())
    weights = tmp_path / "clip.safetensors"
    weights.write_bytes(b"w")
    registry.register("clip-vit-b-32", weights)
    dialog.refresh_models()
    assert dialog.models.topLevelItemCount() == 1 and not hint.isVisible()


def test_quantization_is_said_in_plain_words(qtbot) -> None:
    """"Quantization" alone is a term of the trade: the row says what it is for, and
    the tooltip what 8-bit and 4-bit cost."""
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    (label,) = [label for label in dialog.findChildren(QLabel)
                if label.buddy() is dialog.quantization]
    (form,) = [form for form in dialog.findChildren(QFormLayout)
               if form.getWidgetPosition(label)[0] >= 0]
    field = form.itemAt(form.getWidgetPosition(label)[0], QFormLayout.ItemRole.FieldRole)
    row = field.layout()  # the box and words beside it, or (None) the box alone
    words = [row.itemAt(i).widget() for i in range(row.count())] if row else []
    shown = " ".join(w.text() for w in [label, *words] if isinstance(w, QLabel))
    shown = shown.replace("&", "").lower()
    assert "memory" in shown and "captioner" in shown, shown
    tip = dialog.quantization.toolTip().lower()
    assert "memory" in tip and "less exact" in tip and "4-bit" in tip, tip


# --------------------------------------------------------------------------- item list

def test_the_item_tooltip_says_what_the_more_marker_means(
        qtbot, demo_like_project: Project) -> None:
    """A row with more chips than room ends in "+1": nothing said what it was."""
    with demo_like_project.open_store() as store:
        item = store.conn.execute("SELECT id FROM items ORDER BY id LIMIT 1").fetchone()["id"]
        store.add_labels([LabelChange(item, "damage", "severe_damage"),
                          LabelChange(item, "humanitarian",
                                      "rescue_volunteering_or_donation_effort"),
                          LabelChange(item, "informative", "informative")],
                         annotator="ana")
    window = open_window(qtbot, demo_like_project)
    window.columns.setSizes([200, 330, 800])
    row = next(n for n in range(window.model.total)
               if window.model.row_at(n) and window.model.row_at(n).id == item)
    index = window.model.index(row)
    window.items.scrollTo(index)

    def tooltip() -> str:
        place = window.items.visualRect(index).center()
        event = QHelpEvent(QEvent.Type.ToolTip, place,
                           window.items.viewport().mapToGlobal(place))
        QToolTip.hideText()
        window.items.viewportEvent(event)
        qtbot.waitUntil(lambda: "Green with ✓" in QToolTip.text())
        return QToolTip.text()

    said = tooltip()
    assert "+1" in said or "+2" in said, said
    assert "did not fit" in said, said
    window.resize(2400, window.height())  # room for all three: no marker to explain
    window.columns.setSizes([200, 1400, 800])
    qtbot.waitUntil(lambda: window.items.viewport().width() > 1000)
    assert "did not fit" not in tooltip()
