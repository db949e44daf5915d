"""Captions per second of the local captioner, against plain ``model.generate`` on the same
inputs in the same run. Prints one JSON line per figure.

Random weights with the real architecture (speed does not depend on the weights); every
caption is forced to exactly ``--max-new-tokens`` tokens (random weights would otherwise
stop at a random end-of-sequence), in both paths.

* ``localcaptioner``: ``LocalCaptioner.caption`` end to end: JPEG decode, chat template,
  processor, sorting by prompt length, left-padded batch, generate, decode.
* ``generate``: ``model.generate`` alone on the same batch, already encoded, default cache.

    python bench/caption_bench.py --arch tiny                 # CPU, under a minute
    python bench/caption_bench.py --arch llava-1.5-7b --device cuda --quant none,4bit \\
        --batch-sizes 1,8,32,64 [--static-cache]

``--arch llava-1.5-7b`` builds LLaVA-1.5-7B (CLIP ViT-L/14-336 + a 7B Llama) directly on
the GPU in fp16 (seconds, not minutes); for ``4bit``/``8bit`` it is saved once to a temp
folder and loaded back through ``LocalCaptioner.load`` (bitsandbytes, the real route).
The tokenizer is the tests' tiny BPE tokenizer trained on the caption instruction, so the
prompt has about as many text tokens as with LLaVA's own tokenizer (printed as
``prompt_tokens``, 576 of them image tokens). Needs torch, transformers, accelerate,
Pillow (and bitsandbytes for 4bit/8bit); run from the repository root.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import torch  # noqa: E402

from crisisdesk.core.captions.base import CaptionRequest  # noqa: E402
from crisisdesk.core.captions.local import LocalCaptioner, load_image  # noqa: E402
from crisisdesk.core.captions.prompt import load_prompt  # noqa: E402

TWEETS = [
    "Bridge collapsed",
    "Flood waters rising near the hospital, families moved to a shelter on the hill #flood",
    "Rescue teams searching the rubble of the school after the earthquake, volunteers bring "
    "water and blankets to the families waiting outside #NepalEarthquake #relief",
    "Power lines down across the highway, trucks stuck",
]


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def llava_7b_config(image_token_id: int):
    """LLaVA-1.5-7B's architecture (as ../shared/bench/gpu_anchor.py builds it)."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    vision = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                              num_attention_heads=16, image_size=336, patch_size=14,
                              projection_dim=768, hidden_act="quick_gelu")
    text = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=32, vocab_size=32064,
                       max_position_embeddings=4096, rms_norm_eps=1e-5)
    return LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_token_id,
                       projector_hidden_act="gelu", vision_feature_layer=-2,
                       vision_feature_select_strategy="default")


def build(arch: str, device: str):
    """(model, processor) with random weights: fp16 on CUDA, fp32 on the CPU."""
    import tiny_llava

    prompt = load_prompt()
    if arch == "tiny":
        tokenizer = tiny_llava.build_tokenizer()
        model = tiny_llava.build_model(tokenizer).to(device)
        return model, tiny_llava.build_processor(tokenizer)
    from transformers import LlavaForConditionalGeneration

    tokenizer = tiny_llava.build_tokenizer(vocab_size=4000,
                                           extra_texts=[prompt.system, prompt.user, *TWEETS])
    processor = tiny_llava.build_processor(tokenizer, image_size=336, patch_size=14)
    config = llava_7b_config(tokenizer.convert_tokens_to_ids("<image>"))
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float16 if device.startswith("cuda") else torch.float32)
    try:
        with torch.device(device):  # weights are created in place: no CPU init, no copy
            model = LlavaForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(old)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model.eval(), processor


def write_images(folder: Path, n: int) -> list[Path]:
    """Noisy 500 x 375 JPEGs (a typical tweet photo size after the platform's resize)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"img{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (375, 500, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def run_config(captioner: LocalCaptioner, requests: list[CaptionRequest], args, quant: str,
               device: str) -> None:
    """Time each path at each batch size; one JSON line per figure."""
    prompt = load_prompt()
    new = args.max_new_tokens
    captioner.fixed_length = True  # every caption runs to max_new_tokens, in every path
    decoder = captioner.decoder
    for batch in args.batch_sizes:
        chosen = requests[:batch]
        texts = [captioner.prompt_text(r.tweet_text, prompt) for r in chosen]
        inputs = captioner.encode(texts, [load_image(r.image_path) for r in chosen])
        plain = {"do_sample": False, "max_new_tokens": new, "min_new_tokens": new,
                 "pad_token_id": captioner.pad_token_id}
        common = dict(arch=args.arch, device=device, quant=quant, batch=batch, new_tokens=new,
                      prompt_tokens=int(inputs["input_ids"].shape[1]))
        paths = [p for p in args.paths if p != "decoder" or decoder is not None]
        if batch > args.generate_max_batch:
            paths = [p for p in paths if p != "generate"]
        for path in paths:
            # Warm-up. The static decoder captures its CUDA graph on the first batch of a
            # shape and a static cache compiles per shape, so each runs the very call
            # timed (its time is printed as first_call_s); generate() only needs the
            # kernels and allocator warm (2 tokens).
            first = None
            if path == "generate":
                with torch.inference_mode():
                    captioner.model.generate(**inputs, **{**plain, "max_new_tokens": 2,
                                                          "min_new_tokens": 2})
            else:
                sync(device)
                started = time.perf_counter()
                _run(path, captioner, chosen, inputs, prompt, plain)
                sync(device)
                first = round(time.perf_counter() - started, 3)
            if device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            sync(device)
            started = time.perf_counter()
            decoded = _run(path, captioner, chosen, inputs, prompt, plain)
            sync(device)
            seconds = time.perf_counter() - started
            extra = {}
            if path != "generate" and decoder is not None:
                extra = {"graph_error": decoder.graph_error}
            if decoded is not None:
                extra.update(prefill_s=round(decoded.prefill_seconds, 3),
                             decode_s=round(decoded.decode_seconds, 3))
            emit(fig="caption_bench", path=path, decoder="static" if path != "generate"
                 and decoder is not None else "generate",
                 static_cache=captioner.static_cache if path == "localcaptioner" else False,
                 **common, seconds=round(seconds, 3), first_call_s=first,
                 captions_per_s=round(batch / seconds, 3),
                 tokens_per_s=round(batch * new / seconds, 1),
                 peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2)
                 if device.startswith("cuda") else None, **extra)


def _run(path: str, captioner: LocalCaptioner, chosen: list[CaptionRequest], inputs,
         prompt, plain: dict):
    """Run one path; the decoder path returns its Decoded (prefill and decode times)."""
    if path == "localcaptioner":  # end to end: JPEG decode, processor, decoding, text
        results = captioner.caption(chosen, prompt)
        assert all(r.error is None for r in results), results
    elif path == "decoder":  # the static decoder alone on the encoded batch
        return captioner.decoder.generate(inputs, captioner.max_new_tokens,
                                          stop_at_eos=False, timed=True)
    else:
        with torch.inference_mode():
            captioner.model.generate(**inputs, **plain)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=["tiny", "llava-1.5-7b"], default="tiny")
    parser.add_argument("--quant", default="none", help="comma list of none, 4bit, 8bit")
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--max-new-tokens", type=int,
                        help="default 128 (the captioner's default); 32 for --arch tiny, "
                             "which keeps its CPU run under a minute")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--static-cache", action="store_true",
                        help='cache_implementation="static" in LocalCaptioner.generate '
                             "(and so generate() rather than the static decoder)")
    parser.add_argument("--decoder", default="auto", choices=("auto", "static", "generate"),
                        help="LocalCaptioner's decoder (auto: the static decoder on a GPU)")
    parser.add_argument("--paths", default="localcaptioner,decoder,generate",
                        help="comma list of localcaptioner (end to end), decoder (the "
                             "static decoder on encoded input), generate (plain generate)")
    parser.add_argument("--generate-max-batch", type=int, default=10**9,
                        help="time plain generate() only up to this batch (it is slow)")
    args = parser.parse_args(argv)
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    args.paths = args.paths.split(",")
    if args.max_new_tokens is None:
        args.max_new_tokens = 32 if args.arch == "tiny" else 128
    # Unquantized first: it uses the weights built in memory, which the others then free.
    quants = sorted(args.quant.split(","), key=lambda q: q != "none")
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.arch != "tiny" and not device.startswith("cuda"):
        print("--arch llava-1.5-7b needs --device cuda (7B on the CPU: hours)", file=sys.stderr)
        return 2
    import transformers

    emit(fig="env", torch=torch.__version__, transformers=transformers.__version__,
         device=device, gpu=torch.cuda.get_device_name(device)
         if device.startswith("cuda") else None)
    work = Path(tempfile.mkdtemp(prefix="caption-bench-"))
    try:
        requests = [CaptionRequest(f"r{i}", path, TWEETS[i % len(TWEETS)])
                    for i, path in enumerate(write_images(work, max(args.batch_sizes)))]
        started = time.perf_counter()
        model, processor = build(args.arch, device)
        sync(device)
        emit(fig="build", arch=args.arch, seconds=round(time.perf_counter() - started, 1),
             params_b=round(sum(p.numel() for p in model.parameters()) / 1e9, 3))
        folder = work / "model"
        processor.save_pretrained(folder)
        if any(q != "none" for q in quants):
            model.save_pretrained(folder)  # the quantized loads read it back from here
        for quant in quants:
            if quant == "none":
                captioner = LocalCaptioner(model, processor, name=args.arch, device=device,
                                           max_new_tokens=args.max_new_tokens,
                                           static_cache=args.static_cache,
                                           decoder=args.decoder)
            else:
                model = None  # free the fp16 weights before loading the quantized copy
                if device.startswith("cuda"):
                    torch.cuda.empty_cache()
                started = time.perf_counter()
                captioner = LocalCaptioner.load(folder, name=f"{args.arch}@{quant}",
                                                device=device, quant=quant,
                                                max_new_tokens=args.max_new_tokens,
                                                static_cache=args.static_cache,
                                                decoder=args.decoder)
                emit(fig="load", quant=quant, seconds=round(time.perf_counter() - started, 1))
            try:
                run_config(captioner, requests, args, quant, device)
            except Exception as exc:  # noqa: BLE001 - one failed config must not hide the rest
                emit(fig="caption_bench", quant=quant, error=repr(exc)[:500])
            del captioner
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
