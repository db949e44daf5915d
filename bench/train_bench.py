"""Training and prediction speed of the fusion head on a CPU.

    .venv/bin/python bench/train_bench.py [--items 10000] [--predict 100000] [--dim 512]
        [--latent 16] [--variant guided_diff] [--hidden N] [--tokens N]
        [--optimizer sgd|adamw] [--lr X] [--batch-size N] [--threads N]

Trains a head (default: the default fusion, guided cross-attention + differential
attention, with the default FusionConfig and Recipe) on ``--items`` training items with
512-d image and text embeddings until it early-stops, then times predicting
``--predict`` items. Goals on 2 CPU cores: <= 30 s to train, <= 5 s to predict.

The data are bench/fusion_synthetic.py's: the class is the XOR of a 2-bit code read
from the image and one read from the text, so neither modality alone says anything of
it. With ``--latent`` the 512-d vectors are a random lift of a ``latent``-d normal (plus
noise), as real embeddings have most of their variance in few directions: a plain 512-d
XOR (``--latent 0``) is not learnable from 10,000 items (~24% accuracy, chance 25%), and
a benchmark that early-stops at chance times nothing useful. The test accuracy is
printed with the times so a faster setting that learns less is seen as such.

Timings depend on the machine's load: quote them with the load they were measured under.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from fusion_synthetic import make_synthetic  # noqa: E402

#: The fewest training items whose synthetic split keeps a validation and a test item.
MIN_ITEMS = 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10000, help="training items")
    parser.add_argument("--predict", type=int, default=100000, help="items to predict")
    parser.add_argument("--dim", type=int, default=512, help="image and text dims")
    parser.add_argument("--latent", type=int, default=16,
                        help="latent dims the vectors are made from (0: plain XOR)")
    parser.add_argument("--variant", default="guided_diff")
    parser.add_argument("--hidden", type=int, help="token width (default: the model's)")
    parser.add_argument("--tokens", type=int, help="tokens per modality (default: the "
                        "model's)")
    parser.add_argument("--optimizer", help="default: the Recipe's")
    parser.add_argument("--lr", type=float, help="default: the Recipe's")
    parser.add_argument("--batch-size", type=int, help="default: the Recipe's")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.items < MIN_ITEMS:
        # Fewer leave make_synthetic's 70/15/15 split no validation item: fit raised.
        parser.error(f"--items must be at least {MIN_ITEMS} (a validation item)")
    if args.predict < 1:
        parser.error("--predict must be at least 1")

    import torch

    from crisisdesk.core.fusion.model import FusionConfig
    from crisisdesk.core.fusion.train import Recipe, Tensors, fit, predict_logits

    if args.threads:
        torch.set_num_threads(args.threads)
    # make_synthetic splits 70/15/15: ask for enough items that train holds --items.
    train, val, test = make_synthetic(round(args.items / 0.7), image_dim=args.dim,
                                      text_dim=args.dim, seed=args.seed,
                                      latent=args.latent or None)
    overrides = {k: v for k, v in (("hidden", args.hidden), ("tokens", args.tokens)) if v}
    config = FusionConfig(n_classes=4, image_dim=args.dim, text_dim=args.dim,
                          variant=args.variant, **overrides)
    recipe_overrides = {k: v for k, v in (("optimizer", args.optimizer), ("lr", args.lr),
                                          ("batch_size", args.batch_size)) if v}
    recipe = Recipe(seed=args.seed, **recipe_overrides)
    start = time.perf_counter()
    result = fit(config, recipe, train, val)
    train_s = time.perf_counter() - start
    accuracy = float((predict_logits(result.model, test).argmax(1) == test.labels)
                     .float().mean())

    n = args.predict
    g = torch.Generator().manual_seed(1)
    many = Tensors(torch.randn(n, args.dim, generator=g), torch.randn(n, args.dim, generator=g),
                   torch.ones(n, dtype=torch.bool), torch.ones(n, dtype=torch.bool),
                   torch.zeros(0, dtype=torch.long))
    # Warm-up on at most 2,000 of them (a smaller --predict crashed on indexing past it).
    predict_logits(result.model, many.subset(torch.arange(min(n, 2000))))
    start = time.perf_counter()
    predict_logits(result.model, many)
    predict_s = time.perf_counter() - start

    params = sum(p.numel() for p in result.model.parameters())
    print(f"model: {args.variant}, hidden {config.hidden}, {config.tokens} tokens per "
          f"modality, {config.heads} heads, {params:,} parameters; recipe {recipe.optimizer} "
          f"lr {recipe.lr:g} batch {recipe.batch_size} patience {recipe.patience}; "
          f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs visible")
    print(f"data: {len(train):,} train / {len(val):,} validation / {len(test):,} test items, "
          f"{args.dim}+{args.dim} dims, latent {args.latent or 'none (plain XOR)'}")
    print(f"train: {train_s:.1f} s for {result.epochs_run} epochs "
          f"({train_s / result.epochs_run:.2f} s/epoch; best epoch {result.best_epoch}, "
          f"early stop: {result.stopped_early}); test accuracy {accuracy:.1%} (chance 25%)"
          f"  goal <= 30 s: {'PASS' if train_s <= 30 else 'FAIL'}")
    print(f"predict: {n:,} items in {predict_s:.2f} s = {n / predict_s:,.0f} items/s"
          f"  goal <= 5 s: {'PASS' if predict_s <= 5 else 'FAIL'}")
    print(json.dumps({"variant": args.variant, "hidden": config.hidden,
                      "tokens": config.tokens, "optimizer": recipe.optimizer, "lr": recipe.lr,
                      "batch_size": recipe.batch_size, "latent": args.latent,
                      "train_s": round(train_s, 2), "epochs": result.epochs_run,
                      "best_epoch": result.best_epoch, "test_accuracy": round(accuracy, 4),
                      "predict_s": round(predict_s, 3), "items": len(train),
                      "predict_items": n, "cpus": os.cpu_count(),
                      "threads": torch.get_num_threads()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
