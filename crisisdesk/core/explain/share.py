"""The fusion head's own weights for one item, summarised as an image vs text share.

What the head exposes (``FusionHead.forward(..., return_details=True)``): the guided
cross-attention gates ``alpha_image`` / ``alpha_text`` [1, k, h] and, for ``guided_diff``,
the differential attention's two softmax maps ``attn1`` / ``attn2`` [1, heads, 2k, 2k] and
its ``lambda``. The joint sequence is ``concat(alpha_T * z_I, alpha_I * z_T)``: its first
k tokens carry the image, the last k the text.

The share, per variant:

* ``guided_diff``: the attention flow into each half. The effective map of the
  differential attention is ``A1 - lambda * A2``; the weight of joint token j is
  ``mean over heads and queries of |A1 - lambda A2|[., j]`` times the norm of token j
  (the gated projection, so the gates count too); image share = the image half's weight
  over the total.
* ``guided``: the classifier reads the mean of the joint tokens; image share = the image
  half's share of the token norms.
* ``text_only`` / ``image_only``: 100 % that modality.
* ``concat_mlp`` and zero-shot (no attention to read): the gradient x input share of the
  two embeddings the head is fed, ``|sum grad * x|`` per modality.

An item without an image (or without a text) gives the other modality 100 %: the
"missing" tokens the head uses in its place carry nothing about the item.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor


class JointTap:
    """Keeps the joint sequence a guided head builds (a forward hook on its ``guided``
    module), so the share can weigh the attention by what each token carries."""

    def __init__(self, head: Any) -> None:
        self.module = getattr(head, "guided", None)
        self.joint: Tensor | None = None

    def _hook(self, module: Any, args: Any, output: Any) -> None:
        self.joint = output[0].detach()

    def __enter__(self) -> JointTap:
        self._handle = self.module.register_forward_hook(self._hook) \
            if self.module is not None else None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.remove()


def _mean(value: Tensor) -> float:
    return float(value.float().mean())


def fusion_summary(variant: str, details: dict[str, Tensor], joint: Tensor | None,
                   input_share: float | None, image_present: bool, text_present: bool
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(share, fusion facts) of one item.

    ``share`` is ``{"image": x, "text": 1 - x, "basis": how it was computed}``; the facts
    hold the gates' means, lambda and each softmax map's mass on the image tokens.
    """
    facts: dict[str, Any] = {"variant": variant}
    if "alpha_image" in details:
        facts["gate_image"] = _mean(details["alpha_image"])  # image's gate on text tokens
        facts["gate_text"] = _mean(details["alpha_text"])  # text's gate on image tokens
    k = None
    if "attn1" in details:
        attn1, attn2 = details["attn1"][0].float(), details["attn2"][0].float()
        k = attn1.shape[-1] // 2
        lam = float(details["lambda"])
        facts["lambda"] = lam
        facts["attn1_image_mass"] = float(attn1[..., :k].sum(-1).mean())
        facts["attn2_image_mass"] = float(attn2[..., :k].sum(-1).mean())
    if not image_present or variant == "text_only":
        return {"image": 0.0, "text": 1.0, "basis": "text only" if variant == "text_only"
                else "no image for this item"}, facts
    if not text_present or variant == "image_only":
        return {"image": 1.0, "text": 0.0, "basis": "image only" if variant == "image_only"
                else "no text for this item"}, facts
    if joint is not None:
        norms = joint[0].float().norm(dim=-1)  # [2k]
        half = norms.shape[0] // 2
        if k is not None:
            effective = (details["attn1"][0].float()
                         - float(details["lambda"]) * details["attn2"][0].float()).abs()
            weight = effective.mean(dim=(0, 1)) * norms
            basis = "differential attention flow into the gated image / text tokens"
        else:
            weight = norms
            basis = "norms of the gated image / text tokens the classifier averages"
        total = float(weight.sum())
        image = float(weight[:half].sum()) / total if total > 0 else 0.5
        return {"image": image, "text": 1.0 - image, "basis": basis}, facts
    image = 0.5 if input_share is None else input_share
    return {"image": image, "text": 1.0 - image,
            "basis": "gradient x input of the image and text embeddings"}, facts


def input_share(image: Tensor | None, image_grad: Tensor | None, text: Tensor | None,
                text_grad: Tensor | None) -> float | None:
    """Image's share of ``|grad . x|`` over the two embeddings fed to the head."""
    if image is None or text is None or image_grad is None or text_grad is None:
        return None
    a = abs(float((image.detach() * image_grad).sum()))
    b = abs(float((text.detach() * text_grad).sum()))
    return a / (a + b) if a + b > 0 else 0.5
