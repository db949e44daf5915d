"""The attention overlay in the detail panel (issue 7, "In the app"): the heat map drawn
over the image, the words of tweet and caption highlighted by sign, the share bar, the
class switch, key O, computing off the GUI thread, stale results dropped, errors shown.

The project has a tiny CLIP (tests/tiny_clip.py) registered as its encoder and a
guided_diff fusion head (random weights, as tests/core/test_explain.py builds them) as
the damage task's active version: nothing is downloaded.
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from test_main_window import go_to, open_window

from crisisdesk.core.project import Project
from crisisdesk.gui import keys as labelling_keys
from crisisdesk.gui.main_window import MainWindow

TWEET = "Bridge collapsed after the earthquake, several houses destroyed #help"
CAPTION = "A broken concrete bridge over a river."
CLASSES = ["severe_damage", "mild_damage", "little_or_no_damage"]


@pytest.fixture
def explained_project(tmp_path: Path) -> Project:
    """Two posts (one with a 64x48 noise image and a caption, one text-only), tiny-clip
    registered, and a damage head over tiny-clip's image and text embeddings."""
    import torch
    from tiny_clip import make_tiny_clip

    from crisisdesk.core.explain.item import forget_loaded
    from crisisdesk.core.fusion.checkpoint import save_head
    from crisisdesk.core.fusion.model import FusionConfig, FusionHead
    from crisisdesk.core.importers import ImportJob, ImportOptions
    from crisisdesk.core.models import registry

    forget_loaded()
    src = tmp_path / "src"
    src.mkdir()
    pixels = np.random.default_rng(3).integers(0, 255, (48, 64, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(src / "1.png")
    with (src / "posts.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("id", "text", "image"), ("1", TWEET, "1.png"),
                                      ("2", "Water and food needed at the shelter", "")])
    project = Project.open(tmp_path / "p", create=True)
    list(ImportJob(project, [src / "posts.csv"], ImportOptions()).run())
    tiny = make_tiny_clip(tmp_path / "tiny")
    registry.register("tiny-clip", tiny["folder"])
    torch.manual_seed(0)
    config = FusionConfig(n_classes=3, image_dim=32, text_dim=32, hidden=16, tokens=2,
                          heads=2, dropout=0.0)
    head = FusionHead(config).eval()
    sidecar = {"config": config.to_dict(), "task": "damage", "classes": CLASSES,
               "image_encoder": "tiny-clip", "text_encoder": "tiny-clip", "image_dim": 32,
               "text_dim": 32, "text_source": "tweet", "training_data_hash": "synthetic",
               "metrics": {}, "temperature": 1.0}
    path = save_head(project.folder("models"), "damage-tiny", head, sidecar)
    with project.open_store() as store:
        sha = store.item_images([1])[1][0]
        store.add_caption(sha, TWEET, "test-captioner", "v1", CAPTION)
        store.add_model_version("damage", "damage-tiny", str(path), encoder="tiny-clip",
                                config=sidecar)
    yield project
    forget_loaded()


def _record_explain_threads(monkeypatch) -> list[tuple[int, object]]:
    """Wrap the core's explain_item: note (thread, item) of every call."""
    from crisisdesk.core.explain import item as explain

    calls: list[tuple[int, object]] = []
    real = explain.explain_item

    def recorded(project, item_id, task, class_name=None, **kwargs):
        calls.append((threading.get_ident(), item_id))
        return real(project, item_id, task, class_name, **kwargs)

    monkeypatch.setattr(explain, "explain_item", recorded)
    return calls


def _image_item(qtbot, window: MainWindow) -> None:
    go_to(qtbot, window, lambda row: row.image_path is not None)
    qtbot.waitUntil(window.detail.image.has_image)
    assert window.detail.task_boxes[window.detail.focused_task].view.task == "damage"


def _shown(qtbot, window: MainWindow, class_name: str | None = None, timeout: int = 60_000):
    """Wait until the overlay shows an explanation (of ``class_name`` when given)."""
    attention = window.detail.attention

    def ready() -> bool:
        current = attention.current()
        return current is not None and (class_name is None or current.class_name == class_name)

    qtbot.waitUntil(ready, timeout=timeout)
    return attention.current()


def _pixel_at_peak(window: MainWindow, explanation) -> tuple[int, int, int]:
    """The image view's colour at the centre of the heat map's hottest patch."""
    view = window.detail.image
    grid = explanation.image.grid
    row, col = np.unravel_index(grid.argmax(), grid.shape)
    x0, y0, x1, y1 = explanation.image.crop
    rect = view.image_rect()
    fx = x0 + (col + 0.5) / grid.shape[1] * (x1 - x0)
    fy = y0 + (row + 0.5) / grid.shape[0] * (y1 - y0)
    point = QPoint(int(rect.left() + fx * rect.width()), int(rect.top() + fy * rect.height()))
    colour = view.grab().toImage().pixelColor(point)
    return colour.red(), colour.green(), colour.blue()


def test_overlay_draws_the_map_highlights_words_and_switches_class(
        qtbot, explained_project: Project, monkeypatch) -> None:
    calls = _record_explain_threads(monkeypatch)
    window = open_window(qtbot, explained_project)
    _image_item(qtbot, window)
    detail = window.detail
    assert not detail.overlay_bar.isVisible() and not detail.image.has_overlay()
    assert detail.text.text() == TWEET  # plain until the overlay is on

    qtbot.keyClick(window.items, Qt.Key.Key_O)  # the key turns it on
    assert detail.overlay.isChecked() and detail.overlay_bar.isVisible()
    first = _shown(qtbot, window)
    assert detail.image.has_overlay()
    # Where the map is hottest, the overlay changed the image's pixels.
    peak = _pixel_at_peak(window, first)
    detail.overlay.setChecked(False)
    qtbot.waitUntil(lambda: not detail.image.has_overlay())
    assert _pixel_at_peak(window, first) != peak
    detail.overlay.setChecked(True)
    qtbot.waitUntil(detail.image.has_overlay)

    # Words of the tweet and of the caption, each on a background coloured by its sign.
    tweet_html, caption_html = detail.text.text(), detail.caption.text()
    assert detail.text.textFormat() == Qt.TextFormat.RichText
    assert tweet_html.count("href='w:") == len(TWEET.split())
    assert caption_html.count("href='w:") == len(CAPTION.split())
    assert "river." in caption_html and "by test-captioner" in caption_html
    signs = {w.relevance > 0 for w in first.words if abs(w.relevance) > 0.05}
    assert signs == {True, False}  # for and against
    green = any(w.relevance > 0.05 for w in first.words)
    assert green and "background-color:#" in tweet_html + caption_html
    assert detail.overlay_bar.share.image_share == pytest.approx(first.share["image"])

    # Another class: another map (and other pixels on the image).
    grab_first = detail.image.grab().toImage()
    other = next(c for c in CLASSES if c != first.class_name)
    detail.attention.pick_class(other)
    second = _shown(qtbot, window, other)
    assert np.abs(second.image.grid - first.image.grid).max() > 1e-3
    qtbot.waitUntil(lambda: detail.image.grab().toImage() != grab_first)

    # Clicking a class row of the task box picks that class too.
    third_class = next(c for c in CLASSES if c not in (first.class_name, other))
    box = detail.task_boxes[detail.focused_task]
    qtbot.mouseClick(box.bars[third_class], Qt.MouseButton.LeftButton)
    assert detail.attention.class_name() == third_class
    _shown(qtbot, window, third_class)

    gui = threading.get_ident()
    assert calls and all(thread != gui for thread, _item in calls)


def test_moving_on_while_computing_drops_the_stale_result(
        qtbot, explained_project: Project, monkeypatch) -> None:
    from crisisdesk.core.explain import item as explain

    real = explain.explain_item
    gate = threading.Event()
    calls: list[tuple[int, object]] = []

    def slow_for_the_image(project, item_id, task, class_name=None, **kwargs):
        calls.append((threading.get_ident(), item_id))
        if item_id == 1:
            gate.wait(30)  # the analyst moves on meanwhile
        return real(project, item_id, task, class_name, **kwargs)

    monkeypatch.setattr(explain, "explain_item", slow_for_the_image)
    window = open_window(qtbot, explained_project)
    _image_item(qtbot, window)
    detail = window.detail
    painted: list[str] = []
    detail.attention.shown.connect(lambda e: painted.append(e.item))
    detail.overlay.setChecked(True)
    qtbot.waitUntil(lambda: bool(calls) and calls[-1][1] == 1)
    assert "Computing" in detail.overlay_bar.status.text()
    assert detail.overlay_bar.busy.isVisibleTo(detail.overlay_bar)
    go_to(qtbot, window, lambda row: row.image_path is None)  # the text-only post
    gate.set()
    shown = _shown(qtbot, window)
    assert shown.image is None and "Water" in shown.text
    qtbot.waitUntil(lambda: not window.background.busy())
    assert [item for _thread, item in calls] == [1, 2]
    assert len(painted) == 1 and painted[0] == shown.item  # item 1's result never painted
    assert "Water" in detail.text.text() and "href='w:" in detail.text.text()
    assert all(thread != threading.get_ident() for thread, _item in calls)


def test_an_explanation_that_cannot_be_made_is_a_message_not_a_crash(
        qtbot, explained_project: Project, monkeypatch) -> None:
    from crisisdesk.core.explain import item as explain
    from crisisdesk.core.explain.vit import ExplainError

    def fails(project, item_id, task, class_name=None, **kwargs):
        raise ExplainError("encoder 'rn50' has no ViT tower to explain")

    monkeypatch.setattr(explain, "explain_item", fails)
    window = open_window(qtbot, explained_project)
    _image_item(qtbot, window)
    detail = window.detail
    detail.overlay.setChecked(True)
    status = detail.overlay_bar.status
    qtbot.waitUntil(lambda: "No explanation" in status.text())
    assert "No explanation: encoder 'rn50' has no ViT tower to explain" in status.text()
    assert "ExplainError" not in status.text()  # Python's class name: jargon
    assert not detail.image.has_overlay() and detail.image.has_image()
    assert detail.text.text() == TWEET  # the words stay plain
    assert not detail.overlay_bar.busy.isVisibleTo(detail.overlay_bar)


def test_key_o_is_on_the_help_card() -> None:
    assert any(keys == "O" and "overlay" in what for keys, what in labelling_keys.SHORTCUTS)


def test_the_overlay_colours_are_the_report_pngs() -> None:
    from crisisdesk.core import colours
    from crisisdesk.core.explain import render
    from crisisdesk.gui import overlay_draw

    # One colour map for both: the report PNG and the overlay draw with the same function.
    assert overlay_draw.colour_map is colours.colour_map is render.colour_map
    assert np.array_equal(np.asarray(overlay_draw.INFERNO), colours.INFERNO)
    values = np.array([[0.0, 0.3, np.nan], [0.7, 1.0, 0.5]])
    rgb = overlay_draw.colour_map(values)
    assert tuple(rgb[0, 0]) == (0, 0, 4) and tuple(rgb[1, 1]) == (252, 255, 164)
    assert tuple(rgb[0, 2]) == colours.UNSEEN_RGB


def test_a_new_prediction_of_the_item_shown_is_explained_again(
        qtbot, explained_project: Project, monkeypatch) -> None:
    """Texts embedded, then predict: the panel's bars changed, the overlay went on
    explaining the old prediction (its item, task, caption and version were the same)."""
    from crisisdesk.core.store import Prediction

    calls = _record_explain_threads(monkeypatch)
    window = open_window(qtbot, explained_project)
    _image_item(qtbot, window)
    window.detail.overlay.setChecked(True)
    _shown(qtbot, window)
    before = len(calls)
    with explained_project.open_store() as store:
        version = store.active_model_version("damage")["id"]
        store.add_predictions(version, [Prediction(
            window.detail.detail.row.id, "damage",
            {"severe_damage": 0.7, "mild_damage": 0.2, "little_or_no_damage": 0.1})])
    window.refresh()
    box = lambda: window.detail.task_boxes[window.detail.focused_task].view  # noqa: E731
    qtbot.waitUntil(lambda: box().probabilities.get("severe_damage") == 0.7, timeout=10_000)
    qtbot.waitUntil(lambda: len(calls) > before, timeout=60_000)
    assert window.detail.attention.wanted.prediction == tuple(
        sorted(box().probabilities.items()))
