"""Bugs found driving the app as an analyst does (offscreen): labels given just before
the window closes, the focused row after a refresh shrinks the queue, ..."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from window_helpers import ANNOTATOR, current_labels, open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.store import Store
from crisisdesk.gui.main_window import MainWindow


def focused(window: MainWindow):
    return window.detail.task_boxes[window.detail.focused_task].view


def test_labels_given_just_before_the_window_closes_are_kept(qtbot, demo_like_project
                                                             ) -> None:
    window = open_window(qtbot, demo_like_project)
    task = focused(window)
    first = window.current_row().id
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    qtbot.keyClick(window.items, Qt.Key.Key_2)
    qtbot.keyClick(window.items, Qt.Key.Key_3)  # waits in the lane behind the first
    window.close()
    assert current_labels(demo_like_project, task.task)[first] == task.classes[2]


def given_labels(project: Project, item: int, task: str) -> list[str]:
    """The labels the test's annotator gave ``item`` for ``task``, in the journal's order."""
    with project.open_store() as store:
        return [row["label"] for row in store.journal(item, task)
                if row["annotator"] == ANNOTATOR]


def hold_label_writes(monkeypatch, release: threading.Event,
                      started: threading.Event | None = None) -> None:
    """Label writes in the pool hold until ``release`` (those on the UI thread do not);
    ``started`` is set once one is held."""
    real_add_labels = Store.add_labels

    def add_labels(self, changes, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            if started is not None:
                started.set()
            release.wait(30)
        return real_add_labels(self, changes, **kwargs)

    monkeypatch.setattr(Store, "add_labels", add_labels)


def test_closing_waits_for_the_label_write_alone_and_keeps_the_order(
        qtbot, demo_like_project, monkeypatch) -> None:
    """flush() waited until the window's whole pool was idle (thumbnails, pages, overlay
    explanations that load a model); when that wait ran out with the label write still
    running, the labels after it were written beside it, out of order. A fake pool wait:
    the unrelated call stuck in the pool takes all of it."""
    window = open_window(qtbot, demo_like_project)
    settle(qtbot, window)
    task = focused(window)
    first = window.current_row().id
    stuck, closing = threading.Event(), threading.Event()
    window.background.call(stuck.wait, lambda _result: None)  # unrelated, never idle
    pool_waits: list[int] = []

    def pool_wait(timeout_ms: int = -1) -> bool:
        pool_waits.append(timeout_ms)
        return False

    monkeypatch.setattr(window.background, "wait", pool_wait)
    hold_label_writes(monkeypatch, closing)  # the first key's write runs on into closing
    for key in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3):
        qtbot.keyClick(window.items, key)
    closing.set()
    window.labeller.flush()
    stuck.set()
    assert given_labels(demo_like_project, first, task.task) == list(task.classes[:3])
    assert pool_waits == []  # the unrelated call was not waited for
    settle(qtbot, window)


def test_labels_behind_a_write_that_does_not_end_are_reported_not_written_beside_it(
        qtbot, demo_like_project, monkeypatch, capfd) -> None:
    """Written beside the write still running, the labels after it landed out of order
    (and the UI thread sat in SQLite's busy wait): they are reported instead."""
    window = open_window(qtbot, demo_like_project)
    settle(qtbot, window)
    task = focused(window)
    first = window.current_row().id
    release, started = threading.Event(), threading.Event()
    hold_label_writes(monkeypatch, release, started)
    for key in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3):
        qtbot.keyClick(window.items, key)
    # Running, not merely handed to the pool (one not started is taken back and written
    # in order by flush itself: test_hunt_labelling.py).
    assert started.wait(30)
    window.labeller.flush(timeout_ms=0)  # the first key's write has not ended
    release.set()
    settle(qtbot, window)
    assert given_labels(demo_like_project, first, task.task) == [task.classes[0]]
    assert "2 label changes were not saved (given just before closing)" in capfd.readouterr().err


def test_after_a_refresh_drops_the_labelled_item_the_next_one_is_current(
        qtbot, demo_like_project) -> None:
    """In "Unlabelled", a labelled item leaves the queue at the next refresh (F5, a job's
    end): the item after it becomes current, not the first of the list."""
    window = open_window(qtbot, demo_like_project)
    task = focused(window).task
    queue = next(q for q in window.queues._items
                 if q.kind == "unlabelled" and q.task == task)
    window.queues.select(queue)
    qtbot.waitUntil(lambda: window.model.queue == queue and window.model.total >= 4
                    and window.model.row_at(3) is not None)
    total = window.model.total
    for _ in range(2):
        qtbot.keyClick(window.items, Qt.Key.Key_J)
    after = window.model.row_at(3).id
    qtbot.waitUntil(lambda: window.detail.detail is not None
                    and window.detail.detail.row.id == window.model.row_at(2).id)
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    settle(qtbot, window)
    qtbot.keyClick(window.items, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: window.model.total == total - 1)
    settle(qtbot, window)
    assert window.current_row().id == after
    qtbot.waitUntil(lambda: window.detail.detail.row.id == after)


def _retrain_from_the_window(qtbot, tmp_path, monkeypatch):
    """A window on a trainable project whose Retrain action trains the damage task on the
    project's cached embeddings (no encoder): (window, the report dialog)."""
    from test_dialogs import _trainable_project

    import crisisdesk.core.retrain as retrain
    from crisisdesk.core.fusion.train import Recipe
    from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

    real = retrain.RetrainJob
    monkeypatch.setattr(retrain, "RetrainJob", lambda project, **_settings: real(
        project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
        recipe=Recipe(optimizer="adamw", lr=5e-3, max_epochs=1, patience=3)))
    window = open_window(qtbot, _trainable_project(tmp_path, n=60))
    window.actions_.retrain.trigger()
    qtbot.waitUntil(lambda: bool(window.findChildren(RetrainDialog)), timeout=120_000)
    return window, window.findChildren(RetrainDialog)[0]


def test_a_switch_in_the_retrain_report_refreshes_the_predictions_shown(
        qtbot, tmp_path, monkeypatch) -> None:
    """Switch runs as a job of the window's jobs panel (progress, Cancel, waited for when
    the window closes), and the list shows the new predictions while the report is still
    open."""
    window, dialog = _retrain_from_the_window(qtbot, tmp_path, monkeypatch)
    assert not window.current_row().predicted  # no model yet
    dialog.switch.click()
    assert window.actions_.jobs.rows[0].runner is dialog.runner
    qtbot.waitUntil(lambda: dialog.runner.state == "done", timeout=60_000)
    assert dialog.isVisible()
    qtbot.waitUntil(lambda: "damage" in window.current_row().predicted)
    qtbot.waitUntil(lambda: window.detail.detail.tasks[0].model_version is not None
                    or any(t.model_version for t in window.detail.detail.tasks))


def test_two_retrains_at_once_each_report_their_own_job(qtbot, tmp_path,
                                                        monkeypatch) -> None:
    """Retrain pressed twice: each job's report opens when that job ends (one shared
    slot for "the" job handed the first to end the other's, unfinished, job)."""
    from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

    window, first = _retrain_from_the_window(qtbot, tmp_path, monkeypatch)
    jobs = window.actions_.jobs
    window.actions_.retrain.trigger()
    window.actions_.retrain.trigger()
    runners = [jobs.rows[1].runner, jobs.rows[0].runner]
    qtbot.waitUntil(lambda: not any(r.is_running() for r in runners), timeout=120_000)
    assert [r.state for r in runners] == ["done", "done"], [r.details for r in runners]
    qtbot.waitUntil(lambda: len(window.findChildren(RetrainDialog)) == 3)
    reports = [d.report for d in window.findChildren(RetrainDialog)]
    assert len({id(r) for r in reports}) == 3
    candidates = {r.tasks["damage"].candidate for r in reports}
    assert len(candidates) == 3 and None not in candidates


def test_the_detail_header_shows_event_and_author_as_typed(qtbot, tmp_path) -> None:
    """The header is rich text: an event or handle with "<" or "&" must not be read as
    markup (it vanished from the header)."""
    from PySide6.QtGui import QTextDocument

    project = Project.open(tmp_path / "p", create=True)
    with project.open_store() as store:
        store.ensure_source("s", "csv", "s.csv")
        post = store.insert_post("s", "1", text="water rising", author="<3lover",
                                 event="Floods <2024> & after")
        store.add_text_item(post, "s", "1")
    window = open_window(qtbot, project)
    shown = QTextDocument()
    shown.setHtml(window.detail.header.text())
    assert "Floods <2024> & after" in shown.toPlainText()
    assert "@<3lover" in shown.toPlainText()


def test_enter_on_an_item_without_prediction_says_there_is_none(qtbot,
                                                               demo_like_project) -> None:
    window = open_window(qtbot, demo_like_project)
    task = focused(window).task
    assert not window.current_row().predicted
    before = current_labels(demo_like_project, task)
    with qtbot.waitSignal(window.labeller.message, timeout=10_000) as said:
        qtbot.keyClick(window.items, Qt.Key.Key_Return)
    assert said.args == [f"{task}: no prediction to accept"]
    assert current_labels(demo_like_project, task) == before


def test_a_new_annotator_name_in_the_settings_applies_to_the_open_window(
        qtbot, demo_like_project) -> None:
    """The name is read from the settings when the window opens: after Save, the open
    window's next labels go under the new name (they went under the old one)."""
    from crisisdesk.gui.dialogs.settings_dialog import SettingsDialog

    window = MainWindow(demo_like_project)  # the name from the settings, as the app does
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.detail.detail is not None and window.model.total > 0)
    window.items.setFocus()
    dialog = window.actions_.open_settings()
    assert isinstance(dialog, SettingsDialog)
    dialog.annotator.setText("Amina")
    dialog.accept()
    item, task = window.current_row().id, focused(window)
    qtbot.keyClick(window.items, Qt.Key.Key_2)
    settle(qtbot, window)
    with demo_like_project.open_store() as store:
        assert store.journal(item, task.task)[-1]["annotator"] == "Amina"
    assert any(label.text() == "Annotator: Amina" for label in window.statusBar().findChildren(
        type(window.list_title)))


def test_retry_of_a_failed_retrain_opens_its_report(qtbot, tmp_path, monkeypatch) -> None:
    """Retry in the jobs panel reruns a failed Retrain: its report must open when it is
    done, or the version it trained can never be switched to from there."""
    from test_dialogs import _trainable_project

    import crisisdesk.core.retrain as retrain
    from crisisdesk.core.fusion.train import Recipe
    from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

    real, calls = retrain.RetrainJob, []

    def make(project, **_settings):
        calls.append(project)
        if len(calls) == 1:
            raise RuntimeError("embeddings missing")
        return real(project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
                    recipe=Recipe(optimizer="adamw", lr=5e-3, max_epochs=1, patience=3))

    monkeypatch.setattr(retrain, "RetrainJob", make)
    window = open_window(qtbot, _trainable_project(tmp_path, n=60))
    jobs = window.actions_.jobs
    window.actions_.retrain.trigger()
    failed = jobs.rows[0]
    qtbot.waitUntil(lambda: failed.runner.state == "failed")
    assert failed.retry.isVisible()
    failed.retry.click()
    rerun = jobs.rows[0].runner
    assert rerun is not failed.runner
    qtbot.waitUntil(lambda: rerun.state == "done", timeout=120_000)
    qtbot.waitUntil(lambda: bool(window.findChildren(RetrainDialog)))
