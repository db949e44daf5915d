"""Greedy caption decoding for LLaVA with a static KV cache, prefill in row chunks and a
CUDA graph per decode step: the fast path of the local captioner on a GPU.

Why not ``model.generate``: with its default (dynamic) cache every token step costs
70-80 ms of Python and kernel-launch overhead whatever the batch (6 captions/s for
LLaVA-1.5-7B fp16 at batch 64 on an H200, ``../shared/bench/ANCHORS.md``). Its static
cache compiles the decode step again for every new batch shape (26-36 s each: a caption
job's batches differ in prompt length) and prefills the whole batch at once, which runs
out of memory at batch 128. Here:

* the prompt length is rounded up to a multiple of ``bucket`` with more left padding, so
  the batches of a job mostly share one shape (one cache, one graph);
* the batch is prefilled ``prefill_tokens`` tokens at a time (the vision tower and the
  prompt of a few posts), straight into rows of one preallocated static cache, so the
  activations stay small and large batches fit;
* each decode step is one replay of a CUDA graph captured once per shape (capture is
  one recorded step, no compilation), with the next token, positions and the attention
  mask updated in place on the GPU; on a CPU, or where capture fails, the same step runs
  eagerly;
* decoding stops once every row has written its end-of-sequence token (checked every
  ``check_every`` steps: a check waits for the GPU).

Greedy only, as the captioner is. The tokens equal ``model.generate(do_sample=False)``'s
up to floating-point noise (tests compare per-step logits). Only plain
``LlavaForConditionalGeneration`` models whose cache layers are all static and whose
attention is ``sdpa`` or ``eager`` are taken (:func:`supports`); others use ``generate``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: Attention implementations whose 4-D mask format this decoder writes.
_MASKS = ("sdpa", "eager")


def supports(model: Any) -> str | None:
    """None when this decoder can run ``model``, else why not (``generate`` is used)."""
    if type(model).__name__ != "LlavaForConditionalGeneration":
        return f"{type(model).__name__} is not a LLaVA-1.5-style model"
    language = getattr(getattr(model, "model", None), "language_model", None)
    if language is None or not hasattr(model, "lm_head"):
        return "the model has no model.language_model / lm_head"
    attention = getattr(language.config, "_attn_implementation", None)
    if attention not in _MASKS:
        return f"attention implementation {attention!r} (needs one of {', '.join(_MASKS)})"
    if getattr(language.config, "sliding_window", None) and \
            getattr(language.config, "use_sliding_window", True):
        return "sliding-window attention"
    return None


def cache_geometry(config: Any) -> tuple[int, int, int]:
    """(layers, key/value heads, head width) of a model's key/value cache: what one cached
    position costs (x2 for keys and values, x bytes per value)."""
    text = config.get_text_config(decoder=True)
    heads = getattr(text, "num_key_value_heads", None) or text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    return text.num_hidden_layers, heads, head_dim


@dataclass
class Decoded:
    """New tokens per row (``pad_token_id`` after a row's end of sequence), and the
    logits of every step when asked for (tests)."""

    tokens: Any  # LongTensor (batch, steps)
    scores: list[Any] | None = None
    graphed: bool = False
    #: With ``timed``: seconds of the prefill and of the decode steps (benchmarks).
    prefill_seconds: float | None = None
    decode_seconds: float | None = None


class _Shape:
    """Everything that lives for one (batch, cache length) shape: the static cache, the
    step's input tensors and, on a GPU, the captured graph."""

    def __init__(self, model: Any, batch: int, cache_length: int, device: Any,
                 dtype: Any, eos_token_ids: Sequence[int]) -> None:
        import torch
        from transformers import StaticCache
        from transformers.cache_utils import StaticLayer

        self.batch, self.cache_length = batch, cache_length
        self.cache = StaticCache(config=model.config, max_cache_len=cache_length)
        if not all(type(layer) is StaticLayer for layer in self.cache.layers):
            raise ValueError("the model's cache layers are not all static")
        _, heads, head_dim = cache_geometry(model.config)
        probe = torch.empty((batch, heads, 1, head_dim), dtype=dtype, device=device)
        for layer in self.cache.layers:
            layer.lazy_initialization(probe, probe)  # allocates (batch, heads, length, dim)
        self.token = torch.zeros((batch, 1), dtype=torch.long, device=device)
        self.position = torch.zeros((batch, 1), dtype=torch.long, device=device)
        self.at = torch.zeros((), dtype=torch.long, device=device)  # next cache slot
        self.start = torch.zeros((), dtype=torch.long, device=device)  # first new slot
        self.prompt_keys = torch.zeros((batch, 1, 1, cache_length), dtype=torch.bool,
                                       device=device)
        self.slots = torch.arange(cache_length, device=device)
        self.done = torch.zeros((batch,), dtype=torch.bool, device=device)
        self.eos = torch.tensor(list(eos_token_ids) or [-1], device=device)
        self.graph: Any = None
        self.logits: Any = None

    def rows(self, first: int, last: int) -> Any:
        """A StaticCache over rows ``first:last`` of this one (views: prefill writes
        straight into the big cache)."""
        import torch

        part = object.__new__(type(self.cache))
        part.__dict__.update(self.cache.__dict__)
        part.layers = []
        for layer in self.cache.layers:
            view = object.__new__(type(layer))
            view.__dict__.update(layer.__dict__)
            view.keys, view.values = layer.keys[first:last], layer.values[first:last]
            view.batch_size = last - first
            view.cumulative_length = torch.zeros((), dtype=torch.long, device=layer.keys.device)
            part.layers.append(view)
        return part

    def set_length(self, length: int) -> None:
        """Every layer's next write goes to slot ``length``."""
        for layer in self.cache.layers:
            layer.cumulative_length.fill_(length)
        self.at.fill_(length)
        self.start.fill_(length)


class StaticDecoder:
    """Greedy decoding of a LLaVA model (see the module doc). One per captioner: it keeps
    the cache and graph of the last shape for the next batch."""

    def __init__(self, model: Any, *, pad_token_id: int, eos_token_ids: Sequence[int],
                 bucket: int = 32, prefill_tokens: int = 16384, check_every: int = 8,
                 graphs: bool | None = None) -> None:
        reason = supports(model)
        if reason:
            raise ValueError(f"the static decoder cannot run this model: {reason}")
        self.model = model
        self.language = model.model.language_model
        self.pad_token_id = pad_token_id
        self.eos_token_ids = sorted({int(t) for t in eos_token_ids})
        self.bucket, self.prefill_tokens, self.check_every = bucket, prefill_tokens, check_every
        self.graphs = graphs
        self.graph_error: str | None = None  # why capture failed (the eager step is used)
        self._shape: _Shape | None = None

    # -- public --------------------------------------------------------------------------

    def generate(self, inputs: Any, max_new_tokens: int, *, stop_at_eos: bool = True,
                 return_scores: bool = False, timed: bool = False) -> Decoded:
        """New tokens for a left-padded processor batch (``input_ids``,
        ``attention_mask``, ``pixel_values``...). ``stop_at_eos`` False runs all
        ``max_new_tokens`` steps (the benchmark's fixed-length captions); ``timed`` waits
        for the device after the prefill and at the end to time both (benchmarks)."""
        import torch

        with torch.inference_mode():
            return self._generate(dict(inputs), max_new_tokens, stop_at_eos, return_scores,
                                  timed)

    def release(self) -> None:
        """Free the cache and graph (GPU memory) until the next batch."""
        self._shape = None

    # -- steps ---------------------------------------------------------------------------

    def _generate(self, inputs: dict[str, Any], new: int, stop_at_eos: bool,
                  return_scores: bool, timed: bool) -> Decoded:
        import time

        import torch

        def now() -> float:
            if timed and torch.cuda.is_available():
                torch.cuda.synchronize()
            return time.perf_counter()

        ids, mask = inputs.pop("input_ids"), inputs.pop("attention_mask").to(torch.bool)
        batch, length = ids.shape
        padded = -(-length // self.bucket) * self.bucket
        if padded > length:  # more left padding: batches of nearby lengths share a shape
            extra = padded - length
            ids = torch.cat([ids.new_full((batch, extra), self.pad_token_id), ids], dim=1)
            mask = torch.cat([mask.new_zeros((batch, extra)), mask], dim=1)
        shape = self._shape_for(batch, padded + new, ids.device)
        eos = shape.eos
        scores: list[Any] | None = [] if return_scores else None

        started = now()
        first = self._prefill(shape, ids, mask, inputs, padded)
        prefilled = now()
        if scores is not None:
            scores.append(first.float())
        shape.token.copy_(first.argmax(-1, keepdim=True))
        shape.done.copy_((shape.token == eos).any(-1))
        shape.position.copy_(mask.sum(-1, keepdim=True))  # positions count real tokens
        shape.prompt_keys.zero_()
        shape.prompt_keys[:, 0, 0, :padded] = mask
        shape.set_length(padded)
        tokens = [shape.token.clone()]
        graphed = False
        for step in range(1, new):
            if stop_at_eos and step % self.check_every == 0 and bool(shape.done.all()):
                break
            logits = self._step(shape)
            graphed = graphed or shape.graph is not None
            if scores is not None:
                scores.append(logits.float().clone())
            tokens.append(shape.token.clone())
        out = torch.cat(tokens, dim=1)
        ended_at = now()
        # After a row's end of sequence its tokens are padding, as generate() leaves them.
        ended = torch.cumsum((out.unsqueeze(-1) == eos).any(-1).long(), dim=1)
        after = (ended - (out.unsqueeze(-1) == eos).any(-1).long()) > 0
        out = out.masked_fill(after, self.pad_token_id)
        return Decoded(out, scores, graphed, prefilled - started if timed else None,
                       ended_at - prefilled if timed else None)

    def _shape_for(self, batch: int, cache_length: int, device: Any) -> _Shape:
        old = self._shape
        if old is not None and (old.batch, old.cache_length) == (batch, cache_length):
            return old
        # Free the old cache and graph before allocating the new (no reference left to
        # them): both at once do not fit where a large batch follows another.
        self._shape = old = None
        # The cache holds activations, whose dtype is the (never quantized) embeddings'.
        self._shape = _Shape(self.model, batch, cache_length, device,
                             self.language.embed_tokens.weight.dtype, self.eos_token_ids)
        return self._shape

    def _mask(self, allowed: Any) -> Any:
        """The 4-D mask in the attention implementation's format: booleans for sdpa,
        additive (0 / most negative) for eager attention."""
        import torch

        if self.language.config._attn_implementation == "sdpa":
            return allowed
        dtype = self.language.embed_tokens.weight.dtype
        zero = torch.zeros((), dtype=dtype, device=allowed.device)
        return torch.where(allowed, zero, torch.finfo(dtype).min)

    def _prefill(self, shape: _Shape, ids: Any, mask: Any, extra: dict[str, Any],
                 padded: int) -> Any:
        """Run the prompts through the model ``prefill_tokens`` at a time; return the
        logits of each row's last prompt position."""
        import torch

        batch = ids.shape[0]
        rows = max(1, self.prefill_tokens // padded)
        positions = (mask.long().cumsum(-1) - 1).masked_fill(~mask, 1)
        slots = torch.arange(shape.cache_length, device=ids.device)
        query = torch.arange(padded, device=ids.device)
        causal = slots[None, :] <= query[:, None]  # (padded, cache)
        own = slots[None, :] == query[:, None]
        logits = []
        for first in range(0, batch, rows):
            last = min(batch, first + rows)
            keys = torch.zeros((last - first, shape.cache_length), dtype=torch.bool,
                               device=ids.device)
            keys[:, :padded] = mask[first:last]
            allowed = causal[None] & keys[:, None, :]
            # A padding query sees nothing: let it see itself, or the softmax of an empty
            # row gives NaN that the next layer's values would carry everywhere.
            allowed |= own[None] & ~mask[first:last, :, None]
            part = {key: value[first:last] if _rows_of(value, batch) else value
                    for key, value in extra.items()}
            out = self.model.model(input_ids=ids[first:last],
                                   attention_mask=self._mask(allowed[:, None]),
                                   position_ids=positions[first:last],
                                   cache=shape.rows(first, last), use_cache=True, **part)
            logits.append(self.model.lm_head(out.last_hidden_state[:, -1, :]))
        return torch.cat(logits)

    def _eager_step(self, shape: _Shape) -> Any:
        """One decode step with no host synchronisation (capturable): feed the current
        token, write the next one, advance positions and the cache slot."""

        allowed = shape.prompt_keys | ((shape.slots >= shape.start) & (shape.slots <= shape.at))
        hidden = self.language(input_ids=shape.token, attention_mask=self._mask(allowed),
                               position_ids=shape.position, cache=shape.cache,
                               use_cache=True).last_hidden_state
        logits = self.model.lm_head(hidden[:, -1, :])
        shape.token.copy_(logits.argmax(-1, keepdim=True))
        shape.done.logical_or_((shape.token == shape.eos).any(-1))
        shape.position.add_(1)
        shape.at.add_(1)
        return logits

    def _step(self, shape: _Shape) -> Any:
        import torch

        use_graphs = self.graphs if self.graphs is not None else shape.token.is_cuda
        if not use_graphs or self.graph_error is not None:
            return self._eager_step(shape)
        if shape.graph is not None:
            shape.graph.replay()
            return shape.logits
        # First step of this shape: run it eagerly on a side stream (warms cuBLAS and
        # the allocator, as capture requires), then record the next one.
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            logits = self._eager_step(shape)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        try:
            # thread_local: another job on this GPU (an embed job in the app's other
            # worker) may go on launching work while this thread records.
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                shape.logits = self._eager_step(shape)
        except torch.cuda.OutOfMemoryError:
            # Not a reason to decode eagerly for good: the caption job halves its batch,
            # and the smaller batch's shape captures its own graph.
            raise
        except Exception as exc:  # noqa: BLE001 - any capture failure: the eager step works
            self.graph_error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("CUDA graph capture failed, decoding eagerly: %s", self.graph_error)
            shape.graph = None
            return logits
        shape.graph = graph
        return logits


def _rows_of(value: Any, batch: int) -> bool:
    """Whether a processor output has one row per post (sliced with the prefill chunk)."""
    return hasattr(value, "shape") and len(value.shape) > 0 and value.shape[0] == batch
