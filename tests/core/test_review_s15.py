"""Today's commits read line by line (session 15): where a job's last words, a log's
progress lines or a bench's checks said less than the truth, or something false.

* A retrain whose new version sees no holdout item told to "keep the active one" for a
  task that has no active version.
* A caption run with nothing left to caption ended on "0 captions to write", without
  the items it skipped (the outcome a run that wrote something gives).
* The caption job's messages lost their rate and time left to the front end; the log a
  ``nohup crisisdesk caption`` writes (no terminal: plain lines) had neither.
* ``bench/train_bench.py --items 1`` to ``4`` crashed with a traceback (no validation
  item) instead of refusing the argument.

Clocks are fakes (test_progress_log_s13): nothing waits or measures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_caption_job import FakeCaptioner
from test_caption_job import _project as caption_project
from test_progress_log_s13 import LogStream, clock, drive_to, job  # noqa: F401 - clock
from test_retrain import FAST
from test_retrain import _project as retrain_project

from crisisdesk.cli_progress import _duration
from crisisdesk.core import retrain
from crisisdesk.core.captions.job import CaptionJob
from crisisdesk.core.retrain import RetrainJob

ROOT = Path(__file__).resolve().parents[2]


def test_a_retrain_without_an_active_version_never_says_keep_the_active_one(
        tmp_path: Path, monkeypatch) -> None:
    # The project has neither CLIP nor MiniLM embeddings: no shipped head, no zero-shot
    # start, so no version is active. The new one sees none of the holdout's items (its
    # embeddings not there yet, an image-only head and text-only posts).
    project = retrain_project(tmp_path)
    monkeypatch.setattr(retrain, "version_predictions", lambda *args, **kwargs: {})
    job = RetrainJob(project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
                     recipe=FAST)
    last = list(job.run())[-1].message
    entry = job.report.tasks["damage"]
    assert entry.candidate is not None and entry.new is None
    assert entry.active_name is None  # the precondition: nothing is active
    assert "keep the active" not in last, last
    assert "without an active version" in last, last


def test_a_caption_run_with_nothing_to_caption_ends_with_what_it_skipped(
        tmp_path: Path) -> None:
    project = caption_project(tmp_path)
    list(CaptionJob(project, FakeCaptioner(), batch_size=3).run())
    again = CaptionJob(project, FakeCaptioner(), batch_size=3)
    last = list(again.run())[-1].message
    report = again.report
    assert report.to_caption == 0 and report.skipped_no_image > 0
    assert f"{report.skipped_no_image} items without an image skipped" in last, last


def test_a_long_jobs_log_lines_say_the_time_left(clock, monkeypatch) -> None:
    # 2,000 units of 0.1 s: each line before the last says what is left at that pace.
    lines = drive_to(LogStream(), monkeypatch, job(clock, 2000, 0.1))
    assert len(lines) > 2
    for line in lines[:-1]:
        done = int(line.split("/")[0].rsplit(" ", 1)[-1].replace(",", ""))
        left = (2000 - done) * 0.1  # to the second (the clock's sums are floats)
        assert any(f"about {_duration(left + d)} left" in line for d in (-1, 0, 1)), line
    assert "left" not in lines[-1], lines[-1]  # done: nothing is left


def test_a_log_without_a_total_says_no_time_left(clock, monkeypatch) -> None:
    # An import counting as it reads: its total grows, there is no "left" to tell.
    lines = drive_to(LogStream(), monkeypatch, job(clock, 1200, 1.0, grow=True))
    assert lines and not [line for line in lines if "left" in line], lines


@pytest.mark.parametrize("items", ["1", "4"])
def test_train_bench_refuses_too_few_items_to_split(items: str) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "train_bench.py"), "--items", items,
         "--predict", "5", "--dim", "8", "--latent", "2", "--threads", "1"],
        capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 2, run.stderr
    assert "--items" in run.stderr and "Traceback" not in run.stderr, run.stderr
