"""The jobs panel's words, as an analyst reads them.

* The summary counts jobs by how they ended: "0 running, 4 finished" beside "1 failed"
  read as if four had gone well, with a failed and a cancelled one among them.
* A failed row says the job's message, not Python's class name ("ValueError: ..."); the
  class stays where an engineer looks (the tooltip's and Details…' traceback), and is
  all a message-less error has, so there it is said.
* The device reads "on the CPU", "on GPU 0", not "on cpu", "on cuda:0".
* Before a rate can be measured the row shows no "– captions/s · ETA –" dashes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from PySide6.QtGui import QTextDocument
from test_jobs_panel import _cancelled, _gated, _panel
from test_silent_job_s15 import gate  # noqa: F401 - a fixture

from crisisdesk.core.progress import Progress
from crisisdesk.gui.jobs_panel import JobRow, JobsPanel


def _plain(rich: str) -> str:
    """What a rich-text label reads as."""
    doc = QTextDocument()
    doc.setHtml(rich)
    return doc.toPlainText()


def _failing(exc: BaseException) -> Iterator[Progress]:
    yield Progress(1, 10, "reading", "cpu")
    raise exc


def _failed_row(qtbot, panel: JobsPanel, exc: BaseException) -> JobRow:
    with qtbot.waitSignal(panel.job_finished, timeout=10_000):
        runner = panel.run("Import posts", lambda: _failing(exc))
    return panel.row_of(runner)


# ------------------------------------------------------------------ the summary


def test_the_summary_adds_up_to_the_rows_by_how_they_ended(qtbot, gate) -> None:
    panel = _panel(qtbot)
    with qtbot.waitSignal(panel.job_finished, timeout=10_000):
        panel.run("Export", lambda: iter([Progress(1, 1)]))
    _failed_row(qtbot, panel, OSError("disk full"))
    _cancelled(qtbot, panel, "Embed")
    running = panel.run("Caption images", lambda: _gated(gate, 5))
    qtbot.waitUntil(lambda: running.last_progress is not None, timeout=5000)

    said = panel.summary.text() + " " + (
        panel.failures.text() if panel.failures.isVisibleTo(panel) else "")
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (running|done|failed|cancelled)",
                                                     said)}
    assert counts == {"running": 1, "done": 1, "failed": 1, "cancelled": 1}, said
    assert sum(counts.values()) == len(panel.rows), said
    assert "finished" not in panel.summary.text(), said  # it counted the failed as well


# ------------------------------------------------------------------ a failed row


def test_a_failed_row_says_the_message_and_keeps_the_class_for_engineers(qtbot) -> None:
    panel = _panel(qtbot)
    row = _failed_row(qtbot, panel, ValueError("posts.csv row 4: no text column"))
    shown = _plain(row.message.text())
    assert "posts.csv row 4: no text column" in shown, shown
    assert "ValueError" not in shown, shown
    assert "ValueError: posts.csv row 4" in row.message.toolTip()  # the traceback
    box = row.show_details()
    assert "ValueError" not in box.text() and "no text column" in box.text()
    assert "ValueError: posts.csv row 4" in box.detailedText()
    box.close()


def test_a_failed_row_with_no_message_names_the_error(qtbot) -> None:
    panel = _panel(qtbot)
    row = _failed_row(qtbot, panel, ValueError())
    shown = _plain(row.message.text())
    assert "ValueError" in shown and "no message" in shown, shown


def test_a_key_error_reads_without_its_quotes(qtbot) -> None:
    # str(KeyError("no item 5")) is "'no item 5'": the core's KeyErrors are sentences.
    panel = _panel(qtbot)
    row = _failed_row(qtbot, panel, KeyError("no model version 7"))
    shown = _plain(row.message.text())
    assert shown.startswith("no model version 7"), shown


# ------------------------------------------------------------------ the device


@pytest.mark.parametrize(("device", "words"), [
    ("cpu", "on the CPU"), ("cuda", "on the GPU"), ("cuda:0", "on GPU 0"),
    ("cuda:1", "on GPU 1"), ("mps", "on the Apple GPU"), ("network", "over the network"),
    ("http://localhost:8000", "on the server at http://localhost:8000"),
])
def test_the_device_reads_in_words(qtbot, gate, monkeypatch, device: str,
                                   words: str) -> None:
    # The card's own name is another test's (test_job_log_s17): on a machine with a GPU
    # the job thread would learn the real one here.
    monkeypatch.setattr("crisisdesk.gui.worker.learn_gpu_name", lambda device: "")
    panel = _panel(qtbot)
    runner = panel.run("Embed images", lambda: _gated(gate, 5, device))
    row = panel.row_of(runner)
    qtbot.waitUntil(lambda: runner.last_progress is not None, timeout=5000)
    assert row.device.text() == words
    assert device in row.device.toolTip()  # the name an engineer looks for


# ------------------------------------------------------------------ before a rate


def test_no_dashes_before_a_rate_is_known(qtbot, gate) -> None:
    panel = _panel(qtbot)
    runner = panel.run("Caption images", lambda: _gated(gate, 400), unit="captions")
    row = panel.row_of(runner)
    qtbot.waitUntil(lambda: runner.last_progress is not None, timeout=5000)
    assert runner.rate is None and runner.eta is None
    shown = row.figures.text()
    assert "1 / 400 captions" in shown, shown
    assert "–" not in shown and "ETA" not in shown and "/s" not in shown, shown


def test_a_retried_failure_is_still_counted_once(qtbot) -> None:
    # Its rerun's row says how the job went now: the old one is no longer "failed: see its
    # row", yet the summary still counts every row listed.
    panel = _panel(qtbot)
    row = _failed_row(qtbot, panel, OSError("disk full"))
    with qtbot.waitSignal(panel.job_finished, timeout=10_000):
        row.retry.click()
    said = panel.summary.text() + " " + panel.failures.text()
    assert sum(int(n) for n in re.findall(r"\d+", said)) == len(panel.rows) == 2, said
    assert panel.failures.text() == "1 failed: see its row"
