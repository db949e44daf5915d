"""Behaviours of session 16's core modules that no test held (found by planting bugs):
a job lock file left behind by a job that ended, a saved retrain report's confusion
matrices, the note for a compared version gone since, and two cases of the search fold
(Thai tone marks after a vowel sign, the flags spelled with tag characters)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_retrain_saved_s16 import _retrained

from crisisdesk.core.job_locks import INTERRUPTED, LOCKS
from crisisdesk.core.jobs import tracked
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.retrain_saved import SavedReportError, last_retrain, report_from_dict
from crisisdesk.core.store.folding import fold


def test_a_lock_file_left_by_a_job_that_ended_keeps_its_record(tmp_path: Path) -> None:
    # The process died after the job's record said how it ended, before its lock file
    # was removed: the next open must not rewrite a failure as "interrupted".
    root = tmp_path / "project"
    project = Project.open(root, create=True)

    def body() -> Iterator[Progress]:
        yield Progress(1, 2)
        raise ValueError("row 7 of posts.csv has no id")

    with pytest.raises(ValueError):
        list(tracked(project, "import", {}, body()))
    with project.open_store() as store:
        (job,) = store.conn.execute("SELECT id, state, error FROM jobs").fetchall()
    assert job["state"] == "failed"
    left = root / LOCKS / f"{job['id']}.lock"
    left.write_text("", encoding="utf-8")
    Project.open(root)
    with project.open_store() as store:
        after = store.job(job["id"])
    assert after["state"] == "failed" and after["error"] == job["error"] != INTERRUPTED
    assert not left.exists()  # done with: not looked at again at each open


@pytest.fixture(scope="module")
def retrained(tmp_path_factory):
    """One retrained project for the tests that only read its report."""
    return _retrained(tmp_path_factory.mktemp("retrained"))


@pytest.mark.parametrize(("which", "confusion"), [
    ("ragged", lambda k: [[1] * k for _ in range(k - 1)] + [[1] * (k + 1)]),
    ("negative", lambda k: [[-1 if i == j == 0 else 1 for j in range(k)] for i in range(k)]),
])
def test_a_confusion_matrix_the_chart_cannot_draw_is_refused(retrained, which,
                                                               confusion) -> None:
    _project, job = retrained
    data = job.report.as_dict()
    figures = data["tasks"]["damage"]["new"]
    figures["confusion"] = confusion(len(figures["classes"]))
    report_from_dict(job.report.as_dict(), "here")  # the real one reads
    with pytest.raises(SavedReportError, match=r"here.*tasks\.damage\.new has no confusion"):
        report_from_dict(json.loads(json.dumps(data)), "here")


def test_a_report_whose_compared_version_is_gone_notes_it(tmp_path) -> None:
    project, job = _retrained(tmp_path)
    entry = job.report.tasks["damage"]
    assert entry.active is not None and entry.active_name
    with project.open_store() as store, store.transaction():
        store.conn.execute("PRAGMA foreign_keys = OFF")
        store.conn.execute("DELETE FROM model_versions WHERE id = ?", [entry.active])
    saved = last_retrain(project)
    assert entry.active_name in saved.notes["damage"]
    assert "no longer exists" in saved.notes["damage"]


def test_a_thai_tone_mark_after_a_vowel_sign_is_part_of_the_word() -> None:
    # "ที่" (at, that) and "ที" (a time, a turn): the tone mark sits after the vowel
    # sign above the consonant, and a search for one must not find the other.
    assert fold("ที่") != fold("ที")
    assert fold("ที่") in fold("อยู่ที่บ้าน")


def test_the_flags_of_england_and_scotland_fold_apart() -> None:
    england = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
    scotland = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    assert fold(england) != fold(scotland)
    assert fold(england) == england
