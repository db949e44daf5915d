"""A day of captions (session 13): what an analyst who captions from the app's jobs panel
is told of the images that got no caption. The app drives the job and sees only its
progress, not the report the CLI prints: the job's notes carry it (core/progress.py)."""

from __future__ import annotations

from pathlib import Path

from test_caption_job import FakeCaptioner, _project, tweet  # tests/core/ is on sys.path

from crisisdesk.core.captions.job import CaptionJob
from crisisdesk.core.progress import Progress


def _notes(progresses: list[Progress]) -> list[str]:
    return [note for progress in progresses for note in progress.notes]


def test_the_jobs_notes_name_unreadable_failed_and_flagged_images(tmp_path: Path) -> None:
    project = _project(tmp_path)
    broken = tmp_path / "src" / "3.jpg"
    broken.write_bytes(b"this is no longer a jpeg")  # damaged after the import
    job = CaptionJob(project, FakeCaptioner(fail="report 5", loop="report 2"))
    progresses = list(job.run())
    notes = _notes(progresses)
    assert job.report.unreadable_count == job.report.failed_count == 1
    assert job.report.flagged_count == 1
    # Each problem is said once, naming the file, with what happens next.
    text = "\n".join(notes)
    assert len(notes) == 3, notes
    assert str(broken) in text
    failed = next(note for note in notes if "5.jpg" in note)
    assert "fake: model said no" in failed and "next run" in failed
    flagged = next(note for note in notes if "2.jpg" in note)
    assert "repeated token" in flagged and "not used" in flagged
    assert progresses[-1].done == progresses[-1].total  # the notes come with the end


def test_a_run_without_problems_has_no_notes(tmp_path: Path) -> None:
    project = _project(tmp_path)
    fake = FakeCaptioner()
    progresses = list(CaptionJob(project, fake).run())
    assert tweet(1) in fake.seen
    assert _notes(progresses) == []


def test_the_notes_list_a_few_names_and_count_the_rest(tmp_path: Path) -> None:
    project = _project(tmp_path)
    job = CaptionJob(project, FakeCaptioner(fail="flood report"))  # every photo post
    notes = _notes(list(job.run()))
    (note,) = notes
    assert job.report.failed_count > 5
    assert str(job.report.failed_count) in note and "more" in note
    assert note.count(".jpg") < job.report.failed_count
