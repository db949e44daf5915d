"""Each job's last words say how it went, for the app's jobs panel (which drives the job
and never sees its report): the caption job counts the captions written, failed and
skipped; a retrain of several tasks says every task's outcome, not the last one's; the
switch says which tasks it switched, which it kept and why, and what it predicted."""

from __future__ import annotations

from pathlib import Path

from test_caption_job import FakeCaptioner
from test_caption_job import _project as caption_project
from test_retrain import FAST
from test_retrain import _project as retrain_project

from crisisdesk.core.captions.job import CaptionJob
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.retrain import RetrainJob, TaskRetrain, apply_retrain

TASKS = ["damage", "informative", "humanitarian"]


def test_the_caption_job_ends_with_what_it_wrote_failed_and_skipped(tmp_path: Path) -> None:
    project = caption_project(tmp_path)
    job = CaptionJob(project, FakeCaptioner(fail="report 3"), batch_size=3)
    steps = list(job.run())
    report, last = job.report, steps[-1].message
    assert report.failed_count == 1 and report.captioned >= 1
    assert f"{report.captioned} captions written" in last, last
    assert "1 failed" in last, last
    assert f"{report.skipped_no_image} items without an image skipped" in last, last


def test_the_caption_jobs_steps_leave_the_rate_to_the_front_end(tmp_path: Path) -> None:
    # Its own "0.02 captions/s, ETA 0:41:10" disagreed with the panel's figures beside
    # it (another unit, another window, another clock format) and read "0.00" when slow.
    project = caption_project(tmp_path)
    steps = list(CaptionJob(project, FakeCaptioner(), batch_size=3).run())
    assert not [step.message for step in steps if "/s" in step.message or "ETA" in step.message]


def _retrained(tmp_path: Path) -> RetrainJob:
    """A retrain of three tasks: damage trained against an active version, the other
    two without labels."""
    project = retrain_project(tmp_path)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    job = RetrainJob(project, TASKS, image_encoder="img-enc", text_encoder="txt-enc",
                     recipe=FAST)
    steps = list(job.run())
    job.last_words = steps[-1].message  # type: ignore[attr-defined]
    return job


def test_a_retrain_of_three_tasks_ends_with_each_tasks_outcome(tmp_path: Path) -> None:
    job = _retrained(tmp_path)
    lines = job.last_words.splitlines()  # type: ignore[attr-defined]
    assert [line.split(":")[0] for line in lines] == TASKS, lines
    damage = job.report.tasks["damage"]
    assert damage.candidate is not None and damage.current is not None
    verdict = "switch recommended" if damage.recommend_switch else "keep the active"
    assert verdict in lines[0], lines[0]
    for line, task in zip(lines[1:], TASKS[1:], strict=True):
        assert job.report.tasks[task].skipped in line


def _switch_said(tmp_path: Path, **choice: tuple[str, ...]) -> tuple[TaskRetrain, str]:
    """Damage's entry in a three-task retrain, and the last words of its switch made
    with ``choice`` (override_tasks or keep_tasks)."""
    job = _retrained(tmp_path)
    steps = list(apply_retrain(job.project, job.report, **choice))
    return job.report.tasks["damage"], steps[-1].message


def test_the_switch_ends_with_what_it_switched_and_predicted(tmp_path: Path) -> None:
    damage, last = _switch_said(tmp_path, override_tasks=("damage",))
    assert f"damage switched to {damage.candidate_name}" in last, last
    assert "predictions written (damage" in last, last


def test_a_switch_that_keeps_every_version_says_which_and_why(tmp_path: Path) -> None:
    damage, last = _switch_said(tmp_path, keep_tasks=("damage",))
    assert f"kept {damage.active_name} active for damage" in last, last
