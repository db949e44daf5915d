"""The jobs panel: progress, rate, ETA and device shown; cancel; errors in the row;
a missing model offers a download or a local folder."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from crisisdesk.core.jobs import tracked
from crisisdesk.core.models import hub_download, registry
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.gui import job_row as job_row_module
from crisisdesk.gui.jobs_panel import JobRow, JobsPanel, format_rate, format_seconds

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _panel(qtbot) -> JobsPanel:
    panel = JobsPanel()
    qtbot.addWidget(panel)
    panel.resize(560, 420)
    panel.show()
    return panel


def _gated(gate: threading.Event, steps: int, device: str = "cpu",
           ran_in: list[int] | None = None) -> Iterator[Progress]:
    for i in range(steps):
        if ran_in is not None:
            ran_in.append(threading.get_ident())
        yield Progress(i + 1, steps, f"step {i + 1}", device)
        gate.wait(10)


def _cancelled(qtbot, panel: JobsPanel, title: str) -> None:
    """A job of ``panel`` that said a first progress, then was cancelled."""
    gate = threading.Event()
    runner = panel.run(title, lambda: _gated(gate, 5))
    qtbot.waitUntil(lambda: runner.last_progress is not None, timeout=5000)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.cancel()
        gate.set()


def test_progress_rate_eta_and_device_are_shown(qtbot) -> None:
    panel = _panel(qtbot)
    gate = threading.Event()
    runner = panel.run("Embed images", lambda: _gated(gate, 50, "cuda:0"), unit="items")
    row = panel.row_of(runner)
    qtbot.waitUntil(lambda: runner.last_progress is not None, timeout=5000)
    # Feed two more progress reports so a rate can be measured from the samples.
    runner._samples.clear()
    runner._on_progress(Progress(10, 50, "batch 10", "cuda:0"))
    runner._samples[-1] = (runner._samples[-1][0] - 2.0, 10)  # as if 2 s ago
    runner._on_progress(Progress(30, 50, "batch 30", "cuda:0"))
    assert row.device.text() == "on GPU 0"
    assert "30 / 50 items" in row.figures.text()
    assert "items/s" in row.figures.text() and "– items/s" not in row.figures.text()
    assert "ETA 0:0" in row.figures.text()  # 20 left at ~10/s: a couple of seconds
    assert row.bar.maximum() == 50 and row.bar.value() == 30
    assert row.message.text() == "batch 30"
    assert row.cancel.isVisible()
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.cancel()
        gate.set()


def test_start_and_cancel_a_job_from_its_row(qtbot, project: Project) -> None:
    panel = _panel(qtbot)
    gate, closed_in = threading.Event(), []
    ran_in: list[int] = []

    def body() -> Iterator[Progress]:
        try:
            yield from _gated(gate, 1000, ran_in=ran_in)
        finally:
            closed_in.append(threading.get_ident())

    runner = panel.run("Predict", lambda: tracked(project, "predict", {}, body()))
    row = panel.row_of(runner)
    qtbot.waitUntil(lambda: runner.last_progress is not None, timeout=5000)
    with qtbot.waitSignal(panel.job_finished, timeout=10_000) as finished:
        row.cancel.click()
        assert "Cancelling" in row.state.text()
        gate.set()
    assert finished.args == ["Predict", "cancelled"]
    assert closed_in == [runner.thread_ident]
    assert threading.get_ident() not in ran_in
    assert "Cancelled" in row.state.text()
    assert not row.cancel.isVisible() and row.retry.isVisible()
    assert row in panel.rows  # finished jobs stay listed
    with project.open_store() as store:
        (state,) = store.conn.execute("SELECT state FROM jobs").fetchone()
    assert state == "cancelled"


def test_a_failing_job_shows_its_error_in_the_row(qtbot) -> None:
    panel = _panel(qtbot)

    def body() -> Iterator[Progress]:
        yield Progress(3, 10, "reading", "cpu")
        raise OSError("media/p1.jpg: permission denied")

    runner = panel.run("Caption", body)
    row = panel.row_of(runner)
    with qtbot.waitSignal(panel.job_finished, timeout=10_000) as finished:
        pass
    assert finished.args == ["Caption", "failed"]
    assert "Failed" in row.state.text()
    assert "media/p1.jpg: permission denied" in row.message.text()
    assert "OSError" not in row.message.text()  # the class is in the tooltip's trace
    assert row.details.isVisible() and row.retry.isVisible()
    assert not row.download.isVisible()  # not a missing model
    box = row.show_details()
    assert "permission denied" in box.detailedText() and "Traceback" in box.detailedText()
    box.close()
    assert panel.summary.text() == "0 running ·"
    assert panel.failures.text() == "1 failed: see its row"


def test_a_missing_model_offers_download_and_a_local_folder(qtbot, tmp_path,
                                                            monkeypatch) -> None:
    panel = _panel(qtbot)
    spec = registry.get_spec("clip-vit-l-14")  # not shipped in any package

    def body() -> Iterator[Progress]:
        yield Progress(0, 5)
        registry.locate(spec)  # nothing in this test's empty hub cache: raises
        yield Progress(5, 5)

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_hub"))
    runner = panel.run("Embed images", body)
    row = panel.row_of(runner)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        pass
    assert runner.state == "failed"
    assert isinstance(runner.exception, registry.ModelMissing)
    assert row.missing_model == spec.name
    assert row.download.isVisible() and row.local.isVisible()

    # Download runs the registry's download as a job of its own, with its own row.
    fetched: list[str] = []
    monkeypatch.setattr(hub_download, "download", lambda s, say=None, progress=None:
                        fetched.append(s.name) or tmp_path / "snapshot")
    with qtbot.waitSignal(panel.job_finished, timeout=10_000) as finished:
        row.download.click()
    assert finished.args == [f"Download {spec.name}", "done"]
    assert fetched == [spec.name]
    assert panel.rows[0].runner.title == f"Download {spec.name}"
    assert panel.rows[0].device.text() == "over the network"

    # A local folder is registered under the model's name.
    folder = tmp_path / "my_clip"
    folder.mkdir()
    # What registering checks: an open_clip folder's config and weights.
    (folder / "open_clip_config.json").write_text("{}")
    (folder / "open_clip_model.safetensors").write_bytes(b"w")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: str(folder)))
    row.local.click()
    assert registry.registered_paths()[spec.name]["path"] == str(folder)
    assert "Retry" in row.message.text()


def test_a_vanished_registration_offers_a_local_folder_not_a_download(qtbot, tmp_path,
                                                                      monkeypatch) -> None:
    """A download would not help (the registration wins over the hub cache): the row
    offers to register the folder where the model is now."""
    panel = _panel(qtbot)
    spec = registry.get_spec("clip-vit-l-14")
    gone = tmp_path / "usb" / "clip-l14.safetensors"
    gone.parent.mkdir()
    gone.write_bytes(b"w")
    registry.register(spec.name, gone)
    gone.unlink()

    def body() -> Iterator[Progress]:
        yield Progress(0, 5)
        registry.locate(spec)  # the registered file is gone: raises
        yield Progress(5, 5)

    runner = panel.run("Embed images", body)
    row = panel.row_of(runner)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        pass
    assert isinstance(runner.exception, registry.RegisteredPathGone)
    assert row.missing_model == spec.name
    assert row.local.isVisible() and not row.download.isVisible()


def test_format_helpers() -> None:
    assert format_seconds(None) == "–"
    assert format_seconds(42) == "0:42"
    assert format_seconds(3725) == "1:02:05"
    assert format_rate(None, "items") == "– items/s"
    assert format_rate(12.34, "items") == "12.3 items/s"
    assert format_rate(1234.0, "items") == "1,234 items/s"


def test_screenshot_of_the_jobs_panel(qtbot, project: Project) -> None:
    """Three jobs in their states, saved for the docs (look at it when it changes)."""
    panel = _panel(qtbot)
    panel.resize(620, 470)

    def failing() -> Iterator[Progress]:
        yield Progress(12, 40, "captioning", "cuda:0")
        raise RuntimeError("out of GPU memory even for one item on cuda:0 "
                           "(captioning crisismmd:9171:0)")

    with qtbot.waitSignal(panel.job_finished, timeout=10_000):
        panel.run("Caption images", failing)
    gate = threading.Event()
    done = panel.run("Import posts.csv", lambda: iter([Progress(240, 240, "", "cpu")]))
    qtbot.waitUntil(lambda: done.state == "done", timeout=5000)
    embed = panel.run("Embed images (clip-vit-b-32)", lambda: _gated(gate, 5000, "cuda:0"))
    qtbot.waitUntil(lambda: embed.last_progress is not None, timeout=5000)
    embed._samples.clear()
    embed._on_progress(Progress(1200, 5000, "batch of 64 images", "cuda:0"))
    embed._samples[-1] = (embed._samples[-1][0] - 10.0, 1200)
    embed._on_progress(Progress(2048, 5000, "batch of 64 images", "cuda:0"))
    qtbot.wait(50)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert panel.grab().save(str(SHOTS / "jobs_panel.png"))
    with qtbot.waitSignal(embed.finished, timeout=10_000):
        embed.cancel()
        gate.set()


def test_download_job_reports_network_progress(monkeypatch, tmp_path) -> None:
    # The bytes' own progress: tests/core/test_download_progress_s15.py.
    monkeypatch.setattr(hub_download, "download", lambda s, say=None, progress=None: tmp_path)
    steps = list(job_row_module.download_job("clip-vit-b-32"))
    assert [p.device for p in steps] == ["network", "network"]
    assert steps[-1].message == f"installed in {tmp_path}"


def test_offline_mode_disables_the_download_offer(qtbot, tmp_path, monkeypatch) -> None:
    from crisisdesk.gui.dialogs.settings_dialog import app_settings

    app_settings().setValue("offline", True)
    row = failed_for_want_of_a_model(qtbot, _panel(qtbot), tmp_path, monkeypatch)
    assert row.download.isVisible() and not row.download.isEnabled()
    assert row.local.isEnabled()


def failed_for_want_of_a_model(qtbot, panel: JobsPanel, tmp_path, monkeypatch) -> JobRow:
    """The row of a job in ``panel`` that failed for want of a model (nothing in an
    empty hub cache)."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_hub"))

    def body() -> Iterator[Progress]:
        yield Progress(0, 1)
        registry.locate(registry.get_spec("clip-vit-l-14"))

    runner = panel.run("Embed images", body)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        pass
    return panel.row_of(runner)


def test_retry_runs_the_job_again_once(qtbot) -> None:
    """Retry stayed on the failed row after the rerun started: a second click started a
    second, identical job beside the first (two embeds of one project at once)."""
    panel = _panel(qtbot)
    starts: list[int] = []

    def body() -> Iterator[Progress]:
        starts.append(1)
        yield Progress(1, 2, "reading", "cpu")
        raise OSError("media/p1.jpg: permission denied")

    runner = panel.run("Caption", body)
    row = panel.row_of(runner)
    with qtbot.waitSignal(panel.job_finished, timeout=10_000):
        pass
    assert row.retry.isVisible()
    with qtbot.waitSignal(panel.job_finished, timeout=10_000):
        row.retry.click()
    assert not row.retry.isVisible()  # the rerun's row has its own
    assert len(starts) == 2 and len(panel.rows) == 2
    (rerun,) = [r for r in panel.rows if r is not row]
    assert rerun.retry.isVisible()
    # Two failed rows, one retried: the head counts the failure still news.
    assert panel.failures.text() == "1 failed: see its row"


def test_a_failed_job_retried_with_success_is_no_longer_said_failed(qtbot) -> None:
    panel = _panel(qtbot)
    tries: list[int] = []

    def body() -> Iterator[Progress]:
        tries.append(1)
        yield Progress(1, 1, "reading", "cpu")
        if len(tries) == 1:
            raise OSError("media/p1.jpg: permission denied")

    row = panel.row_of(panel.run("Caption", body))
    with qtbot.waitSignal(panel.job_finished, timeout=10_000):
        pass
    assert panel.failures.isVisibleTo(panel)
    with qtbot.waitSignal(panel.job_finished, timeout=10_000):
        row.retry.click()
    assert not panel.failures.isVisibleTo(panel)  # it said "1 failed" till Clear finished


def test_one_unit_of_work_is_said_in_the_singular(qtbot) -> None:
    panel = _panel(qtbot)
    gate = threading.Event()
    runner = panel.run("Export", lambda: _gated(gate, 1), unit="items")
    row = panel.row_of(runner)
    qtbot.waitUntil(lambda: runner.last_progress is not None, timeout=5000)
    shown = row.figures.text()
    assert shown.startswith("1 / 1 item") and "items" not in shown, shown  # was "1 / 1 items"
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        gate.set()
    assert row.figures.text().endswith("· 1 item")
