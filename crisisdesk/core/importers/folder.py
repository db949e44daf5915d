"""A folder of posts: images with same-stem ``.txt`` / ``.json`` sidecars, in nested
folders, or a ``posts.csv`` / ``posts.jsonl`` manifest at the top.

Without a manifest, each image (with its sidecar) is a post whose id is the sidecar's
``id`` or else the image's path inside the folder without suffix; a sidecar without an
image is a text-only post. Images sharing a sidecar ``id`` become one post's media.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from crisisdesk.core.imaging import IMAGE_SUFFIXES
from crisisdesk.core.importers.archive_names import original_entry
from crisisdesk.core.importers.records import (
    Expected,
    LabelRef,
    MediaRef,
    Parsed,
    PostRecord,
    Problem,
    Where,
    resolve_inside,
    shown_name,
    unstorable_name,
)
from crisisdesk.core.importers.tabular import parse_csv, parse_jsonl
from crisisdesk.core.importers.textio import MAX_SIDECAR_BYTES, TextFileError, read_text_file
from crisisdesk.core.schemes import LabelScheme

MANIFESTS = ("posts.csv", "posts.jsonl", "posts.tsv", "posts.json")
SIDECARS = (".json", ".txt")
POST_KEYS = ("platform", "author", "created_at", "language", "url", "event")


def find_manifest(root: Path) -> Path | None:
    """The manifest at the top of a folder, if any."""
    for name in MANIFESTS:
        if (root / name).is_file():
            return root / name
    return None


def _walk(root: Path, problems: list[Problem], skip: set[Path]
          ) -> dict[tuple[str, str], list[Path]]:
    """Group the files under ``root`` by (folder, stem), refusing links that leave it."""
    groups: dict[tuple[str, str], list[Path]] = {}
    real_root = Path(os.path.realpath(root))
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        for name in list(dirs):
            if (here / name).is_symlink():
                problems.append(Problem(Where(str(here / name)),
                                        "symlinked folder not followed", "warning"))
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and
                         not (here / d).is_symlink())
        for name in list(dirs):
            if why := unstorable_name(here / name):
                problems.append(Problem(Where(shown_name(here / name)), why))
                dirs.remove(name)
        for name in sorted(files):
            path = here / name
            if name.startswith(".") or path in skip:
                continue
            if why := unstorable_name(path):  # the rest of the folder goes on
                problems.append(Problem(Where(shown_name(path)), why))
                continue
            suffix = path.suffix.lower()
            if suffix not in IMAGE_SUFFIXES and suffix not in SIDECARS:
                continue
            if path.is_symlink():
                real = Path(os.path.realpath(path))
                if real_root not in real.parents:
                    problems.append(Problem(Where(str(path)),
                                            "symlink points out of the source folder; skipped"))
                    continue
            # Grouped by the name the archive it was unpacked from gave it, if it was
            # unpacked under another (IMG_1.jpg beside img_1.jpg): the post's id.
            rel = original_entry(root, path)
            groups.setdefault((str(rel.parent), rel.stem), []).append(path)
    return groups


def _named_only(paths: list[Path], named: set[Path]) -> bool:
    """Whether a group is images alone (no sidecar) that a table names: a table's
    post's images, not a post of their own."""
    return bool(named) and all(p.suffix.lower() in IMAGE_SUFFIXES and
                               Path(os.path.realpath(p)) in named for p in paths)


def _read_sidecar(path: Path) -> tuple[dict, list[Problem]]:
    """A sidecar's fields: ``.json`` as an object, ``.txt`` as the post text."""
    problems: list[Problem] = []
    try:
        text, warning = read_text_file(path, MAX_SIDECAR_BYTES)
    except TextFileError as exc:
        return {}, [Problem(Where(str(path)), f"{exc}; text left empty")]
    if warning:
        problems.append(Problem(Where(str(path)), warning, "warning"))
    if path.suffix.lower() == ".txt":
        return {"text": text.strip()}, problems
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(Problem(Where(str(path), exc.lineno),
                                f"malformed JSON: {exc.msg}; text left empty"))
        return {}, problems
    if not isinstance(data, dict):
        problems.append(Problem(Where(str(path)), "sidecar JSON is not an object; ignored"))
        return {}, problems
    return data, problems


def parse_folder(root: Path, mapping: Mapping[str, str], defaults: Mapping[str, str | None],
                 images_root: Path | None = None, skip: set[Path] | None = None,
                 schemes: Mapping[str, LabelScheme] | None = None,
                 named: set[Path] | None = None) -> Iterator[Parsed]:
    """Records of a folder of posts (delegating to a manifest when there is one); files in
    ``skip`` (data files the caller imports by themselves) are not read as sidecars;
    ``schemes``: the project's, whose tasks a manifest's label columns are read for;
    ``named``: the images (real paths) the caller's tables gave their rows, which are not
    posts of their own unless a sidecar makes them one."""
    manifest = find_manifest(root)
    if manifest is not None:
        base = images_root or root
        if manifest.suffix in (".jsonl", ".json"):
            yield from parse_jsonl(manifest, base, mapping, defaults, schemes)
        else:
            yield from parse_csv(manifest, base, mapping, defaults, schemes)
        return
    problems: list[Problem] = []
    groups = {key: paths for key, paths in _walk(root, problems, skip or set()).items()
              if not _named_only(paths, named or set())}
    yield from problems
    yield Expected(len(groups))
    for (folder, stem), paths in sorted(groups.items()):
        images = [p for p in paths if p.suffix.lower() in IMAGE_SUFFIXES]
        sidecars = sorted((p for p in paths if p.suffix.lower() in SIDECARS),
                          key=lambda p: SIDECARS.index(p.suffix.lower()))
        fields: dict = {}
        # Both sidecars count: the .json's fields first, the .txt fills in a missing text.
        for sidecar in sidecars:
            found_fields, found = _read_sidecar(sidecar)
            yield from found
            for key, value in found_fields.items():
                if not fields.get(key):
                    fields[key] = value
        rel_stem = stem if folder == "." else f"{Path(folder).as_posix()}/{stem}"
        post_id = str(fields.get("id") or rel_stem)
        record = PostRecord(
            post_id=post_id, where=Where(str(images[0] if images else sidecars[0])),
            text=str(fields.get("text") or ""),
            event=defaults.get("event") or fields.get("event"),
            **{k: str(fields[k]) for k in POST_KEYS if k != "event" and fields.get(k)},
        )
        if record.platform is None:
            record.platform = defaults.get("platform")
        for image in sorted(images):
            declared = original_entry(root, image).as_posix()
            resolved, reason = resolve_inside(root, declared)
            record.media.append(MediaRef(declared, resolved,
                                         status=None if resolved else "unreadable",
                                         reason=reason))
        labels = fields.get("labels")
        if isinstance(labels, dict):
            split = fields.get("split")
            for task, value in labels.items():
                if value:
                    record.labels.append(LabelRef(str(task), str(value),
                                                  str(split).lower() if split else None))
        yield record
