"""One-click retrain: a candidate per task trained on the current labels, compared with
the active version on the frozen holdout, switched only when not worse (unless
overridden), predictions refreshed, older versions kept."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crisisdesk.core.fusion.train import Recipe
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainJob, apply_retrain, choose_encoders
from crisisdesk.core.store import LabelChange

CLASSES = ("severe_damage", "mild_damage", "little_or_no_damage")
FAST = Recipe(optimizer="adamw", lr=5e-3, max_epochs=15, patience=3)


def _project(tmp_path: Path, n: int = 180, dim: int = 12, labelled: int | None = None,
             seed: int = 0) -> Project:
    """Posts whose damage class shows in both embeddings ("img-enc", "txt-enc"), plus
    "noise-txt" text embeddings that carry no class; ``labelled`` posts keep a label."""
    rng = np.random.default_rng(seed)
    src = tmp_path / "src"
    src.mkdir(parents=True)
    labels = rng.integers(0, 3, n)
    rows = [["id", "text", "image", "damage"]]
    for i in range(n):
        Image.new("RGB", (8, 8), (i % 256, i // 256, 9)).save(src / f"{i}.png")
        keep = labelled is None or i < labelled
        rows.append([str(i), f"post {i}", f"{i}.png", CLASSES[labels[i]] if keep else ""])
    with (src / "posts.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    project = Project.open(tmp_path / "project", create=True)
    list(ImportJob(project, [src / "posts.csv"], ImportOptions()).run())
    centres = rng.normal(size=(2, 3, dim))
    with project.open_store() as store:
        texts = {t.item: t.key for t in store.item_texts()}
        shas = store.item_images(texts)
        order = sorted(texts)

        def vectors(which: int) -> np.ndarray:
            return np.stack([centres[which, labels[k]] + 0.4 * rng.normal(size=dim)
                             for k in range(n)])

        store.put_embeddings("image", "img-enc", [shas[i][0] for i in order], vectors(0))
        store.put_embeddings("text", "txt-enc", [texts[i] for i in order], vectors(1))
        store.put_embeddings("text", "noise-txt", [texts[i] for i in order],
                             rng.normal(size=(n, dim)))
    return project


def test_first_retrain_reports_both_figures_and_switches_with_predictions(tmp_path) -> None:
    project = _project(tmp_path)
    job = RetrainJob(project, ["damage", "informative"], annotator="ana",
                     image_encoder="img-enc", text_encoder="txt-enc", recipe=FAST)
    progress = list(job.run())
    assert progress[-1].done == progress[-1].total
    entry = job.report.tasks["damage"]
    assert entry.skipped is None and entry.variant == "guided_diff"
    assert entry.holdout_split == "test" and entry.holdout >= 20
    assert entry.new["macro_f1"] > 0.8
    assert set(entry.new["per_class"]) == set(CLASSES)
    assert all({"precision", "recall", "f1"} <= set(v) for v in entry.new["per_class"].values())
    assert np.array(entry.new["confusion"]).sum() == entry.holdout - entry.new_unseen
    assert entry.current is None and entry.recommend_switch  # nothing active to beat
    assert "labels" in job.report.tasks["informative"].skipped  # no informative labels
    with project.open_store() as store:
        assert store.active_model_version("damage") is None  # not switched yet
        (state,) = store.conn.execute("SELECT state FROM jobs WHERE kind = 'retrain'").fetchone()
        assert state == "done"
    list(apply_retrain(project, job.report))
    with project.open_store() as store:
        assert store.active_model_version("damage")["id"] == entry.candidate
        assert store.items_without_prediction("damage", entry.candidate) == []


def test_a_worse_candidate_is_not_switched_unless_overridden(tmp_path) -> None:
    project = _project(tmp_path)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    with project.open_store() as store:
        good = store.active_model_version("damage")
    # A text-only candidate on vectors that carry no class cannot match the active head.
    job = RetrainJob(project, ["damage"], text_encoder="noise-txt", recipe=FAST)
    list(job.run())
    entry = job.report.tasks["damage"]
    assert entry.variant == "text_only"
    assert entry.active == good["id"] and entry.active_name == good["name"]
    assert entry.current["macro_f1"] > entry.new["macro_f1"]
    assert not entry.recommend_switch
    list(apply_retrain(project, job.report))
    with project.open_store() as store:
        assert store.active_model_version("damage")["id"] == good["id"]
    list(apply_retrain(project, job.report, override_tasks=["damage"]))
    with project.open_store() as store:
        assert store.active_model_version("damage")["id"] == entry.candidate
        assert store.items_without_prediction("damage", entry.candidate) == []
        # The older version is kept and can be made active again.
        assert [v["id"] for v in store.model_versions("damage")] == [entry.candidate,
                                                                      good["id"]]
        store.activate_model_version(good["id"])
        assert store.active_model_version("damage")["id"] == good["id"]


def test_the_holdout_stays_frozen_across_retrains(tmp_path) -> None:
    project = _project(tmp_path)
    first = RetrainJob(project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
                       recipe=FAST)
    list(first.run())
    with project.open_store() as store:
        before = {i for i, _, s in store.labelled_items("damage") if s == "test"}
    second = RetrainJob(project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
                        recipe=FAST)
    list(second.run())
    with project.open_store() as store:
        after = {i for i, _, s in store.labelled_items("damage") if s == "test"}
    assert before == after and second.report.tasks["damage"].holdout == len(before)


def test_too_few_labels_are_skipped_and_encoders_are_chosen(tmp_path) -> None:
    project = _project(tmp_path, n=60, labelled=10)
    job = RetrainJob(project, ["damage"])
    list(job.run())
    entry = job.report.tasks["damage"]
    assert entry.candidate is None and "at least 20 labels" in entry.skipped
    with project.open_store() as store:
        store.conn.execute("DELETE FROM embeddings WHERE encoder = 'noise-txt'")
        assert choose_encoders(store) == ("img-enc", "txt-enc")  # two encoders: fusion
        store.conn.execute("DELETE FROM embeddings WHERE kind = 'image'")
        assert choose_encoders(store) == (None, "txt-enc")  # text only (e.g. MiniLM)



def test_a_task_whose_labels_cannot_train_is_skipped_and_the_rest_goes_on(tmp_path) -> None:
    """Enough labels, but all in the dev split (e.g. only CrisisMMD's dev file imported):
    that task is skipped with the reason, the other task is still retrained."""
    project = _project(tmp_path, n=120)
    with project.open_store() as store:
        items = sorted(item for item, _, _ in store.labelled_items("damage"))[:40]
        store.add_labels([LabelChange(item, "informative",
                                      "informative" if i % 2 else "not_informative")
                          for i, item in enumerate(items)], annotator="ana")
        with store.transaction():
            for item in items:
                store.set_split(item, "informative", "dev")
    job = RetrainJob(project, ["informative", "damage"], image_encoder="img-enc",
                     text_encoder="txt-enc", recipe=FAST)
    list(job.run())
    skipped = job.report.tasks["informative"]
    assert skipped.candidate is None
    assert "not enough labelled items to train" in skipped.skipped
    assert "dev 40" in skipped.skipped
    assert job.report.tasks["damage"].skipped is None
    assert job.report.tasks["damage"].candidate is not None
    with project.open_store() as store:
        (state,) = store.conn.execute("SELECT state FROM jobs WHERE kind = 'retrain'").fetchone()
    assert state == "done"


def test_a_task_whose_labelled_items_have_no_image_is_skipped_by_a_fusion_retrain(
        tmp_path) -> None:
    project = _project(tmp_path, n=120, labelled=60)
    with project.open_store() as store, store.transaction():
        labelled = [item for item, _, _ in store.labelled_items("damage")]
        store.conn.execute("UPDATE media SET status = 'missing' WHERE id IN (SELECT media"
                           f" FROM items WHERE id IN ({','.join(map(str, labelled))}))")
    job = RetrainJob(project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
                     recipe=FAST)
    list(job.run())
    entry = job.report.tasks["damage"]
    assert entry.candidate is None
    assert "no labelled damage item has a usable image" in entry.skipped

def test_cancelling_a_retrain_switches_nothing(tmp_path) -> None:
    project = _project(tmp_path, n=120)
    run = RetrainJob(project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
                     recipe=FAST).run()
    next(run)
    run.close()
    with project.open_store() as store:
        assert store.active_model_version("damage") is None
        states = [r[0] for r in store.conn.execute(
            "SELECT state FROM jobs WHERE kind IN ('retrain', 'train')")]
    assert states and all(state == "cancelled" for state in states)


@pytest.mark.parametrize("task", ["nonsense"])
def test_unknown_tasks_are_refused(tmp_path, task) -> None:
    with pytest.raises(KeyError, match="known tasks"):
        RetrainJob(Project.open(tmp_path / "p", create=True), [task])


def test_a_task_whose_training_diverges_is_skipped_with_the_reason(tmp_path) -> None:
    """A recipe whose weights blow up (an absurd learning rate) skips the task with the
    reason, as too few labels do; the retrain itself ends, not fails."""
    project = _project(tmp_path, n=120)
    job = RetrainJob(project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
                     recipe=Recipe(optimizer="sgd", lr=1e12, max_epochs=3, patience=1))
    list(job.run())
    entry = job.report.tasks["damage"]
    assert entry.candidate is None
    assert "training diverged" in entry.skipped
    with project.open_store() as store:
        (state,) = store.conn.execute("SELECT state FROM jobs WHERE kind = 'retrain'").fetchone()
    assert state == "done"


def test_the_settings_encoders_are_chosen_where_the_project_holds_them(tmp_path) -> None:
    """An analyst who switched Settings to another CLIP and embedded with it retrains on
    it: on equal counts the alphabetically first (older) encoder used to win. A preferred
    encoder without embeddings, or with fewer (an embed still running), falls back to the
    counts."""
    project = _project(tmp_path, n=60)
    with project.open_store() as store:
        shas = [row[0] for row in store.conn.execute("SELECT sha256 FROM media")]
        store.put_embeddings("image", "a-newer-clip", shas,
                             np.ones((len(shas), 12), np.float32))
        assert choose_encoders(store)[0] == "a-newer-clip"  # the tie: alphabetical
        assert choose_encoders(store, ("img-enc", "noise-txt")) == ("img-enc", "noise-txt")
        assert choose_encoders(store, ("never-embedded", "txt-enc")) == \
            ("a-newer-clip", "txt-enc")
        # An embed with the Settings' encoder still running: it covers fewer items, and
        # the retrain trains on the one that covers them (it skipped every task).
        store.conn.execute("DELETE FROM embeddings WHERE encoder = 'a-newer-clip'"
                           " AND rowid % 2 = 0")
        assert choose_encoders(store, ("a-newer-clip", None))[0] == "img-enc"
    job = RetrainJob(project, ["damage"], recipe=FAST, prefer=("img-enc", "txt-enc"))
    list(job.run())
    with project.open_store() as store:
        version = store.model_version(job.report.tasks["damage"].candidate)
    assert version is not None
    assert (version["config"]["image_encoder"], version["config"]["text_encoder"]) == \
        ("img-enc", "txt-enc")
