"""Prediction and evaluation from trained heads: every item once, refreshed when its
inputs change, and clear errors (split off tests/core/test_training_job.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_training_job import FAST, _project  # a labelled project with embeddings

from crisisdesk.cli import main
from crisisdesk.core.fusion.evaluate import evaluate
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.fusion.training import TrainJob


def test_predict_fills_every_item_once_and_eval_prints(tmp_path, capsys) -> None:
    project = _project(tmp_path, n=120)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    job = PredictJob(project, ["damage"])
    list(job.run())
    assert job.report.tasks["damage"]["predicted"] == 120
    again = PredictJob(project, ["damage"])
    list(again.run())
    assert again.report.tasks["damage"]["predicted"] == 0
    with project.open_store() as store:
        rows = store.conn.execute("SELECT probs, confidence FROM predictions").fetchall()
    assert len(rows) == 120
    assert main(["eval", str(project.root), "--task", "damage", "--split", "dev"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "severe_damage" in out


def test_predict_all_predicts_the_tasks_that_have_a_model(tmp_path, capsys) -> None:
    # Imported embeddings of an encoder no shipped head reads, one task trained: the
    # other tasks have no model, which must not keep damage from being predicted.
    project = _project(tmp_path, n=60)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    capsys.readouterr()
    assert main(["predict", str(project.root), "--task", "all"]) == 0
    out = capsys.readouterr().out
    assert "damage: 60 items predicted by damage-guided_diff" in out
    assert "informative: not predicted:" in out and "humanitarian: not predicted:" in out
    with project.open_store() as store:
        tasks = {r[0] for r in store.conn.execute("SELECT DISTINCT task FROM predictions")}
    assert tasks == {"damage"}


def test_eval_and_predict_on_a_broken_checkpoint_are_clear_errors(tmp_path, capsys) -> None:
    project = _project(tmp_path, n=60)
    job = TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                   recipe=FAST)
    list(job.run())
    with project.open_store() as store:
        weights = Path(store.active_model_version("damage")["path"]).with_suffix(
            ".safetensors")
    weights.unlink()  # a checkpoint half lost (a sync tool, a careless clean-up)
    capsys.readouterr()
    assert main(["eval", str(project.root), "--task", "damage", "--split", "dev"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("crisisdesk: error:") and "Traceback" not in err
    assert main(["predict", str(project.root), "--task", "damage"]) == 2
    assert capsys.readouterr().err.startswith("crisisdesk: error:")


def test_eval_on_a_split_the_head_cannot_see_says_why(tmp_path, capsys) -> None:
    # A test file imported after the embedding run: its items have no text embedding yet.
    project = _project(tmp_path, n=120)
    list(TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                  recipe=FAST).run())
    with project.open_store() as store, store.transaction():
        test = [item for item, _, split in store.labelled_items("damage") if split == "test"]
        keys = [t.key for t in store.item_texts(test)]
        store.conn.executemany("DELETE FROM embeddings WHERE kind = 'text' AND key = ?",
                               [(key,) for key in keys])
        with pytest.raises(ValueError, match="none of the 18 labelled damage items in the "
                                             "test split"):
            evaluate(store, "damage", "test")
    assert main(["eval", str(project.root), "--task", "damage", "--split", "test"]) == 2
    assert "crisisdesk embed PROJECT" in capsys.readouterr().err

def test_predict_again_refreshes_items_whose_inputs_changed_and_only_those(tmp_path) -> None:
    """A caption (a new text, once embedded) or an image embedded after an item was
    predicted makes that item's prediction stale: the next predict redoes it, and only
    it; a text not embedded yet keeps the old prediction (nothing new to see)."""
    project = _project(tmp_path, n=60)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())

    def seen() -> dict[int, tuple[str, str]]:
        with project.open_store() as store:
            return {r[0]: (r[1], r[2]) for r in store.conn.execute(
                "SELECT item, inputs, created_at FROM predictions WHERE task = 'damage'")}

    with project.open_store() as store:
        texts = {t.item: t for t in store.item_texts()}
        shas = store.item_images(list(texts))
        first, second, third = sorted(texts)[:3]
        # the third item's image had no embedding at first: the head saw its text only
        store.conn.execute("DELETE FROM embeddings WHERE kind = 'image' AND key = ?",
                           [shas[third][0]])
    list(PredictJob(project, ["damage"]).run())
    before = seen()
    assert before[third][0] == f"|{texts[third].key}"
    assert before[first][0] == f"{shas[first][0]}|{texts[first].key}"
    with project.open_store() as store:
        # a caption for the first item, embedded; one for the second, not embedded yet
        for item, caption in ((first, "A flooded street."), (second, "A collapsed roof.")):
            store.add_caption(shas[item][0], texts[item].text, "llava-test", "v1", caption)
        key = store.item_texts([first])[0].key
        store.put_embeddings("text", "txt-enc", [key], np.full((1, 16), 3.0))
        store.put_embeddings("image", "img-enc", [shas[third][0]], np.full((1, 16), -2.0))
    again = PredictJob(project, ["damage"])
    list(again.run())
    assert again.report.tasks["damage"]["predicted"] == 2  # the first and the third
    after = seen()
    assert after[first][0] == f"{shas[first][0]}|{key}" and after[first][1] > before[first][1]
    assert after[third][0] == f"{shas[third][0]}|{texts[third].key}"
    assert after[second] == before[second]
    assert {i: v for i, v in after.items() if i not in (first, third)} == \
        {i: v for i, v in before.items() if i not in (first, third)}
    once_more = PredictJob(project, ["damage"])
    list(once_more.run())
    assert once_more.report.tasks["damage"]["predicted"] == 0


def test_predictions_from_before_their_inputs_were_kept_are_redone_once(tmp_path) -> None:
    project = _project(tmp_path, n=30)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    list(PredictJob(project, ["damage"]).run())
    with project.open_store() as store:
        store.conn.execute("UPDATE predictions SET inputs = NULL")  # an older project
    job = PredictJob(project, ["damage"])
    list(job.run())
    assert job.report.tasks["damage"]["predicted"] == 30
    again = PredictJob(project, ["damage"])
    list(again.run())
    assert again.report.tasks["damage"]["predicted"] == 0
