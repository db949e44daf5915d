"""Training and prediction speed of the fusion head on a CPU.

    .venv/bin/python bench/train_bench.py [--items 10000] [--predict 100000] [--dim 512]

Trains the default head (guided cross-attention + differential attention) with the
paper's recipe (SGD, lr 1e-3, batch 32, early stopping with patience 5, at most 50
epochs) on ``--items`` training items with 512-d image and text embeddings, whose class
depends on both (bench/fusion_synthetic.py's data), until it early-stops; then times
predicting ``--predict`` items. Goals on 2 CPU cores: <= 30 s to train, <= 5 s to predict.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fusion_synthetic import make_synthetic  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--predict", type=int, default=100000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--variant", default="guided_diff")
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--hidden", type=int, help="token width (default: the model's)")
    args = parser.parse_args(argv)

    import torch

    from crisisdesk.core.fusion.model import FusionConfig
    from crisisdesk.core.fusion.train import Recipe, Tensors, fit, predict_logits

    # make_synthetic splits 70/15/15: ask for enough items that train holds --items.
    train, val, test = make_synthetic(int(args.items / 0.7), image_dim=args.dim,
                                      text_dim=args.dim)
    config = FusionConfig(n_classes=4, image_dim=args.dim, text_dim=args.dim,
                          variant=args.variant,
                          **({"hidden": args.hidden} if args.hidden else {}))
    start = time.perf_counter()
    result = fit(config, Recipe(optimizer=args.optimizer), train, val)
    train_s = time.perf_counter() - start
    accuracy = float((predict_logits(result.model, test).argmax(1) == test.labels)
                     .float().mean())

    n = args.predict
    many = Tensors(torch.randn(n, args.dim), torch.randn(n, args.dim),
                   torch.ones(n, dtype=torch.bool), torch.ones(n, dtype=torch.bool),
                   torch.zeros(0, dtype=torch.long))
    predict_logits(result.model, many.subset(torch.arange(1000)))  # warm-up
    start = time.perf_counter()
    predict_logits(result.model, many)
    predict_s = time.perf_counter() - start

    print(f"train: {len(train):,} items x {args.dim}+{args.dim} dims, {args.variant} "
          f"(hidden {config.hidden}), "
          f"{args.optimizer}: {train_s:.1f} s for {result.epochs_run} epochs (best "
          f"{result.best_epoch}, early stop: {result.stopped_early}), test accuracy "
          f"{accuracy:.1%} (goal <= 30 s: {'PASS' if train_s <= 30 else 'FAIL'})")
    print(f"predict: {n:,} items in {predict_s:.2f} s = {n / predict_s:,.0f} items/s "
          f"(goal <= 5 s: {'PASS' if predict_s <= 5 else 'FAIL'})")
    print(json.dumps({"train_s": round(train_s, 2), "epochs": result.epochs_run,
                      "predict_s": round(predict_s, 2), "items": len(train),
                      "predict_items": n, "cpus": os.cpu_count(),
                      "threads": torch.get_num_threads()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
