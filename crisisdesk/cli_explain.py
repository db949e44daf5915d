"""``crisisdesk explain``: why a model version gave an item its score, as a PNG (or JPEG)
for reports."""

from __future__ import annotations

import argparse
from pathlib import Path

from crisisdesk.cli import OK, _fail


def cmd_explain(args: argparse.Namespace) -> int:
    from crisisdesk.core.bidi import terminal_marks, unmarked
    from crisisdesk.core.encoders.base import EncoderError
    from crisisdesk.core.explain import ExplainError, explain_item
    from crisisdesk.core.explain.render import render_png, report_format, report_name
    from crisisdesk.core.fusion.checkpoint import CheckpointError
    from crisisdesk.core.fusion.predict import NoModel
    from crisisdesk.core.models.registry import ModelMissing
    from crisisdesk.core.project import Project

    if args.out:
        try:  # before the model runs: its minutes spent for a file that cannot be named so
            report_format(Path(args.out))
        except ValueError as exc:
            return _fail(f"--out {exc}")
    try:
        project = Project.open(args.project)
        # A class name copied from the line below holds its direction marks.
        class_name = None if args.class_name is None else unmarked(args.class_name)
        result = explain_item(project, args.item, args.task, class_name, device=args.device)
    except (ExplainError, NoModel, EncoderError, CheckpointError, ModelMissing,
            KeyError) as exc:
        return _fail(str(exc.args[0]) if exc.args else str(exc))
    out = Path(args.out) if args.out else project.folder("exports") / \
        report_name(result.item, args.task, class_name)
    image = Path(result.image_path) if result.image is not None and result.image_path \
        else None
    blur = result.sensitive and not args.show_sensitive
    try:
        render_png(result, out, image, blur=blur)
    except OSError as exc:  # a PNG open in a viewer (Windows), a folder not writable
        return _fail(f"cannot write {out}: {exc}")
    probability = result.probabilities.get(result.class_name, 0.0)
    # Arabic or Hebrew ids, classes and words isolated: each took the figures after it.
    marks = terminal_marks()
    print(f"{marks.uid(result.item)} {result.task}: {marks.field(result.class_name)} "
          f"({probability:.1%}), model {result.model_version}")
    share = result.share
    print(f"  image {share['image']:.0%} | text {share['text']:.0%} ({share['basis']})")
    words = [w for w in result.top_words(5) if w.relevance > 0]
    if words:
        print("  words for it:  " + ", ".join(f"{marks.field(w.text)} ({w.relevance:+.2f})"
                                              for w in words))
    against = [w for w in sorted(result.words, key=lambda w: w.relevance)[:3]
               if w.relevance < 0]
    if against:
        print("  words against: " + ", ".join(f"{marks.field(w.text)} ({w.relevance:+.2f})"
                                            for w in against))
    for note in result.notes:
        print(f"  note: {note}")
    if blur and image is not None:
        print("  note: the picture is blurred in the PNG: the post is marked sensitive "
              "(--show-sensitive draws it as it is)")
    print(f"wrote {out}")
    return OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``explain`` on the main parser's subcommands."""
    from crisisdesk.core.encoders.factory import DEVICES

    p = sub.add_parser("explain", help="why the model scored an item's class: image heat "
                       "map, word relevance and the image vs text share, as a PNG")
    p.add_argument("project")
    p.add_argument("item", metavar="ITEM_ID")
    p.add_argument("--task", required=True)
    p.add_argument("--class", dest="class_name", metavar="NAME",
                   help="the class to explain (default: the predicted one)")
    p.add_argument("--out", metavar="FILE.png",
                   help="where to write the PNG, or a JPEG for a .jpg or .jpeg name "
                   "(default: a PNG in the project's exports/)")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--show-sensitive", action="store_true",
                   help="draw a picture marked sensitive as it is (default: blurred, as "
                   "the app shows it until asked)")
    p.set_defaults(func=cmd_explain)
