"""Regressions found on an analyst's day on CrisisMMD's real splits with session 15's
changes (import of the train split, MiniLM embed, bundled-head predictions, ~60 labels,
retrain, switch, exports in each format and their re-import, the app): each test names
what the analyst hit. The fixtures are small; the day itself is not run here."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from crisisdesk.core.fusion.train import Recipe
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainJob

CLASSES = ("severe_damage", "mild_damage", "little_or_no_damage")
FAST = Recipe(optimizer="adamw", lr=5e-3, max_epochs=5, patience=2)


def _train_split_project(tmp_path: Path, n: int = 60) -> Project:
    """Text posts whose every damage label sits in the ``train`` split, as an import of
    CrisisMMD's train file alone leaves them; text embeddings of encoder "txt-enc"."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, n)
    src = tmp_path / "posts.csv"
    with src.open("w", newline="", encoding="utf-8") as handle:
        rows = [["id", "text", "damage", "split"]]
        rows += [[str(i), f"post {i}", CLASSES[labels[i]], "train"] for i in range(n)]
        csv.writer(handle).writerows(rows)
    project = Project.open(tmp_path / "project", create=True)
    list(ImportJob(project, [src], ImportOptions()).run())
    centres = rng.normal(size=(3, 8))
    with project.open_store() as store:
        texts = {t.item: t.key for t in store.item_texts()}
        order = sorted(texts)
        vectors = np.stack([centres[labels[k]] + 0.3 * rng.normal(size=8)
                            for k in range(n)])
        store.put_embeddings("text", "txt-enc", [texts[i] for i in order], vectors)
    return project


def test_a_retrain_without_a_holdout_says_why_and_what_to_do(tmp_path: Path) -> None:
    """An analyst who imported CrisisMMD's train file, labelled and pressed Retrain was
    told "no labelled holdout items to compare on" with 60 labels in the project: not
    why (every label is in the train split, as the source named it) nor how to get a
    comparison (a dev or test split), as `crisisdesk train` says."""
    project = _train_split_project(tmp_path)
    job = RetrainJob(project, ["damage"], text_encoder="txt-enc", recipe=FAST)
    list(job.run())
    entry = job.report.tasks["damage"]
    assert entry.candidate is not None and entry.holdout == 0
    why = entry.skipped or ""
    assert "no labelled holdout items" in why and "not switched" in why
    assert "60 labelled items are in the train split" in why, why
    assert "import a dev or test split" in why, why
