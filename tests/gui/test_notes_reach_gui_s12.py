"""What the core tells the CLI reaches the analyst in the app too: a predict job's note on
the texts its head read (also the predict that follows a retrain's switch) shows in its
row of the jobs panel, and a project whose stored label scheme was left out says so in
the status bar when it is opened, readable again, without a dialog popping up."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QLabel, QMessageBox
from test_caption_text_heads_s12 import _caption, tweet_head  # noqa: F401 - a fixture
from test_jobs_panel import _panel
from test_received_project_s12 import _add_stored_scheme
from test_training_job import FAST
from test_training_job import _project as _training_project

from crisisdesk.cli import main
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainJob
from crisisdesk.gui.dialogs.retrain_dialog import apply_job
from crisisdesk.gui.jobs_panel import JobRow, JobsPanel
from crisisdesk.gui.main_window import MainWindow


def _run_to_end(qtbot, panel: JobsPanel, title: str, make) -> JobRow:
    with qtbot.waitSignal(panel.job_finished, timeout=60_000) as ended:
        runner = panel.run(title, make)
    assert ended.args[1] == "done"
    return panel.row_of(runner)


def _shown(label: QLabel) -> str:
    """A rich-text label's text as read on screen."""
    from PySide6.QtGui import QTextDocumentFragment

    return QTextDocumentFragment.fromHtml(label.text()).toPlainText()


def _active_name(project: Project) -> str:
    with project.open_store() as store:
        return store.active_model_version("damage")["name"]


# -- a predict job's note in its row -------------------------------------------------------

def test_a_predict_rows_end_shows_the_note_on_the_texts_its_head_read(
        qtbot, tweet_head: Project) -> None:  # noqa: F811
    panel = _panel(qtbot)
    row = _run_to_end(qtbot, panel, "Predict (damage)",
                      lambda: PredictJob(tweet_head, ["damage"]).run())
    shown = _shown(row.message)
    assert row.message.isVisibleTo(row)
    assert "damage: 60 of the 120 items' texts hold a caption" in shown
    assert f"{_active_name(tweet_head)} was trained on tweets alone" in shown
    # Nothing predicted again: nothing to say, no note left over from the first run.
    again = _run_to_end(qtbot, panel, "Predict (damage)",
                        lambda: PredictJob(tweet_head, ["damage"]).run())
    assert "tweets alone" not in _shown(again.message)


def test_the_switch_after_a_retrain_shows_its_predictions_note(qtbot, tmp_path: Path
                                                               ) -> None:
    project = _training_project(tmp_path, n=120)
    job = RetrainJob(project, ["damage"], text_encoder="txt-enc", recipe=FAST)
    list(job.run())
    _caption(project, "llava-a", limit=60)  # captioned while the report was open
    panel = _panel(qtbot)
    row = _run_to_end(qtbot, panel, "Switch to the new versions (damage)",
                      lambda: apply_job(project, job.report, ["damage"], []))
    shown = _shown(row.message)
    assert "damage: 60 of the 120" in shown and "tweets alone" in shown


def test_a_predict_with_a_note_says_so_in_the_status_bar(qtbot, tweet_head: Project
                                                         ) -> None:  # noqa: F811
    window = MainWindow(tweet_head, annotator="tester")
    qtbot.addWidget(window)
    window.show()
    jobs = window.actions_.jobs
    with qtbot.waitSignal(jobs.job_finished, timeout=60_000):
        window.actions_.run_predict(["damage"])
    message = window.statusBar().currentMessage()
    assert "Predict (damage)" in message and "note" in message
    assert "jobs panel" in message


# -- a project whose stored scheme was left out --------------------------------------------

def _scheme_word(window: MainWindow) -> QLabel | None:
    """The status bar's visible word on schemes left out, if any."""
    words = [label for label in window.statusBar().findChildren(QLabel)
             if label.isVisibleTo(window) and "urgency" in label.toolTip()]
    return words[0] if words else None


def _dialogs_shown() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.isVisible()]


def test_opening_a_project_with_a_left_out_scheme_says_so_in_the_status_bar(
        qtbot, demo_like_project: Project, tmp_path: Path) -> None:
    _add_stored_scheme(demo_like_project, "urgency", "{not json")
    window = MainWindow(demo_like_project, annotator="tester")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: _scheme_word(window) is not None, timeout=5000)
    word = _scheme_word(window)
    assert "crisisdesk schemes add" in word.toolTip()
    assert str(demo_like_project.db_path) in word.toolTip()
    assert not _dialogs_shown()  # said, not popped up
    # Read again on demand: its link opens the reasons in a box that does not block.
    word.linkActivated.emit("why")
    boxes = _dialogs_shown()
    assert len(boxes) == 1 and "'urgency'" in boxes[0].text()
    assert not boxes[0].isModal()
    boxes[0].close()
    # Added again (as the reason says to): the word goes at the next refresh (F5).
    fixed = tmp_path / "urgency.json"
    fixed.write_text('{"task": "urgency", "classes": ["high", "low"]}', encoding="utf-8")
    assert main(["schemes", "add", str(demo_like_project.root), str(fixed)]) == 0
    window.refresh()
    qtbot.waitUntil(lambda: _scheme_word(window) is None, timeout=5000)


def test_a_project_whose_schemes_are_all_used_shows_no_scheme_word(
        qtbot, demo_like_project: Project) -> None:
    window = MainWindow(demo_like_project, annotator="tester")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.queues.current_queue() is not None, timeout=5000)
    qtbot.wait(200)  # the schemes' word, were there one, comes from the background
    assert not any("label scheme" in label.text() and label.isVisibleTo(window)
                   for label in window.statusBar().findChildren(QLabel))
