"""Train the text-only heads shipped in ``resources/heads/`` (a maintainer's script).

    .venv/bin/python packaging/train_bundled_heads.py ../shared/crisismmd/settingA [--seeds 3]

Imports the CrisisMMD setting-A train/dev splits into a scratch project, embeds the
tweets with the offline MiniLM encoder, trains a text-only head per task with
``--val-from train`` (early stopping on a slice of train), scores it on dev, and copies
the best seed's checkpoint pair into ``resources/heads/<task>.{safetensors,json}``. The
sidecar records what the head is: tweet text only, MiniLM, CrisisMMD (2017 disasters).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from crisisdesk.core.embed import EmbedJob
from crisisdesk.core.fusion.checkpoint import load_head, save_head
from crisisdesk.core.fusion.train import Recipe
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project

TASKS = ("informative", "humanitarian", "damage")
ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crisismmd", type=Path, help="folder with the settingA TSV files")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "heads")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="crisisdesk-heads-"))
    try:
        project = Project.open(work / "project", create=True)
        files = sorted(args.crisismmd.glob("task_*_text_img_*.tsv"))
        list(ImportJob(project, files, ImportOptions()).run())
        list(EmbedJob(project, "minilm", kinds=["text"]).run())
        args.out.mkdir(parents=True, exist_ok=True)
        figures = {}
        for task in TASKS:
            job = TrainJob(project, task, image_encoder=None, text_encoder="minilm",
                           recipe=Recipe(optimizer=args.optimizer), seeds=args.seeds,
                           val_from="train")
            list(job.run())
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
            figures[task] = job.report.summary
            print(task, json.dumps(job.report.summary), flush=True)
        (args.out / "README.md").write_text(
            "# Shipped text-only heads\n\n"
            "Made by `packaging/train_bundled_heads.py`; dev-split figures (mean and "
            f"standard deviation over {args.seeds} seeds):\n\n```json\n"
            + json.dumps(figures, indent=2) + "\n```\n", encoding="utf-8")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
