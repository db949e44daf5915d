"""Captions meet trained heads: an item's text is its tweet followed by its newest caption
(docs/captions.md), so once items are captioned a head trained on tweets alone reads
texts unlike its training, a head trained on one captioner's captions may read
another's, and one trained on captioned texts reads the tweet alone of an item not
captioned yet. Predict and eval score such items all the same; they must say so (with
what to do), not leave the analyst to read their figures as the head's usual ones."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from test_caption_job import FakeCaptioner  # tests/core/ is on sys.path (pytest)
from test_training_job import FAST, _project

from crisisdesk.cli import main
from crisisdesk.core.captions.base import CaptionRequest, CaptionResult
from crisisdesk.core.captions.job import CaptionJob
from crisisdesk.core.captions.prompt import CaptionPrompt
from crisisdesk.core.fusion.evaluate import evaluate
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.project import Project


class WordyCaptioner(FakeCaptioner):
    """A captioner whose captions carry its name: another captioner writes another text
    (FakeCaptioner's captions are the same whatever its name)."""

    def caption(self, requests: Sequence[CaptionRequest], prompt: CaptionPrompt
                ) -> list[CaptionResult]:
        return [CaptionResult(r.key, f"{r.caption} (by {self.name})")
                for r in super().caption(requests, prompt)]


def _caption(project: Project, name: str, limit: int | None = None) -> None:
    """Caption with ``name`` and give each new text a text embedding (random vectors:
    what the head makes of them does not matter here, which texts it reads does)."""
    list(CaptionJob(project, WordyCaptioner(name), limit=limit).run())
    with project.open_store() as store:
        missing = store.missing_keys("text", "txt-enc", [t.key for t in store.item_texts()])
        store.put_embeddings("text", "txt-enc", missing,
                             np.random.default_rng(3).normal(size=(len(missing), 16)))


def _train(project: Project) -> None:
    list(TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                  recipe=FAST).run())


def _captioned(project: Project, split: str | None = None) -> int:
    """Labelled items (of ``split``) whose text holds a caption."""
    with project.open_store() as store:
        items = [item for item, _, s in store.labelled_items("damage")
                 if split in (None, s)]
        return len(store.caption_sources(items))


@pytest.fixture
def tweet_head(tmp_path: Path) -> Project:
    """A text-only damage head trained on tweets alone, then half the items captioned
    (and their new texts embedded)."""
    project = _project(tmp_path, n=120)
    _train(project)
    _caption(project, "llava-a", limit=60)
    return project


def test_eval_says_a_head_trained_on_tweets_is_scored_on_captioned_texts(
        tweet_head: Project, capsys) -> None:
    with tweet_head.open_store() as store:
        report = evaluate(store, "damage", "test")
    captioned = _captioned(tweet_head, "test")
    assert 0 < captioned < report["items"]
    note = report["texts_note"]
    assert note and f"{captioned} of the {report['items']}" in note
    assert "tweets alone" in note and "train" in note
    assert main(["eval", str(tweet_head.root), "--task", "damage", "--split", "test"]) == 0
    assert note in capsys.readouterr().out


def test_eval_says_nothing_of_texts_when_they_are_those_the_head_trained_on(
        tmp_path: Path) -> None:
    project = _project(tmp_path, n=120)
    _train(project)
    with project.open_store() as store:
        assert evaluate(store, "damage", "test")["texts_note"] is None
    _caption(project, "llava-a")
    _train(project)  # trained again: on the captioned texts
    with project.open_store() as store:
        assert evaluate(store, "damage", "test")["texts_note"] is None


def test_predict_says_a_head_trained_on_tweets_read_captioned_texts(
        tweet_head: Project, capsys) -> None:
    assert main(["predict", str(tweet_head.root), "--task", "damage"]) == 0
    out = capsys.readouterr().out
    with tweet_head.open_store() as store:
        version = store.active_model_version("damage")["name"]
    # The first predict after captioning predicts every item, 60 of them captioned.
    assert f"60 of the 120 items' texts hold a caption, but {version} was trained on " \
           "tweets alone" in out
    assert main(["predict", str(tweet_head.root), "--task", "damage"]) == 0
    assert "caption" not in capsys.readouterr().out  # nothing predicted: nothing to say


def test_predict_names_another_captioner_than_the_one_the_head_trained_on(
        tmp_path: Path) -> None:
    project = _project(tmp_path, n=120)
    _caption(project, "llava-a")
    _train(project)
    list(PredictJob(project, ["damage"]).run())
    _caption(project, "server:qwen")  # newer captions: the items' texts change
    job = PredictJob(project, ["damage"])
    list(job.run())
    entry = job.report.tasks["damage"]
    assert entry["predicted"] == 120
    note = entry["texts_note"]
    assert note and "120 of the 120" in note
    assert "server:qwen" in note and "llava-a" in note


def test_predict_says_which_items_a_head_trained_on_captions_read_without_one(
        tmp_path: Path) -> None:
    project = _project(tmp_path, n=120)
    _caption(project, "llava-a", limit=90)
    _train(project)
    job = PredictJob(project, ["damage"])
    list(job.run())
    note = job.report.tasks["damage"]["texts_note"]
    assert note and "30 of the 120" in note and "no caption yet" in note
    assert "crisisdesk caption" in note
