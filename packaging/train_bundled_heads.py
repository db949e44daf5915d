"""Train the text-only heads shipped in ``resources/heads/`` (a maintainer's script).

    .venv/bin/python packaging/train_bundled_heads.py ../shared/crisismmd/settingA [--seeds 3]
        [--project /tmp/cmmd]

Imports the CrisisMMD setting-A train/dev splits into a scratch project, embeds the
tweets with the offline MiniLM encoder, trains a text-only head per task with
``--val-from train`` (early stopping on a slice of train), scores it on dev, and copies
the best seed's checkpoint pair into ``resources/heads/<task>.{safetensors,json}``. The
sidecar records what the head is: tweet text only, MiniLM, CrisisMMD (2017 disasters),
and the recipe it was trained with. ``--project`` reuses a project that already holds
those posts and their MiniLM text embeddings (``crisisdesk import`` + ``crisisdesk embed
--encoder minilm --kind text``) instead of building a scratch one.

Each task's recipe and head are in :data:`TASK_OPTIONS` (overrides of the "text" recipe
and of the one-modality head's config): the same as the ``crisisdesk train`` options
that docs/fusion.md quotes, chosen on dev, where each reaches the logistic-regression
reference of ``shared/bench/ANCHORS.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from crisisdesk.core.embed import EmbedJob
from crisisdesk.core.fusion.checkpoint import load_head, read_sidecar, save_head
from crisisdesk.core.fusion.train import named_recipe
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project

TASKS = ("informative", "humanitarian", "damage")
#: Per task: (recipe overrides of the "text" recipe, FusionConfig overrides).
TASK_OPTIONS: dict[str, tuple[dict, dict]] = {
    "informative": ({"lr": 1e-2, "batch_size": 128}, {"single_head": "linear"}),
    "humanitarian": ({"patience": 5, "class_weighted": False}, {"single_head": "linear"}),
    "damage": ({}, {}),  # the defaults: "text" recipe, MLP of 128 units
}
ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crisismmd", type=Path, help="folder with the settingA TSV files")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--project", type=Path,
                        help="an existing project with these posts and MiniLM text embeddings")
    parser.add_argument("--from-active", action="store_true",
                        help="ship --project's active text-only versions as they are (made "
                             "with the TASK_OPTIONS below, e.g. by crisisdesk train) instead "
                             "of training")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "heads")
    args = parser.parse_args(argv)
    files = sorted(args.crisismmd.glob("task_*_text_img_*.tsv"))
    if args.from_active and not args.project:
        parser.error("--from-active ships --project's active versions: name the project")
    if not args.project and not files:
        # Else the empty scratch project fails later as "no text embeddings of 'minilm'".
        parser.error(f"{args.crisismmd}: no task_*_text_img_*.tsv files (give the CrisisMMD "
                     "settingA folder)")

    work = Path(tempfile.mkdtemp(prefix="crisisdesk-heads-"))
    try:
        if args.project:
            project = Project.open(args.project)
        else:
            project = Project.open(work / "project", create=True)
            list(ImportJob(project, files, ImportOptions()).run())
            list(EmbedJob(project, "minilm", kinds=["text"]).run())
        args.out.mkdir(parents=True, exist_ok=True)
        figures = {}
        for task in args.tasks:
            if not args.from_active:
                recipe_overrides, config = TASK_OPTIONS[task]
                list(TrainJob(project, task, image_encoder=None, text_encoder="minilm",
                              recipe=named_recipe("text", **recipe_overrides), config=config,
                              seeds=args.seeds, val_from="train",
                              pick_seed_on="scored").run())
            with project.open_store() as store:
                version = store.active_model_version(task)
            assert version is not None
            model, sidecar = load_head(Path(version["path"]))
            sidecar["provenance"] = (
                "Text-only head shipped with crisisdesk: MiniLM (all-MiniLM-L6-v2) embeddings "
                "of the tweet text, trained on the CrisisMMD v2.0 setting-A train split "
                "(seven 2017 disasters; Alam, Ofli, Imran, ICWSM 2018), early-stopped on a "
                "slice of train, scored on dev. It never sees the image.")
            for key in ("format", "created_at", "weights_sha256"):
                sidecar.pop(key, None)
            save_head(args.out, task, model, sidecar)
        for task in TASKS:  # all shipped heads, also those not retrained this time
            if (args.out / f"{task}.json").is_file():
                figures[task] = _figures(read_sidecar(args.out / f"{task}.json"))
                print(task, json.dumps(figures[task]), flush=True)
        (args.out / "README.md").write_text(_readme(figures, args.seeds), encoding="utf-8")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


#: Logistic regression on the same MiniLM features (shared/bench/ANCHORS.md), dev split.
ANCHOR = {"informative": (85.06, 82.56), "humanitarian": (85.32, 50.42),
          "damage": (64.08, 40.74)}


def _figures(sidecar: dict) -> dict:
    """Options, mean of seeds and the shipped seed's dev figures, from a head's sidecar."""
    r, c, metrics = sidecar["recipe"], sidecar["config"], sidecar["metrics"]
    seeds = metrics["seeds"]
    shipped = next(seed for seed in seeds if seed["seed"] == metrics["active_seed"])
    parts = [f"--optimizer {r['optimizer']}", f"--lr {r['lr']:g}",
             f"--weight-decay {r['weight_decay']:g}", f"--batch-size {r['batch_size']}",
             f"--patience {r['patience']}", f"--select {r.get('select', 'loss')}",
             f"--head {c.get('single_head', 'attention')}"]
    if c.get("single_head") == "mlp":
        parts.append(f"--hidden {c['hidden']}")
    parts.append(f"--class-weight-power {r['class_weight_power']:g}"
                 if r["class_weighted"] else "--class-weights none")
    return {"options": " ".join(parts), "seed_picked_on": metrics["seed_picked_on"],
            "mean_of_seeds": metrics["summary"],
            "shipped_seed": {k: shipped["scored"][k]
                             for k in ("accuracy", "macro_f1", "weighted_f1")}}


def _readme(figures: dict, seeds: int) -> str:
    lines = ["# Shipped text-only heads", "",
             "Made by `packaging/train_bundled_heads.py`: MiniLM embeddings of the tweet "
             "text, CrisisMMD setting-A train split (early stopping on a 10% slice of it), "
             f"scored on dev. Mean of {seeds} seeds, the shipped seed (the one of the "
             "best dev accuracy + macro F1: the heads are selected on dev, so their own "
             "dev figures are optimistic; the mean of seeds is the fair figure), and the "
             "logistic-regression reference on the same features "
             "(`shared/bench/ANCHORS.md`), in %:", "",
             "| task | accuracy (mean) | macro F1 (mean) | shipped seed acc / mF1 | "
             "reference acc / mF1 | options |", "|---|---|---|---|---|---|"]
    for task, f in figures.items():
        mean, shipped = f["mean_of_seeds"], f["shipped_seed"]
        lines.append(
            f"| {task} | {100 * mean['accuracy']['mean']:.2f} ± "
            f"{100 * mean['accuracy']['std']:.2f} | {100 * mean['macro_f1']['mean']:.2f} ± "
            f"{100 * mean['macro_f1']['std']:.2f} | {100 * shipped['accuracy']:.2f} / "
            f"{100 * shipped['macro_f1']:.2f} | {ANCHOR[task][0]:.2f} / {ANCHOR[task][1]:.2f}"
            f" | `{f['options']}` |")
    return "\n".join(lines) + "\n\n```json\n" + json.dumps(figures, indent=2) + "\n```\n"


if __name__ == "__main__":
    raise SystemExit(main())
