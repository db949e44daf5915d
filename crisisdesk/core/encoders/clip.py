"""CLIP through open_clip: images and texts in one embedding space.

Weights come from one of the registry's routes (see ``crisisdesk.core.models.registry``):

* ``pretrained``: an open_clip pretrained tag (``openai``...), resolved by open_clip itself
  (offline: the process runs with ``HF_HUB_OFFLINE=1``, so only the HF cache is used);
* ``file`` / ``hub-cache``: one checkpoint file (``.safetensors``, or a ``.pt``/``.bin``
  state dict, read only with ``torch.load(..., weights_only=True)``);
* ``folder`` / ``package``: a hub-style folder (``open_clip_config.json`` next to
  ``open_clip_model.safetensors`` or ``open_clip_pytorch_model.bin``), through open_clip's
  ``local-dir:`` schema.

The model is frozen and in eval mode: fp16 on CUDA, fp32 elsewhere. Texts longer than the
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

if TYPE_CHECKING:
    import torch

#: Windows encoded per forward pass of the text tower.
TEXT_CHUNK = 256
#: Routes whose ``source`` is a checkpoint file / a hub-style folder.
FILE_ROUTES = ("file", "hub-cache")
FOLDER_ROUTES = ("folder", "package")
ROUTES = ("pretrained", *FILE_ROUTES, *FOLDER_ROUTES)


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
            # A GPU embed job decodes in the shared decoder pool. Start it here, before
            # _resolve_device and the model initialise CUDA: forking is safe before then,
            # and the workers are ready by the time the weights are on the GPU.
            from crisisdesk.core.decoder_pool import start_ahead

            start_ahead()
        torch_device = _resolve_device(device)
        on_cuda = torch_device.type == "cuda"
        precision = "fp16" if on_cuda else "fp32"
        dtype = torch.float16 if on_cuda else torch.float32

        model_name, pretrained, force_quick_gelu = _model_source(arch, route, source)
        _check_tokenizer_supported(model_name)
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
            raise EncoderError(_load_failure(name, route, source, exc)) from exc
        if not isinstance(tokenizer, open_clip.SimpleTokenizer) or \
                getattr(tokenizer, "reduction_fn", None) is not None:
            raise EncoderError(_unsupported_tokenizer(model_name, type(tokenizer).__name__))

        model.eval()
        model.requires_grad_(False)
        return cls(name, model, preprocess, tokenizer, torch_device, dtype)

    # -- images ----------------------------------------------------------------------

    def load_image(self, path: Path) -> torch.Tensor:
        """Decode (EXIF-oriented, JPEG draft-scaled) and preprocess one image (thread-safe)."""
        return self._loader(path)

    def image_loader(self) -> ClipImageLoader:
        """The image loading step alone, picklable for worker processes."""
        return self._loader

    def model_input(self, images: Sequence[torch.Tensor], *, staging_at: int = 0
                    ) -> torch.Tensor:
        """Stack preprocessed images into a batch on the device, in the model's dtype
        (on a GPU through the pinned staging buffer, from element ``staging_at`` on)."""
        import torch

        images = list(images)
        if images[0].dtype != torch.uint8:  # a full float preprocess (unusual transforms)
            return torch.stack(images).to(self._torch_device, dtype=self._dtype)
        # The batch is stacked by numpy: torch's CPU copies run in OpenMP regions, which
        # crawl when the cores are busy decoding (measured: torch.stack of 256 224x224
        # uint8 images took 0.5-3 s next to busy decoders, np.stack 13 ms).
        rows = [image.numpy() for image in images]
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

    def encode_images(self, images: Sequence[torch.Tensor], *, patches: bool = False
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
        if self._torch_device.type == "cuda" and images[0].dtype == torch.uint8:
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
                    if piece[0].dtype == torch.uint8 else 0
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
        """The BPE ids of a text's content (cleaned as open_clip does), never truncated."""
        return list(self.tokenizer.encode(text))

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


def _resolve_device(device: str) -> torch.device:
    import torch

    try:
        torch_device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise EncoderError(f"unknown device {device!r} (use cpu, cuda or cuda:N)") from exc
    if torch_device.type == "cuda":
        if not torch.cuda.is_available():
            raise EncoderError(f"device {device!r} asked for, but CUDA is not available "
                               "here; use device 'cpu'")
        if torch_device.index is None:
            torch_device = torch.device("cuda", torch.cuda.current_device())
    return torch_device


def _model_source(arch: str | None, route: str, source: str | Path
                  ) -> tuple[str, str | None, bool]:
    """(open_clip model name, pretrained tag or file, force QuickGELU) for a route."""
    import open_clip

    if route not in ROUTES:
        raise EncoderError(f"unknown model route {route!r}; expected one of {ROUTES}")
    path = Path(source).expanduser() if route != "pretrained" else None
    if path is not None and path.is_dir() and route in FILE_ROUTES and \
            (path / "open_clip_config.json").is_file():
        route = "folder"  # a hub snapshot folder: it carries its own config
    if route in FOLDER_ROUTES:
        assert path is not None
        if not path.is_dir():
            raise EncoderError(f"{path}: no such folder")
        if not (path / "open_clip_config.json").is_file():
            raise EncoderError(f"{path} has no open_clip_config.json: not an open_clip "
                               "model folder (a checkpoint file needs its architecture)")
        if not any(any(path.glob(pattern)) for pattern in ("*.safetensors", "*.bin", "*.pth")):
            raise EncoderError(f"{path} has no weights (open_clip_model.safetensors or "
                               "open_clip_pytorch_model.bin)")
        return f"local-dir:{path.absolute()}", None, False
    if not arch:
        raise EncoderError(f"route {route!r} needs the open_clip architecture "
                           "(e.g. ViT-B-32-quickgelu)")
    if open_clip.get_model_config(arch) is None:
        raise EncoderError(f"open_clip has no architecture {arch!r} "
                           "(see open_clip.list_models())")
    if route == "pretrained":
        tag = str(source)
        tag_cfg = open_clip.get_pretrained_cfg(arch, tag)
        if not tag_cfg:
            known = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none"
            raise EncoderError(f"open_clip has no pretrained weights {tag!r} for {arch} "
                               f"(known tags: {known})")
        # OpenAI-trained weights need QuickGELU even when named without -quickgelu.
        return arch, tag, bool(tag_cfg.get("quick_gelu", False))
    assert path is not None
    if not path.is_file():
        raise EncoderError(f"{path}: no such checkpoint file")
    return arch, str(path.absolute()), False


def _check_tokenizer_supported(model_name: str) -> None:
    """Refuse models whose texts crisisdesk cannot window (before building them)."""
    import open_clip

    try:
        config = open_clip.get_model_config(model_name) or {}
    except (OSError, ValueError) as exc:
        raise EncoderError(f"cannot read the model config of {model_name}: {exc}") from exc
    text_cfg = config.get("text_cfg", {})
    if text_cfg.get("hf_tokenizer_name") or text_cfg.get("hf_model_name"):
        raise EncoderError(_unsupported_tokenizer(model_name, "HFTokenizer"))
    if text_cfg.get("tokenizer_kwargs", {}).get("reduction_mask"):
        raise EncoderError(_unsupported_tokenizer(model_name, "a reduction-mask tokenizer"))
    if not model_name.startswith("local-dir:") and "siglip" in model_name.lower():
        raise EncoderError(_unsupported_tokenizer(model_name, "SigLipTokenizer"))


def _unsupported_tokenizer(model_name: str, kind: str) -> str:
    return (f"{model_name} uses {kind}; crisisdesk windows long texts itself and supports "
            "CLIP models with open_clip's BPE SimpleTokenizer only")


def _load_failure(name: str, route: str, source: str | Path, exc: Exception) -> str:
    import pickle

    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, pickle.UnpicklingError) or "weights_only" in str(exc):
        hint = ("the checkpoint holds more than tensors and is only read with "
                "weights_only=True; convert it to .safetensors")
    elif any(sign in str(exc) for sign in ("Missing key", "Unexpected key", "size mismatch",
                                            "width changed")):
        hint = "the weights do not fit this architecture (wrong --arch?)"
    elif route == "pretrained":
        hint = ("open_clip could not find these weights offline; "
                f"run: crisisdesk models download {name}")
    else:
        hint = "the file or folder is not a usable open_clip checkpoint"
    return f"cannot load model {name!r} ({route}: {source}): {hint}\n{text}"
