"""The fusion head checked against its sources, step by step (docs/fusion.md, "Audit").

Each test restates one equation from its source in plain tensor code and checks the
module computes exactly that with the same weights:

* differential attention: Ye et al. 2024 (arXiv:2410.05258) and their reference code
  (microsoft/unilm, Diff-Transformer/multihead_diffattn.py), without its causal mask and
  rotary positions, which a post's unordered tokens do not need;
* guided cross-attention: eq. 6-7 of the paper (``shared/seed/paper.txt``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from crisisdesk.core.fusion.model import DiffAttention, GuidedCrossAttention


def _ye_diff_attn(attn: DiffAttention, x: torch.Tensor) -> torch.Tensor:
    """Ye et al.'s multi-head differential attention before its output projection."""
    b, n, hidden = x.shape
    heads, d = attn.heads, attn.head_dim
    # Queries and keys as 2 * heads slices of width d (head i owns slices 2i and 2i + 1),
    # values as heads slices of width 2d; scores scaled by d ** -0.5, d the half width.
    q = (x @ attn.q.weight.T).view(b, n, 2 * heads, d).transpose(1, 2) * d ** -0.5
    k = (x @ attn.k.weight.T).view(b, n, 2 * heads, d).transpose(1, 2)
    v = (x @ attn.v.weight.T).view(b, n, heads, 2 * d).transpose(1, 2)
    weights = torch.softmax(q @ k.transpose(-1, -2), dim=-1).view(b, heads, 2, n, n)
    lam = (torch.exp((attn.lambda_q1 * attn.lambda_k1).sum())
           - torch.exp((attn.lambda_q2 * attn.lambda_k2).sum()) + attn.lambda_init)
    out = (weights[:, :, 0] - lam * weights[:, :, 1]) @ v
    # Per-head RMSNorm over the head's 2d outputs (eps 1e-5, a learned gain), then the
    # fixed (1 - lambda_init) scale.
    out = out * torch.rsqrt(out.pow(2).mean(-1, keepdim=True) + 1e-5) * attn.head_norm.weight
    out = out * (1 - attn.lambda_init)
    return out.transpose(1, 2).reshape(b, n, hidden)


def test_diff_attention_computes_ye_et_al_formulation() -> None:
    torch.manual_seed(0)
    for lambda_init in (0.2, 0.8):
        attn = DiffAttention(32, 2, 0.0, lambda_init).eval()
        with torch.no_grad():  # a non-trivial gain, so its place in the formula shows
            attn.head_norm.weight.uniform_(0.5, 1.5)
        x = torch.randn(3, 6, 32)
        with torch.no_grad():
            got, _ = attn.attend(x)
            torch.testing.assert_close(got, _ye_diff_attn(attn, x))


def test_diff_attention_initialises_lambda_as_ye_et_al() -> None:
    # lambda_q1, lambda_k1, lambda_q2, lambda_k2 ~ N(0, 0.1^2): lambda starts near
    # lambda_init (exp(~0) - exp(~0)), each vector d = hidden / heads / 2 wide.
    torch.manual_seed(0)
    attn = DiffAttention(512, 4, 0.0, 0.2)
    vectors = [attn.lambda_q1, attn.lambda_k1, attn.lambda_q2, attn.lambda_k2]
    assert all(v.shape == (64,) for v in vectors)
    std = torch.cat([v.detach() for v in vectors]).std().item()
    assert 0.08 < std < 0.12
    assert abs(attn.lam().item() - 0.2) < 0.2
    assert attn.q.bias is None and attn.k.bias is None and attn.v.bias is None


def test_guided_cross_attention_is_eq_6_7_each_modality_gating_the_other() -> None:
    torch.manual_seed(0)
    guided = GuidedCrossAttention(16)
    image, text = torch.randn(2, 3, 16), torch.randn(2, 3, 16)
    with torch.no_grad():
        joint, gates = guided(image, text)
        z_i = F.gelu(image @ guided.z_image.weight.T + guided.z_image.bias)
        z_t = F.gelu(text @ guided.z_text.weight.T + guided.z_text.bias)
        alpha_i = torch.sigmoid(image @ guided.gate_image.weight.T + guided.gate_image.bias)
        alpha_t = torch.sigmoid(text @ guided.gate_text.weight.T + guided.gate_text.bias)
    # z = concat(alpha_T . z_I, alpha_I . z_T): the text's gate scales the image's
    # projection and the image's gate the text's.
    torch.testing.assert_close(joint, torch.cat([alpha_t * z_i, alpha_i * z_t], dim=1))
    torch.testing.assert_close(gates["alpha_image"], alpha_i)
    torch.testing.assert_close(gates["alpha_text"], alpha_t)
