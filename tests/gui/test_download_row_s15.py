"""A missing model's download shows real progress in its row: megabytes of the model's
total, a bar that fills, a rate in MB/s. It showed a busy bar for the whole download (a
7B captioner is gigabytes) and, once the runner judged stalls, "no progress for 0:15"
after ten seconds of a download that was working. A job with no total (a busy bar) is
never said to have "no progress": it has no count to advance; the row says how long it
has been working. The hub is faked as in tests/core/test_download_progress_s15.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from caption_fixtures import isolated_config  # noqa: F401 - a fixture, used by name
from test_download_progress_s15 import MB, FakeHub, _shards_and_config
from test_jobs_panel import _panel
from test_jobs_truth_s14 import clock  # noqa: F401 - a fixture, used by name
from test_silent_job_s15 import _silent_job, _tick, gate  # noqa: F401 - gate: a fixture

from crisisdesk.core.models import registry
from crisisdesk.core.progress import Progress
from crisisdesk.gui.jobs_panel import JobsPanel
from crisisdesk.gui.job_row import JobRow


def _wanting_llava(qtbot, panel: JobsPanel) -> JobRow:
    """The row of a job that failed for want of LLaVA (the fake hub's repo)."""

    def body() -> Iterator[Progress]:
        yield Progress(0, 1)
        registry.locate(registry.get_spec("llava-1.5-7b"))  # nothing in the cache: raises

    runner = panel.run("Caption images", body, unit="captions")
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        pass
    row = panel.row_of(runner)
    assert row.missing_model == "llava-1.5-7b" and row.download.isEnabled()
    return row


@pytest.mark.usefixtures("isolated_config")
def test_the_download_row_fills_with_megabytes_of_the_model(qtbot, monkeypatch) -> None:
    panel = _panel(qtbot)
    row = _wanting_llava(qtbot, panel)
    hub = FakeHub(monkeypatch)
    hub.gate = threading.Event()  # the fetch holds half-way
    total_mb = -(-_shards_and_config() // MB)
    try:
        row.download.click()
        download = panel.rows[0]
        assert download.runner.title == "Download llava-1.5-7b"
        qtbot.waitUntil(lambda: download.bar.maximum() == total_mb
                        and download.bar.value() > 0, timeout=10_000)
        shown = download.figures.text()
        assert f"/ {total_mb} MB" in shown, shown  # "7 / 16 MB": a real count
        # The rate in the row's unit once measured ("12.3 MB/s"), no dashes before.
        assert download.unit == "MB" and ("MB/" in shown) == bool(download.runner.rate), shown
        assert "no progress" not in shown, shown
        assert download.device.text() == "over the network"
        assert "llava-1.5-7b" in download.message.text()
    finally:
        hub.gate.set()
    with qtbot.waitSignal(download.runner.finished, timeout=10_000):
        pass
    assert download.runner.state == "done", download.runner.error
    assert download.figures.text().endswith(f"· {total_mb} MB"), download.figures.text()
    assert "installed in" in download.message.text()


@pytest.mark.parametrize("done", [0, 2], ids=["busy", "counting without a total"])
def test_a_job_with_no_total_is_never_said_to_have_no_progress(qtbot, clock, gate,
                                                               done) -> None:
    # A hub look-up (a busy bar), or a watch that counted 2 records and waits for files.
    panel, runner = _silent_job(qtbot, gate, unit="records")
    row = panel.row_of(runner)
    runner._on_progress(Progress(done, 0, "waiting for files", "cpu"))
    clock.now += 120
    _tick(panel)
    shown = row.figures.text()
    assert "no progress" not in shown, shown
    assert "working for 2:00" in shown, shown  # what is true: it has run two minutes
    assert "ETA" not in shown, shown


def test_a_job_that_said_nothing_yet_is_working_not_stalled(qtbot, clock, gate) -> None:
    # A model loading before the job's first word: its bar is busy (no total said).
    panel, runner = _silent_job(qtbot, gate)
    row = panel.row_of(runner)
    clock.now += 90
    _tick(panel)
    assert row.figures.text() == "working for 1:30", row.figures.text()
