"""The demo project: built once in the user's data folder from resources/demo with the
offline MiniLM model and the bundled heads; real predictions, queues with content,
nothing written in the package, a second call reuses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisisdesk.core.demo import BUILT_KEY, DemoJob, demo_project, is_built
from crisisdesk.core.project import Project
from crisisdesk.core.resources import resource
from crisisdesk.core.review import Queue, item_detail, queue_counts, queue_page, queue_size


def _package_files() -> dict[str, float]:
    folder = Path(str(resource("demo")))
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, list, dict[str, float]]:
    """The demo built once for the module (MiniLM on the CPU takes a while)."""
    data = tmp_path_factory.mktemp("data")
    before = _package_files()
    job = DemoJob(data)
    progress = list(job.run())
    return job.root, progress, before


def test_demo_is_built_in_the_data_folder_and_not_in_the_package(demo) -> None:
    root, progress, before = demo
    assert root.parent.name.startswith("data") and (root / "project.sqlite").is_file()
    assert _package_files() == before  # nothing added or touched in resources/demo
    assert (root / "media" / "demo" / "images" / "rescue_boat.jpg").is_file()
    assert progress[-1].done == progress[-1].total and progress[-1].message
    assert [p.done for p in progress] == sorted(p.done for p in progress)
    assert is_built(root)


def test_demo_holds_real_posts_labels_and_predictions(demo) -> None:
    root, _, _ = demo
    with Project(root).open_store() as store:
        counts = store.counts()
        assert 95 <= counts["items"] <= 110
        assert counts["media"]["ok"] == 6  # the drawn scenes
        assert counts["media"]["missing"] >= 90  # CrisisMMD photos are not shipped
        # About half the posts keep their CrisisMMD labels (each for the tasks it has).
        labelled = store.conn.execute(
            "SELECT COUNT(DISTINCT item) FROM current_labels").fetchone()[0]
        assert 0.4 * counts["items"] < labelled < 0.6 * counts["items"]
        for task in ("informative", "humanitarian", "damage"):
            assert set(counts["labels"][task]["by_source"]) == {"import"}
        for task in ("informative", "humanitarian", "damage"):
            version = store.active_model_version(task)
            assert version["path"] == f"bundled:{task}"
            assert queue_size(store, Queue("needs_review", task)) > 0
        tasks = ("informative", "humanitarian", "damage")
        by_title = {c.title: c.count for c in queue_counts(store, tasks)}
        assert by_title["Model disagrees with label (informative)"] > 0
        assert by_title["Unlabelled (damage)"] > 0
        assert by_title["Event: hurricane harvey"] > 0
        # CrisisMMD items keep the dataset's ids, and say why their photo is absent.
        crisismmd = queue_page(store, Queue("all"), offset=0, limit=200, search="")
        missing = [row for row in crisismmd if row.uid.startswith("crisismmd:")]
        detail = item_detail(store, missing[0].id)
        assert detail.row.media_status == "missing"
        assert "data_image/" in detail.row.image_path
        assert "not found" in detail.row.media_reason
        informative = {t.task: t for t in detail.tasks}["informative"]
        assert set(informative.probabilities) == {"informative", "not_informative"}


def test_predictions_are_real_not_stubs(demo) -> None:
    root, _, _ = demo
    with Project(root).open_store() as store:
        rows = queue_page(store, Queue("all"), offset=0, limit=200)
        relief = next(r for r in rows if r.uid == "crisisdesk-demo:relief_tents:0")
        assert relief.predicted["humanitarian"][0] == "rescue_volunteering_or_donation_effort"
        correct = sum(1 for r in rows if r.labels.get("informative") and
                      r.labels["informative"] == r.predicted["informative"][0])
        labelled = sum(1 for r in rows if r.labels.get("informative"))
        assert correct / labelled > 0.6  # the shipped head scores ~0.85 on CrisisMMD dev


def test_a_second_call_reuses_the_built_demo(demo, monkeypatch) -> None:
    root, _, _ = demo
    with Project(root).open_store() as store:
        built = store.meta(BUILT_KEY)
        jobs = store.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    monkeypatch.setattr(DemoJob, "run", lambda self: pytest.fail("rebuilt the demo"))
    assert demo_project(root.parent) == root
    with Project(root).open_store() as store:
        assert store.meta(BUILT_KEY) == built
        assert store.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == jobs
