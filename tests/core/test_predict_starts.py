"""Predictions before any training: the shipped text-only heads (offline MiniLM) and
CLIP zero-shot scores, each registered as its own model version."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from tiny_clip import make_tiny_clip

from crisisdesk.cli import main
from crisisdesk.core.fusion.predict import NoModel, PredictJob
from crisisdesk.core.project import Project

TWEETS = [
    ("1", "Bridge collapsed after the earthquake, several houses destroyed", "1.jpg"),
    ("2", "Volunteers collecting water and food donations for flood victims", "2.jpg"),
    ("3", "Happy birthday to my best friend, love you!", ""),
]


def imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, header: tuple[str, ...],
             rows: list[tuple[str, ...]]) -> Project:
    """Project tmp_path/p with ``rows`` imported from a CSV, posts 1 and 2 with a small
    image each; the settings (models.json) in tmp_path/config."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    src = tmp_path / "src"
    src.mkdir()
    for i in (1, 2):
        Image.new("RGB", (40, 30), (90 * i, 60, 30)).save(src / f"{i}.jpg")
    with (src / "posts.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    assert main(["import", str(tmp_path / "p"), str(src / "posts.csv")]) == 0
    return Project.open(tmp_path / "p")


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Project:
    return imported(tmp_path, monkeypatch, ("id", "text", "image"), TWEETS)


def test_without_embeddings_predict_says_what_to_do(project: Project, capsys) -> None:
    with pytest.raises(NoModel, match="crisisdesk embed PROJECT --encoder minilm"):
        list(PredictJob(project, ["damage"]).run())
    assert main(["predict", str(project.root)]) == 2
    assert "crisisdesk train PROJECT --task" in capsys.readouterr().err


def test_shipped_heads_predict_offline_from_minilm_text(project: Project) -> None:
    assert main(["embed", str(project.root), "--encoder", "minilm", "--kind", "text"]) == 0
    job = PredictJob(project)
    list(job.run())
    with project.open_store() as store:
        for task in ("informative", "humanitarian", "damage"):
            assert job.report.tasks[task] == {"model_version": f"bundled-minilm-{task}",
                                              "predicted": 3, "skipped": 0}
            version = store.active_model_version(task)
            assert version["path"] == f"bundled:{task}"
            assert "CrisisMMD" in version["config"]["provenance"]
        label = {item: probs for item, probs in store.predictions_of(
            store.active_model_version("informative")["id"], [1, 2, 3]).items()}
    # A real model, not a stub: the birthday wish is the least informative of the three.
    assert min(label, key=lambda i: label[i]["informative"]) == 3


def test_zero_shot_start_with_clip_image_embeddings(project: Project, tmp_path: Path) -> None:
    tiny = make_tiny_clip(tmp_path / "models")
    assert main(["models", "add", "tiny-clip", str(tiny["folder"])]) == 0
    assert main(["embed", str(project.root), "--encoder", "tiny-clip"]) == 0
    job = PredictJob(project, ["damage"])
    list(job.run())
    entry = job.report.tasks["damage"]
    assert entry["model_version"] == "zero-shot-tiny-clip-damage"
    assert entry["predicted"] == 3  # the text-only post is scored from its text
    with project.open_store() as store:
        version = store.active_model_version("damage")
        assert version["config"]["zero_shot"] is True
        probs = store.predictions_of(version["id"], [1, 2, 3])
    assert all(abs(sum(p.values()) - 1) < 1e-4 for p in probs.values())
    assert set(probs[1]) == {"severe_damage", "mild_damage", "little_or_no_damage"}


@pytest.mark.parametrize("meanwhile", ["registers the shipped head", "trains a head"])
def test_two_stores_starting_predictions_at_once_share_one_version(project: Project,
                                                                   meanwhile: str) -> None:
    """Two windows (or the CLI beside the app) may first need a task's predictions at
    once: when the second registers a version between the first's check and its insert,
    the first uses that version instead of adding another, so the task keeps one active
    version and a trained head is never pushed aside by the shipped one."""
    from crisisdesk.core.fusion.predict import resolve_version

    with project.open_store() as store:
        keys = [t.key for t in store.item_texts()]
        store.put_embeddings("text", "minilm", keys, np.ones((len(keys), 4)))
    with project.open_store() as first, project.open_store() as second:
        theirs: list[int] = []
        check = first.active_model_version

        def then_the_other_registers(task: str) -> Any:
            found = check(task)
            if not theirs:  # once: right after the first's own check found none
                theirs.append(
                    resolve_version(second, task)["id"]
                    if meanwhile == "registers the shipped head" else
                    second.add_model_version(task, "damage-trained", "models/damage"))
            return found

        first.active_model_version = then_the_other_registers  # type: ignore[method-assign]
        mine = resolve_version(first, "damage")
        versions = second.model_versions("damage")
    assert [v["id"] for v in versions] == theirs == [mine["id"]]
    assert [v["active"] for v in versions] == [1]


def test_the_zero_shot_start_gives_way_once_to_the_shipped_head(project: Project,
                                                                 tmp_path: Path) -> None:
    """Images embedded with CLIP first start the task on zero-shot; texts embedded with
    MiniLM later bring the shipped head (the start the README puts first), which the
    zero-shot start kept out for good. Once the project has had it, an analyst who makes
    zero-shot active again keeps it."""
    tiny = make_tiny_clip(tmp_path / "models")
    assert main(["models", "add", "tiny-clip", str(tiny["folder"])]) == 0
    assert main(["embed", str(project.root), "--encoder", "tiny-clip"]) == 0
    list(PredictJob(project, ["damage"]).run())
    assert main(["embed", str(project.root), "--encoder", "minilm", "--kind", "text"]) == 0
    job = PredictJob(project, ["damage"])
    list(job.run())
    # The zero-shot start's predictions are shown no more: removed.
    assert job.report.tasks["damage"] == {"model_version": "bundled-minilm-damage",
                                          "predicted": 3, "skipped": 0, "removed": 3}
    with project.open_store() as store:
        zero_shot = next(v for v in store.model_versions("damage")
                         if v["name"] == "zero-shot-tiny-clip-damage")
        store.activate_model_version(zero_shot["id"])
    again = PredictJob(project, ["damage"])
    list(again.run())
    assert again.report.tasks["damage"]["model_version"] == "zero-shot-tiny-clip-damage"
    assert again.report.tasks["damage"]["predicted"] == 3  # made active again: predicts
    with project.open_store() as store:
        assert [v["name"] for v in store.model_versions("damage")] == [
            "bundled-minilm-damage", "zero-shot-tiny-clip-damage"]


def test_only_predict_switches_the_zero_shot_start(project: Project, tmp_path: Path) -> None:
    """Eval, explain and retrain read the active version: they do not switch it as a side
    effect (an explain of one item changed every item's shown prediction)."""
    from crisisdesk.core.fusion.predict import resolve_version

    tiny = make_tiny_clip(tmp_path / "models")
    assert main(["models", "add", "tiny-clip", str(tiny["folder"])]) == 0
    assert main(["embed", str(project.root), "--encoder", "tiny-clip"]) == 0
    list(PredictJob(project, ["damage"]).run())
    assert main(["embed", str(project.root), "--encoder", "minilm", "--kind", "text"]) == 0
    with project.open_store() as store:
        assert resolve_version(store, "damage")["name"] == "zero-shot-tiny-clip-damage"
        assert [v["name"] for v in store.model_versions("damage")] == [
            "zero-shot-tiny-clip-damage"]
