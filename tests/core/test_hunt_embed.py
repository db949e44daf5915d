"""Bugs found by exercising embeddings like an analyst: the report's list of unreadable
images, image out-of-memory halving shrinking the text batches, a batch size below one, a
captioner named as the encoder, the advice for an open_clip model missing offline, CLIP's
end marker typed in a tweet, a file that is not numpy called "pickled"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_embed_job import FakeEncoder, _project
from tiny_clip import make_tiny_clip

from crisisdesk.cli import main
from crisisdesk.core import jobs as listing
from crisisdesk.core.embed import EmbedJob
from crisisdesk.core.embeddings_import import EmbeddingsImportError, import_embeddings
from crisisdesk.core.encoders.base import EncoderError
from crisisdesk.core.encoders.clip import ClipEncoder
from crisisdesk.core.encoders.clip_loading import load_failure
from crisisdesk.core.encoders.factory import load_encoder

# -- the report's list of unreadable images -------------------------------------------------


def test_the_report_lists_at_most_max_listed_unreadable_images_and_counts_them_all(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(listing, "MAX_LISTED", 3)  # the reports' limit (core.jobs)
    project = _project(tmp_path, posts=6)
    with project.open_store() as store:
        paths = [r[0] for r in store.conn.execute("SELECT DISTINCT path FROM media"
                                                  " WHERE path IS NOT NULL")]
    for path in paths[:5]:
        Path(path).write_bytes(b"\x89PNG\r\n\x1a\n not a png any more")  # broken since
    job = EmbedJob(project, FakeEncoder(), kinds=["image"], batch_size=2)
    list(job.run())
    report = job.report.as_dict()
    assert len(report["unreadable"]) == 3
    assert report["unreadable_count"] == 5
    summary = job.report.summary()
    assert "unreadable images: 5" in summary
    with project.open_store() as store:
        (problems,) = store.conn.execute(
            "SELECT problems FROM jobs WHERE kind = 'embed'").fetchone()
    assert problems == 5


# -- out of GPU memory on images leaves the texts' batches alone ----------------------------


class ImageOnlyOom(FakeEncoder):
    """Runs out of memory on image batches above ``oom_above``; texts always fit."""

    def encode_texts(self, texts):
        limit, self.oom_above = self.oom_above, None
        try:
            return super().encode_texts(texts)
        finally:
            self.oom_above = limit


def test_halving_for_images_does_not_shrink_the_text_batches(tmp_path: Path) -> None:
    project = _project(tmp_path)  # 10 photos, 12 item texts
    encoder = ImageOnlyOom(oom_above=1)
    job = EmbedJob(project, encoder, batch_size=8)
    list(job.run())
    assert max(encoder.image_batches) == 1 and job.report.batch_halvings == 3  # 8, 4, 2, 1
    # Texts fit in 8: one image at a time says nothing about them.
    assert encoder.text_batches == [8, 4]
    assert sum(encoder.image_batches) == 10


# -- a batch size below one ---------------------------------------------------------------


@pytest.mark.parametrize("size", [0, -1])
def test_a_batch_size_below_one_is_refused_by_the_job(tmp_path: Path, size: int) -> None:
    project = _project(tmp_path, posts=2)
    with pytest.raises(ValueError, match="batch size must be at least 1"):
        EmbedJob(project, FakeEncoder(), batch_size=size)


@pytest.mark.parametrize("size", ["0", "-1"])
def test_a_batch_size_below_one_is_a_usage_error_on_the_command_line(
        tmp_path: Path, size: str, capsys) -> None:
    project = _project(tmp_path, posts=2)
    with pytest.raises(SystemExit) as caught:
        main(["embed", str(project.root), "--encoder", "minilm", "--batch-size", size])
    assert caught.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
    with project.open_store() as store:
        assert store.embedding_counts() == {}


# -- a captioner named as the encoder -------------------------------------------------------


def test_a_captioner_is_not_taken_for_an_encoder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    with pytest.raises(EncoderError) as caught:
        load_encoder("llava-interleave-0.5b", "cpu")
    message = str(caught.value)
    assert "captioner" in message and "not an encoder" in message
    assert "minilm" in message and "models download" not in message


# -- an open_clip model whose weights are not in the cache -----------------------------------


def test_an_ad_hoc_open_clip_model_missing_offline_gets_advice_that_works() -> None:
    exc = RuntimeError("Failed to download weights for tag 'openai'")
    message = load_failure("open_clip:ViT-B-32/openai", "pretrained", "openai", exc)
    # `models download` knows registry names only: it refuses open_clip:ARCH/TAG.
    assert "models download open_clip:" not in message
    assert "Hugging Face cache" in message and "models add" in message


# -- CLIP's own markers typed in a tweet ---------------------------------------------------


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> ClipEncoder:
    tiny = make_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))
    return ClipEncoder.load("tiny", arch=tiny["arch"], route="file", source=tiny["file"])


@pytest.mark.parametrize("marker", ["<end_of_text>", "<START_OF_TEXT>"])
def test_a_tweet_holding_clips_end_marker_is_not_cut_there(tiny_clip: ClipEncoder,
                                                            marker: str) -> None:
    # CLIP pools at the (first) end-of-text token: one inside the text ended it there.
    text = f"flood {marker} bridge collapsed near the school"
    ids = tiny_clip.token_ids(text)
    assert tiny_clip.tokenizer.eot_token_id not in ids
    assert tiny_clip.tokenizer.sot_token_id not in ids
    vectors = tiny_clip.encode_texts(
        [text, "flood", "flood bridge collapsed near the school"]).vectors
    assert float(vectors[0] @ vectors[1]) < 0.9999
    np.testing.assert_allclose(vectors[0], vectors[2], atol=1e-6)


# -- a file that is not numpy at all ----------------------------------------------------------


def test_a_file_that_is_not_numpy_is_not_called_pickled(project, tmp_path: Path) -> None:
    text = tmp_path / "vectors.npz"
    text.write_text("id,v0,v1\nposts:1:0,0.6,0.8\n", encoding="utf-8")  # a CSV renamed
    with pytest.raises(EmbeddingsImportError) as caught:
        import_embeddings(project, text, encoder="e", kind="text")
    message = str(caught.value)
    assert str(text) in message and "not a numpy .npz file" in message
    assert "pickled" not in message


def test_a_real_pickle_is_still_called_pickled(project, tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "vectors.npz"
    path.write_bytes(pickle.dumps({"ids": ["posts:1:0"], "vectors": np.ones((1, 2))}))
    with pytest.raises(EmbeddingsImportError, match="pickled"):
        import_embeddings(project, path, encoder="e", kind="text")
