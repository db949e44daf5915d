"""Small app fixes: a re-activated version predicts, Retry of a failed Embed chains
Predict, closing waits for all stuck jobs within one deadline, long words wrap in the
detail panel, and the overlay's "no model" note names the app's own actions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QGuiApplication, QTextDocument, QTextOption
from PySide6.QtWidgets import QLabel, QScrollArea
from test_hunt_gui import _retrain_from_the_window
from window_helpers import open_window

from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.gui import jobs_panel as jobs_panel_module
from crisisdesk.gui.jobs_panel import JobsPanel

#: A run of hashtags as the real CrisisMMD tweets hold them (92 characters, no space).
HASHTAGS = ("#HurricaneHarvey#Houston#HoustonFlood#TexasStrong#PrayForHouston#Harvey2017"
            "#Rescue#Flooding")
#: No character in it gives Qt a place to break the line (hashtags and URLs may).
UNBREAKABLE = "HoustonStrong" * 9
URL = "https://example.org/news/2017/08/29/" + "harvey-flood-houston-rescue-" * 4 + "live"


def test_reactivating_a_version_predicts_the_task_with_it(qtbot, tmp_path,
                                                           monkeypatch) -> None:
    """"Make the selected version active": items it never scored (imported since it was
    last active) got no prediction from it until someone ran Predict."""
    window, dialog = _retrain_from_the_window(qtbot, tmp_path, monkeypatch)
    jobs = window.actions_.jobs
    candidate = dialog.report.tasks["damage"].candidate
    page = dialog.pages["damage"]
    qtbot.waitUntil(lambda: page.versions.topLevelItemCount() == 1, timeout=10_000)
    assert not window.current_row().predicted  # not switched: no version is active
    before = len(jobs.rows)
    page.versions.setCurrentItem(page.versions.topLevelItem(0))
    page.reactivate.click()
    qtbot.waitUntil(lambda: len(jobs.rows) > before, timeout=10_000)
    predict = jobs.rows[0].runner
    assert predict.title.startswith("Predict") and "damage" in predict.title
    qtbot.waitUntil(lambda: not predict.is_running(), timeout=60_000)
    assert predict.state == "done", predict.details
    with window.project.open_store() as store:
        scored = store.conn.execute("SELECT COUNT(*) FROM predictions WHERE model_version = ?",
                                    [candidate]).fetchone()[0]
    assert scored == 60
    qtbot.waitUntil(lambda: "damage" in window.current_row().predicted, timeout=10_000)


def test_retry_of_a_failed_embed_runs_predict_after_it(qtbot, demo_like_project: Project,
                                                        monkeypatch) -> None:
    """The first Embed run is followed by Predict; its Retry was not."""
    import crisisdesk.core.embed as embed
    import crisisdesk.core.fusion.predict as predict

    runs: list[str] = []
    predicted: list[object] = []

    class FlakyEmbed:  # the image kind fails once (out of memory, say), then works
        def __init__(self, project, encoder, kinds, device) -> None:
            self.kind = kinds[0]

        def run(self) -> Iterator[Progress]:
            runs.append(self.kind)
            if self.kind == "image" and runs.count("image") == 1:
                raise RuntimeError("out of memory")
            yield Progress(1, 1, "embedded")

    class RecordedPredict:
        def __init__(self, project, tasks=None) -> None:
            predicted.append(tasks)

        def run(self) -> Iterator[Progress]:
            yield Progress(1, 1, "predicted")

    monkeypatch.setattr(embed, "EmbedJob", FlakyEmbed)
    monkeypatch.setattr(predict, "PredictJob", RecordedPredict)
    window = open_window(qtbot, demo_like_project)
    jobs = window.actions_.jobs
    window.actions_.embed.trigger()
    first = [row.runner for row in jobs.rows]
    qtbot.waitUntil(lambda: not any(r.is_running() for r in first), timeout=20_000)
    failed = next(row for row in jobs.rows if row.runner.state == "failed")
    assert "image" in failed.runner.title and predicted == []
    failed.retry.click()
    rerun = jobs.rows[0].runner
    qtbot.waitUntil(lambda: rerun.state == "done", timeout=20_000)
    qtbot.waitUntil(lambda: predicted == [None], timeout=10_000)
    assert jobs.rows[0].runner.title == "Predict"
    qtbot.waitUntil(lambda: not jobs.running(), timeout=10_000)


def test_closing_waits_for_all_stuck_jobs_within_one_deadline(qtbot, monkeypatch) -> None:
    """Two jobs stuck short of their next yield: the window waited 10 s for each, one
    after the other (20 s frozen). A fake clock: a stuck job takes the whole wait."""
    panel = JobsPanel()
    qtbot.addWidget(panel)
    release = threading.Event()

    def stuck() -> Iterator[Progress]:
        release.wait()  # a model loading
        yield Progress(1, 1, "loaded")

    runners = [panel.run(f"Caption images {n}", stuck) for n in range(2)]
    now, waited = [0.0], []

    def wait(timeout_ms: int = -1) -> bool:
        waited.append(timeout_ms)
        now[0] += timeout_ms / 1000
        return False

    for runner in runners:
        monkeypatch.setattr(runner, "wait", wait)
    monkeypatch.setattr(jobs_panel_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    panel.shutdown(10_000)
    assert all(runner.cancel_requested for runner in runners)
    assert len(waited) == 2 and now[0] <= 10.0, waited
    release.set()
    qtbot.waitUntil(lambda: not panel.running(), timeout=10_000)


def _long_word_project(tmp_path) -> Project:
    project = Project.open(tmp_path / "p", create=True)
    with project.open_store() as store:
        store.ensure_source("s", "csv", "s.csv")
        post = store.insert_post("s", "1", text=f"Water rising {HASHTAGS} {UNBREAKABLE} see {URL}",
                                 event="hurricane_harvey")
        store.add_text_item(post, "s", "1")
    return project


def test_a_long_word_wraps_and_the_probability_bars_stay_in_view(qtbot, tmp_path) -> None:
    """A word wider than the panel widened the task boxes past the scroll area's view
    (a horizontal scroll bar, the bars off screen) instead of wrapping. The breaks that
    let it wrap are for the eye only: the label's text and a copy are as typed."""
    window = open_window(qtbot, _long_word_project(tmp_path))
    detail = window.detail
    scroll = next(s for s in detail.findChildren(QScrollArea)
                  if s.widget().isAncestorOf(detail.text))
    qtbot.waitUntil(lambda: bool(detail.task_boxes))

    def bars_in_view() -> bool:
        view = scroll.viewport()
        return scroll.horizontalScrollBar().maximum() == 0 and all(
            0 < bar.mapTo(view, QPoint(bar.width(), 0)).x() <= view.width()
            for box in detail.task_boxes for bar in box.bars.values())

    # Layouts settle over a few turns of the event loop (a vertical scroll bar may come
    # and narrow the view); a word that does not wrap keeps the bars out of view for good.
    qtbot.waitUntil(bars_in_view, timeout=5_000)
    # ...and the text is laid out within the label's width (a word that cannot break
    # would run past it, cut off).
    drawn = QLabel.text(detail.text)
    document = QTextDocument()
    document.setDefaultFont(detail.text.font())
    option = document.defaultTextOption()
    option.setWrapMode(QTextOption.WrapMode.WordWrap)  # as QLabel wraps: at words only
    document.setDefaultTextOption(option)
    if detail.text.textFormat() != Qt.TextFormat.PlainText:
        document.setHtml(drawn)
    else:
        document.setPlainText(drawn)
    width = detail.text.contentsRect().width()
    document.setTextWidth(width)
    assert document.idealWidth() <= width, (document.idealWidth(), width)
    typed = f"Water rising {HASHTAGS} {UNBREAKABLE} see {URL}"
    assert detail.text.text() == typed
    detail.text.setSelection(0, len(QLabel.text(detail.text)))  # all that is drawn
    detail.text.setFocus()
    qtbot.keyClick(detail.text, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == typed


def _menu_name(action: QAction) -> str:
    return action.text().replace("&", "").rstrip("…")


def test_the_overlay_without_a_model_says_what_to_run_in_the_app(qtbot,
                                                                 demo_like_project) -> None:
    """The note named CLI commands ("crisisdesk embed PROJECT ...") to an analyst in the
    app: it names the Jobs menu's actions instead."""
    window = open_window(qtbot, demo_like_project)
    window.detail.toggle_overlay()
    attention = window.detail.attention
    qtbot.waitUntil(lambda: attention.error is not None, timeout=60_000)
    shown = QTextDocument()
    shown.setHtml(window.detail.overlay_bar.status.text())
    note = shown.toPlainText()
    assert "crisisdesk " not in note and "PROJECT" not in note, note
    task = window.detail.task_boxes[window.detail.focused_task].view.task
    assert f"no {task} model" in note
    for action in (window.actions_.embed, window.actions_.retrain):
        assert f"Jobs › {_menu_name(action)}" in note, note


def test_predict_without_a_model_says_what_to_run_in_the_app(qtbot,
                                                             demo_like_project) -> None:
    """Jobs › Predict on a project with no model failed in the jobs panel with the CLI's
    text ("crisisdesk embed PROJECT ..."): its row names the Jobs menu's actions."""
    window = open_window(qtbot, demo_like_project)
    jobs = window.actions_.jobs
    with qtbot.waitSignal(jobs.job_finished, timeout=60_000) as finished:
        window.actions_.predict.trigger()
    assert finished.args == ["Predict", "failed"]
    row = jobs.rows[0]
    shown = QTextDocument()
    shown.setHtml(row.message.text())
    note = shown.toPlainText()
    assert "crisisdesk " not in note and "PROJECT" not in note, note
    assert "model in this project yet" in note, note
    for action in (window.actions_.embed, window.actions_.retrain):
        assert f"Jobs › {_menu_name(action)}" in note, note
    box = row.show_details()  # the popup says the same
    assert f"Jobs › {_menu_name(window.actions_.embed)}" in box.text()
    box.close()


def test_the_app_names_the_menu_entry_install_desktop_writes(qapp) -> None:
    """Wayland matches a window to its menu entry (its name and dock icon) by this id."""
    from pathlib import Path

    from crisisdesk.core.desktop_install import APP_ID
    from crisisdesk.gui.app import make_application

    assert make_application().desktopFileName() == APP_ID
    packaged = Path(__file__).resolve().parents[2] / "packaging" / "desktop"
    assert (packaged / f"{APP_ID}.desktop").is_file()
