"""Caption job behaviours a mutation audit (session 16) found untested: a cancel that
reaches the server captioner's requests not yet sent, one refused image that must not
stop the run, the model a caption is filed under, items of a failed pair not counted as
captioned, the local captioner giving each request of a batch its own row's caption, and
the 4-bit default of a 7B captioner on a GPU and its nf4 weights; and the package keeping
the Hugging Face libraries offline (no model fetched behind the analyst's back)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from caption_fixtures import (  # noqa: F401 - fixtures used by name
    isolated_config,
    tiny_llava_dir,
    tiny_llava_fp32,
    write_images,
)
from import_helpers import build_csv_source
from test_caption_job import PHOTOS, FakeCaptioner, _item, _project
from test_caption_server import ChatServer, Reply

from crisisdesk.cli import main
from crisisdesk.core.captions.base import CaptionError, CaptionRequest
from crisisdesk.core.captions.factory import load_captioner
from crisisdesk.core.captions.job import CaptionJob
from crisisdesk.core.captions.local import LocalCaptioner
from crisisdesk.core.captions.prompt import load_prompt
from crisisdesk.core.captions.server import ServerCaptioner
from crisisdesk.core.models.registry import register
from crisisdesk.core.project import Project


def _csv_project(tmp_path: Path) -> Project:
    """build_csv_source: five photos in four posts, and a text-only post."""
    assert main(["import", str(tmp_path / "p"), str(build_csv_source(tmp_path / "src"))]) == 0
    return Project.open(tmp_path / "p")


def test_a_cancel_stops_the_server_requests_of_the_batch_not_yet_sent(
        tmp_path: Path) -> None:
    """Cancel while the server holds the batch's first request: the batch's other images
    are never sent (a cancel that did not reach the captioner let the helper thread send
    the whole batch, with its retries, after the analyst pressed Cancel)."""
    project = _csv_project(tmp_path)
    release = threading.Event()

    def held(request: dict, attempt: int) -> Reply:
        release.wait(timeout=20)  # a busy server: no answer until released
        return Reply()

    with ChatServer(held) as server:
        captioner = ServerCaptioner(server.url, "m", timeout=30, concurrency=1)
        steps = CaptionJob(project, captioner, batch_size=5).run()
        assert next(steps).total == 5
        assert next(steps).done == 0  # yielded while the batch is with the server
        helpers = [t for t in threading.enumerate() if t.name.startswith("caption-wait")]
        assert helpers
        steps.close()  # the app's Cancel
        release.set()  # the request in flight ends; nothing more may be sent
        for thread in helpers:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in helpers)
        sent = len(server.requests)
    assert sent <= 1, f"{sent} requests sent for a batch cancelled after its first"


def test_one_image_the_server_refuses_leaves_the_others_captioned(tmp_path: Path) -> None:
    """A 403 for one image (a server's content filter) is that image's failure: only a
    batch refused whole means a wrong key, model name or URL and stops the run."""
    project = _csv_project(tmp_path)

    def reply(request: dict, attempt: int) -> Reply:
        refuse = "Roof" in request["messages"][1]["content"][1]["text"]
        return Reply(status=403, body='{"error": {"message": "not allowed"}}') if refuse \
            else Reply()

    with ChatServer(reply) as server:
        job = CaptionJob(project, ServerCaptioner(server.url, "m", timeout=30, retries=0),
                         batch_size=5)
        list(job.run())
    assert job.report.failed_count == 1 and "403" in job.report.failed[0]["reason"]
    assert job.report.captioned == 4


class _Described(FakeCaptioner):
    """A captioner whose description (folder, quantization, dtype) differs from its name,
    as a LocalCaptioner's does."""

    description = "/models/llava-1.5-7b (4bit, float16)"


def test_a_caption_is_stored_with_the_description_of_the_model_that_wrote_it(
        tmp_path: Path) -> None:
    project = _project(tmp_path)
    list(CaptionJob(project, _Described("llava-1.5-7b@4bit")).run())
    with project.open_store() as store:
        caption = store.item_caption(_item(project, "1"))
    assert caption is not None and caption.captioner == "llava-1.5-7b@4bit"
    assert caption.model == _Described.description


def test_items_of_a_pair_without_caption_are_not_counted_as_captioned(tmp_path: Path) -> None:
    """Photo 0 is posted three times, twice with its tweet (one pair, two items): when
    that pair fails, its two items are not among the items captioned."""
    project = _project(tmp_path)
    job = CaptionJob(project, FakeCaptioner(fail="report 0"))
    list(job.run())
    assert job.report.failed_count == 1
    assert job.report.captioned == PHOTOS  # photo 0's other text is captioned
    assert job.report.items_captioned == PHOTOS  # the failed pair's two items are not


@pytest.mark.parametrize("batch_size", [None, 2])
def test_each_request_of_a_batch_gets_the_caption_of_its_own_row(
        tiny_llava_fp32, tmp_path: Path, monkeypatch, batch_size: int | None) -> None:  # noqa: F811
    """The generated rows are faked as each row's prompt, which holds its tweet: every
    result must hold its own request's tweet, whatever the prompt-length sort and the
    chunks did to the order (a batch of random-weight captions could not tell a swap)."""
    model, processor = tiny_llava_fp32
    captioner = LocalCaptioner(model, processor, name="tiny", device="cpu",
                               max_new_tokens=4, batch_size=batch_size)
    monkeypatch.setattr(captioner, "new_tokens",
                        lambda inputs, full_length=False: inputs["input_ids"])
    tweets = ["Flood waters rising near the hospital, families moved to a shelter",
              "Bridge collapsed", "Rescue teams at the village after the earthquake",
              "Roads closed"]
    paths = write_images(tmp_path / "images", len(tweets))
    requests = [CaptionRequest(f"item{i}", path, text)
                for i, (path, text) in enumerate(zip(paths, tweets, strict=True))]
    results = captioner.caption(requests, load_prompt())
    assert [r.key for r in results] == [r.key for r in requests]
    for request, result in zip(requests, results, strict=True):
        assert result.caption is not None and request.tweet_text in result.caption, \
            (request.tweet_text, result.caption)
        others = [t for t in tweets if t != request.tweet_text]
        assert not any(other in result.caption for other in others)


def test_a_7b_captioner_on_a_gpu_loads_in_4_bit_unless_asked_otherwise(
        isolated_config, tiny_llava_dir, monkeypatch) -> None:  # noqa: F811
    """--quant auto on CUDA is the model's 4-bit (the method's nf4): the memory check
    names the 4-bit figure, not the 16 GB of fp16 that would not fit most GPUs."""
    register("llava-1.5-7b", tiny_llava_dir)  # the spec's memory figures, a tiny folder
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (3.1e9, 80e9))
    with pytest.raises(CaptionError) as auto:
        load_captioner("llava-1.5-7b", device="cuda")
    assert "in 4bit" in str(auto.value) and "needs ~5.5 GB" in str(auto.value)
    with pytest.raises(CaptionError) as full:
        load_captioner("llava-1.5-7b", quant="none", device="cuda")
    assert "without quantization" in str(full.value)


def test_4_bit_weights_are_nf4_with_double_quantization(isolated_config,  # noqa: F811
                                                        tiny_llava_dir) -> None:  # noqa: F811
    """The method's 4-bit is nf4 (QLoRA's), double quantized: fp4 loads and runs too, but
    writes other captions under the same captioner name."""
    import bitsandbytes as bnb

    register("tiny-llava", tiny_llava_dir)
    captioner = load_captioner("tiny-llava", quant="4bit", device="cpu", max_new_tokens=2)
    weights = [module.weight for module in captioner.model.modules()
               if isinstance(module, bnb.nn.Linear4bit)]
    assert weights and {w.quant_type for w in weights} == {"nf4"}
    assert all(w.quant_state.nested for w in weights)


def test_importing_crisisdesk_keeps_the_hugging_face_libraries_offline() -> None:
    """Run without HF_HUB_OFFLINE (the tests' conftest sets it, so only a fresh process
    can tell): crisisdesk sets it before any Hugging Face library reads it, so a caption
    or embed job never fetches weights on its own; an analyst's own setting is kept."""
    code = ("import os, crisisdesk; from huggingface_hub import constants; "
            "print(os.environ.get('HF_HUB_OFFLINE'), constants.HF_HUB_OFFLINE)")
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    for preset, expected in ((None, "1 True"), ("0", "0 False")):
        run_env = env if preset is None else {**env, "HF_HUB_OFFLINE": preset}
        done = subprocess.run([sys.executable, "-c", code], env=run_env, text=True,
                              capture_output=True, timeout=120, check=True)
        assert done.stdout.split("\n")[-2] == expected, done.stdout + done.stderr
