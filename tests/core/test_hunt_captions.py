"""Bugs found by exercising captions like an analyst: a bad --timeout, credentials in the
server URL, a damaged weights file, the report's list of unreadable images, a tweet that
holds the model's image token, captions without a single word."""

# ruff: noqa: F811 - pytest fixtures imported from caption_fixtures are parameters here
from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from caption_fixtures import (  # noqa: F401 - fixtures used by name
    tiny_llava_dir,
    tiny_llava_fp32,
    write_images,
)
from import_helpers import build_csv_source, make_image, run_import, write_csv
from test_caption_job import FakeCaptioner
from test_caption_server import ChatServer

from crisisdesk.cli import main
from crisisdesk.core import jobs as jobs_module
from crisisdesk.core.captions.base import CaptionError, CaptionRequest
from crisisdesk.core.captions.degenerate import caption_flag
from crisisdesk.core.captions.job import CaptionJob
from crisisdesk.core.captions.local import LocalCaptioner
from crisisdesk.core.captions.prompt import load_prompt
from crisisdesk.core.captions.server import ServerCaptioner
from crisisdesk.core.project import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """build_csv_source: five photos in four posts, and a text-only post."""
    assert main(["import", str(tmp_path / "p"), str(build_csv_source(tmp_path / "src"))]) == 0
    return Project.open(tmp_path / "p")


# -- --timeout ------------------------------------------------------------------------

@pytest.mark.parametrize("timeout", ["-1", "0", "nan", "inf"])
def test_a_timeout_that_is_not_a_positive_number_is_bad_usage(project: Project, timeout: str,
                                                              capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["caption", str(project.root), "--server", "http://127.0.0.1:9",
              "--server-model", "m", "--timeout", timeout])
    assert exit_.value.code == 2
    assert "--timeout" in capsys.readouterr().err


@pytest.mark.parametrize("timeout", [-1.0, 0.0, float("nan"), float("inf")])
def test_the_server_captioner_refuses_a_timeout_that_is_not_a_positive_number(
        timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        ServerCaptioner("http://127.0.0.1:9", "m", timeout=timeout)


# -- credentials in the server URL --------------------------------------------------------

def test_credentials_in_the_server_url_are_sent_as_basic_auth_and_never_shown(
        project: Project, monkeypatch, capsys) -> None:
    monkeypatch.delenv("CRISISDESK_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ChatServer() as server:
        with_user = server.url.replace("http://", "http://analyst:s3cret@") + "/v1"
        code = main(["caption", str(project.root), "--server", with_user,
                     "--server-model", "m", "--timeout", "5"])
        out, err = capsys.readouterr()
    assert code == 0, out + err
    assert len(server.requests) == 5
    expected = "Basic " + base64.b64encode(b"analyst:s3cret").decode("ascii")
    assert {h.get("Authorization") for h in server.headers} == {expected}
    assert "s3cret" not in out + err
    with project.open_store() as store:
        (params,) = store.conn.execute(
            "SELECT params FROM jobs WHERE kind = 'caption'").fetchone()
        models = {r[0] for r in store.conn.execute("SELECT model FROM captions")}
    assert "s3cret" not in params + json.dumps(sorted(models))


# -- a damaged model folder ---------------------------------------------------------------

def test_a_damaged_weights_file_is_a_caption_error_naming_the_folder(
        tiny_llava_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "damaged"
    shutil.copytree(tiny_llava_dir, copy)
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a copy that stopped half-way
    with pytest.raises(CaptionError, match="damaged"):
        LocalCaptioner.load(copy, name="tiny", device="cpu")


# -- the report's list of unreadable images -------------------------------------------------

def test_the_report_lists_at_most_max_listed_unreadable_images_and_counts_them_all(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(jobs_module, "MAX_LISTED", 3)
    src = tmp_path / "src"
    for i in range(5):
        make_image(src / f"{i}.jpg", seed=i)
    write_csv(src / "posts.csv", ["id", "text", "image"],
              [[str(i), f"post {i}", f"{i}.jpg"] for i in range(5)])
    project = Project.open(tmp_path / "p", create=True)
    run_import(project, [src / "posts.csv"])
    for i in range(5):
        (src / f"{i}.jpg").unlink()  # the drive was unplugged
    job = CaptionJob(project, FakeCaptioner(), batch_size=2)
    list(job.run())
    report = job.report.as_dict()
    assert len(report["unreadable"]) == 3
    assert report["unreadable_count"] == 5
    assert "unreadable images: 5" in job.report.summary()
    with project.open_store() as store:
        (problems,) = store.conn.execute(
            "SELECT problems FROM jobs WHERE kind = 'caption'").fetchone()
    assert problems == 5


# -- the image token inside a tweet -------------------------------------------------------

def test_a_tweet_holding_the_image_token_is_captioned(tiny_llava_fp32, tmp_path: Path) -> None:
    model, processor = tiny_llava_fp32
    captioner = LocalCaptioner(model, processor, name="tiny", device="cpu", max_new_tokens=4)
    photo, = write_images(tmp_path / "img", 1)
    tweet = "scraped page said <image> here </s> and more"
    text = captioner.prompt_text(tweet, load_prompt())
    assert text.count(processor.image_token) == 1
    requests = [CaptionRequest("a", photo, tweet), CaptionRequest("b", photo, "plain words")]
    results = captioner.caption(requests, load_prompt())
    assert [r.error for r in results] == [None, None]
    assert all(r.caption is not None for r in results)


# -- captions without a word --------------------------------------------------------------

@pytest.mark.parametrize("caption", ["...", ".", "\ufffd\ufffd\ufffd", "\x08\x02", "?!"])
def test_a_caption_without_a_single_word_is_flagged(caption: str) -> None:
    assert caption_flag(caption) == "degenerate: no words"


@pytest.mark.parametrize("caption", ["No.", "洪水", "A roof, torn off.", "3"])
def test_a_short_caption_with_a_word_is_not_flagged(caption: str) -> None:
    assert caption_flag(caption) is None
