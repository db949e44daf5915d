"""Command-line commands for the classifier: ``train``, ``eval`` and ``predict`` (and
``versions``, from cli_versions)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from crisisdesk.cli import OK, PROBLEMS, _fail
from crisisdesk.cli_captions import _positive
from crisisdesk.core.words import display_width, pad, plural


def _figures(report: dict) -> str:
    ci = report.get("ci95", {})

    def one(key: str) -> str:
        low_high = ci.get(key)
        band = f" [{low_high[0]:.1%}, {low_high[1]:.1%}]" if low_high else ""
        return f"{key.replace('_', ' ')} {report[key]:.1%}{band}"

    return ", ".join(one(k) for k in ("accuracy", "macro_f1", "weighted_f1"))


def _say_orphans(job: object) -> None:
    """Say what the training removed of trainings killed before registering a version:
    once, as the files are gone after it (whether this training succeeded or not)."""
    note = job.report.orphans_note() if job is not None else ""  # type: ignore[attr-defined]
    if note:
        print(f"Note: {note}")


def cmd_train(args: argparse.Namespace) -> int:
    from crisisdesk.cli import drive
    from crisisdesk.core.fusion.data import EmbeddingsMissing
    from crisisdesk.core.fusion.training import TrainJob
    from crisisdesk.core.project import Project

    job = None
    try:
        project = Project.open(args.project)
        image_encoder, text_encoder = args.encoder, args.text_encoder
        if image_encoder is None and text_encoder is None:
            image_encoder, text_encoder = _encoders_of(project)
        # After the encoders are known: they decide the variant, whose recipe is the base.
        recipe, config = _recipe_and_config(args, image_encoder, text_encoder)
        job = TrainJob(project, args.task, image_encoder=image_encoder,
                       text_encoder=text_encoder, variant=args.variant, recipe=recipe,
                       seeds=args.seeds, val_from=args.val_from, config=config,
                       activate=not args.no_activate)
        with _training_threads(args.threads):
            finished = drive(job.run(), unit="epoch")
    except (EmbeddingsMissing, ValueError, KeyError) as exc:
        _say_orphans(job)
        return _fail(exc.args[0] if exc.args else str(exc))
    _say_orphans(job)
    if not finished:
        print("Training cancelled; no model version was made.")
        return PROBLEMS
    report = job.report
    recipe = job.recipe
    options = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in job.config_overrides.items())
    sizes = " / ".join(f"{split} {n:,}" for split, n in report.sizes.items())
    print(f"{report.task} ({report.variant}, {options or 'default config'}): "
          f"trained on {sizes} items with {recipe.optimizer} lr {recipe.lr:g} weight decay "
          f"{recipe.weight_decay:g} batch {recipe.batch_size}, selecting on validation "
          f"{recipe.select.replace('_', ' ')} (patience {recipe.patience})")
    if report.left_out_note:
        print(f"  {report.left_out_note}")
    for seed in report.seeds:
        line = (f"  seed {seed['seed']}: best epoch {seed['best_epoch']} of "
                f"{seed['epochs_run']}, temperature {seed['temperature']:.2f}, ECE on "
                f"validation {seed['ece_validation_before']:.3f} -> "
                f"{seed['ece_validation_after']:.3f}")
        if "scored" in seed:
            line += f"; {report.scored_split}: {_figures(seed['scored'])}"
        print(line)
        if seed.get("calibration_note"):
            print(f"    {seed['calibration_note']}")
    if not report.sizes.get(report.scored_split):
        # Else the summary's "test 0 items" is the only sign that no figure came out.
        tuned = " (dev early-stopped and calibrated this head)" if job.val_from == "dev" \
            else ""
        print(f"  no labelled {report.scored_split} items, so nothing was scored{tuned}; "
              f"import or label a {report.scored_split} split"
              + (", or train with --val-from train to score on dev"
                 if job.val_from == "dev" else ""))
    if report.summary and len(report.seeds) > 1:  # one seed: its own line has them
        summary = ", ".join(f"{k.replace('_', ' ')} {v['mean']:.1%} ± {v['std']:.1%}"
                            for k, v in report.summary.items())
        print(f"  mean of {len(report.seeds)} seeds on {report.scored_split}: {summary}")
    if args.no_activate:
        print(f"Registered {report.task} version {report.model_version} "
              f"{report.model_name}, not active: crisisdesk versions {args.project} "
              f"--activate {report.model_version} makes it the active one")
    else:
        print(f"Active model version for {report.task}: {report.model_name} "
              f"(version {report.model_version})")
    return OK


CLASS_WEIGHTS = {"none": (False, 1.0), "balanced": (True, 1.0), "sqrt": (True, 0.5)}


@contextmanager
def _training_threads(threads: int | None) -> Iterator[None]:
    """Run the training with ``threads`` CPU threads (torch's), given back after.

    Default (None): one, unless the analyst set OMP_NUM_THREADS (then torch's own).
    Why one: a step of a head at batch 32 is too small to share between threads, whose
    hand-overs cost more than they save, and on a busy machine a thread waiting for its
    partner holds a core. Measured on 2 cores: the fusion benchmark 51.8 s on one thread
    against 64.3 s on torch's two (quiet); informative's text head on the CrisisMMD train
    split 13.8 s against 1 min 33 s (under load)."""
    import torch

    if threads is None and os.environ.get("OMP_NUM_THREADS"):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads or 1)
    try:
        yield
    finally:
        torch.set_num_threads(before)  # a caller in this process (a test) keeps its own


def _recipe_and_config(args: argparse.Namespace, image_encoder: str | None,
                       text_encoder: str | None) -> tuple[object, dict]:
    """The Recipe and FusionConfig overrides that ``train``'s options ask for, for a
    head on ``image_encoder`` / ``text_encoder`` (the options', or the project's).

    ``--recipe`` names the base (default: the variant's, "text" for one-modality heads,
    "paper" for fusion); each option given replaces that field.
    """
    from crisisdesk.core.fusion.train import named_recipe
    from crisisdesk.core.fusion.training import default_recipe_name, default_variant

    variant = args.variant or default_variant(image_encoder, text_encoder)
    fields = {"optimizer": args.optimizer, "lr": args.lr, "weight_decay": args.weight_decay,
              "batch_size": args.batch_size, "max_epochs": args.epochs,
              "patience": args.patience, "label_smoothing": args.label_smoothing,
              "select": args.select}
    overrides = {k: v for k, v in fields.items() if v is not None}
    weights = "balanced" if args.class_weighted else args.class_weights
    if weights is not None:
        overrides["class_weighted"], overrides["class_weight_power"] = CLASS_WEIGHTS[weights]
    if args.class_weight_power is not None:  # a power of its own: weighted, that much
        overrides["class_weighted"] = args.class_weight_power > 0
        overrides["class_weight_power"] = args.class_weight_power
    recipe = named_recipe(args.recipe or default_recipe_name(variant), **overrides)
    config = {k: v for k, v in (("single_head", args.head), ("hidden", args.hidden),
                                ("tokens", args.tokens), ("dropout", args.dropout))
              if v is not None}
    return recipe, config


def _encoders_of(project) -> tuple[str | None, str | None]:
    """The encoders a train without --encoder / --text-encoder uses: those the project
    has embeddings of, as a retrain chooses them (said on the terminal)."""
    from crisisdesk.core.fusion.data import EmbeddingsMissing
    from crisisdesk.core.retrain import choose_encoders

    with project.open_store() as store:
        image, text = choose_encoders(store)
    if image is None and text is None:
        raise EmbeddingsMissing("this project has no embeddings yet: embed first "
                                "(crisisdesk embed PROJECT --encoder minilm --kind text for "
                                "a text-only head, or a CLIP model for images and texts)")
    print(f"encoders (from the project's embeddings): image {image or '-'}, "
          f"text {text or '-'}")
    return image, text


def cmd_eval(args: argparse.Namespace) -> int:
    from crisisdesk.core.bidi import terminal_marks
    from crisisdesk.core.encoders.base import EncoderError
    from crisisdesk.core.fusion.checkpoint import CheckpointError
    from crisisdesk.core.fusion.data import EmbeddingsMissing
    from crisisdesk.core.fusion.evaluate import evaluate
    from crisisdesk.core.fusion.predict import NoModel
    from crisisdesk.core.project import Project

    try:
        with Project.open(args.project).open_store() as store:
            report = evaluate(store, args.task, args.split)
    except (EmbeddingsMissing, NoModel, CheckpointError, EncoderError, ValueError,
            KeyError) as exc:  # a broken checkpoint, a zero-shot model gone
        return _fail(exc.args[0] if exc.args else str(exc))
    if args.json:
        print(json.dumps(report, indent=2))
        return OK
    print(f"{report['task']} on {report['split']} ({plural(report['items'], 'item')}, model "
          f"{report['model_version']}): {_figures(report)}; ECE {report['ece']:.3f}")
    if report["unseen"]:
        print(f"  {plural(report['unseen'], 'item')} could not be scored (no embedding "
              "of an image or text it reads, yet: crisisdesk embed)")
    if report["optimistic"]:
        print(f"  optimistic: {report['optimistic']}")
    if report["texts_note"]:
        print(f"  texts: {report['texts_note']}")
    # Padded by terminal cells, not characters: class names may be Japanese or Chinese;
    # an Arabic or Hebrew one is isolated, or it took the figures after it into its run.
    field = terminal_marks().field
    width = max(display_width(c) for c in ["class", *report["per_class"]])
    print(f"  {pad('class', width)}  precision  recall      f1  support")
    for cls, row in report["per_class"].items():
        print(f"  {pad(field(cls), width)}  {row['precision']:9.1%}  {row['recall']:6.1%}  "
              f"{row['f1']:6.1%}  {row['support']:7d}")  # 6: "100.0%"
    return OK


def cmd_predict(args: argparse.Namespace) -> int:
    from crisisdesk.cli import drive
    from crisisdesk.core.encoders.base import EncoderError
    from crisisdesk.core.fusion.checkpoint import CheckpointError
    from crisisdesk.core.fusion.predict import NoModel, PredictJob
    from crisisdesk.core.project import Project

    job, cancelled = None, False
    try:
        job = PredictJob(Project.open(args.project),
                         None if args.task == "all" else [args.task])
        # One prediction per item and task, as the app's jobs panel counts them.
        finished = drive(job.run(), unit="prediction")
        cancelled = not finished
    except (NoModel, CheckpointError, EncoderError, KeyError) as exc:
        # A task whose version cannot load fails the job at its end, after the others
        # were predicted and saved: done with problems (1), each task said. With none
        # predicted, it is unusable input (2) like any other.
        tasks = job.report.tasks.values() if job is not None else ()
        others = any(not e.get("error") and not e.get("no_model") for e in tasks)
        if not (isinstance(exc, NoModel) and others):
            return _fail(exc.args[0] if exc.args else str(exc))
        finished = False
    assert job is not None
    for task, entry in job.report.tasks.items():
        if entry.get("no_model"):
            print(f"{task}: not predicted: {entry['no_model']}")
            continue
        if entry.get("error"):
            print(f"error: {entry['error']}", file=sys.stderr)
            continue
        skipped = f", {entry['skipped']} without the embeddings it reads" \
            if entry["skipped"] else ""
        print(f"{task}: {plural(entry['predicted'], 'item')} predicted by "
              f"{entry['model_version']}"
              f"{skipped}{_interrupted(entry)}")
        if entry.get("texts_note"):
            print(f"  texts: {entry['texts_note']}")
        if entry.get("removed"):
            print(f"  {plural(entry['removed'], 'prediction')} of its older versions "
                  "removed (nothing shows them; a version made active again predicts "
                  "again)")
        for variant, other in job.report.modalities.get(task, {}).items():
            what = f"not predicted: {other['error']}" if other.get("error") else \
                f"{plural(other['predicted'], 'item')} predicted by {other['model_version']}" \
                f"{_interrupted(other)}"
            print(f"  {display_variant(variant)} (for the image vs text queue): {what}")
    if cancelled:
        # Else the lines above read as a finished run, and a task never reached is not
        # named at all.
        unreached = [task for task in job.tasks if task not in job.report.tasks]
        print("Predict cancelled; the predictions made so far are kept. Run the same "
              "command to resume."
              + (f" Not reached (not predicted): {', '.join(unreached)}."
                 if unreached else ""))
    return OK if finished else PROBLEMS


def _interrupted(entry: dict) -> str:
    """What a predict report line adds for a task the job stopped part-way through (a
    cancel): else its count read as the task's finished one."""
    left = entry.get("not_reached")
    return f"; interrupted there: {plural(left, 'item')} not reached" if left else ""


def display_variant(variant: str) -> str:
    """image_only -> image-only (as the report and the app name the variants)."""
    return variant.replace("_", "-")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the classifier commands to the main parser."""
    from crisisdesk.core.fusion.variants import VARIANTS

    p = sub.add_parser("train", help="train a task's classifier on cached embeddings")
    p.add_argument("project")
    p.add_argument("--task", required=True)
    p.add_argument("--variant", choices=VARIANTS,
                   help="default: guided_diff with both encoders, else the one-modality head")
    p.add_argument("--encoder", help="image encoder whose embeddings to use (CLIP); "
                   "neither this nor --text-encoder: those the project has embeddings of")
    p.add_argument("--text-encoder", help="text encoder whose embeddings to use")
    # Counts are checked here so that the message names the option given (the recipe's
    # own check names its fields: max_epochs).
    p.add_argument("--epochs", type=_positive, help="at most this many epochs (default 50)")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--no-activate", action="store_true",
                   help="register the new version without making it the active one (a "
                        "sweep, a trial): `crisisdesk versions PROJECT --activate ID` "
                        "switches to it later")
    p.add_argument("--val-from", choices=["train", "dev"], default="train",
                   help="early-stop on a slice of train (score on dev), or on dev (score "
                        "on test)")
    p.add_argument("--recipe", choices=["paper", "text"],
                   help="base recipe: 'paper' (SGD lr 1e-3 batch 32, patience 5) or 'text' "
                        "(AdamW, see docs/fusion.md); default: 'text' for text_only / "
                        "image_only heads, 'paper' for fusion. The options below override it")
    p.add_argument("--optimizer", choices=["sgd", "adamw"])
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--batch-size", type=_positive)
    p.add_argument("--patience", type=_positive,
                   help="epochs without a better validation figure before stopping")
    p.add_argument("--select", choices=["loss", "macro_f1"],
                   help="validation figure that picks the epoch and the seed (paper: loss)")
    p.add_argument("--class-weights", choices=list(CLASS_WEIGHTS),
                   help="weight the loss by inverse class frequency ('balanced') or its "
                        "square root ('sqrt')")
    p.add_argument("--class-weighted", action="store_true",
                   help="the same as --class-weights balanced")
    p.add_argument("--class-weight-power", type=float,
                   help="weights (N / (C * count)) ** POWER: 1 balanced, 0.5 sqrt, 0.25 "
                        "milder still, 0 none")
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--head", choices=["attention", "linear", "mlp"],
                   help="shape of a text_only / image_only head (default: mlp)")
    p.add_argument("--hidden", type=int, help="token width / MLP width")
    p.add_argument("--tokens", type=int, help="tokens per modality")
    p.add_argument("--dropout", type=float)
    p.add_argument("--threads", type=_positive,
                   help="CPU threads for the training (default 1, or OMP_NUM_THREADS when "
                        "set: a batch-32 step is faster on one; see docs/fusion.md)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="score the active model version on a split")
    p.add_argument("project")
    p.add_argument("--task", required=True)
    p.add_argument("--split", choices=["dev", "test"], default="dev")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    from crisisdesk.cli_versions import add_parser as add_versions

    add_versions(sub)

    p = sub.add_parser("predict", help="predict every item lacking a prediction")
    p.add_argument("project")
    p.add_argument("--task", default="all")
    p.set_defaults(func=cmd_predict)
