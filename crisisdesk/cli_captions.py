"""Command-line command for captions: ``crisisdesk caption``."""

from __future__ import annotations

import argparse
import math
import sys

from crisisdesk.cli import OK, PROBLEMS, _fail

QUANTS = ("auto", "4bit", "8bit", "none")


def _positive(text: str) -> int:
    """A count given on the command line: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:  # else argparse says "invalid _positive value"
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float:
    """A wait in seconds: a finite number above 0 (the socket refuses others mid-run)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text}")
    return value


def _captioner(args: argparse.Namespace):
    """The captioner the arguments ask for (server, or a local model loaded now)."""
    if args.server:
        from crisisdesk.core.captions.server import ServerCaptioner

        return ServerCaptioner(args.server, args.server_model, concurrency=args.concurrency,
                               timeout=args.timeout, max_tokens=args.max_new_tokens)
    from crisisdesk.core.captions.factory import load_captioner

    return load_captioner(args.captioner, quant=args.quant, device=args.device,
                          max_new_tokens=args.max_new_tokens)


def _duration(seconds: float) -> str:
    """A time estimate in words: "under a second", "about 40 s", "about 12 min"."""
    if seconds < 1:  # a fast model: "about 0 s" read as no time or a broken estimate
        return "under a second"
    if seconds < 90:
        return f"about {seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"


def cmd_caption(args: argparse.Namespace) -> int:
    from crisisdesk.cli import drive
    from crisisdesk.core.captions.base import CaptionError
    from crisisdesk.core.captions.job import CaptionJob
    from crisisdesk.core.captions.prompt import load_prompt
    from crisisdesk.core.models.registry import ModelMissing
    from crisisdesk.core.project import Project
    from crisisdesk.core.words import plural

    if args.server and not args.server_model:
        return _fail("--server needs --server-model NAME (the model name the server serves)")
    if args.server_model and not args.server:
        return _fail("--server-model needs --server URL")
    if args.server and args.captioner:
        return _fail("give either --captioner (a local model) or --server, not both")
    try:
        project = Project.open(args.project)
        prompt = load_prompt(args.prompt_version)
    except ValueError as exc:
        return _fail(str(exc))
    try:
        captioner = _captioner(args)
    except (ModelMissing, CaptionError, ValueError, ImportError) as exc:
        return _fail(str(exc))
    with project.open_store() as store:
        counts = store.caption_counts(captioner.name, prompt.version)
    todo = counts.to_caption if args.limit is None else min(args.limit, counts.to_caption)
    # Captions, one per (image, tweet) pair, as the job counts: a photo posted with two
    # texts is two. "1 of 5 captions": the noun follows the 5.
    captions = plural(counts.to_caption, "caption")
    captions = f"{todo:,} of {captions}" if todo < counts.to_caption else captions
    print(f"Captioning with {captioner.name} on {captioner.device} (prompt {prompt.version}):"
          f" {captions} to write, {counts.captioned:,} written before, "
          f"{plural(counts.without_image, 'item')} without an image", file=sys.stderr)
    warning = getattr(captioner, "plain_text_secret", lambda: None)()
    if warning:
        print(f"crisisdesk: warning: {warning}", file=sys.stderr)
    estimate = getattr(captioner, "estimate_seconds", None)
    if todo and captioner.device == "cpu" and callable(estimate):
        print(f"On this CPU that takes {_duration(estimate(todo))} (measured on a "
              "few images); Ctrl+C keeps what is done, and the same command resumes.",
              file=sys.stderr)
    job = CaptionJob(project, captioner, prompt_version=prompt.version,
                     batch_size=args.batch_size, limit=args.limit)
    try:
        finished = drive(job.run(), unit="caption")
    except CaptionError as exc:
        print(job.report.summary())
        return _fail(f"{exc}\nThe captions written so far are kept; fix the cause and run "
                     "the same command to go on.")
    report = job.report
    print(report.summary())
    if not finished:
        print("Cancelled; the captions written so far are kept. Run the same command to "
              "resume.")
        return PROBLEMS
    return PROBLEMS if (report.unreadable_count or report.failed_count
                        or report.flagged_count) else OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the caption command to the main parser."""
    p = sub.add_parser("caption", help="describe each item's image with a vision-language "
                                       "model (locally or on a server)")
    p.add_argument("project")
    p.add_argument("--captioner", metavar="NAME",
                   help="local captioner from the model registry (default: by device)")
    p.add_argument("--quant", choices=QUANTS, default="auto",
                   help="weights of a local captioner on CUDA (auto: 4bit)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--batch-size", type=_positive, metavar="N")
    p.add_argument("--max-new-tokens", type=_positive, default=128, metavar="N")
    p.add_argument("--limit", type=_positive, metavar="N",
                   help="caption at most N images this run")
    p.add_argument("--prompt-version", metavar="V",
                   help="caption instruction version (default: the current one)")
    p.add_argument("--server", metavar="URL",
                   help="an OpenAI-compatible server, e.g. http://host:8000/v1 (API key "
                        "from CRISISDESK_API_KEY or OPENAI_API_KEY)")
    p.add_argument("--server-model", metavar="NAME", help="the model name the server serves")
    p.add_argument("--concurrency", type=_positive, default=8, metavar="N",
                   help="requests in flight to the server")
    p.add_argument("--timeout", type=_seconds, default=120.0, metavar="S",
                   help="seconds to wait for one server answer before retrying")
    p.set_defaults(func=cmd_caption)

