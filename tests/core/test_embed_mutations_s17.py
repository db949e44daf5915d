"""Embed behaviours a mutation audit (session 17) found untested: an embed by encoder name
asked for patch tokens after a plain one, a photo whose one copy changed still embedded
from its untouched copy, the batch size kept when images are decoded in worker
processes, the out-of-memory halvings of an image-only run reported, a second GPU
(``cuda:1``) given a GPU's batch size, an unreadable image counted in the run's last
words, an encoder failure other than out-of-memory said as itself, long texts windowed
with an overlap, OpenAI's pretrained CLIP weights run with QuickGELU, and CLIP's patch
tokens through ln_post once (with a LayerNorm that is not the identity), and the
centre crop of a portrait photo whose margin is odd placed as torchvision places it,
and the private decoder pool of a second job at once stopped when that job ends."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from test_embed_job import FakeEncoder, _all_embeddings, _project
from tiny_clip import make_tiny_clip

from crisisdesk.core import decoder_pool
from crisisdesk.core.embed import EmbedJob, default_batch_size
from crisisdesk.core.encoders import factory
from crisisdesk.core.encoders.base import token_windows
from crisisdesk.core.encoders.clip import ClipEncoder
from crisisdesk.core.encoders.clip_images import PillowSteps, split_preprocess
from crisisdesk.core.encoders.clip_loading import model_source
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project


def test_an_embed_by_name_asked_for_patches_after_a_plain_one_encodes_the_images(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`embed` then `embed --patches` by encoder name (the CLI's and the app's way): the
    look-up made before the model loads must count the missing patch tokens, or the run
    says "nothing to encode" and the overlay never gets them."""
    project = _project(tmp_path, posts=2)
    list(EmbedJob(project, FakeEncoder(), kinds=["image"]).run())
    monkeypatch.setattr(factory, "load_encoder", lambda name, device="auto": FakeEncoder())
    job = EmbedJob(project, "fake", kinds=["image"], patches=True, device="cpu")
    list(job.run())
    assert job.report.nothing_to_encode is None, job.report.summary()
    assert job.report.images_encoded == 2
    with project.open_store() as store:
        counts = store.embedding_counts()["fake"]
    assert counts["image_patches"] == counts["image"] == 2


def _two_copies(tmp_path: Path) -> tuple[Project, Path, Path]:
    """A project whose two posts hold the same photo as two files (a.png, b.png)."""
    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (16, 12), (30, 140, 200)).save(src / "a.png")
    (src / "b.png").write_bytes((src / "a.png").read_bytes())
    with (src / "posts.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "text", "image"], ["1", "bridge down", "a.png"],
                                      ["2", "bridge down again", "b.png"]])
    project = Project.open(tmp_path / "project", create=True)
    job = ImportJob(project, [src], ImportOptions())
    list(job.run())
    assert job.report.errors == 0
    with project.open_store() as store:
        paths = sorted(r[0] for r in store.conn.execute("SELECT path FROM media"))
    assert len(paths) == 2
    return project, Path(paths[0]), Path(paths[1])


def test_a_photo_whose_one_copy_changed_is_embedded_from_its_untouched_copy(
        tmp_path: Path) -> None:
    """One copy of a photo overwritten after the import (a face blurred in place) marks
    that copy alone: the next run embeds the photo from the other copy. Marked whole, the
    photo never got an embedding and both items stayed out of every prediction."""
    project, first, second = _two_copies(tmp_path)
    with project.open_store() as store:
        (picked,) = store.images_without_embedding("fake")
        sha = picked.sha256
    changed = first if Path(picked.path) == first else second
    Image.new("RGB", (16, 12), (250, 1, 2)).save(changed)  # another picture, same name
    once = EmbedJob(project, FakeEncoder(), kinds=["image"])
    list(once.run())
    assert [bad["path"] for bad in once.report.unreadable] == [str(changed)]
    again = EmbedJob(project, FakeEncoder(), kinds=["image"])
    list(again.run())
    assert again.report.images_encoded == 1 and again.report.unreadable == []
    assert ("image", sha) in _all_embeddings(project)
    with project.open_store() as store:
        status = dict(store.conn.execute("SELECT path, status FROM media"))
    assert status == {str(changed): "unreadable",
                      str(second if changed == first else first): "ok"}


def test_worker_processes_keep_the_batch_size_asked_for(tmp_path: Path) -> None:
    """Decoded in worker processes in chunks that do not divide the batch (5 images a
    batch, chunks of 3), the model still gets at most the batch size asked for: it is
    the analyst's bound on GPU memory."""
    project = _project(tmp_path)  # 10 photos
    encoder = FakeEncoder()
    job = EmbedJob(project, encoder, kinds=["image"], batch_size=5, workers=2,
                   decode="processes")
    list(job.run())
    assert encoder.image_batches == [5, 5]
    assert job.report.images_encoded == 10


def test_an_image_only_run_reports_the_times_its_batch_was_halved(tmp_path: Path) -> None:
    """`embed --kinds image` that ran out of GPU memory says so in its summary (the
    analyst's cue to lower --batch-size), as a run of images and texts does."""
    project = _project(tmp_path)
    job = EmbedJob(project, FakeEncoder(oom_above=2), kinds=["image"], batch_size=8)
    list(job.run())
    assert job.report.images_encoded == 10
    assert job.report.batch_halvings == 2  # 8, 4, 2
    assert "out of GPU memory 2 times: batch halved" in job.report.summary()


def test_a_numbered_gpu_gets_a_gpus_batch_size() -> None:
    """`--device cuda:1` (a second GPU) is a GPU: it gets the large batches, not the
    CPU's 16 images at a time."""
    for kind in ("image", "text"):
        assert default_batch_size("cuda:1", kind) == default_batch_size("cuda", kind)
        assert default_batch_size("cuda:1", kind) > default_batch_size("cpu", kind)


def test_the_last_words_of_a_run_with_an_unreadable_image_count_it(tmp_path: Path) -> None:
    """The app's jobs panel shows a job's last message: an embed that could not read an
    image says so there ("9 images encoded, 1 unreadable"), not only in its notes."""
    project = _project(tmp_path)
    with project.open_store() as store:
        path = store.conn.execute("SELECT path FROM media WHERE declared_path = '3.png'"
                                  ).fetchone()[0]
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n not a png any more")  # broken since
    last = list(EmbedJob(project, FakeEncoder(), kinds=["image"]).run())[-1]
    assert last.message == "9 images encoded, 1 unreadable"
    assert last.notes and "1 image could not be read" in last.notes[0]


class BrokenTexts(FakeEncoder):
    """An encoder whose text tower fails with an error that is not out-of-memory."""

    def encode_texts(self, texts):
        self.text_batches.append(len(texts))
        raise RuntimeError("the text tower failed: index out of range in self")


def test_an_encoder_error_that_is_not_out_of_memory_is_said_as_itself(tmp_path: Path) -> None:
    """Only CUDA's out-of-memory error halves the batch: any other failure stops the job
    at once with its own words. Taken for memory, it was retried at half size down to one
    text, then said "out of GPU memory even for one item" on a CPU."""
    project = _project(tmp_path, posts=2)
    encoder = BrokenTexts()
    with pytest.raises(RuntimeError, match="the text tower failed"):
        list(EmbedJob(project, encoder, kinds=["text"], batch_size=4).run())
    assert encoder.text_batches == [4]
    with project.open_store() as store:
        error = store.conn.execute("SELECT error FROM jobs WHERE kind = 'embed'"
                                   ).fetchone()[0]
    assert "the text tower failed" in error and "memory" not in error


def test_long_texts_are_cut_into_windows_that_overlap() -> None:
    """A word cut at a window's edge is read whole in the next window: consecutive
    windows share ``overlap`` tokens, and the last ends at the text's last token."""
    windows = token_windows(list(range(20)), size=8, overlap=3)
    assert windows[0] == list(range(8)) and windows[-1][-1] == 19
    for before, after in zip(windows, windows[1:]):
        assert len(before) == len(after) == 8
        assert set(before) & set(after), (before, after)
    assert [w[0] for w in windows[:3]] == [0, 5, 10]  # steps of size - overlap


def test_openais_pretrained_clip_weights_run_with_quick_gelu() -> None:
    """`open_clip:ViT-B-32/openai` names no -quickgelu, yet OpenAI trained it with
    QuickGELU: built with GELU it gives other vectors without a word. open_clip's tag
    table says which tags need it (read offline, no weights loaded)."""
    assert model_source("ViT-B-32", "pretrained", "openai") == ("ViT-B-32", "openai", True)
    assert model_source("ViT-B-32", "pretrained", "laion2b_s34b_b79k")[2] is False


def test_patch_tokens_go_through_ln_post_once(tmp_path: Path) -> None:
    """The overlay's patch tokens are in the pooled vector's space: ln_post then proj,
    like the class token. The tiny CLIP's LayerNorms start as the identity, where a
    second ln_post changes nothing: given a LayerNorm of its own here, it does."""
    tiny = make_tiny_clip(tmp_path / "tiny")
    encoder = ClipEncoder.load("tiny/file", arch=tiny["arch"], route="file",
                               source=tiny["file"])
    visual = encoder.model.visual
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        visual.ln_post.weight.copy_(torch.rand(visual.ln_post.weight.shape,
                                               generator=generator) * 2 + 0.5)
        visual.ln_post.bias.copy_(torch.randn(visual.ln_post.bias.shape,
                                              generator=generator))
    rng = np.random.default_rng(0)
    images = [torch.from_numpy(rng.integers(0, 256, (3, 32, 32), dtype=np.uint8))
              for _ in range(2)]
    pooled, tokens = encoder.encode_images(images, patches=True)
    with torch.inference_mode():
        x = visual.transformer(visual._embeds(encoder.model_input(images)))
        x = visual.ln_post(x) @ visual.proj
    np.testing.assert_allclose(pooled, F.normalize(x[:, 0], dim=-1).numpy(), atol=1e-5)
    np.testing.assert_allclose(tokens, F.normalize(x[:, 1:], dim=-1).numpy(), atol=1e-5)


@pytest.mark.parametrize("size", [(224, 227), (227, 224)])
def test_the_centre_crop_of_an_odd_margin_is_torchvisions(size: tuple[int, int]) -> None:
    """A photo 3 pixels longer than wide after the resize: torchvision rounds the crop's
    top (1.5 -> 2) where a floor gives 1: the Pillow steps must crop the same pixels, or
    every such photo's vector differs from open_clip's own preprocessing."""
    import open_clip
    from torchvision import transforms

    preprocess = open_clip.image_transform(224, is_train=False)
    steps, _, _ = split_preprocess(preprocess)
    assert isinstance(steps, PillowSteps)
    rng = np.random.default_rng(size[0] + size[1])
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    ours = np.asarray(steps(image))
    theirs = np.asarray(transforms.Compose(preprocess.transforms[:-2])(image))
    assert ours.shape == theirs.shape == (224, 224, 3)
    assert np.array_equal(ours, theirs)


def test_a_second_jobs_private_decoder_pool_stops_when_the_job_ends() -> None:
    """Two GPU embeds at once (two projects open in the app): the second gets a pool of
    its own, whose worker processes must end with it, not sit idle holding memory until
    the app quits."""
    decoder_pool.shutdown_pool()
    try:
        with decoder_pool.lend(1) as shared:
            with decoder_pool.lend(1) as private:
                assert private is not shared
                workers = [w.process for w in private._workers]
                assert workers and all(process.is_alive() for process in workers)
            for process in workers:
                process.join(timeout=10)
            assert not any(process.is_alive() for process in workers)
            assert all(w.process.is_alive() for w in shared._workers)  # its own stay
    finally:
        decoder_pool.shutdown_pool()
