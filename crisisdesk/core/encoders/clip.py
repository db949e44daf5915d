"""CLIP through open_clip: images and texts in one embedding space.

Weights come from one of the registry's routes (see ``crisisdesk.core.models.registry``):

* ``pretrained``: an open_clip pretrained tag (``openai``...), resolved by open_clip itself
  (offline: the process runs with ``HF_HUB_OFFLINE=1``, so only the HF cache is used);
* ``file`` / ``hub-cache``: one checkpoint file (``.safetensors``, or a ``.pt``/``.bin``
  state dict, read only with ``torch.load(..., weights_only=True)``);
* ``folder`` / ``package``: a hub-style folder (``open_clip_config.json`` next to
  ``open_clip_model.safetensors`` or ``open_clip_pytorch_model.bin``), through open_clip's
  ``local-dir:`` schema.

The model is frozen and in eval mode: all fp16 on CUDA, fp32 elsewhere
(:func:`inference_precision`), with OpenAI's QuickGELU folded into SiLU
(:func:`fold_quick_gelu`: the same function, faster). Texts longer than the
context are never truncated: their BPE tokens are split into overlapping windows
(:func:`token_windows`), every window is encoded, and the windows are pooled back into one
vector per text (:func:`pool_windows`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crisisdesk.core.encoders.base import (
    Encoder,
    EncoderError,
    TextBatch,
    pool_windows,
    token_windows,
)
from crisisdesk.core.encoders.clip_images import (
    ClipImageLoader,
    split_preprocess,
)
from crisisdesk.core.encoders.clip_loading import (
    check_tokenizer_supported,
    fold_quick_gelu,
    inference_precision,
    load_failure,
    model_source,
    resolve_device,
    unsupported_tokenizer,
)

if TYPE_CHECKING:
    import torch

#: Windows encoded per forward pass of the text tower.
TEXT_CHUNK = 256


def _is_uint8(image: np.ndarray | torch.Tensor) -> bool:
    """Pixels still to be scaled and normalised (a numpy array or a torch tensor)."""
    return str(image.dtype).rsplit(".", 1)[-1] == "uint8"


class ClipEncoder(Encoder):
    """A frozen open_clip CLIP model (image and text towers)."""

    kinds = frozenset({"image", "text"})

    def __init__(self, name: str, model: Any, preprocess: Any, tokenizer: Any,
                 device: torch.device, dtype: torch.dtype) -> None:
        self._lock = threading.Lock()  # the model runs one batch at a time
        self.name = name
        self.model = model
        self.preprocess = preprocess
        pil_steps, mean, std = split_preprocess(preprocess)
        import torch

        self._mean = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        self._std = torch.tensor(std, device=device).view(1, -1, 1, 1)
        self.tokenizer = tokenizer
        self._torch_device = device
        self._dtype = dtype
        self._pinned: torch.Tensor | None = None  # reused page-locked staging buffer
        #: On a GPU, each batch is staged and encoded in this many pieces: the CPU stacks
        #: the next piece while the GPU encodes the one before. An experiment for the
        #: next GPU session (bench/embed_bench.py --stage-pieces): 1 until measured.
        self.stage_pieces = 1
        self.device = str(device)
        self.context_length = int(getattr(model, "context_length", 0)
                                  or tokenizer.context_length)
        visual = model.visual
        size = visual.preprocess_cfg["size"]
        sides = (size, size) if isinstance(size, int) else tuple(size)
        #: JPEGs are decoded at the smallest DCT scale that keeps both sides >= this.
        self.input_side = int(max(sides))
        self._loader = ClipImageLoader(self.input_side, pil_steps, preprocess)
        dim = getattr(visual, "output_dim", None)
        if not dim:
            dim = int(self._encode_windows([[]]).shape[1])
        self.dim = int(dim)

    # -- loading ---------------------------------------------------------------------

    @classmethod
    def load(cls, name: str, *, arch: str | None, route: str, source: str | Path,
             device: str = "cpu") -> ClipEncoder:
        """Load a CLIP model for encoding.

        route: "pretrained" -> source is an open_clip pretrained tag (e.g. "openai"),
        resolved by open_clip itself (offline from the HF cache); "file" or "hub-cache" ->
        source is a local checkpoint file (.safetensors preferred; .pt/.bin loaded only with
        weights_only=True); "folder" (or "package") -> source is a local hub-style folder
        via open_clip's ``local-dir:`` schema. ``arch`` is the open_clip architecture name
        (needed for pretrained/file; a folder has its own config). OpenAI weights need
        QuickGELU: name the ``-quickgelu`` architecture (for a pretrained tag that open_clip
        knows was trained with QuickGELU, it is switched on here).
        """
        import open_clip
        import torch

        if str(device).startswith("cuda"):
            # A GPU embed job decodes in the shared decoder pool. Start it (its fork
            # server and workers) now, while the weights load. The server preloads the
            # decode step's modules only: Pillow and numpy, no torch
            # (clip_images.PillowSteps), so it is ready in a fraction of a second.
            # Preloading open_clip (and torch) took it seconds, which the first batch of
            # a job waited for (3.7 s on an H200).
            from crisisdesk.core.decoder_pool import default_workers, start_ahead

            start_ahead(preload=[ClipImageLoader.__module__, "crisisdesk.core.embed"],
                        workers=default_workers())
        torch_device = resolve_device(device)
        precision = inference_precision(torch_device)
        dtype = torch.float16 if torch_device.type == "cuda" else torch.float32

        model_name, pretrained, force_quick_gelu = model_source(arch, route, source)
        check_tokenizer_supported(model_name)
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name,
                pretrained=pretrained,
                precision=precision,
                device=torch_device,
                force_quick_gelu=force_quick_gelu,
                weights_only=True,
                require_pretrained=True,  # never hand back randomly initialised weights
            )
            tokenizer = open_clip.get_tokenizer(model_name)
        except Exception as exc:  # open_clip raises RuntimeError/ValueError/pickle errors
            raise EncoderError(load_failure(name, route, source, exc)) from exc
        if not isinstance(tokenizer, open_clip.SimpleTokenizer) or \
                getattr(tokenizer, "reduction_fn", None) is not None:
            raise EncoderError(unsupported_tokenizer(model_name, type(tokenizer).__name__))

        model.eval()
        model.requires_grad_(False)
        fold_quick_gelu(model)  # same function, one fused activation (see its docstring)
        return cls(name, model, preprocess, tokenizer, torch_device, dtype)

    # -- images ----------------------------------------------------------------------

    def load_image(self, path: Path) -> torch.Tensor:
        """Decode (EXIF-oriented, JPEG draft-scaled) and preprocess one image (thread-safe):
        [C, H, W] uint8, or a float tensor for a preprocess of another shape."""
        import torch

        pixels = self._loader(path)
        return torch.from_numpy(pixels) if isinstance(pixels, np.ndarray) else pixels

    def image_loader(self) -> ClipImageLoader:
        """The image loading step alone, picklable for worker processes."""
        return self._loader

    def model_input(self, images: Sequence[np.ndarray | torch.Tensor], *,
                    staging_at: int = 0) -> torch.Tensor:
        """Stack preprocessed images ([C, H, W] uint8 tensors or arrays, as
        :meth:`load_image` and the image loader give them, or float tensors of a full
        preprocess) into a batch on the
        device, in the model's dtype (on a GPU through the pinned staging buffer, from
        element ``staging_at`` on)."""
        import torch

        images = list(images)
        if not _is_uint8(images[0]):  # a full float preprocess (unusual transforms)
            return torch.stack(images).to(self._torch_device, dtype=self._dtype)
        # The batch is stacked by numpy: torch's CPU copies run in OpenMP regions, which
        # crawl when the cores are busy decoding (measured: torch.stack of 256 224x224
        # uint8 images took 0.5-3 s next to busy decoders, np.stack 13 ms).
        rows = [image if isinstance(image, np.ndarray) else image.numpy()
                for image in images]
        shape = (len(rows), *rows[0].shape)
        if self._torch_device.type == "cuda":
            # Into page-locked memory: the copy to the GPU is then one DMA transfer. The
            # buffer is reused; encode_images waits for its results before the next batch.
            size = int(np.prod(shape))
            if self._pinned is None or self._pinned.numel() < staging_at + size:
                self._pinned = torch.empty(staging_at + size, dtype=torch.uint8,
                                           pin_memory=True)
            staged = self._pinned[staging_at:staging_at + size].view(shape)
            np.stack(rows, out=staged.numpy())
            batch = staged.to(self._torch_device, non_blocking=True)
        else:
            batch = torch.from_numpy(np.stack(rows))
        batch = batch.float().div_(255.0)
        return batch.sub_(self._mean).div_(self._std).to(self._dtype)

    def encode_images(self, images: Sequence[np.ndarray | torch.Tensor], *,
                      patches: bool = False
                      ) -> tuple[np.ndarray, np.ndarray | None]:
        """L2-normalised vectors [n, dim] and, when asked, patch tokens [n, patches, dim]."""
        import torch
        import torch.nn.functional as F

        if len(images) == 0:
            empty = np.zeros((0, self.dim), dtype=np.float32)
            return empty, (np.zeros((0, self.patch_count, self.dim), np.float32)
                           if patches else None)
        pieces = 1 if patches else self.stage_pieces
        if pieces > 1 and len(images) >= 2 * pieces:
            return self._encode_in_pieces(list(images), pieces), None
        batch = self.model_input(images)
        with self._lock, torch.inference_mode():
            if patches:
                pooled, tokens = self._visual_with_tokens(batch)
                tokens = F.normalize(tokens.float(), dim=-1).cpu().numpy()
            else:
                pooled, tokens = self.model.encode_image(batch), None
            pooled = F.normalize(pooled.float(), dim=-1).cpu().numpy()
        return pooled.astype(np.float32), tokens

    def _encode_in_pieces(self, images: list[torch.Tensor], pieces: int) -> np.ndarray:
        """Vectors of a batch encoded piece by piece with one wait at the end: the GPU
        runs asynchronously, so stacking piece k+1 (each into its own part of the pinned
        buffer) overlaps encoding piece k."""
        import torch
        import torch.nn.functional as F

        step = -(-len(images) // pieces)
        if self._torch_device.type == "cuda" and _is_uint8(images[0]):
            # The whole batch's room at once: no piece waits on a new buffer.
            whole = len(images) * int(np.prod(images[0].shape))
            if self._pinned is None or self._pinned.numel() < whole:
                self._pinned = torch.empty(whole, dtype=torch.uint8, pin_memory=True)
        outs, at = [], 0
        with self._lock, torch.inference_mode():
            for start in range(0, len(images), step):
                piece = images[start:start + step]
                batch = self.model_input(piece, staging_at=at)
                at += int(np.prod((len(piece), *piece[0].shape))) \
                    if _is_uint8(piece[0]) else 0
                outs.append(F.normalize(self.model.encode_image(batch).float(), dim=-1))
            return torch.cat(outs).cpu().numpy().astype(np.float32)

    @property
    def patch_count(self) -> int:
        grid = getattr(self.model.visual, "grid_size", None)
        if grid is None:
            raise EncoderError(f"{self.name}: its image tower has no patch grid")
        return int(grid[0] * grid[1])

    def _visual_with_tokens(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled vector and patch tokens, both in the joint embedding space."""
        from open_clip.transformer import VisionTransformer

        visual = self.model.visual
        if not isinstance(visual, VisionTransformer) or visual.attn_pool is not None or \
                visual.pool_type not in ("tok", "avg"):
            raise EncoderError(f"{self.name}: patch tokens need a plain open_clip ViT "
                               "image tower (no attentional pooling)")
        # open_clip's VisionTransformer returns (pooled, tokens) while output_tokens is set;
        # set it only for this call (the lock keeps other calls from seeing it).
        previous = visual.output_tokens
        visual.output_tokens = True
        try:
            pooled, tokens = visual(batch)
        finally:
            visual.output_tokens = previous
        # In open_clip 3.3 the tokens have been through ln_post already, unless the model
        # applies ln_post after pooling (final_ln_after_pool); they are not projected.
        if visual.final_ln_after_pool:
            tokens = visual.ln_post(tokens)
        if visual.proj is not None:
            tokens = tokens @ visual.proj
        return pooled, tokens

    # -- texts -----------------------------------------------------------------------

    def token_ids(self, text: str) -> list[int]:
        """The BPE ids of a text's content (cleaned as open_clip does), never truncated.

        The tokenizer turns ``<start_of_text>`` / ``<end_of_text>`` typed in a text into
        its markers; they are dropped: CLIP reads a text's vector at its first end
        marker, so one inside a tweet would cut the tweet there.
        """
        markers = (self.tokenizer.sot_token_id, self.tokenizer.eot_token_id)
        return [i for i in self.tokenizer.encode(text) if i not in markers]

    def encode_texts(self, texts: Sequence[str]) -> TextBatch:
        """One vector per text; long texts are windowed (``windowed`` counts them)."""
        size = self.context_length - 2  # room for <start_of_text> and <end_of_text>
        overlap = size // 4
        rows: list[list[int]] = []
        owners: list[int] = []
        windowed = 0
        for index, text in enumerate(texts):
            windows = token_windows(self.token_ids(text), size=size, overlap=overlap)
            windowed += len(windows) > 1
            rows.extend(windows)
            owners.extend([index] * len(windows))
        if not rows:
            return TextBatch(np.zeros((0, self.dim), dtype=np.float32), 0)
        return TextBatch(pool_windows(self._encode_windows(rows), owners, len(texts)),
                         windowed)

    def _token_rows(self, windows: Sequence[Sequence[int]]) -> torch.Tensor:
        """[sot] + window + [eot], zero-padded to the context: what open_clip tokenizes."""
        import torch

        sot, eot = self.tokenizer.sot_token_id, self.tokenizer.eot_token_id
        tokens = torch.zeros(len(windows), self.context_length, dtype=torch.long)
        for row, window in enumerate(windows):
            ids = [sot, *window, eot]
            if len(ids) > self.context_length:
                raise ValueError(f"window of {len(window)} tokens exceeds the context")
            tokens[row, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        return tokens

    def _encode_windows(self, windows: Sequence[Sequence[int]]) -> np.ndarray:
        """L2-normalised float32 vectors of token windows, TEXT_CHUNK at a time."""
        import torch
        import torch.nn.functional as F

        tokens = self._token_rows(windows)
        out = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(tokens), TEXT_CHUNK):
                chunk = tokens[start:start + TEXT_CHUNK].to(self._torch_device)
                features = self.model.encode_text(chunk)
                out.append(F.normalize(features.float(), dim=-1).cpu().numpy())
        return np.concatenate(out).astype(np.float32)
