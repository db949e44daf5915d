"""Model versions switched while something else runs: a retrain's report applied after
another version became active meanwhile (another window's retrain, ``crisisdesk train``
or ``versions --activate`` beside the app)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_retrain import FAST, _project  # tests/core/ is on sys.path (pytest)

from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainJob, apply_retrain


def _retrain(project: Project) -> RetrainJob:
    job = RetrainJob(project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
                     recipe=FAST)
    list(job.run())
    return job


def _active(project: Project) -> int:
    with project.open_store() as store:
        version = store.active_model_version("damage")
        assert version is not None
        return int(version["id"])


def test_a_switch_does_not_replace_a_version_made_active_after_the_comparison(
        tmp_path: Path) -> None:
    """The report compared its new version with the version active when the retrain
    started; another one made active since (another window's switch) was never compared.
    Switch replaced it all the same, on figures against a version no longer active."""
    project = _project(tmp_path)
    first = _retrain(project)
    list(apply_retrain(project, first.report))
    compared = _active(project)
    job = _retrain(project)
    entry = job.report.tasks["damage"]
    assert entry.active == compared and entry.recommend_switch
    # Meanwhile another analyst trains and activates a version (crisisdesk train).
    other = TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                     recipe=FAST)
    list(other.run())
    chosen = _active(project)
    assert chosen not in (compared, entry.candidate)
    with pytest.raises(RuntimeError) as caught:
        list(apply_retrain(project, job.report))
    assert _active(project) == chosen  # the version made active meanwhile stays
    message = str(caught.value)
    assert "damage not switched" in message and str(chosen) in message
    assert entry.candidate_name in message  # what to make active by hand, if wanted


def test_an_override_without_a_holdout_still_knows_what_it_replaces(tmp_path: Path
                                                                    ) -> None:
    """A candidate with no holdout to score on (not recommended, overridable) still
    knows which version it would replace: the override switches from it, and is refused
    once another version became active."""
    project = _project(tmp_path)
    list(apply_retrain(project, _retrain(project).report))
    compared = _active(project)
    with project.open_store() as store:  # no holdout labels left: nothing to score on
        store.conn.execute("DELETE FROM splits WHERE split IN ('test', 'dev')")
    job = _retrain(project)
    entry = job.report.tasks["damage"]
    assert entry.candidate is not None and not entry.recommend_switch
    list(apply_retrain(project, job.report, override_tasks=["damage"]))
    assert _active(project) == entry.candidate
    later = _retrain(project).report
    with project.open_store() as store:
        store.activate_model_version(compared)  # another window re-activates the first
    with pytest.raises(RuntimeError, match="damage not switched"):
        list(apply_retrain(project, later, override_tasks=["damage"]))
    assert _active(project) == compared
