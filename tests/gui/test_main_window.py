"""The main window: launch, queues and their counts, search and sort, the detail panel,
and the menu actions that open the import/export dialogs and the jobs panel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from window_helpers import open_window

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.gui.main_window import MainWindow


def go_to(qtbot, window: MainWindow, predicate) -> None:
    """Move down the list until the current row satisfies ``predicate``."""
    for row in range(window.model.total):
        window.items.setCurrentIndex(window.model.index(row))
        if predicate(window.current_row()):
            qtbot.waitUntil(lambda r=window.current_row(): window.detail.detail is not None
                            and window.detail.detail.row.id == r.id)
            return
    raise AssertionError("no such item")


def test_queues_show_their_counts_and_keep_them_current(qtbot, demo_like_project) -> None:
    window = open_window(qtbot, demo_like_project)
    with demo_like_project.open_store() as store:
        counts = review.queue_counts(store, window.tasks)
    assert {c.queue: window.queues.count_of(c.queue) for c in counts} == {
        c.queue: c.count for c in counts}
    unlabelled = Queue("unlabelled", task="informative")
    before = window.queues.count_of(unlabelled)
    while window.detail.task_boxes[window.detail.focused_task].view.task != "informative":
        qtbot.keyClick(window.items, Qt.Key.Key_Tab)
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: window.queues.count_of(unlabelled) == before - 1)


def test_picking_a_queue_shows_its_items(qtbot, demo_like_project) -> None:
    window = open_window(qtbot, demo_like_project)
    queue = next(q for q in window.queues._items if q.kind == "event") if any(
        q.kind == "event" for q in window.queues._items) else Queue("unlabelled", "damage")
    window.queues.select(queue)
    with demo_like_project.open_store() as store:
        expected = review.queue_size(store, queue)
    qtbot.waitUntil(lambda: window.model.queue == queue and window.model.total == expected
                    and "Loading" not in window.list_title.text())
    assert f"{expected:,} items" in window.list_title.text()


def test_search_waits_for_typing_to_pause_and_sort_reorders(qtbot, demo_like_project,
                                                          monkeypatch) -> None:
    window = open_window(qtbot, demo_like_project)
    sizes: list[str] = []
    real = review.queue_size
    monkeypatch.setattr(review, "queue_size",
                        lambda store, queue, search="": sizes.append(search) or real(
                            store, queue, search))
    qtbot.keyClicks(window.search, "flooded")
    qtbot.waitUntil(lambda: window.model.search == "flooded" and window.model.total == 1)
    assert sizes == ["flooded"]  # one query for the whole word, not one per key
    assert "Flooded" in window.model.row_at(0).text
    window.search.clear()
    window.sort.setCurrentIndex(window.sort.findData("time"))
    qtbot.waitUntil(lambda: window.model.sort == "time" and window.model.row_at(0) is not None)


def test_detail_panel_shows_image_text_and_tasks(qtbot, demo_like_project) -> None:
    window = open_window(qtbot, demo_like_project)
    go_to(qtbot, window, lambda row: row.image_path is not None)
    qtbot.waitUntil(window.detail.image.has_image)
    detail = window.detail.detail
    assert window.detail.text.text() == detail.row.text
    assert [b.view.task for b in window.detail.task_boxes] == [t.task for t in detail.tasks]
    assert window.detail.task_boxes[0].property("focused") is True
    zoom = window.detail.image.zoom
    qtbot.keyClick(window.items, Qt.Key.Key_Plus)
    assert window.detail.image.zoom > zoom
    qtbot.keyClick(window.items, Qt.Key.Key_0)
    assert window.detail.image.zoom == 1.0
    # The overlay toggle is live (tests/gui/test_overlay.py shows what it draws), off at
    # first, and its controls appear only with it.
    assert window.detail.overlay.isEnabled() and not window.detail.overlay.isChecked()
    assert not window.detail.overlay_bar.isVisible()


def test_text_only_and_missing_images_have_clear_placeholders(qtbot, tmp_path: Path) -> None:
    project = Project.open(tmp_path / "p", create=True)
    with project.open_store() as store:
        store.ensure_source("s", "csv", "s.csv")
        post = store.insert_post("s", "1", text="only words here")
        store.add_text_item(post, "s", "1")
        post = store.insert_post("s", "2", text="the photo went missing")
        store.add_media_item(post, "s", "2", 0, path=None, declared_path="gone.jpg",
                             status="missing")
    window = open_window(qtbot, project)
    go_to(qtbot, window, lambda row: row.image_path is None)
    assert "Text-only" in window.detail.image.message
    go_to(qtbot, window, lambda row: row.media_status == "missing")
    qtbot.waitUntil(lambda: "missing" in window.detail.image.message)
    # And what to do about it (the status alone left half the panel blank, no way on).
    assert "Images folder" in window.detail.image.message
    assert "media relink" in window.detail.image.message


def test_menu_actions_open_the_dialogs_and_the_jobs_dock(qtbot, demo_like_project) -> None:
    window = open_window(qtbot, demo_like_project)
    actions = window.actions_
    assert actions.jobs is not None and actions.dock.widget() is actions.jobs
    assert actions.import_.isEnabled() and actions.export.isEnabled()
    dialog = actions.open_import()
    qtbot.addWidget(dialog)
    assert type(dialog).__name__ == "ImportDialog" and dialog.isVisible()
    dialog.close()
    dialog = actions.open_export()
    qtbot.addWidget(dialog)
    assert type(dialog).__name__ == "ExportDialog" and dialog.isVisible()
    dialog.close()


def test_the_app_opens_a_project_given_on_the_command_line(qtbot, demo_like_project,
                                                           monkeypatch) -> None:
    from crisisdesk.core import settings
    from crisisdesk.gui import app

    remembered: list[Path] = []
    monkeypatch.setattr(settings, "remember_project", remembered.append)
    app.make_application()
    opener = app.open_project_window(str(demo_like_project.root), annotator="tester")
    qtbot.waitUntil(lambda: getattr(opener, "window", None) is not None)
    window = opener.window
    qtbot.addWidget(window)
    assert window.project.root == demo_like_project.root
    assert [Path(p) for p in remembered] == [demo_like_project.root]
    assert QApplication.applicationName() == "crisisdesk"
    qtbot.waitUntil(lambda: window.model.total > 0)
    opener.shutdown()


def test_a_last_project_gone_is_said_in_the_window_that_opens_instead(
        qtbot, user_folders, demo_like_project, monkeypatch, tmp_path) -> None:
    """The demo opened in place of a moved or deleted last project, with nothing said:
    an analyst could take it for their own project gone empty."""
    from crisisdesk.core import launch
    from crisisdesk.core.settings import remember_project
    from crisisdesk.gui import app

    gone = tmp_path / "my-harvey-project"
    remember_project(gone)
    # The demo's stand-in (building the real one is the first-run test's work).
    monkeypatch.setattr(launch, "demo_project", lambda data_dir=None: demo_like_project.root)
    # ... and built already (the build is the first-run test's work too).
    monkeypatch.setattr(app, "_demo_opening",
                        lambda _looking: launch.DemoOpening(gone, built=True))
    app.make_application()
    opener = app.open_project_window(None, annotator="tester")
    qtbot.waitUntil(lambda: getattr(opener, "window", None) is not None)
    window = opener.window
    qtbot.addWidget(window)
    from crisisdesk.gui.launch_notice import LaunchNotice

    message = window.findChildren(LaunchNotice)[0].label.text()  # a note, wrapped
    assert f"The last project, {gone}, could not be opened" in message
    assert "crisisdesk open FOLDER" in message
    opener.shutdown()


def test_the_app_opens_the_demo_on_first_run(qtbot, user_folders) -> None:
    from crisisdesk.core.settings import last_project
    from crisisdesk.gui import app

    opener = app.open_project_window(None, annotator="tester")
    qtbot.waitUntil(lambda: getattr(opener, "window", None) is not None, timeout=120_000)
    window = opener.window
    qtbot.addWidget(window)
    assert user_folders["data"] in window.project.root.parents
    assert last_project() == window.project.root  # remembered for the next start
    qtbot.waitUntil(lambda: window.model.total > 50 and window.detail.detail is not None,
                    timeout=30_000)
    opener.shutdown()


def _fake_jobs(monkeypatch, embed_fails: set[str]) -> list[str]:
    """EmbedJob / PredictJob stand-ins that record what ran (no model)."""
    from crisisdesk.core import embed
    from crisisdesk.core.fusion import predict
    from crisisdesk.core.progress import Progress

    ran: list[str] = []

    class Embed:
        def __init__(self, project, encoder, *, kinds, device) -> None:
            self.kind = kinds[0]

        def run(self):
            ran.append(f"embed {self.kind}")
            if self.kind in embed_fails:
                raise RuntimeError("no such encoder")
            yield Progress(1, 1, "embedded")

    class Predict:
        def __init__(self, project, tasks=None) -> None:
            pass

        def run(self):
            ran.append("predict")
            yield Progress(1, 1, "predicted")

    monkeypatch.setattr(embed, "EmbedJob", Embed)
    monkeypatch.setattr(predict, "PredictJob", Predict)
    return ran


def test_embedding_refreshes_the_predictions_once_both_embed_jobs_are_done(
        qtbot, demo_like_project, monkeypatch) -> None:
    """New embeddings (a caption's text, images) make predictions stale: once the image
    and text embed jobs have both ended well, a Predict job redoes those."""
    ran = _fake_jobs(monkeypatch, embed_fails=set())
    window = open_window(qtbot, demo_like_project)
    window.actions_.run_embed()
    qtbot.waitUntil(lambda: "predict" in ran)
    qtbot.waitUntil(lambda: not window.actions_.jobs.running())
    assert sorted(ran) == ["embed image", "embed text", "predict"]
    assert window.actions_.jobs.rows[0].runner.title == "Predict"


def test_no_predict_after_an_embed_job_that_failed(qtbot, demo_like_project,
                                                   monkeypatch) -> None:
    ran = _fake_jobs(monkeypatch, embed_fails={"image"})
    window = open_window(qtbot, demo_like_project)
    window.actions_.run_embed()
    jobs = window.actions_.jobs
    embeds = [row.runner for row in jobs.rows]
    assert len(embeds) == 2
    qtbot.waitUntil(lambda: not any(runner.is_running() for runner in embeds))
    # An embed job's end chains Predict at once, in the slot that ends it: once both
    # have ended, a wrongly started Predict has its row (no wait would show it better).
    assert [row.runner.title for row in jobs.rows if row.runner not in embeds] == []
    assert sorted(runner.state for runner in embeds) == ["done", "failed"]
    assert sorted(ran) == ["embed image", "embed text"]
