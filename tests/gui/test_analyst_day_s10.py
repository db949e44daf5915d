"""An analyst's day on CrisisMMD-like data, as seen on screen: the item list's chips show
the task of the queue being worked (its prediction and the label just given), and the
task whose confidence sorts the list."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import run_import, write_csv
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem
from window_helpers import open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.core.store import LabelChange, Prediction
from crisisdesk.gui.item_list import ItemDelegate

DAMAGE = ("severe_damage", "mild_damage", "little_or_no_damage")
HUMANITARIAN = ("infrastructure_and_utility_damage", "other_relevant_information",
                "rescue_volunteering_or_donation_effort", "vehicle_damage",
                "affected_individuals")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Three text-only tweets as CrisisMMD imports them: an imported informative label,
    and predictions for humanitarian (a long class name) and damage."""
    project = Project.open(tmp_path / "p", create=True)
    source = write_csv(tmp_path / "posts.csv", ["id", "text"], [
        [str(i), f"Volunteers sorting through the debris of a collapsed building {i}"]
        for i in range(3)])
    run_import(project, [source])
    with project.open_store() as store:
        items = [r[0] for r in store.conn.execute("SELECT id FROM items ORDER BY id")]
        store.add_labels([LabelChange(i, "informative", "informative") for i in items],
                         annotator="import", source="import")
        hum = store.add_model_version("humanitarian", "hum-v1", "x")
        store.add_predictions(hum, [Prediction(i, "humanitarian", dict(zip(
            HUMANITARIAN, (0.02, 0.02, 0.9, 0.03, 0.03), strict=True))) for i in items])
        dmg = store.add_model_version("damage", "dmg-v1", "x")
        store.add_predictions(dmg, [Prediction(i, "damage", dict(zip(
            DAMAGE, (0.2, 0.7, 0.1), strict=True))) for i in items])
    return project


class Recorder(QPainter):
    """A painter that notes every text drawn."""

    def __init__(self, device: QImage) -> None:
        super().__init__(device)
        self.texts: list[str] = []

    def drawText(self, *args) -> None:  # noqa: N802 - Qt's name
        self.texts.append(next(a for a in args if isinstance(a, str)))
        super().drawText(*args)


def painted_texts(window, row: int) -> list[str]:
    """The texts the list's delegate paints for ``row``, at the list's own width."""
    delegate = window.items.itemDelegate()
    assert isinstance(delegate, ItemDelegate)
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, window.items.viewport().width(), 80)
    option.font = window.items.font()
    image = QImage(option.rect.size(), QImage.Format.Format_ARGB32)
    painter = Recorder(image)
    try:
        delegate.paint(painter, option, window.model.index(row))
    finally:
        painter.end()
    return painter.texts


def open_damage_queue(qtbot, project: Project):
    window = open_window(qtbot, project)
    queue = Queue("needs_review", "damage")
    assert window.queues.select(queue)
    qtbot.waitUntil(lambda: window.model.queue == queue and window.model.total == 3
                    and window.current_row() is not None)
    settle(qtbot, window)
    window.items.setFocus()
    return window


def test_damage_queue_rows_show_the_damage_chip(qtbot, project: Project) -> None:
    """In "Needs review (damage)" the rows show the damage prediction, then the damage
    label just given: a long humanitarian chip took the row's room first and the damage
    one, the task being reviewed, was never painted."""
    window = open_damage_queue(qtbot, project)
    texts = painted_texts(window, 0)
    assert any(t.startswith("dmg: mild damage 70%") for t in texts), texts

    qtbot.keyClick(window.items, Qt.Key.Key_3)
    settle(qtbot, window)
    qtbot.waitUntil(lambda: window.model.row_at(0).labels.get("damage") is not None)
    texts = painted_texts(window, 0)
    assert "dmg: little or no damage ✓" in texts, texts


def test_confidence_sort_rows_show_the_sorting_task(qtbot, project: Project) -> None:
    """All items sorted "by damage confidence": each row shows its damage confidence."""
    window = open_window(qtbot, project)
    while window.detail.task_boxes[window.detail.focused_task].view.task != "damage":
        qtbot.keyClick(window.items, Qt.Key.Key_Tab)
    window.sort.setCurrentIndex(window.sort.findData("confidence"))
    qtbot.waitUntil(lambda: window.model.confidence_task == "damage"
                    and window.model.row_at(0) is not None)
    texts = painted_texts(window, 0)
    assert any(t.startswith("dmg: mild damage 70%") for t in texts), texts



def test_the_retrain_row_does_not_count_its_progress_as_items(
        qtbot, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Retrain's progress runs to 100 per task (300 for the three): its row said
    "finished in 0:23 · 300 items" after training on thousands of labelled items."""
    import crisisdesk.core.retrain as retrain
    from crisisdesk.core.progress import Progress

    class HalfwayRetrain:
        def __init__(self, *_args, **_kwargs) -> None:
            self.report = retrain.RetrainReport()

        def run(self):
            yield Progress(150, 300, "humanitarian: epoch 5/10")
            raise RuntimeError("stopped here by the test")

    monkeypatch.setattr(retrain, "RetrainJob", HalfwayRetrain)
    window = open_window(qtbot, project)
    window.actions_.run_retrain()
    row = window.actions_.jobs.rows[0]
    qtbot.waitUntil(lambda: row.runner.state == "failed", timeout=20_000)
    # Counted in whole tasks (session 14: "150 steps" were no training steps either).
    assert "1 task done" in row.figures.text(), row.figures.text()
    assert "items" not in row.figures.text(), row.figures.text()


def test_the_note_in_place_of_an_image_says_what_to_do() -> None:
    from crisisdesk.gui.advice import media_note

    remote = media_note("remote", "https://pbs.example/a.jpg", None)
    assert remote.startswith("Image not downloaded yet:") and "media fetch" in remote
    missing = media_note("missing", "data_image/a.jpg", "file not found")
    assert "(file not found)" in missing and "Images folder" in missing
    unreadable = media_note("unreadable", "a.jpg", "not an image crisisdesk reads")
    assert "Image unreadable:" in unreadable and "Images folder" not in unreadable
