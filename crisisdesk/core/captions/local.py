"""The local captioner: a LLaVA-family model run with transformers on this machine.

One :meth:`LocalCaptioner.caption` call takes the caption job's batch: images are decoded
(EXIF orientation applied, converted to RGB; the processor resizes them as the model
expects), prompts are built from the caption instruction and the processor's chat
template, requests are sorted by prompt length and generated in chunks of ``batch_size``
with left padding, greedy, up to ``max_new_tokens``. Results come back in request order;
an unreadable image gives that request an error result and the others go on.

On a GPU, LLaVA-1.5-style models decode with :class:`StaticDecoder` (static KV cache,
prefill in row chunks, one CUDA graph per decode step: several times the captions per
second of ``model.generate``); other models, and the CPU, use ``model.generate``.

``torch.cuda.OutOfMemoryError`` is *not* caught: it propagates to the caption job, which
halves its batch and retries (at batch 1 it stops the run).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crisisdesk.core.batching import is_out_of_memory
from crisisdesk.core.captions.base import CaptionError, CaptionRequest, CaptionResult
from crisisdesk.core.captions.prompt import CaptionPrompt, load_prompt

# A tweet for the calibration batch of estimate_seconds: typical length of a crisis post.
_SAMPLE_TWEET = ("Flooding in the city centre after the storm, roads closed and people "
                 "waiting for rescue on rooftops #flood #relief")


#: The side a JPEG is at least decoded at (draft mode), above any captioner's input.
LOAD_SIDE = 1024


def load_image(path: Path) -> Any:
    """Decode an image file upright (EXIF orientation) in RGB; raises OSError/ValueError
    with a reason a person can act on."""
    from PIL import Image

    from crisisdesk.core.encoders.clip_images import MAX_ASPECT, centre_of
    from crisisdesk.core.imaging import open_image, upright_rgb

    try:
        with open_image(path) as image:
            if image.format == "JPEG":
                # Decoded at a reduced scale, still above any captioner's input (LLaVA's
                # 336 or 672): a batch of 12-megapixel photos held at full size took
                # gigabytes for pictures resized to a few hundred pixels.
                image.draft("RGB", (LOAD_SIDE, LOAD_SIDE))
            image.load()
            # A thin strip is cut to its centre first: the processors' shortest-side
            # resize made a 20000x1 strip gigabytes (as CLIP's did, clip_images.py).
            return centre_of(upright_rgb(image), MAX_ASPECT)
    except FileNotFoundError:
        raise OSError(f"{path}: file not found") from None
    except Image.DecompressionBombError as exc:
        raise ValueError(f"{path}: image too large to decode safely ({exc})") from None
    except Exception as exc:  # Pillow raises OSError, SyntaxError, EOFError, struct.error...
        reason = str(exc) or type(exc).__name__
        raise OSError(f"{path}: not a readable image ({reason})") from None


def _load_images(requests: Sequence[CaptionRequest]) -> list[Any]:
    """The requests' images decoded in threads (Pillow decodes without the GIL: a GPU
    batch of 128 photos decodes in a fraction of the time), or the error of each that
    cannot be used."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    def one(request: CaptionRequest) -> Any:
        try:
            return load_image(request.image_path)
        except (OSError, ValueError) as exc:
            return exc

    if len(requests) < 8:
        return [one(r) for r in requests]
    workers = max(1, min(8, (os.cpu_count() or 2) - 1))
    with ThreadPoolExecutor(workers, thread_name_prefix="caption-decode") as pool:
        return list(pool.map(one, requests))


class LocalCaptioner:
    """A transformers vision-language model that writes captions (see the module doc)."""

    def __init__(self, model: Any, processor: Any, *, name: str, device: str,
                 max_new_tokens: int = 128, batch_size: int | None = None,
                 static_cache: bool = False, decoder: str = "auto",
                 generate_options: dict[str, Any] | None = None) -> None:
        self.model, self.processor = model, processor
        self.name, self.device = name, device
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size  # None: the whole caption() call is one generate
        self.static_cache = static_cache  # cache_implementation="static" (GPU speed)
        self.generate_options = dict(generate_options or {})
        tokenizer = processor.tokenizer
        # Decoder-only generation continues the last position of each row: pad on the left.
        tokenizer.padding_side = "left"
        self.pad_token_id = (tokenizer.pad_token_id if tokenizer.pad_token_id is not None
                             else tokenizer.eos_token_id)
        self._timed_items = 0
        self._timed_seconds = 0.0
        # Strings the tokenizer reads as one special token wherever they appear, longest
        # first (one may hold another): see _plain_tweet.
        specials = {str(t) for t in getattr(tokenizer, "added_tokens_decoder", {}).values()}
        specials |= {t for t in (getattr(processor, "image_token", None),
                                 getattr(processor, "video_token", None)) if t}
        self._special_tokens = sorted(specials, key=len, reverse=True)
        #: What wrote the captions (stored with them): the model folder, quantization, dtype.
        self.description = name
        #: Every caption runs to max_new_tokens, past its end of sequence (benchmarks).
        self.fixed_length = False
        self.decoder = self._static_decoder(decoder)

    def _static_decoder(self, choice: str) -> Any:
        """The StaticDecoder for ``decoder`` = "static", or "auto" on a GPU when the model
        is one it runs (and no static_cache was asked for); else None: ``generate``."""
        if choice not in ("auto", "static", "generate"):
            raise ValueError(f"decoder must be auto, static or generate, not {choice!r}")
        from crisisdesk.core.captions.static_decoder import StaticDecoder, supports

        if choice == "generate" or (choice == "auto" and (
                self.static_cache or not self.device.startswith("cuda")
                or supports(self.model) is not None)):
            return None
        eos = self.model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        if self.processor.tokenizer.eos_token_id is not None:
            eos.append(self.processor.tokenizer.eos_token_id)
        return StaticDecoder(self.model, pad_token_id=self.pad_token_id, eos_token_ids=eos)

    def suggested_batch_size(self) -> int:
        """Posts per batch for the caption job: on a GPU with the static decoder, as many
        as the free memory holds key/value caches for (up to 128; larger batches gain
        little once the weights are read once per step for all rows), else 16."""
        if self.decoder is None or not self.device.startswith("cuda"):
            return 16
        import torch

        from crisisdesk.core.captions.static_decoder import cache_geometry

        free, _ = torch.cuda.mem_get_info(torch.device(self.device))
        layers, heads, head_dim = cache_geometry(self.model.config)
        # keys + values of every layer for ~1,024 positions (prompt + caption) in 16 bits,
        # and a quarter more for activations (measured on an H200 with LLaVA-1.5-7B:
        # 0.45 GB per row at batch 128 for 896 positions, against 0.47 GB of cache).
        per_row = 2 * 2 * layers * heads * head_dim * 1024 * 1.25
        return int(max(1, min(128, free * 0.8 // per_row)))

    @classmethod
    def load(cls, folder: Path, *, name: str, device: str = "cpu", quant: str = "none",
             dtype: str | None = None, **options: Any) -> LocalCaptioner:
        """Load the model folder (hub snapshot or a local copy) with ``from_pretrained``."""
        from transformers import AutoProcessor

        from crisisdesk.core.captions.loading import load_model

        try:
            model = load_model(Path(folder), device=device, quant=quant, dtype=dtype)
            processor = AutoProcessor.from_pretrained(str(folder))
        except (CaptionError, ImportError):
            raise  # already say what to do (a missing bitsandbytes names its install)
        except Exception as exc:  # noqa: BLE001 - a truncated copy raises SafetensorError...
            if is_out_of_memory(exc):
                raise
            # ...a missing tokenizer file ValueError, a bad JSON file OSError: all mean the
            # same thing to an analyst, and a traceback would not name the folder.
            raise CaptionError(
                f"{folder}: the model could not be loaded; the folder may be damaged or "
                f"incomplete (copy it again, or crisisdesk models download): "
                f"{type(exc).__name__}: {exc}") from exc
        captioner = cls(model, processor, name=name, device=device, **options)
        captioner.description = f"{folder} ({quant}, {str(model.dtype).removeprefix('torch.')})"
        return captioner

    # -- prompts and inputs ------------------------------------------------------------

    def prompt_text(self, tweet_text: str, prompt: CaptionPrompt) -> str:
        """The full text prompt for one post: the processor's chat template, or a plain
        LLaVA-1.5 style template when the processor has none."""
        tweet_text = self._plain_tweet(tweet_text)
        if getattr(self.processor, "chat_template", None):
            return self.processor.apply_chat_template(
                prompt.messages(tweet_text), add_generation_prompt=True, tokenize=False)
        image_token = getattr(self.processor, "image_token", None) or "<image>"
        return (f"{prompt.system}\nUSER: {image_token}\n{prompt.user_text(tweet_text)}\n"
                "ASSISTANT:")

    def _plain_tweet(self, tweet_text: str) -> str:
        """The tweet with the tokenizer's special tokens made plain text (their angle
        brackets as angle quotes: ``<image>`` becomes U+2039 image U+203A). Left as they
        are, a post holding ``<image>`` gives its prompt two image placeholders for one
        image, which the processor refuses on every run; ``</s>`` or ``<|im_end|>`` would
        end the turn early."""
        for token in self._special_tokens:
            if token in tweet_text:
                tweet_text = tweet_text.replace(
                    token, token.replace("<", "\u2039").replace(">", "\u203a"))
        return tweet_text

    def encode(self, texts: Sequence[str], images: Sequence[Any]) -> Any:
        """Tokenize and preprocess one chunk (left padded) on the model's device."""
        batch = self.processor(images=list(images), text=list(texts), return_tensors="pt",
                               padding=True)
        batch = batch.to(self.device)
        if "pixel_values" in batch:
            batch["pixel_values"] = batch["pixel_values"].to(self.model.dtype)
        return batch

    def generate(self, inputs: Any, **overrides: Any) -> Any:
        """``model.generate`` on encoded inputs: greedy, ``max_new_tokens``, the options of
        this captioner, then ``overrides`` (tests ask for scores)."""
        import torch

        options: dict[str, Any] = {"do_sample": False, "max_new_tokens": self.max_new_tokens,
                                   "pad_token_id": self.pad_token_id}
        if self.static_cache:
            options["cache_implementation"] = "static"
        options.update(self.generate_options)
        options.update(overrides)
        with torch.inference_mode():
            return self.model.generate(**inputs, **options)

    # -- captions ----------------------------------------------------------------------

    def caption(self, requests: Sequence[CaptionRequest], prompt: CaptionPrompt
                ) -> list[CaptionResult]:
        """Captions for ``requests``, one result per request, in request order."""
        results: list[CaptionResult | None] = [None] * len(requests)
        ready: list[tuple[int, str, Any, int]] = []  # index, prompt, image, prompt tokens
        for index, (request, image) in enumerate(zip(requests, _load_images(requests),
                                                     strict=True)):
            if isinstance(image, Exception):
                results[index] = CaptionResult(request.key, None, str(image))
                continue
            text = self.prompt_text(request.tweet_text, prompt)
            length = len(self.processor.tokenizer(text)["input_ids"])
            ready.append((index, text, image, length))
        # Similar lengths in one chunk waste less compute on padding.
        ready.sort(key=lambda entry: entry[3])
        started = time.perf_counter()
        step = self.batch_size or max(len(ready), 1)
        for at in range(0, len(ready), step):
            chunk = ready[at:at + step]
            for (index, _, _, _), caption, error in self._caption_chunk(chunk):
                results[index] = CaptionResult(requests[index].key, caption, error)
        if ready:
            self._timed_items += len(ready)
            self._timed_seconds += time.perf_counter() - started
        return [r for r in results if r is not None]

    def _caption_chunk(self, chunk: list[tuple[int, str, Any, int]]
                       ) -> list[tuple[tuple[int, str, Any, int], str | None, str | None]]:
        try:
            inputs = self.encode([e[1] for e in chunk], [e[2] for e in chunk])
        except ValueError as exc:
            # The processor refused one image of the chunk (e.g. 1 x 1 pixel): find it by
            # encoding the items one at a time; the others are captioned.
            if len(chunk) == 1:
                return [(chunk[0], None, f"the model's processor refused the image ({exc})")]
            # The others are still decoded as one batch: one by one, a GPU batch of 128
            # would take minutes (each row its own cache shape and decode loop).
            refused, accepted = [], []
            for entry in chunk:
                try:
                    self.encode([entry[1]], [entry[2]])
                except ValueError as one:
                    refused.append((entry, None,
                                    f"the model's processor refused the image ({one})"))
                else:
                    accepted.append(entry)
            if not refused:  # refused only together: caption each alone
                return [row for entry in chunk for row in self._caption_chunk([entry])]
            return refused + (self._caption_chunk(accepted) if accepted else [])
        new = self.new_tokens(inputs, full_length=self.fixed_length)
        captions = [text.strip() for text in
                    self.processor.batch_decode(new, skip_special_tokens=True)]
        return [(entry, caption, None) for entry, caption in zip(chunk, captions, strict=True)]

    def new_tokens(self, inputs: Any, *, full_length: bool = False) -> Any:
        """The generated tokens of an encoded chunk (batch, steps), by the static decoder
        or ``generate``; ``full_length``: all ``max_new_tokens``, even past an end of
        sequence (timing)."""
        if self.decoder is None:
            options = {"min_new_tokens": self.max_new_tokens} if full_length else {}
            return self.generate(inputs, **options)[:, inputs["input_ids"].shape[1]:]
        try:
            return self.decoder.generate(inputs, self.max_new_tokens,
                                         stop_at_eos=not full_length).tokens
        except Exception:
            self.decoder.release()  # out of memory: free the cache before the retry
            raise

    # -- time estimate -----------------------------------------------------------------

    def calibrate(self, prompt: CaptionPrompt | None = None, n: int | None = None) -> float:
        """Time one small batch of synthetic images generating the full ``max_new_tokens``
        (an upper bound: real captions may stop earlier); return seconds per caption."""
        from PIL import Image

        prompt = prompt or load_prompt()
        n = n or min(self.batch_size or 4, 4)  # 4: the caption job's batch on a CPU
        side = 480
        images = [Image.linear_gradient("L").resize((side, side)).convert("RGB")] * n
        texts = [self.prompt_text(_SAMPLE_TWEET, prompt)] * n
        started = time.perf_counter()
        inputs = self.encode(texts, images)
        self.new_tokens(inputs, full_length=True)
        seconds = time.perf_counter() - started
        self._timed_items, self._timed_seconds = n, seconds
        return seconds / n

    def estimate_seconds(self, n_items: int, prompt: CaptionPrompt | None = None) -> float:
        """Seconds to caption ``n_items`` at the measured rate: the captions written so far,
        or one calibration batch timed now when none were."""
        if not self._timed_items:
            self.calibrate(prompt)
        return n_items * self._timed_seconds / self._timed_items
