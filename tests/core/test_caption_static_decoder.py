"""The static decoder (static KV cache, prefill in row chunks, CUDA graph per step) gives
what ``model.generate`` gives, on the tiny LLaVA built by the tests; the CUDA graph test
runs only where there is a GPU."""
# ruff: noqa: F811 - pytest fixtures imported from caption_fixtures are parameters here

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from caption_fixtures import (  # noqa: F401 - fixtures used by name
    tiny_llava_dir,
    tiny_llava_fp32,
    write_images,
)

from crisisdesk.core.captions.base import CaptionRequest
from crisisdesk.core.captions.local import LocalCaptioner, load_image
from crisisdesk.core.captions.prompt import load_prompt
from crisisdesk.core.captions.static_decoder import StaticDecoder, supports

TWEETS = ["Bridge collapsed", "Flood waters rising near the hospital, families moved to a "
          "shelter on the hill #flood", "Rescue teams at the village after the earthquake",
          "Power lines down across the highway, trucks stuck in the water #storm"]
NEW = 16


def _captioner(model, processor, decoder: str = "generate", device: str = "cpu"
               ) -> LocalCaptioner:
    return LocalCaptioner(model, processor, name="tiny", device=device, max_new_tokens=NEW,
                          decoder=decoder)


def _inputs(captioner: LocalCaptioner, paths: list[Path], tweets: list[str]):
    prompt = load_prompt()
    return captioner.encode([captioner.prompt_text(t, prompt) for t in tweets],
                            [load_image(p) for p in paths])


def _decoder(captioner: LocalCaptioner, **options) -> StaticDecoder:
    return StaticDecoder(captioner.model, pad_token_id=captioner.pad_token_id,
                         eos_token_ids=[captioner.processor.tokenizer.eos_token_id],
                         **options)


def _assert_same_as_generate(captioner, inputs, decoded, reference, atol: float = 1e-4
                             ) -> None:
    """Per-step logits within float noise (``atol``) and the same tokens; a row may part
    only where the top two logits are a near-tie (random weights), and is compared no
    further since it then continues from another token."""
    assert len(decoded.scores) == len(reference.logits) == NEW
    start = inputs["input_ids"].shape[1]
    theirs_tokens = reference.sequences[:, start:]
    for row in range(theirs_tokens.shape[0]):
        for step in range(NEW):
            mine, theirs = decoded.scores[step][row], reference.logits[step][row].float()
            assert torch.allclose(mine, theirs, atol=atol, rtol=0), f"row {row} step {step}"
            if decoded.tokens[row, step] != theirs_tokens[row, step]:
                top = theirs.topk(2).values
                assert top[0] - top[1] <= 2 * atol, f"row {row} parts at step {step}"
                break


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    return write_images(tmp_path / "images", len(TWEETS))


@pytest.mark.parametrize("prefill_tokens", [10**6, 1])  # whole batch at once; row by row
def test_static_decoding_matches_generate_on_a_padded_batch(tiny_llava_fp32, images,
                                                            prefill_tokens) -> None:
    captioner = _captioner(*tiny_llava_fp32)
    inputs = _inputs(captioner, images, TWEETS)
    assert (inputs["attention_mask"] == 0).any(), "the batch needs left padding to test it"
    reference = captioner.generate(inputs, output_logits=True, return_dict_in_generate=True,
                                   min_new_tokens=NEW)
    # bucket 64 adds left padding beyond the processor's: it must change nothing
    decoder = _decoder(captioner, bucket=64, prefill_tokens=prefill_tokens)
    decoded = decoder.generate(inputs, NEW, stop_at_eos=False, return_scores=True)
    assert not decoded.graphed  # no CUDA here: the eager step
    _assert_same_as_generate(captioner, inputs, decoded, reference)


def test_eager_attention_gets_an_additive_mask_and_the_same_logits(tiny_llava_fp32,
                                                                   images) -> None:
    import tiny_llava

    _, processor = tiny_llava_fp32
    model = tiny_llava.build_model(processor.tokenizer)  # a fresh one: the fixture is shared
    model.set_attn_implementation("eager")
    assert model.model.language_model.config._attn_implementation == "eager"
    captioner = _captioner(model, processor)
    inputs = _inputs(captioner, images[:3], TWEETS[:3])
    reference = captioner.generate(inputs, output_logits=True, return_dict_in_generate=True,
                                   min_new_tokens=NEW)
    decoded = _decoder(captioner).generate(inputs, NEW, stop_at_eos=False,
                                           return_scores=True)
    _assert_same_as_generate(captioner, inputs, decoded, reference)


def test_a_qwen2_language_model_with_grouped_kv_heads_as_in_llava_interleave(
        tiny_llava_fp32, images) -> None:
    """llava-interleave-0.5b is LlavaForConditionalGeneration over Qwen2 (grouped
    key/value heads, biased projections): the decoder runs it and matches generate."""
    from transformers import (
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        Qwen2Config,
    )

    base, processor = tiny_llava_fp32
    tokenizer = processor.tokenizer
    text = Qwen2Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2,
                       vocab_size=len(tokenizer), max_position_embeddings=512,
                       pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    config = LlavaConfig(vision_config=CLIPVisionConfig(**base.config.vision_config.to_dict()),
                         text_config=text, image_token_index=base.config.image_token_index,
                         projector_hidden_act="gelu", vision_feature_layer=-2,
                         vision_feature_select_strategy="default")
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    assert supports(model) is None
    captioner = _captioner(model, processor)
    inputs = _inputs(captioner, images, TWEETS)
    reference = captioner.generate(inputs, output_logits=True, return_dict_in_generate=True,
                                   min_new_tokens=NEW)
    decoded = _decoder(captioner, bucket=64, prefill_tokens=1).generate(
        inputs, NEW, stop_at_eos=False, return_scores=True)
    _assert_same_as_generate(captioner, inputs, decoded, reference)


def test_rows_end_at_their_end_of_sequence_and_decoding_stops_when_all_have(
        tiny_llava_fp32, images) -> None:
    captioner = _captioner(*tiny_llava_fp32)
    inputs = _inputs(captioner, images, TWEETS)
    free = _decoder(captioner).generate(inputs, NEW, stop_at_eos=False).tokens
    # Call the token row 0 writes at step 3 "end of sequence": rows stop there.
    eos = int(free[0, 3])
    decoder = StaticDecoder(captioner.model, pad_token_id=captioner.pad_token_id,
                            eos_token_ids=[eos], check_every=2)
    ended = decoder.generate(inputs, NEW).tokens
    pad = captioner.pad_token_id
    for row in range(len(TWEETS)):
        hits = (free[row] == eos).nonzero()
        if len(hits) == 0:
            assert torch.equal(ended[row], free[row, :ended.shape[1]])
            continue
        stop = int(hits[0])
        assert torch.equal(ended[row, :stop + 1], free[row, :stop + 1])
        assert (ended[row, stop + 1:] == pad).all(), f"row {row} goes on after its end"
    if all((free[row] == eos).any() for row in range(len(TWEETS))):
        assert ended.shape[1] < NEW  # every row ended: no more steps were run


def test_a_second_batch_of_the_same_shape_reuses_the_cache_and_gives_the_same_tokens(
        tiny_llava_fp32, images) -> None:
    captioner = _captioner(*tiny_llava_fp32)
    decoder = _decoder(captioner)
    first = _inputs(captioner, images[:2], TWEETS[:2])
    other = _inputs(captioner, images[2:4], TWEETS[2:4])
    # Both prompts round up to one bucket: the same shape.
    bucket = [-(-inputs["input_ids"].shape[1] // decoder.bucket) for inputs in (first, other)]
    assert bucket[0] == bucket[1], "the test needs two batches of one shape"
    alone = _decoder(captioner).generate(other, NEW, stop_at_eos=False).tokens
    decoder.generate(first, NEW, stop_at_eos=False)
    cache = decoder._shape.cache
    again = decoder.generate(other, NEW, stop_at_eos=False).tokens
    assert decoder._shape.cache is cache
    assert torch.equal(again, alone)  # nothing of the first batch leaks into the second


def test_a_new_shape_frees_the_old_cache_before_allocating_its_own(
        tiny_llava_fp32, images, monkeypatch) -> None:
    """Both at once do not fit on a GPU when a large batch follows another (measured: a
    batch of 192 after one of 128 ran out of memory on an H200)."""
    import gc
    import weakref

    from crisisdesk.core.captions import static_decoder

    captioner = _captioner(*tiny_llava_fp32)
    decoder = _decoder(captioner)
    decoder.generate(_inputs(captioner, images[:2], TWEETS[:2]), 4, stop_at_eos=False)
    previous = weakref.ref(decoder._shape)
    alive_at_new: list[bool] = []
    real = static_decoder._Shape

    def shape(*args, **kwargs):
        gc.collect()
        alive_at_new.append(previous() is not None)
        return real(*args, **kwargs)

    monkeypatch.setattr(static_decoder, "_Shape", shape)
    decoder.generate(_inputs(captioner, images, TWEETS), 4, stop_at_eos=False)  # 4 rows
    assert alive_at_new == [False]


def test_the_captioner_writes_the_same_captions_with_either_decoder(tiny_llava_fp32,
                                                                    images) -> None:
    requests = [CaptionRequest(f"k{i}", path, tweet)
                for i, (path, tweet) in enumerate(zip(images, TWEETS, strict=True))]
    prompt = load_prompt()
    plain = _captioner(*tiny_llava_fp32, decoder="generate").caption(requests, prompt)
    static = _captioner(*tiny_llava_fp32, decoder="static")
    assert static.decoder is not None
    assert static.caption(requests, prompt) == plain


def test_auto_uses_generate_on_the_cpu_and_for_models_the_decoder_cannot_run(
        tiny_llava_fp32) -> None:
    model, processor = tiny_llava_fp32
    assert _captioner(model, processor, decoder="auto").decoder is None  # CPU

    class Other(torch.nn.Module):
        pass

    assert "not a LLaVA-1.5-style model" in supports(Other())
    with pytest.raises(ValueError, match="cannot run this model"):
        StaticDecoder(Other(), pad_token_id=0, eos_token_ids=[1])


def test_4bit_model_decodes_with_the_static_decoder_on_the_cpu(tiny_llava_dir,
                                                               images) -> None:
    captioner = LocalCaptioner.load(tiny_llava_dir, name="tiny@4bit", device="cpu",
                                    quant="4bit", max_new_tokens=NEW, decoder="static")
    inputs = _inputs(captioner, images, TWEETS)
    reference = captioner.generate(inputs, output_logits=True, return_dict_in_generate=True,
                                   min_new_tokens=NEW)
    decoded = captioner.decoder.generate(inputs, NEW, stop_at_eos=False, return_scores=True)
    # 4-bit layers compute in bfloat16 on the CPU: logits agree to bf16 precision
    _assert_same_as_generate(captioner, inputs, decoded, reference, atol=3e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_cuda_graph_steps_give_the_eager_steps_tokens(tiny_llava_dir, images) -> None:
    from transformers import AutoProcessor

    from crisisdesk.core.captions.loading import load_model

    model = load_model(tiny_llava_dir, device="cuda", quant="none", dtype="float32")
    captioner = _captioner(model, AutoProcessor.from_pretrained(str(tiny_llava_dir)),
                           device="cuda")
    inputs = _inputs(captioner, images, TWEETS)
    eager = _decoder(captioner, graphs=False).generate(inputs, NEW, stop_at_eos=False,
                                                       return_scores=True)
    graphed_decoder = _decoder(captioner, graphs=True)
    for _ in range(2):  # the first call captures the graph, the second replays it only
        graphed = graphed_decoder.generate(inputs, NEW, stop_at_eos=False,
                                           return_scores=True)
        assert graphed.graphed and graphed_decoder.graph_error is None
        for step, (a, b) in enumerate(zip(graphed.scores, eager.scores, strict=True)):
            assert torch.allclose(a, b, atol=1e-3, rtol=0), f"step {step}"
        assert torch.equal(graphed.tokens, eager.tokens)


def test_the_gpu_batch_is_what_free_memory_holds_caches_for(tiny_llava_fp32,
                                                           monkeypatch) -> None:
    """The caption job's default GPU batch: rows whose key/value caches fit in 80% of the
    free memory (capped at 128) with the static decoder, 16 with generate."""
    from crisisdesk.core.captions.job import default_batch_size

    model, processor = tiny_llava_fp32
    text = model.config.text_config
    per_row = 2 * 2 * text.num_hidden_layers * text.num_key_value_heads * \
        (text.hidden_size // text.num_attention_heads) * 1024 * 1.25
    free = {"bytes": int(per_row * 50)}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free["bytes"], 0))
    static = _captioner(model, processor, decoder="static", device="cuda")
    assert default_batch_size(static) == 40  # 0.8 x 50 rows
    free["bytes"] = int(per_row * 10**4)
    assert default_batch_size(static) == 128
    free["bytes"] = 1
    assert default_batch_size(static) == 1
    plain = _captioner(model, processor, decoder="generate", device="cuda")
    assert default_batch_size(plain) == 16


def test_out_of_memory_while_capturing_the_graph_reaches_the_caption_job(
        tiny_llava_fp32, images, monkeypatch) -> None:
    """CUDA's out-of-memory error during capture propagates (the job halves its batch)
    instead of switching CUDA graphs off for every later batch. The CUDA calls are faked:
    the logic runs on the CPU."""
    import contextlib

    class Stream:
        def wait_stream(self, other) -> None:
            pass

    @contextlib.contextmanager
    def capture(graph, **options):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        yield

    monkeypatch.setattr(torch.cuda, "Stream", Stream)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda *args: Stream())
    monkeypatch.setattr(torch.cuda, "stream", lambda stream: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "CUDAGraph", object)
    monkeypatch.setattr(torch.cuda, "graph", capture)
    captioner = _captioner(*tiny_llava_fp32)
    decoder = _decoder(captioner, graphs=True)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        decoder.generate(_inputs(captioner, images, TWEETS), NEW)
    assert decoder.graph_error is None  # a smaller batch captures its graph again
