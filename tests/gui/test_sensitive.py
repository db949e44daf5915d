"""Sensitive images: blurred (off the UI thread) in the item list and the detail panel
until the analyst asks to see them; the settings that turn the blur off or onto every
image; the poster's alt text under the image."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap

from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.gui import style, thumbnails
from crisisdesk.gui.detail_panel import DetailPanel
from crisisdesk.gui.dialogs.settings_dialog import SettingsDialog, setting
from crisisdesk.gui.item_list import ItemList
from crisisdesk.gui.item_model import BLURRED_ROLE, ItemModel
from crisisdesk.gui.thumbnails import ThumbnailCache
from crisisdesk.gui.worker import Background

ALT = "A rescuer carries a child out of the water"


def roughness(pixmap: QPixmap | QImage) -> float:
    """Mean difference between neighbouring pixels (grey levels): high for a sharp
    textured image, near 0 for a blurred one."""
    image = (pixmap.toImage() if isinstance(pixmap, QPixmap) else pixmap).convertToFormat(
        QImage.Format.Format_Grayscale8)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    grey = np.frombuffer(bytes(image.constBits()), np.uint8).reshape(height, stride)[:, :width]
    grey = grey.astype(np.float32)
    return float(np.abs(np.diff(grey, axis=1)).mean() + np.abs(np.diff(grey, axis=0)).mean())


def textured(path: Path, seed: int) -> Path:
    """A photo-sized image of random blocks: its detail is what a blur must take away."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(blocks).resize((400, 300), Image.Resampling.NEAREST).save(path)
    return path


def sensitive_project(root: Path) -> tuple[Project, int, int]:
    """A project with one post marked sensitive (with alt text) and one not marked;
    returns it and the two items' ids."""
    root.mkdir(parents=True)
    project = Project.open(root / "p", create=True)
    ids = []
    with project.open_store() as store:
        store.ensure_source("s", "csv", "s.csv")
        for n, sensitive in enumerate((True, None)):
            image = textured(root / f"{n}.png", n)
            post = store.insert_post("s", str(n), text=f"post {n}", sensitive=sensitive)
            ids.append(store.add_media_item(post, "s", str(n), 0, path=str(image),
                                            declared_path=image.name, status="ok",
                                            alt_text=ALT if sensitive else None))
    return project, ids[0], ids[1]


def open_panel(qtbot, project: Project) -> tuple[Background, DetailPanel]:
    background = Background()
    panel = DetailPanel(project, background)
    panel.resize(520, 700)
    qtbot.addWidget(panel)
    panel.show()
    return background, panel


def show(qtbot, panel: DetailPanel, item: int) -> None:
    panel.show_item(item)
    qtbot.waitUntil(lambda: panel.detail is not None and panel.detail.row.id == item
                    and panel.image.has_image())


def save_settings(qtbot, **checked: bool) -> None:
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    for name, value in checked.items():
        getattr(dialog, name).setChecked(value)
    dialog.accept()


def test_a_sensitive_items_thumbnail_is_blurred_off_the_ui_thread(qtbot, tmp_path,
                                                                  monkeypatch) -> None:
    project, marked, plain = sensitive_project(tmp_path / "src")
    threads: list[int] = []
    real = thumbnails.blur_image

    def recording(image, side):
        threads.append(threading.get_ident())
        return real(image, side)

    monkeypatch.setattr(thumbnails, "blur_image", recording)
    background = Background()
    cache = ThumbnailCache(background, style.THUMB_SIZE)
    model = ItemModel(project, background, cache)
    view = ItemList()
    view.setModel(model)
    qtbot.addWidget(view)
    view.show()
    model.set_query(Queue("all"))
    qtbot.waitUntil(lambda: model.total == 2 and model.row_at(1) is not None)
    rows = {model.row_at(n).id: model.index(n) for n in range(2)}
    qtbot.waitUntil(lambda: all(i.data(Qt.ItemDataRole.DecorationRole) is not None
                                for i in rows.values()))
    assert rows[marked].data(BLURRED_ROLE) and not rows[plain].data(BLURRED_ROLE)
    blurred = rows[marked].data(Qt.ItemDataRole.DecorationRole)
    sharp_path = model.row_at(rows[marked].row()).image_path
    cache.get(sharp_path)  # the same image unblurred, for comparison
    qtbot.waitUntil(lambda: cache.get(sharp_path) is not None)
    assert roughness(blurred) < 0.25 * roughness(cache.get(sharp_path))
    assert roughness(rows[plain].data(Qt.ItemDataRole.DecorationRole)) > 10
    assert threads and threading.get_ident() not in threads
    view.viewport().repaint()  # the "sensitive" mark paints without error
    background.shutdown()


def test_the_detail_image_stays_blurred_until_show_image(qtbot, tmp_path) -> None:
    project, marked, plain = sensitive_project(tmp_path / "src")
    background, panel = open_panel(qtbot, project)
    show(qtbot, panel, marked)
    sharp = roughness(QImage(str(tmp_path / "src" / "0.png")))
    assert panel.image.veiled and panel.show_image.isVisible()
    assert roughness(panel.image.pixmap) < 0.25 * sharp
    assert panel.alt_text.isVisible()
    assert panel.alt_text.text() == f"Alt text (from the poster): {ALT}"
    # The attention overlay draws nothing over a hidden image.
    panel.image.set_overlay(QImage(8, 8, QImage.Format.Format_ARGB32))
    assert not panel.image.has_overlay()
    panel.show_image.click()
    assert not panel.image.veiled and not panel.show_image.isVisible()
    assert roughness(panel.image.pixmap) > 0.5 * sharp
    # Shown for that item: it stays shown when the analyst comes back to it...
    show(qtbot, panel, plain)
    assert not panel.image.veiled and not panel.alt_text.isVisible()
    show(qtbot, panel, marked)
    assert not panel.image.veiled
    # ... but not in the next run of the app.
    again_background, again = open_panel(qtbot, project)
    show(qtbot, again, marked)
    assert again.image.veiled
    qtbot.mouseClick(again.image, Qt.MouseButton.LeftButton)  # a click shows it too
    assert not again.image.veiled
    background.shutdown()
    again_background.shutdown()


def test_the_settings_turn_the_blur_off_or_onto_every_image(qtbot, tmp_path) -> None:
    assert setting("blur_sensitive") is True and setting("blur_all") is False
    project, marked, plain = sensitive_project(tmp_path / "src")
    background, panel = open_panel(qtbot, project)
    show(qtbot, panel, marked)
    assert panel.image.veiled
    save_settings(qtbot, blur_sensitive=False)
    qtbot.waitUntil(lambda: panel.image.has_image() and not panel.image.veiled)
    assert roughness(panel.image.pixmap) > 10
    save_settings(qtbot, blur_all=True)
    show(qtbot, panel, plain)  # not marked, blurred all the same
    assert panel.image.veiled and roughness(panel.image.pixmap) < 5
    background.shutdown()


def test_a_blur_setting_change_does_not_decode_the_shown_image_again(qtbot, tmp_path,
                                                                     monkeypatch) -> None:
    """Any saved blur setting decoded the shown 2048-px image from disk again, even for an
    item the change leaves as it is, and even though the sharp image is kept: an item the
    change does not concern stays as it is, and the kept image is blurred or shown."""
    from crisisdesk.gui import detail_image

    decoded: list[str] = []
    real = detail_image.decode_scaled
    monkeypatch.setattr(detail_image, "decode_scaled",
                        lambda path, box: decoded.append(path) or real(path, box))
    project, marked, plain = sensitive_project(tmp_path / "src")
    background, panel = open_panel(qtbot, project)
    show(qtbot, panel, plain)
    shown = panel.image.pixmap
    save_settings(qtbot, blur_sensitive=False)  # the plain item is not concerned
    assert panel.image.pixmap is shown and len(decoded) == 1
    show(qtbot, panel, marked)
    assert not panel.image.veiled and len(decoded) == 2
    sharp = roughness(panel.image.pixmap)
    save_settings(qtbot, blur_sensitive=True)
    qtbot.waitUntil(lambda: panel.image.veiled)
    assert roughness(panel.image.pixmap) < 0.25 * sharp and panel.show_image.isVisible()
    save_settings(qtbot, blur_sensitive=False)
    assert not panel.image.veiled and roughness(panel.image.pixmap) > 0.5 * sharp
    qtbot.waitUntil(lambda: not background.busy())
    assert len(decoded) == 2  # one decode per item shown, none for the settings
    background.shutdown()
