"""The caption job with stand-in captioners: the cache key, resume after a close, prompt
versions, items without image, unreadable images, flagged captions, failures, OOM."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from import_helpers import make_image, run_import, write_csv
from old_schema import as_schema

from crisisdesk.core.captions.base import CaptionError, CaptionRequest, CaptionResult
from crisisdesk.core.captions.degenerate import caption_flag
from crisisdesk.core.captions.job import CaptionJob
from crisisdesk.core.captions.prompt import CaptionPrompt, load_prompt
from crisisdesk.core.project import Project
from crisisdesk.core.store import schema, text_key

PHOTOS = 8


class FakeCaptioner:
    """A deterministic captioner: the caption names the image's hash and the tweet.

    ``fail`` (a word) gives the items whose tweet has it an error; ``loop`` (a word)
    makes their caption a degenerate loop; ``oom_above`` makes larger batches raise
    CUDA's out-of-memory error.
    """

    device = "cpu"

    def __init__(self, name: str = "fake", *, fail: str | None = None,
                 loop: str | None = None, oom_above: int | None = None) -> None:
        self.name, self.fail, self.loop, self.oom_above = name, fail, loop, oom_above
        self.batches: list[list[str]] = []  # the tweets of each batch captioned

    def caption(self, requests: Sequence[CaptionRequest], prompt: CaptionPrompt
                ) -> list[CaptionResult]:
        if self.oom_above is not None and len(requests) > self.oom_above:
            raise torch.cuda.OutOfMemoryError(f"fake: {len(requests)} > {self.oom_above}")
        self.batches.append([r.tweet_text for r in requests])
        out = []
        for r in requests:
            if self.fail and self.fail in r.tweet_text:
                out.append(CaptionResult(r.key, None, "fake: model said no"))
            elif self.loop and self.loop in r.tweet_text:
                out.append(CaptionResult(r.key, "the the the the the the"))
            else:
                image = hashlib.sha256(r.image_path.read_bytes()).hexdigest()[:8]
                out.append(CaptionResult(
                    r.key, f"{prompt.version} photo {image} seen with: {r.tweet_text}"))
        return out

    @property
    def seen(self) -> list[str]:
        return [tweet for batch in self.batches for tweet in batch]


EXTRA = "near the old bridge after heavy rain last night in town".split()


def tweet(i: int) -> str:
    """Post i's text: lengths differ, and no phrase repeats (that would be a loop)."""
    return " ".join([f"flood report {i}", *EXTRA[:3 * (i % 4)]])


def _project(tmp_path: Path, name: str = "project") -> Project:
    """Eight photo posts; a repost of photo 0 with the same text (one caption for two
    items) and one with another text (a caption of its own); a text-only post; a post
    whose photo file is missing."""
    src = tmp_path / "src"
    rows = [[str(i), tweet(i), f"{i}.jpg"] for i in range(PHOTOS)]
    for i in range(PHOTOS):
        make_image(src / f"{i}.jpg", seed=i)
    rows += [["repost", tweet(0), "0.jpg"], ["retext", "same photo, other words", "0.jpg"],
             ["words", "no picture with this one", ""], ["gone", "lost photo", "nothere.jpg"]]
    write_csv(src / "posts.csv", ["id", "text", "image"], rows)
    project = Project.open(tmp_path / name, create=True)
    run_import(project, [src / "posts.csv"])
    return project


def _captions(project: Project, captioner: str = "fake", version: str = "v1"
              ) -> dict[tuple[str, str], str]:
    with project.open_store() as store:
        return {(r["image_sha256"], r["text_sha256"]): r["caption"]
                for r in store.caption_rows(captioner, version)}


def _item(project: Project, post_id: str) -> int:
    with project.open_store() as store:
        return store.conn.execute("SELECT i.id FROM items i JOIN posts p ON p.id = i.post"
                                  " WHERE p.post_id = ?", [post_id]).fetchone()[0]


def test_each_image_and_tweet_pair_is_captioned_once(tmp_path: Path) -> None:
    project = _project(tmp_path)
    fake = FakeCaptioner()
    job = CaptionJob(project, fake, batch_size=3)
    progress = list(job.run())
    report = job.report
    assert progress[-1].done == progress[-1].total == PHOTOS + 1  # + photo 0 with new text
    assert all(p.device == "cpu" for p in progress)
    assert progress[-1].message.startswith(f"{PHOTOS + 1} captions written")
    assert sorted(fake.seen) == sorted([tweet(i) for i in range(PHOTOS)]
                                       + ["same photo, other words"])
    assert report.captioned == PHOTOS + 1 and report.items_captioned == PHOTOS + 2
    assert report.skipped_no_image == 2  # the text-only post and the missing file
    assert report.failed_count == report.flagged_count == 0 and not report.unreadable
    with project.open_store() as store:
        texts = {t.item: t.text for t in store.item_texts()}
        repost = store.item_caption(_item(project, "repost"))
        (state, result), = store.conn.execute(
            "SELECT state, result FROM jobs WHERE kind = 'caption'").fetchall()
    assert repost is not None and repost.caption.endswith(f"seen with: {tweet(0)}")
    assert (repost.captioner, repost.prompt_version, repost.flag) == ("fake", "v1", None)
    assert texts[_item(project, "repost")] == f"{tweet(0)} {repost.caption}"
    assert texts[_item(project, "words")] == "no picture with this one"
    assert state == "done" and json.loads(result)["captioned"] == PHOTOS + 1


def test_batches_hold_tweets_of_similar_length(tmp_path: Path) -> None:
    project = _project(tmp_path)
    fake = FakeCaptioner()
    list(CaptionJob(project, fake, batch_size=2).run())
    lengths = [len(t) for t in fake.seen]
    assert lengths == sorted(lengths)


def test_closing_midway_keeps_what_is_done_and_a_rerun_does_the_rest(tmp_path: Path) -> None:
    project = _project(tmp_path)
    first = FakeCaptioner()
    run = CaptionJob(project, first, batch_size=2).run()
    assert next(run).done == 0
    assert next(run).done == 2
    assert next(run).done == 4
    run.close()  # the analyst cancels
    assert len(_captions(project)) == 4
    second = FakeCaptioner()
    list(CaptionJob(project, second, batch_size=2).run())
    assert len(second.seen) == PHOTOS + 1 - 4
    assert sorted(first.seen + second.seen) == sorted(
        [tweet(i) for i in range(PHOTOS)] + ["same photo, other words"])  # each once
    one_run = _project(tmp_path / "other")
    list(CaptionJob(one_run, FakeCaptioner(), batch_size=4).run())
    assert _captions(project) == _captions(one_run)
    with project.open_store() as store:
        states = [r[0] for r in store.conn.execute(
            "SELECT state FROM jobs WHERE kind = 'caption' ORDER BY id")]
    assert states == ["cancelled", "done"]
    third = FakeCaptioner()
    list(CaptionJob(project, third).run())
    assert third.seen == []  # nothing left


def test_limit_captions_at_most_that_many(tmp_path: Path) -> None:
    project = _project(tmp_path)
    job = CaptionJob(project, FakeCaptioner(), batch_size=2, limit=3)
    assert list(job.run())[-1].done == 3
    assert job.report.captioned == 3 and len(_captions(project)) == 3


def test_a_new_prompt_version_leaves_old_captions_and_captions_again(
        tmp_path: Path, monkeypatch) -> None:
    project = _project(tmp_path)
    list(CaptionJob(project, FakeCaptioner()).run())
    v1 = _captions(project)
    current = load_prompt()
    v2 = CaptionPrompt("v2", current.system, current.user + "\nBe brief.")
    monkeypatch.setattr("crisisdesk.core.captions.job.load_prompt",
                        lambda version=None: v2 if version == "v2" else current)
    again = FakeCaptioner()
    list(CaptionJob(project, again, prompt_version="v2").run())
    assert len(again.seen) == PHOTOS + 1  # everything, once more
    assert _captions(project) == v1  # the v1 captions are still there
    assert len(_captions(project, version="v2")) == PHOTOS + 1
    item = _item(project, "1")
    with project.open_store() as store:
        newest = {t.item: t.text for t in store.item_texts([item])}[item]
        pinned = {t.item: t.text for t in store.item_texts([item], prompt_version="v1")}[item]
        assert [c.prompt_version for c in store.item_captions(item)] == ["v2", "v1"]
    assert newest.startswith(f"{tweet(1)} v2 photo")  # the newest is the one used
    assert pinned.startswith(f"{tweet(1)} v1 photo")


def test_another_captioner_has_its_own_captions(tmp_path: Path) -> None:
    project = _project(tmp_path)
    list(CaptionJob(project, FakeCaptioner()).run())
    other = FakeCaptioner("server:other")
    list(CaptionJob(project, other).run())
    assert len(other.seen) == PHOTOS + 1
    assert len(_captions(project, "server:other")) == PHOTOS + 1


def test_an_unreadable_image_is_reported_marked_and_skipped(tmp_path: Path) -> None:
    project = _project(tmp_path)
    broken = tmp_path / "src" / "3.jpg"
    broken.write_bytes(b"this is no longer a jpeg")
    fake = FakeCaptioner()
    job = CaptionJob(project, fake)
    list(job.run())
    (bad,) = job.report.unreadable
    assert bad["path"] == str(broken) and bad["reason"]
    assert tweet(3) not in fake.seen and job.report.captioned == PHOTOS
    with project.open_store() as store:
        status, = store.conn.execute("SELECT status FROM media WHERE path = ?",
                                     [str(broken)]).fetchone()
    assert status == "unreadable"
    again = CaptionJob(project, FakeCaptioner())
    list(again.run())
    assert again.report.skipped_unreadable == 1 and not again.report.unreadable


def test_a_vanished_file_is_reported_and_captioned_once_it_is_back(tmp_path: Path) -> None:
    project = _project(tmp_path)
    path = tmp_path / "src" / "3.jpg"
    hidden = path.rename(tmp_path / "3.away")  # a drive unplugged after the import
    job = CaptionJob(project, FakeCaptioner())
    list(job.run())
    (bad,) = job.report.unreadable
    assert bad["path"] == str(path) and "not found" in bad["reason"]
    assert job.report.captioned == PHOTOS
    hidden.rename(path)  # plugged in again: the same command picks it up
    again = FakeCaptioner()
    job = CaptionJob(project, again)
    list(job.run())
    assert again.seen == [tweet(3)] and job.report.unreadable == []
    assert job.report.skipped_unreadable == 0


def test_degenerate_captions_are_stored_flagged_and_not_used(tmp_path: Path) -> None:
    project = _project(tmp_path)
    job = CaptionJob(project, FakeCaptioner(loop="report 2"))
    list(job.run())
    assert job.report.flagged_count == 1
    assert job.report.flagged[0]["reason"].startswith("degenerate: repeated token 'the'")
    item = _item(project, "2")
    with project.open_store() as store:
        (stored,) = store.item_captions(item)
        text = {t.item: t.text for t in store.item_texts([item])}[item]
        assert store.item_caption(item) is None
    assert stored.caption == "the the the the the the" and stored.flag.startswith("degenerate")
    assert text == tweet(2)  # a flagged caption never joins the text
    again = FakeCaptioner()
    list(CaptionJob(project, again).run())
    assert again.seen == []  # stored: not asked for again with this prompt


def test_failed_items_are_not_marked_done_and_are_retried(tmp_path: Path) -> None:
    project = _project(tmp_path)
    job = CaptionJob(project, FakeCaptioner(fail="report 5"))
    list(job.run())
    assert job.report.failed_count == 1
    assert job.report.failed[0]["reason"] == "fake: model said no"
    assert job.report.failed[0]["path"].endswith("5.jpg")
    assert len(_captions(project)) == PHOTOS
    retry = FakeCaptioner()
    list(CaptionJob(project, retry).run())
    assert retry.seen == [tweet(5)]


def test_out_of_memory_halves_the_batch(tmp_path: Path) -> None:
    project = _project(tmp_path)
    fake = FakeCaptioner(oom_above=2)
    job = CaptionJob(project, fake, batch_size=8)
    list(job.run())
    assert job.report.batch_halvings == 2  # 8 -> 4 -> 2, later batches start at 2
    assert max(len(b) for b in fake.batches) == 2
    assert len(_captions(project)) == PHOTOS + 1


def test_out_of_memory_for_one_image_fails_the_job(tmp_path: Path) -> None:
    project = _project(tmp_path)
    with pytest.raises(CaptionError, match="out of GPU memory even for one image"):
        list(CaptionJob(project, FakeCaptioner(oom_above=0), batch_size=2).run())
    with project.open_store() as store:
        state, = store.conn.execute("SELECT state FROM jobs WHERE kind = 'caption'").fetchone()
    assert state == "failed"


@pytest.mark.parametrize(("caption", "flag"), [
    ("", "empty"),
    ("  \n", "empty"),
    ("the the the the", "degenerate: repeated token 'the' x4"),
    ("Water, water, water, water everywhere", "degenerate: repeated phrase 'water,' x3"),
    ("A flooded street. A flooded street. A flooded street.",
     "degenerate: repeated phrase 'a flooded street.' x3"),
    ("!!!!!!!!", "degenerate: repeated token '!' x8"),
    ("A bridge over a river, partly collapsed; two people stand on the bank.", None),
    ("Very very very large waves hit the pier.", None),
])
def test_caption_flags(caption: str, flag: str | None) -> None:
    assert caption_flag(caption) == flag


def test_captions_of_an_older_schema_survive_the_migration(tmp_path: Path,
                                                           monkeypatch) -> None:
    with monkeypatch.context() as patch:  # a project written before flags existed
        as_schema(patch, 2)
        project = _project(tmp_path)
        with project.open_store() as store:
            sha, text = store.conn.execute(
                "SELECT m.sha256, p.text FROM media m JOIN posts p ON p.id = m.post"
                " WHERE p.post_id = '1'").fetchone()
            store.conn.execute(
                "INSERT INTO captions (image_sha256, text_sha256, captioner, prompt_version,"
                " caption, created_at) VALUES (?, ?, 'old', 'v1', 'An old caption.', 'x')",
                [sha, text_key(text)])
    with project.open_store() as store:
        caption = store.item_caption(_item(project, "1"))
        assert store.meta("schema_version") == str(schema.SCHEMA_VERSION)
    assert caption is not None and (caption.caption, caption.flag) == ("An old caption.", None)
