"""The embed job with a stand-in encoder: caching keys, resume, unreadable images, OOM."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from crisisdesk.core.embed import EmbedJob
from crisisdesk.core.encoders.base import Encoder, EncoderError, TextBatch, l2_normalise
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project
from crisisdesk.core.store import text_key


class FakeEncoder(Encoder):
    """A deterministic encoder: image vector from pixel means, text vector from a hash.

    ``oom_above`` makes batches larger than it raise CUDA's out-of-memory error.
    """

    name, dim, device = "fake", 6, "cpu"
    kinds = frozenset({"image", "text"})

    def __init__(self, oom_above: int | None = None, window_chars: int = 40) -> None:
        self.oom_above, self.window_chars = oom_above, window_chars
        self.image_batches: list[int] = []
        self.text_batches: list[int] = []

    def _oom(self, n: int) -> None:
        if self.oom_above is not None and n > self.oom_above:
            raise torch.cuda.OutOfMemoryError(f"fake: {n} > {self.oom_above}")

    def load_image(self, path: Path) -> np.ndarray:
        with Image.open(path) as img:
            img.load()
            return np.asarray(img.convert("RGB"), dtype=np.float32).mean(axis=(0, 1))

    def encode_images(self, images: Sequence[object], *, patches: bool = False):
        self._oom(len(images))
        self.image_batches.append(len(images))
        rows = np.stack([np.concatenate([px, px[::-1]]) for px in images]) + 1.0
        vectors = l2_normalise(rows.astype(np.float32))
        return vectors, (np.stack([vectors, vectors], axis=1) if patches else None)

    def encode_texts(self, texts: Sequence[str]) -> TextBatch:
        self._oom(len(texts))
        self.text_batches.append(len(texts))
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[:24], dtype=np.uint32)
                .astype(np.float32)[: self.dim] + 1.0 for t in texts]
        return TextBatch(l2_normalise(np.stack(rows)),
                         sum(len(t) > self.window_chars for t in texts))


def _project(tmp_path: Path, posts: int = 10) -> Project:
    """Posts with one image each (two posts share one photo), plus a text-only post."""
    src = tmp_path / "src"
    src.mkdir(parents=True)
    rows = []
    for i in range(posts):
        Image.new("RGB", (16, 12), (i * 20, 255 - i * 20, 7)).save(src / f"{i}.png")
        rows.append([str(i), f"flood report number {i}" + " more words" * (i % 3), f"{i}.png"])
    rows.append(["repost", "the same photo again", "0.png"])
    rows.append(["words", "no picture with this one", ""])
    with (src / "posts.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "text", "image"], *rows])
    project = Project.open(tmp_path / "project", create=True)
    job = ImportJob(project, [src], ImportOptions())
    list(job.run())
    assert job.report.errors == 0
    return project


def _all_embeddings(project: Project, encoder: str = "fake") -> dict[tuple[str, str], bytes]:
    with project.open_store() as store:
        return {(r["kind"], r["key"]): r["vector"] for r in store.conn.execute(
            "SELECT kind, key, vector FROM embeddings WHERE encoder = ?", [encoder])}


def test_embeds_each_image_once_and_each_item_text(tmp_path: Path) -> None:
    project = _project(tmp_path)
    job = EmbedJob(project, FakeEncoder(), batch_size=4)
    progress = list(job.run())
    assert progress[-1].done == progress[-1].total == 10 + 12  # 10 photos, 12 item texts
    assert all(p.device == "cpu" for p in progress)
    stored = _all_embeddings(project)
    assert sum(kind == "image" for kind, _ in stored) == 10  # the repost is one image
    with project.open_store() as store:
        texts = store.item_texts()
        assert {("text", t.key) for t in texts} <= set(stored)
        sha = store.conn.execute("SELECT sha256 FROM media WHERE declared_path = '0.png'"
                                 ).fetchone()[0]
        vector = store.get_embeddings("image", "fake", [sha])[sha]
        assert vector.shape == (6,) and abs(np.linalg.norm(vector) - 1) < 1e-3
        row = store.conn.execute("SELECT dim, dtype FROM embeddings WHERE kind = 'image'"
                                 " LIMIT 1").fetchone()
        assert (row["dim"], row["dtype"]) == (6, "float16:6")


def test_a_second_run_encodes_nothing(tmp_path: Path) -> None:
    project = _project(tmp_path)
    list(EmbedJob(project, FakeEncoder()).run())
    again = FakeEncoder()
    progress = list(EmbedJob(project, again).run())
    assert progress[-1].total == 0
    assert again.image_batches == again.text_batches == []


def test_cancel_then_resume_equals_one_run(tmp_path: Path) -> None:
    one = _project(tmp_path / "one")
    list(EmbedJob(one, FakeEncoder(), batch_size=3).run())

    two = _project(tmp_path / "two")
    run = EmbedJob(two, FakeEncoder(), batch_size=3).run()
    next(run)  # the plan
    first = next(run)  # one committed batch of images
    run.close()
    assert 0 < first.done < first.total
    assert len(_all_embeddings(two)) == first.done
    with two.open_store() as store:
        (state,) = store.conn.execute("SELECT state FROM jobs WHERE kind = 'embed'").fetchone()
    assert state == "cancelled"
    resumed = FakeEncoder()
    list(EmbedJob(two, resumed, batch_size=3).run())
    assert sum(resumed.image_batches) == 10 - first.done
    assert _all_embeddings(two) == _all_embeddings(one)


def test_unreadable_image_is_marked_and_skipped(tmp_path: Path) -> None:
    project = _project(tmp_path)
    with project.open_store() as store:
        path = store.conn.execute("SELECT path FROM media WHERE declared_path = '3.png'"
                                  ).fetchone()[0]
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n not a png any more")  # broken after import
    job = EmbedJob(project, FakeEncoder(), kinds=["image"])
    list(job.run())
    assert [u["path"] for u in job.report.unreadable] == [path]
    with project.open_store() as store:
        status, reason = store.conn.execute(
            "SELECT status, reason FROM media WHERE declared_path = '3.png'").fetchone()
        assert status == "unreadable" and reason
        assert store.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 9
        (problems,) = store.conn.execute("SELECT problems FROM jobs WHERE kind = 'embed'"
                                         ).fetchone()
        assert problems == 1


@pytest.mark.parametrize("decode", ["threads", "processes"])
def test_a_vanished_file_is_reported_and_embedded_once_it_is_back(tmp_path: Path,
                                                                  decode: str) -> None:
    project = _project(tmp_path)
    with project.open_store() as store:
        path = Path(store.conn.execute("SELECT path FROM media WHERE declared_path = '3.png'"
                                       ).fetchone()[0])
    hidden = path.rename(path.with_suffix(".away"))  # a drive unplugged after the import
    job = EmbedJob(project, FakeEncoder(), kinds=["image"], decode=decode, workers=2)
    list(job.run())
    (bad,) = job.report.unreadable
    assert bad["path"] == str(path) and "file not found" in bad["reason"]
    assert str(path) in bad["reason"]
    assert len(_all_embeddings(project)) == 9
    hidden.rename(path)  # plugged in again: the same command picks it up
    again = EmbedJob(project, FakeEncoder(), kinds=["image"], decode=decode, workers=2)
    list(again.run())
    assert again.report.unreadable == [] and again.report.images_encoded == 1
    assert len(_all_embeddings(project)) == 10


@pytest.mark.parametrize("decode", ["threads", "processes"])
def test_a_file_changed_since_import_is_not_embedded_under_the_old_hash(tmp_path: Path,
                                                                        decode: str) -> None:
    project = _project(tmp_path)
    with project.open_store() as store:
        path, sha = store.conn.execute("SELECT path, sha256 FROM media"
                                       " WHERE declared_path = '3.png'").fetchone()
    other = tmp_path / "other.png"
    Image.new("RGB", (8, 8), (250, 1, 2)).save(other)
    Path(path).write_bytes(other.read_bytes())  # another picture under the same name
    job = EmbedJob(project, FakeEncoder(), kinds=["image"], decode=decode, workers=2)
    list(job.run())
    (bad,) = job.report.unreadable
    assert bad["path"] == path and "sha256 differs" in bad["reason"]
    assert ("image", sha) not in _all_embeddings(project)
    assert len(_all_embeddings(project)) == 9


def test_worker_processes_give_the_same_embeddings_in_full_batches(tmp_path: Path) -> None:
    # The GPU path: worker processes decode small chunks that are regrouped into batches.
    threads = _project(tmp_path / "threads")
    list(EmbedJob(threads, FakeEncoder(), kinds=["image"], batch_size=4).run())
    procs = _project(tmp_path / "procs")
    with procs.open_store() as store:
        path = store.conn.execute("SELECT path FROM media WHERE declared_path = '3.png'"
                                  ).fetchone()[0]
    Path(path).write_bytes(b"broken")
    encoder = FakeEncoder()
    job = EmbedJob(procs, encoder, kinds=["image"], batch_size=4, workers=2,
                   decode="processes")
    progress = list(job.run())
    assert progress[-1].done == 10
    assert [u["path"] for u in job.report.unreadable] == [path]
    # 10 images in batches of 4 (4, 4, 2), one of them broken and not encoded
    assert len(encoder.image_batches) == 3 and sum(encoder.image_batches) == 9
    expected = _all_embeddings(threads)
    del expected[next(k for k in expected if k not in _all_embeddings(procs))]
    assert _all_embeddings(procs) == expected


def test_encoding_ahead_gives_the_same_result_and_cancels_cleanly(tmp_path: Path) -> None:
    one = _project(tmp_path / "one")
    list(EmbedJob(one, FakeEncoder(), kinds=["image"], batch_size=3).run())
    two = _project(tmp_path / "two")
    run = EmbedJob(two, FakeEncoder(), kinds=["image"], batch_size=3, encode_ahead=True).run()
    next(run)  # the plan
    first = next(run)
    run.close()  # the batch encoded ahead is dropped, not stored
    assert len(_all_embeddings(two)) == first.done == 3
    ahead = EmbedJob(two, FakeEncoder(), kinds=["image"], batch_size=3, encode_ahead=True)
    progress = list(ahead.run())
    assert progress[-1].done == 10 - 3 and ahead.report.images_encoded == 7
    assert _all_embeddings(two) == _all_embeddings(one)


def test_out_of_memory_halves_the_batch_and_finishes(tmp_path: Path) -> None:
    project = _project(tmp_path)
    encoder = FakeEncoder(oom_above=3)
    job = EmbedJob(project, encoder, batch_size=8)
    list(job.run())
    assert job.report.batch_halvings >= 1
    assert max(encoder.image_batches + encoder.text_batches) <= 3
    assert sum(encoder.image_batches) == 10 and sum(encoder.text_batches) == 12
    with project.open_store() as store:
        assert store.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 22


def test_out_of_memory_for_a_single_item_fails_clearly(tmp_path: Path) -> None:
    project = _project(tmp_path, posts=2)
    with pytest.raises(EncoderError, match="out of GPU memory even for one item"):
        list(EmbedJob(project, FakeEncoder(oom_above=0), batch_size=4).run())
    with project.open_store() as store:
        state, error = store.conn.execute("SELECT state, error FROM jobs WHERE kind = 'embed'"
                                          ).fetchone()
    assert state == "failed" and "out of GPU memory" in error


def test_caption_changes_the_text_key_and_windowed_texts_are_counted(tmp_path: Path) -> None:
    project = _project(tmp_path)
    list(EmbedJob(project, FakeEncoder()).run())
    with project.open_store() as store:
        sha = store.conn.execute("SELECT sha256 FROM media WHERE declared_path = '1.png'"
                                 ).fetchone()[0]
        tweet = store.conn.execute("SELECT text FROM posts WHERE post_id = '1'").fetchone()[0]
        store.add_caption(sha, tweet, "llava-test", "v1", "A flooded street with two cars.")
        (item_text,) = [t for t in store.item_texts() if t.text.startswith(tweet + " A flood")]
    job = EmbedJob(project, FakeEncoder(window_chars=40), kinds=["text"])
    list(job.run())
    assert job.report.texts_encoded == 1  # only the new text
    assert job.report.windowed_texts == 1
    assert ("text", text_key(item_text.text)) in _all_embeddings(project)
    with project.open_store() as store:
        (result,) = store.conn.execute(
            "SELECT result FROM jobs WHERE kind = 'embed' ORDER BY id DESC").fetchone()
    assert json.loads(result)["windowed_texts"] == 1


def test_patch_tokens_are_stored_when_asked(tmp_path: Path) -> None:
    project = _project(tmp_path, posts=2)
    list(EmbedJob(project, FakeEncoder(), kinds=["image"], patches=True).run())
    with project.open_store() as store:
        rows = store.conn.execute("SELECT key, dtype FROM embeddings"
                                  " WHERE kind = 'image_patches'").fetchall()
        assert len(rows) == 2 and rows[0]["dtype"] == "float16:2x6"
        patches = store.get_embeddings("image_patches", "fake", [rows[0]["key"]])
        assert patches[rows[0]["key"]].shape == (2, 6)


def test_patch_tokens_asked_after_a_plain_run_are_stored(tmp_path: Path) -> None:
    """`embed` then `embed --patches` (the overlay wants them): the second run encodes
    the images again for their patch tokens, instead of finding nothing to do."""
    project = _project(tmp_path, posts=2)
    list(EmbedJob(project, FakeEncoder(), kinds=["image"]).run())
    again = EmbedJob(project, FakeEncoder(), kinds=["image"], patches=True)
    list(again.run())
    with project.open_store() as store:
        counts = store.embedding_counts()["fake"]
    assert counts["image_patches"] == counts["image"] == 2
    third = EmbedJob(project, FakeEncoder(), kinds=["image"], patches=True)
    list(third.run())
    assert third.report.images_encoded == 0  # both kinds there: nothing to do


def test_text_only_encoder_skips_images(tmp_path: Path) -> None:
    class TextOnly(FakeEncoder):
        kinds = frozenset({"text"})

    project = _project(tmp_path, posts=2)
    job = EmbedJob(project, TextOnly())
    list(job.run())
    assert job.report.skipped_kinds == ["image"]
    assert {kind for kind, _ in _all_embeddings(project)} == {"text"}


def _break_and_hide(project: Project) -> tuple[str, str]:
    """3.png corrupted, 5.png moved away (after the import): (broken path, gone path)."""
    with project.open_store() as store:
        broken, gone = (store.conn.execute("SELECT path FROM media WHERE declared_path = ?",
                                           [name]).fetchone()[0]
                        for name in ("3.png", "5.png"))
    Path(broken).write_bytes(b"\x89PNG\r\n\x1a\n not a png any more")
    Path(gone).rename(Path(gone).with_suffix(".away"))
    return broken, gone


def _statuses(project: Project) -> dict[str, str]:
    with project.open_store() as store:
        return dict(store.conn.execute("SELECT declared_path, status FROM media"))


def test_the_shared_decoder_pool_gives_what_threads_give(tmp_path: Path) -> None:
    results = {}
    for decode in ("threads", "processes"):
        project = _project(tmp_path / decode)
        broken, gone = _break_and_hide(project)
        job = EmbedJob(project, FakeEncoder(), kinds=["image"], batch_size=3, workers=2,
                       decode=decode)
        progress = list(job.run())
        assert progress[-1].done == 10 and job.report.images_encoded == 8
        reasons = {u["path"]: u["reason"] for u in job.report.unreadable}
        assert reasons.keys() == {broken, gone} and "file not found" in reasons[gone]
        statuses = _statuses(project)
        assert statuses["3.png"] == "unreadable" and statuses["5.png"] != "unreadable"
        results[decode] = (_all_embeddings(project), statuses,
                           [u["reason"].replace(str(tmp_path / decode), "")
                            for u in job.report.unreadable])
    assert results["processes"] == results["threads"]


def test_embed_jobs_reuse_the_same_decoder_processes(tmp_path: Path) -> None:
    from crisisdesk.core.decoder_pool import shared_pool

    pids = []
    for name in ("one", "two"):
        project = _project(tmp_path / name)
        job = EmbedJob(project, FakeEncoder(), kinds=["image"], batch_size=4, workers=2,
                       decode="processes")
        list(job.run())
        assert job.report.images_encoded == 10
        pids.append(shared_pool().pids())
    assert pids[0] == pids[1] and len(pids[0]) == 2
    assert all(pid != os.getpid() for pid in pids[0])


def test_a_cancelled_process_job_leaves_the_pool_ready(tmp_path: Path) -> None:
    from crisisdesk.core.decoder_pool import shared_pool

    project = _project(tmp_path / "one", posts=40)
    run = EmbedJob(project, FakeEncoder(), kinds=["image"], batch_size=2, workers=2,
                   decode="processes").run()
    plan = next(run)
    first = next(run)
    run.close()
    # batch 2, 2 workers: chunks of 1 image, a window of 2 * 2 + 2 = 6 chunks
    assert plan.total > 10 and first.done == 2 and shared_pool().in_flight() <= 6
    again = EmbedJob(project, FakeEncoder(), kinds=["image"], batch_size=2, workers=2,
                     decode="processes")
    progress = list(again.run())
    assert progress[-1].done == again.report.images_encoded == plan.total - 2
    assert len(_all_embeddings(project)) == plan.total


def test_a_decoder_pool_shut_down_mid_job_fails_it_clearly_and_keeps_what_it_stored(
        tmp_path: Path) -> None:
    from crisisdesk.core.decoder_pool import DecoderPoolError, shutdown_pool

    project = _project(tmp_path, posts=40)
    run = EmbedJob(project, FakeEncoder(), kinds=["image"], batch_size=2, workers=2,
                   decode="processes").run()
    plan = next(run)
    first = next(run)
    shutdown_pool()  # the app closes (atexit) while the job is storing its first batch
    with pytest.raises(DecoderPoolError, match="decoder pool was shut down"):
        list(run)
    with project.open_store() as store:
        state, error = store.conn.execute("SELECT state, error FROM jobs WHERE kind = 'embed'"
                                          ).fetchone()
    assert state == "failed" and "decoder pool was shut down" in error
    assert len(_all_embeddings(project)) >= first.done == 2  # what was stored stays
    again = EmbedJob(project, FakeEncoder(), kinds=["image"], batch_size=2, workers=2,
                     decode="processes")
    list(again.run())  # a new pool; the run does the rest
    assert len(_all_embeddings(project)) == plan.total
