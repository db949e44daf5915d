"""One explanation: an item's image and text through the frozen encoders and the head,
one forward pass with autograd, one backward pass from the chosen class logit.

The backward pass gives, at once, the gradients that the image heat map
(:mod:`crisisdesk.core.explain.vit`), CLIP's word relevance
(:mod:`crisisdesk.core.explain.text`) and the input share
(:mod:`crisisdesk.core.explain.share`) need. A BERT-style text encoder's words are
valued by leaving each out and scoring again (:mod:`crisisdesk.core.explain.occlusion`).
Nothing here knows about projects: the caller hands over a head, its sidecar and loaded
encoders (see ``item.py`` for items).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from crisisdesk.core.explain.occlusion import LeaveOut, leave_words_out
from crisisdesk.core.explain.result import Explanation, ImageRelevance, WordRelevance
from crisisdesk.core.explain.share import JointTap, fusion_summary, input_share
from crisisdesk.core.explain.text import (
    TextPass,
    TextTokens,
    bert_text_pass,
    clip_text_pass,
    clip_tokens,
    word_spans,
    wordpiece_tokens,
)
from crisisdesk.core.explain.vit import (
    METHOD,
    ExplainError,
    check_plain_vit,
    crop_box,
    rollout,
    vit_forward,
)

#: Least cosine between an encoder's vector of an item and its stored embedding for the
#: two to count as the same model's (fp16 against fp32, or another decoder, stay > 0.99).
SAME_ENCODER = 0.95


class ZeroShotHead(nn.Module):
    """CLIP zero-shot scoring (``fusion/zeroshot.py``) as a differentiable head: logits =
    scale x the cosine of each present modality with the class vectors, averaged."""

    def __init__(self, class_vectors: np.ndarray, scale: float = 100.0) -> None:
        super().__init__()
        self.register_buffer("classes", F.normalize(torch.as_tensor(class_vectors).float(),
                                                    dim=-1))
        self.scale = scale

    def forward(self, image: Tensor, text: Tensor, image_present: Tensor, text_present: Tensor,
                return_details: bool = False) -> Any:
        sims = []
        for vector, present in ((image, image_present), (text, text_present)):
            if bool(present.any()) and vector.shape[-1] == self.classes.shape[-1]:
                # The norm is detached: the same cosine, but a scale-invariant head would
                # make gradient x input of each embedding 0 (Euler), and the share of
                # inputs the ratio of two rounding errors. So each one's is its cosine.
                norm = vector.norm(dim=-1, keepdim=True).detach().clamp(min=1e-12)
                sims.append((vector / norm) @ self.classes.T)
        logits = self.scale * torch.stack(sims).mean(dim=0) if sims else \
            torch.zeros(len(image), len(self.classes))
        return (logits, {}) if return_details else logits


def oriented_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image as shown: EXIF rotations of 90 degrees swap them."""
    from crisisdesk.core.imaging import open_image

    with open_image(path) as image:
        width, height = image.size
        # Pillow's TIFF reader reports the size upright already (it turns the pixels
        # on load): swapping it again would lay the map over the picture sideways.
        if image.format == "TIFF":
            return width, height
        orientation = image.getexif().get(0x0112, 1)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _locks(stack: ExitStack, encoders: list[Any]) -> None:
    """Hold each distinct encoder's lock (a CLIP model runs one call at a time)."""
    seen: set[int] = set()
    for encoder in encoders:
        lock = getattr(encoder, "_lock", None)
        if encoder is not None and lock is not None and id(encoder) not in seen:
            seen.add(id(encoder))
            stack.enter_context(lock)


class Explainer:
    """A head (fusion head, bundled text-only head or zero-shot scoring), its sidecar and
    the encoders its embeddings come from."""

    def __init__(self, head: nn.Module, sidecar: dict[str, Any], *,
                 image_encoder: Any | None = None, text_encoder: Any | None = None,
                 model_version: str = "") -> None:
        self.head, self.sidecar = head.eval(), sidecar
        self.classes = list(sidecar["classes"])
        self.variant = sidecar.get("config", {}).get("variant", "zero_shot")
        self.temperature = float(sidecar.get("temperature") or 1.0)
        self.image_encoder = image_encoder if sidecar.get("image_encoder") else None
        self.text_encoder = text_encoder if sidecar.get("text_encoder") else None
        self.model_version = model_version
        if sidecar.get("image_encoder") and image_encoder is None:
            raise ExplainError(f"the head reads {sidecar['image_encoder']} image embeddings: "
                               "give that encoder")
        if sidecar.get("text_encoder") and text_encoder is None:
            raise ExplainError(f"the head reads {sidecar['text_encoder']} text embeddings: "
                               "give that encoder")
        if self.image_encoder is not None:
            check_plain_vit(self.image_encoder.model.visual, self.image_encoder.name)

    def explain(self, *, image: Path | None, text: str, caption_start: int | None = None,
                class_name: str | None = None, item: str = "", task: str = "",
                image_vector: np.ndarray | None = None,
                text_vector: np.ndarray | None = None) -> Explanation:
        """Explain the head's score of ``class_name`` (default: its top class) for an item
        with this image (None: none) and this text (the tweet, then the caption).

        ``image_vector`` is the image's stored embedding: fed to the head in its place
        when the file cannot be read any more, as predictions still feed it (no heat map).
        ``image_vector`` and ``text_vector`` (the text's stored embedding) are also what
        the encoders' vectors are checked against: an encoder that gives another vector is
        not the one the predictions were made with, and the explanation is refused.
        """
        if class_name is not None and class_name not in self.classes:
            raise ExplainError(f"{class_name!r} is not a class of this model "
                               f"(one of: {', '.join(self.classes)})")
        notes: list[str] = []
        config = self.sidecar.get("config", {})
        with ExitStack() as stack, torch.enable_grad():
            _locks(stack, [self.image_encoder, self.text_encoder])
            vision = self._image_pass(image, notes)
            maps = vision[1] if vision else []
            image_leaf = vision[0] if vision else None
            if image_leaf is None and image_vector is not None and \
                    self.image_encoder is not None:
                # The prediction read this embedding: the explanation must score the same.
                image_leaf = torch.as_tensor(image_vector, dtype=torch.float32).reshape(
                    1, -1).requires_grad_(True)
                if notes:
                    notes[-1] += "; the head read its stored embedding, as predictions do"
            tokens, text_pass = self._text_pass(text)
            self._check_seen(image_leaf is not None, text_pass is not None)
            if vision:
                self._check_encoder("image", vision[0], image_vector)
            if text_pass is not None:
                self._check_encoder("text", text_pass.vector, text_vector)
            image_vec = image_leaf if image_leaf is not None else \
                torch.zeros(1, config.get("image_dim", 1))
            text_vec = text_pass.vector if text_pass else torch.zeros(1, config.get("text_dim", 1))
            image_present = torch.tensor([image_leaf is not None])
            text_present = torch.tensor([text_pass is not None])
            with JointTap(self.head) as joint:
                # The head lives on the CPU (load_head); the encoders may not.
                logits, details = self.head(image_vec.float().cpu(), text_vec.float().cpu(),
                                            image_present, text_present, return_details=True)
            probs = torch.softmax(logits.detach()[0] / self.temperature, dim=-1)
            index = self.classes.index(class_name) if class_name else int(probs.argmax())
            wanted: list[Tensor] = []
            if image_leaf is not None:
                wanted += [image_leaf, *maps]
            tapped = text_pass is not None and text_pass.embeddings is not None
            text_at = len(wanted)  # the text vector's gradient, then its tokens' (CLIP)
            if text_pass:
                wanted += [text_pass.vector, *([text_pass.embeddings] if tapped else [])]
            grads = torch.autograd.grad(logits[0, index], wanted, allow_unused=True) \
                if wanted else []
            left_out = self._leave_out(tokens, image_vec, image_present, index) \
                if text_pass is not None and not tapped else None
        grads = [g if g is not None else torch.zeros_like(w) for g, w in
                 zip(grads, wanted, strict=True)]
        relevance = None
        image_grad = grads[0] if image_leaf is not None else None
        if vision:
            relevance = self._heat_map(image, maps, grads[1:1 + len(maps)])
        raw = None
        if left_out is not None:
            raw = left_out.values
            if left_out.span > 1:
                notes.append(f"the text has {len(left_out.values)} words: to bound the time "
                             f"they were left out {left_out.span} at a time, and each word "
                             "shows its group's value")
        elif tapped:
            raw = text_pass.token_relevance(grads[text_at + 1], len(tokens.ids))
        words = _words(text, caption_start, tokens, raw, per_token=tapped)
        share_of_inputs = input_share(image_leaf, image_grad,
                                      text_pass.vector if text_pass else None,
                                      grads[text_at] if text_pass else None)
        share, fusion = fusion_summary(self.variant, details, joint.joint, share_of_inputs,
                                       image_leaf is not None, text_pass is not None)
        if share_of_inputs is not None:
            fusion["input_share_image"] = share_of_inputs
        return Explanation(
            item=item, task=task, class_name=self.classes[index], classes=self.classes,
            probabilities={c: float(p) for c, p in zip(self.classes, probs, strict=True)},
            model_version=self.model_version, text=text, caption_start=caption_start,
            words=words, image=relevance, share=share, fusion=fusion, notes=notes)

    def _check_seen(self, has_image: bool, has_text: bool) -> None:
        """Refuse an item the head cannot see (as prediction skips it): an image-only
        head's item without an image, or one with neither for any head. Its output there
        is the learned "missing" input's, no score of the item to explain."""
        reads = {"image_only": ("an image", has_image), "text_only": ("a text", has_text)}
        what, seen = reads.get(self.variant, ("an image or a text", has_image or has_text))
        if not seen:
            name = self.model_version or "this model"
            raise ExplainError(f"{name} needs {what} and this item has no usable one: it "
                               f"gets no prediction from {name}, so there is nothing to "
                               "explain")

    def _check_encoder(self, kind: str, vector: Tensor, stored: np.ndarray | None) -> None:
        """Refuse when the encoder loaded under the sidecar's name is not the one the head
        was trained on (vectors of another length) or the item was embedded with (another
        vector than the stored one): the map and words would be another model's, and the
        probabilities not the prediction's. A name re-registered to other weights does it."""
        name = self.sidecar[f"{kind}_encoder"]
        version = self.model_version or "this model"
        fix = (f"register the {name} it was made with again (crisisdesk models add), or "
               "this one under a new name, embed with it and retrain")
        want = self.sidecar.get("config", {}).get(f"{kind}_dim")
        got = int(vector.shape[-1])
        if want is not None and int(want) != got:
            raise ExplainError(f"the {kind} encoder registered as {name} now gives {got}-d "
                               f"vectors, but {version} was trained on {want}-d ones: it is "
                               f"not the model {version} reads; {fix}")
        if stored is None:
            return
        stored_t = torch.as_tensor(np.asarray(stored, dtype=np.float32)).reshape(1, -1)
        if stored_t.shape[-1] != got:
            raise ExplainError(f"the {kind} encoder registered as {name} now gives {got}-d "
                               f"vectors, but this item's stored {kind} embedding has "
                               f"{stored_t.shape[-1]}: it is not the model the item was "
                               f"embedded with; {fix}")
        # fp16 (GPU) against fp32 (CPU) stays above 0.999; another CLIP is far below.
        cosine = float(F.cosine_similarity(vector.detach().float().cpu(), stored_t)[0])
        if cosine < SAME_ENCODER:
            raise ExplainError(f"the {kind} encoder registered as {name} gives this item "
                               f"another vector than its stored embedding (cosine "
                               f"{cosine:.2f}): it is not the model the embeddings, and so "
                               f"the predictions, were made with; {fix}")

    # -- the two passes ----------------------------------------------------------------

    def _image_pass(self, image: Path | None, notes: list[str]
                    ) -> tuple[Tensor, list[Tensor]] | None:
        """(unit image vector [1, dim], attention maps) or None without a usable image."""
        if self.image_encoder is None or image is None:
            return None
        encoder = self.image_encoder
        try:
            pixels = encoder.load_image(Path(image))
        except (OSError, ValueError) as exc:  # missing or unreadable: explain the text
            notes.append(f"image not explained: {exc}")
            return None
        batch = encoder.model_input([pixels]).requires_grad_(True)
        pooled, maps = vit_forward(encoder.model.visual, batch)
        return F.normalize(pooled.float(), dim=-1), maps

    def _text_pass(self, text: str) -> tuple[TextTokens | None, TextPass | None]:
        if self.text_encoder is None:
            return None, None
        encoder = self.text_encoder
        if hasattr(encoder, "token_ids"):  # CLIP's BPE
            tokens = clip_tokens(encoder, text)
            return tokens, clip_text_pass(encoder, tokens.ids)
        tokens = wordpiece_tokens(encoder, text)
        return tokens, bert_text_pass(encoder, tokens.ids)

    def _leave_out(self, tokens: TextTokens, image_vec: Tensor, image_present: Tensor,
                   index: int) -> LeaveOut:
        """Each word's drop in the class probability when it is left out, scored by the
        same head with the same image input."""

        def score(texts: np.ndarray) -> np.ndarray:
            n = len(texts)
            with torch.no_grad():
                logits = self.head(image_vec.detach().float().cpu().repeat(n, 1),
                                   torch.from_numpy(texts).float(), image_present.repeat(n),
                                   torch.ones(n, dtype=torch.bool))
            # float64: a confident class's probability moves in its last digits.
            return torch.softmax(logits.double() / self.temperature, dim=-1)[:, index].numpy()

        return leave_words_out(self.text_encoder, tokens, score)

    def _heat_map(self, image: Path | None, maps: list[Tensor], grads: list[Tensor]
                  ) -> ImageRelevance:
        visual = self.image_encoder.model.visual
        rows, cols = visual.grid_size
        flat = rollout([m.detach().cpu() for m in maps], [g.cpu() for g in grads],
                       visual.pool_type)
        grid = flat.reshape(rows, cols).numpy().astype(np.float32)
        # Min-max to [0, 1], as Chefer et al.'s code does: the rollout's identity start
        # gives every patch a floor that says nothing about the class.
        low, high = float(grid.min()), float(grid.max())
        grid = (grid - low) / (high - low) if high - low > 1e-12 else np.zeros_like(grid)
        assert image is not None
        size = oriented_size(Path(image))
        mode = visual.preprocess_cfg.get("resize_mode", "shortest")
        return ImageRelevance(grid, size, crop_box(size, mode), METHOD)


def _words(text: str, caption_start: int | None, tokens: TextTokens | None,
           raw: np.ndarray | None, per_token: bool) -> list[WordRelevance]:
    """Each word of ``text`` with its signed relevance (zero where no encoder read it):
    ``raw`` holds one value per token (``per_token``, summed into its word) or per word."""
    spans = tokens.words if tokens is not None else word_spans(text)
    values = np.zeros(len(spans), dtype=np.float64)
    counts = np.zeros(len(spans), dtype=int)
    if tokens is not None:
        owners = np.asarray(tokens.owners, dtype=int)
        np.add.at(counts, owners, 1)
        if raw is not None and per_token:
            np.add.at(values, owners, raw)
        elif raw is not None:
            values = np.asarray(raw, dtype=np.float64)
    scale = float(np.abs(values).max()) if len(values) else 0.0
    scaled = values / scale if scale > 0 else values
    return [WordRelevance(start, end, text[start:end], float(scaled[i]), float(values[i]),
                          "caption" if caption_start is not None and start >= caption_start
                          else "tweet", int(counts[i]))
            for i, (start, end) in enumerate(spans)]
