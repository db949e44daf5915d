"""The local LLaVA captioner, on a tiny LLaVA built by the tests (tests/tiny_llava.py):
batching, prompts, 4-bit on the CPU, bad images, missing models, the GPU memory check."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from caption_fixtures import (  # noqa: F401 - fixtures used by name
    isolated_config,
    tiny_llava_dir,
    tiny_llava_fp32,
    write_images,
)

from crisisdesk.core.captions.base import CaptionError, CaptionRequest
from crisisdesk.core.captions.factory import load_captioner
from crisisdesk.core.captions.loading import SKIP_MODULES, check_gpu_memory
from crisisdesk.core.captions.local import LocalCaptioner
from crisisdesk.core.captions.prompt import load_prompt
from crisisdesk.core.models.hub_download import download
from crisisdesk.core.models.registry import (
    ModelMissing,
    builtin_specs,
    get_spec,
    locate,
    register,
)

TWEETS = ["Bridge collapsed", "Flood waters rising near the hospital, families moved to a "
          "shelter on the hill #flood", "Rescue teams at the village after the earthquake"]


@pytest.fixture
def captioner(tiny_llava_fp32) -> LocalCaptioner:  # noqa: F811
    model, processor = tiny_llava_fp32
    return LocalCaptioner(model, processor, name="tiny", device="cpu", max_new_tokens=12)


@pytest.fixture
def requests_(tmp_path: Path) -> list[CaptionRequest]:
    paths = write_images(tmp_path / "images", len(TWEETS))
    return [CaptionRequest(f"item{i}", path, tweet)
            for i, (path, tweet) in enumerate(zip(paths, TWEETS, strict=True))]



@pytest.fixture
def tiny_registered(isolated_config, tiny_llava_dir) -> str:  # noqa: F811
    """The tiny LLaVA registered as a local folder (its kind guessed from config.json)."""
    register("tiny-llava", tiny_llava_dir)
    assert get_spec("tiny-llava").kind == "captioner"
    return "tiny-llava"


def _inputs(captioner: LocalCaptioner, requests: list[CaptionRequest]):
    from crisisdesk.core.captions.local import load_image

    prompt = load_prompt()
    return captioner.encode([captioner.prompt_text(r.tweet_text, prompt) for r in requests],
                            [load_image(r.image_path) for r in requests])


def test_batched_generation_matches_one_by_one(captioner, requests_) -> None:
    """Per-step logits of a left-padded batch equal those of each request alone; greedy
    tokens may part only where the top two logits are a near-tie (random weights)."""
    batch = _inputs(captioner, requests_)
    assert (batch["attention_mask"] == 0).any(), "the batch needs padding to test it"
    out = captioner.generate(batch, output_logits=True, return_dict_in_generate=True)
    start = batch["input_ids"].shape[1]
    compared = 0
    for row, request in enumerate(requests_):
        alone = _inputs(captioner, [request])
        single = captioner.generate(alone, output_logits=True, return_dict_in_generate=True)
        for step, logits in enumerate(single.logits):
            assert torch.allclose(out.logits[step][row], logits[0], atol=1e-4, rtol=0), \
                f"{request.key}: logits differ at step {step}"
            compared += 1
            mine = out.sequences[row, start + step]
            theirs = single.sequences[0, alone["input_ids"].shape[1] + step]
            if mine != theirs:
                top2 = logits[0].topk(2).values
                assert float(top2[0] - top2[1]) < 1e-4, f"{request.key}: greedy parted"
                break
    assert compared >= 2 * len(requests_)


def test_results_come_in_request_order_from_chunks_sorted_by_prompt_length(
        captioner, requests_, monkeypatch) -> None:
    captioner.batch_size = 1  # one generate per request: each caption equals its solo run
    lengths: list[int] = []
    encode = captioner.encode

    def spy(texts, images):
        lengths.append(len(captioner.processor.tokenizer(texts[0])["input_ids"]))
        return encode(texts, images)

    solo = [captioner.caption([r], load_prompt())[0].caption for r in requests_]
    monkeypatch.setattr(captioner, "encode", spy)
    results = captioner.caption(requests_, load_prompt())
    assert [r.key for r in results] == [r.key for r in requests_]
    assert [r.caption for r in results] == solo
    assert all(isinstance(c, str) for c in solo)
    assert lengths == sorted(lengths) and len(set(lengths)) == len(requests_)
    assert lengths != [len(captioner.processor.tokenizer(captioner.prompt_text(
        r.tweet_text, load_prompt()))["input_ids"]) for r in requests_]  # order changed


def test_prompt_sent_to_the_model_holds_the_tweet_text(captioner, requests_,
                                                        monkeypatch) -> None:
    seen = []
    generate = captioner.model.generate

    def spy(**kwargs):
        seen.append(kwargs["input_ids"])
        return generate(**kwargs)

    monkeypatch.setattr(captioner.model, "generate", spy)
    captioner.caption(requests_, load_prompt())
    tokenizer = captioner.processor.tokenizer
    decoded = tokenizer.batch_decode(seen[0], skip_special_tokens=False)
    prompt = load_prompt()
    for request in requests_:
        matches = [text for text in decoded if request.tweet_text in text]
        assert len(matches) == 1, request.tweet_text
        assert prompt.system in matches[0] and matches[0].rstrip().endswith("ASSISTANT:")
        assert matches[0].count("<image>") == 16  # 32 px / 8 px patches: 4 x 4 image tokens


def test_a_processor_without_chat_template_gets_the_plain_llava_prompt(
        captioner, requests_, monkeypatch) -> None:
    monkeypatch.setattr(captioner.processor, "chat_template", None)
    prompt = load_prompt()
    text = captioner.prompt_text("Bridge collapsed", prompt)
    assert text == (f"{prompt.system}\nUSER: <image>\n{prompt.user_text('Bridge collapsed')}"
                    "\nASSISTANT:")
    results = captioner.caption(requests_[:1], prompt)
    assert results[0].error is None and isinstance(results[0].caption, str)


def test_an_unreadable_image_gets_an_error_and_the_others_captions(captioner, requests_,
                                                                   tmp_path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    batch = [requests_[0], CaptionRequest("broken", broken, "fire downtown"),
             CaptionRequest("gone", tmp_path / "missing.jpg", "storm"), requests_[1]]
    results = captioner.caption(batch, load_prompt())
    assert [r.key for r in results] == ["item0", "broken", "gone", "item1"]
    assert results[1].caption is None and str(broken) in results[1].error
    assert results[2].caption is None and "not found" in results[2].error
    for good in (results[0], results[3]):
        assert good.error is None and isinstance(good.caption, str)


def test_a_large_batch_decodes_its_images_in_threads_and_keeps_each_ones_error(
        captioner, tmp_path) -> None:
    """Twelve requests (decoded by a thread pool): results in request order, the broken
    image's error on its own request, every other image captioned."""
    paths = write_images(tmp_path / "many", 11)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    batch = [CaptionRequest(f"k{i}", p, TWEETS[i % 3]) for i, p in enumerate(paths)]
    batch.insert(5, CaptionRequest("broken", broken, "fire downtown"))
    results = captioner.caption(batch, load_prompt())
    assert [r.key for r in results] == [r.key for r in batch]
    assert results[5].caption is None and str(broken) in results[5].error
    assert all(r.error is None and isinstance(r.caption, str)
               for i, r in enumerate(results) if i != 5)


def test_an_image_the_processor_refuses_leaves_the_others_captioned_in_one_batch(
        captioner, requests_, monkeypatch) -> None:
    """One refused image in a batch gets its error; the other images are still decoded
    together (one by one, a GPU batch of 128 would take minutes instead of seconds)."""
    from crisisdesk.core.captions.local import load_image

    expected = {r.key: r.caption for r in captioner.caption(requests_, load_prompt())}
    refused = load_image(requests_[1].image_path).size
    encode, new_tokens = captioner.encode, captioner.new_tokens
    decoded_rows: list[int] = []

    def picky(texts, images):
        if any(image.size == refused for image in images):
            raise ValueError("Unable to infer channel dimension format")
        return encode(texts, images)

    def counting(inputs, **options):
        decoded_rows.append(inputs["input_ids"].shape[0])
        return new_tokens(inputs, **options)

    monkeypatch.setattr(captioner, "encode", picky)
    monkeypatch.setattr(captioner, "new_tokens", counting)
    results = captioner.caption(requests_, load_prompt())
    assert [r.key for r in results] == [r.key for r in requests_]
    assert results[1].caption is None
    assert "processor refused the image (Unable to infer" in results[1].error
    assert decoded_rows == [2]
    for good in (results[0], results[2]):
        assert good.error is None and good.caption == expected[good.key]


def test_16_bit_greyscale_reaches_the_captioners_as_its_8_bit_picture(tmp_path) -> None:
    # Pillow's convert("RGB") of a 16-bit image (mode I;16) clips at 255: a white picture.
    import base64
    import io

    import numpy as np
    from PIL import Image

    from crisisdesk.core.captions.local import load_image
    from crisisdesk.core.captions.server import jpeg_data_url

    grey = np.tile(np.arange(0, 256, 4, dtype=np.uint16), (48, 1))  # a dark-to-light ramp
    Image.fromarray(grey * 257).save(tmp_path / "deep.png")
    Image.fromarray(grey.astype(np.uint8)).save(tmp_path / "plain.png")
    expected = np.asarray(load_image(tmp_path / "plain.png"))
    assert np.array_equal(np.asarray(load_image(tmp_path / "deep.png")), expected)

    def sent(path: Path) -> np.ndarray:
        data = base64.b64decode(jpeg_data_url(path).split(",", 1)[1])
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"), dtype=np.int16)

    assert np.abs(sent(tmp_path / "deep.png") - sent(tmp_path / "plain.png")).max() <= 2


@pytest.fixture(scope="module")
def tiny_4bit(tmp_path_factory, tiny_llava_dir) -> LocalCaptioner:  # noqa: F811
    """The tiny LLaVA through load_captioner in 4-bit nf4 on the CPU (registered folder)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
    try:
        register("tiny-llava", tiny_llava_dir)
        yield load_captioner("tiny-llava", quant="4bit", device="cpu", max_new_tokens=6)
    finally:
        mp.undo()


def test_4bit_loads_and_generates_on_the_cpu(tiny_4bit, requests_) -> None:
    assert tiny_4bit.name == "tiny-llava@4bit" and tiny_4bit.device == "cpu"
    results = tiny_4bit.caption(requests_[:2], load_prompt())
    assert [r.error for r in results] == [None, None]
    assert all(isinstance(r.caption, str) for r in results)


def test_4bit_leaves_vision_tower_projector_and_lm_head_unquantized(tiny_4bit) -> None:
    import bitsandbytes as bnb

    linears = {name: module for name, module in tiny_4bit.model.named_modules()
               if isinstance(module, torch.nn.Linear)}
    for prefix in SKIP_MODULES:
        mine = {n: m for n, m in linears.items() if n == prefix or n.startswith(prefix + ".")}
        assert mine, f"no Linear layer under {prefix}: the module paths changed"
        assert not any(isinstance(m, bnb.nn.Linear4bit) for m in mine.values()), prefix
    language = {n: m for n, m in linears.items() if n.startswith("model.language_model.")}
    assert language and all(isinstance(m, bnb.nn.Linear4bit) for m in language.values())


def test_a_missing_model_raises_model_missing_without_network(isolated_config,  # noqa: F811
                                                              no_network) -> None:
    with pytest.raises(ModelMissing) as caught:
        load_captioner("llava-1.5-7b", device="cpu")
    message = str(caught.value)
    assert "'llava-1.5-7b' is not installed" in message
    assert "llava-hf/llava-1.5-7b-hf" in message  # where it looked
    assert "crisisdesk models download llava-1.5-7b" in message
    assert "crisisdesk models add llava-1.5-7b PATH" in message
    with pytest.raises(ModelMissing, match="llava-interleave-0.5b"):
        load_captioner(device="cpu")  # the CPU default
    assert no_network == []


def test_not_enough_gpu_memory_says_what_fits(isolated_config, tiny_llava_dir,  # noqa: F811
                                              monkeypatch) -> None:
    register("llava-1.5-7b", tiny_llava_dir)  # the spec's memory figures, a tiny folder
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (3.1e9, 80e9))
    with pytest.raises(CaptionError) as caught:
        load_captioner("llava-1.5-7b", quant="none", device="cuda")
    message = str(caught.value)
    assert "needs ~16.0 GB" in message and "3.1 GB free on cuda:0" in message
    assert "--captioner llava-interleave-0.5b" in message and "--server" in message
    assert "--quant 4bit" not in message  # 5.5 GB does not fit either

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (7.0e9, 80e9))
    with pytest.raises(CaptionError) as caught:
        load_captioner("llava-1.5-7b", quant="none", device="cuda")
    assert "--quant 4bit (~5.5 GB)" in str(caught.value)
    assert "--quant 8bit" not in str(caught.value)  # 9 GB > 7 GB
    # When it fits, the check lets the load go on.
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (70e9, 80e9))
    check_gpu_memory(get_spec("llava-1.5-7b"), "none", "cuda:0", tiny_llava_dir)


def test_estimate_seconds_comes_from_a_timed_batch(captioner, monkeypatch) -> None:
    calls = []
    generate = captioner.generate
    monkeypatch.setattr(captioner, "generate",
                        lambda inputs, **kw: calls.append(kw) or generate(inputs, **kw))
    first = captioner.estimate_seconds(100)
    assert first > 0 and calls == [{"min_new_tokens": 12}]  # one full-length batch timed
    assert captioner.estimate_seconds(300) == pytest.approx(3 * first)
    assert len(calls) == 1  # measured once


def test_captioners_are_in_the_registry_and_found_in_the_hub_cache(isolated_config) -> None:  # noqa: F811
    specs = builtin_specs()
    hubs = {name: specs[name].hub_id for name in
            ("llava-1.5-7b", "llava-v1.6-mistral-7b", "llava-onevision-0.5b",
             "llava-interleave-0.5b")}
    assert hubs["llava-1.5-7b"] == "llava-hf/llava-1.5-7b-hf"
    for name in hubs:
        spec = specs[name]
        assert spec.kind == "captioner" and spec.licence and spec.download_mb
        assert set(spec.gpu_gb) == {"4bit", "8bit", "none"} and "config.json" in spec.files
    # A hub-cache snapshot as huggingface_hub lays it out.
    spec = specs["llava-interleave-0.5b"]
    repo = isolated_config.parent / "hf" / "hub" / "models--llava-hf--llava-interleave-qwen-0.5b-hf"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    for filename in spec.files[:-1]:
        (snapshot / filename).write_text("{}")
    with pytest.raises(ModelMissing):  # one required file is missing: not installed
        locate(spec)
    (snapshot / spec.files[-1]).write_text("{}")
    where = locate(spec)
    assert (where.route, where.path) == ("hub-cache", snapshot)


def test_download_fetches_the_captioner_folder_patterns(monkeypatch) -> None:
    import huggingface_hub

    seen = {}

    def fake_snapshot_download(repo_id, revision=None, allow_patterns=None, cache_dir=None):
        seen.update(repo=repo_id, patterns=allow_patterns)
        return str(cache_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", lambda *a, **k: None)
    download(get_spec("llava-1.5-7b"))
    assert seen["repo"] == "llava-hf/llava-1.5-7b-hf"
    assert {"*.safetensors", "*.json", "tokenizer.model"} <= set(seen["patterns"])


def test_the_captioners_image_load_is_bounded_for_big_photos_and_thin_strips(
        tmp_path: Path) -> None:
    """A 20000x1 strip went whole into the processor's shortest-side resize (gigabytes),
    and a batch of big JPEGs was held at full size for a few-hundred-pixel input."""
    from PIL import Image

    from crisisdesk.core.captions.local import LOAD_SIDE, load_image

    strip = tmp_path / "strip.png"
    Image.new("RGB", (20000, 1), (200, 10, 10)).save(strip)
    assert load_image(strip).size == (100, 1)  # its centre, at most 100:1
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (4200, 3000), (10, 90, 200)).save(photo, quality=80)
    width, height = load_image(photo).size
    assert LOAD_SIDE <= min(width, height) < 3000 and width / height == pytest.approx(1.4)
