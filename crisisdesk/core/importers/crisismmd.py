"""CrisisMMD split files (``task_<task>_text_img_<split>.tsv``).

Each row is one image-text pair of a tweet, labelled for the task named by the file.
The six files of a setting describe overlapping posts; they merge into one post per
tweet with several labels. Images attach from ``--images-root`` (the CrisisMMD root
holding ``data_image/``) when given, and are marked missing otherwise.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from crisisdesk.core.importers.records import (
    Expected,
    LabelRef,
    MediaRef,
    MissingTally,
    Parsed,
    PostRecord,
    Problem,
    Where,
    find_inside,
)
from crisisdesk.core.importers.sheet_checks import checked_post_id, id_from_image_id
from crisisdesk.core.importers.textio import TextFileError, csv_lines, read_text_file
from crisisdesk.core.words import IMAGES_FOLDER, plural

SOURCE_NAME = "crisismmd"
# The split may be missing from the name (crisisdesk's own exports carry a split column).
# A task is named as schemes.TASK_NAME allows: a project's own task (`flood_level2`) has
# digits and underscores, and its exported file must import back. Excel saves a split
# file it opened as "Unicode Text" under a `.txt` name: the same file to the reader.
FILE_NAME = re.compile(
    r"task_(?P<task>[a-z][a-z0-9_]*?)_text_img(?:_(?P<split>train|dev|test))?\.(?:tsv|txt)$")
# Said to the import dialog's user and the CLI's alike: each names the folder its own way.
# (Media rows stored before keep the older "no --images-root given": a reason is a note.)
NO_ROOT = f"no images folder given ({IMAGES_FOLDER})"
# What an analyst whose split file went through Excel can do instead.
WHAT_TO_DO_SPLIT = ("import the split file as CrisisMMD wrote it, or open it in Excel through "
                    "Data > From Text/CSV with the id columns set to Text")
REQUIRED = ("event_name", "tweet_id", "image_id", "tweet_text", "image", "label")


def is_crisismmd_file(path: Path) -> bool:
    """Whether ``path`` is named like a CrisisMMD split file."""
    return FILE_NAME.search(path.name) is not None


def split_files(folder: Path) -> list[Path]:
    """The files at the top of ``folder`` named like CrisisMMD split files, in name order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and is_crisismmd_file(p))


def folder_files(folder: Path) -> tuple[list[Path], list[Problem]]:
    """The files a CrisisMMD folder's import reads, in name order: every ``.tsv`` (one
    misnamed is said) and the split files Excel saved as ``.txt``, each split once; and
    a warning for each copy left. Excel's "Unicode Text" save of ``X.tsv`` is ``X.txt``
    beside it: both read, every row came twice, and a label changed in the copy
    silently replaced the split's in the same import."""
    files = sorted({*folder.glob("*.tsv"), *split_files(folder)})
    kept: list[Path] = []
    copies: list[Problem] = []
    for path in files:
        original = path.with_suffix(".tsv")
        if path.suffix != ".txt" or original not in files:
            kept.append(path)
            continue
        differ = _differing_rows(original, path)
        how = "it holds the same rows" if differ == 0 else \
            f"it differs in {plural(differ, 'row')}" if differ else "it differs"
        copies.append(Problem(Where(str(path)), f"not read: a copy of {original.name} "
                              f"(as Excel saves a split as Unicode Text), which was read; "
                              f"{how}. Each split is read once"
                              + (f": to take the copy's labels, import {path.name} by itself"
                                 if differ != 0 else ""), "warning"))
    return kept, copies


def _differing_rows(original: Path, copy: Path) -> int | None:
    """How many images two split files label differently, or give in one only (Excel
    keeps the image id and label as text); None when either cannot be read."""
    pairs: list[set[tuple[str, str]]] = []
    for path in (original, copy):
        try:
            text, _ = read_text_file(path)
            rows = csv.DictReader(csv_lines(text), dialect="excel-tab")
            pairs.append({(str(r.get("image_id")).strip(), str(r.get("label")).strip())
                          for r in rows})
        except (TextFileError, csv.Error):
            return None
    return len({image for image, _ in pairs[0] ^ pairs[1]})


def parse_crisismmd(path: Path, images_root: Path | None) -> Iterator[Parsed]:
    """Records of one CrisisMMD split file, one per row (one image of a tweet)."""
    match = FILE_NAME.search(path.name)
    if match is None:
        yield Problem(Where(str(path)), "cannot tell task and split from the file name "
                      "(expected task_<task>_text_img_<train|dev|test>.tsv)")
        return
    task, split = match["task"], match["split"]
    try:
        text, warning = read_text_file(path)
    except TextFileError as exc:
        yield Problem(Where(str(path)), str(exc))
        return
    if warning:
        yield Problem(Where(str(path)), warning, "warning")
    # A real CSV reader: some tweets are quoted, with doubled quotes inside.
    reader = csv.DictReader(csv_lines(text), dialect="excel-tab")
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        yield Problem(Where(str(path)), f"required column {', '.join(repr(m) for m in missing)}"
                      f" missing (columns: {', '.join(header)})")
        return
    seen: dict[str, tuple[int, str]] = {}
    unattached = Unattached(str(path))
    yield Expected(max(text.count("\n") - 1, 0))
    number = 1
    while True:
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield Problem(Where(str(path), number), f"malformed row: {exc}; skipped")
            continue
        where = Where(str(path), number)
        if None in row or any(row.get(c) is None for c in REQUIRED):
            yield Problem(where, "row has a different number of fields than the header; skipped")
            continue
        tweet_id, image_id = row["tweet_id"].strip(), row["image_id"].strip()
        prefix, sep, n = image_id.rpartition("_")
        if not sep or not n.isdigit():
            yield Problem(where, f"image_id {image_id!r} is not <tweet_id>_<n>; row skipped")
            continue
        if found := id_from_image_id(tweet_id, image_id, "tweet_id", WHAT_TO_DO_SPLIT):
            # Excel read the id as a number and saved 9.05631E+17.
            tweet_id, line = found
            yield Problem(where, line, "warning")
        elif prefix != tweet_id:
            checked, line, severity = checked_post_id(tweet_id, "tweet_id", row, False,
                                                       WHAT_TO_DO_SPLIT)
            if line:  # an id a spreadsheet cut, which the image id cannot give back
                yield Problem(where, line, severity)
            if checked is None:
                continue
            # It happens in CrisisMMD (a tweet quoting another's image); the pair is real.
            yield Problem(where, f"image_id {image_id} belongs to another tweet than "
                          f"{tweet_id}; imported as image {n} of tweet {tweet_id}", "warning")
        previous = seen.get(image_id)
        if previous is not None:
            if previous[1] != row["label"]:
                yield Problem(where, f"image {image_id} appears again (first at row "
                              f"{previous[0]}) with label {row['label']!r}; kept the first")
            continue
        seen[image_id] = (number, row["label"])
        declared = row["image"].strip()
        # An empty image cell is a text-only post (crisisdesk's own export writes one
        # so): no media at all, neither a missing picture nor an unreadable one.
        media: list[MediaRef] = []
        if declared and images_root is None:
            media = [MediaRef(declared, None, int(n), status="missing", reason=NO_ROOT,
                              tally=unattached, external_id=image_id)]
        elif declared:
            # As media_ref does for sheets: a file found under another spelling is said,
            # and one not found (a path of another computer, two candidates) is missing,
            # so that an import with the right --images-root attaches it later; recorded
            # unreadable, no later import could.
            found = find_inside(images_root, declared)
            status = None if found.path else "missing" if found.missing else "unreadable"
            media = [MediaRef(declared, found.path, int(n), external_id=image_id,
                              status=status, reason=found.reason)]
            if found.note:
                yield Problem(where, f"image {declared}: {found.note}", "warning")
        yield PostRecord(
            post_id=tweet_id, where=where, text=row["tweet_text"], platform="twitter",
            event=row["event_name"].strip() or None, media=media,
            # crisisdesk's own CrisisMMD export says who gave each label (label_source):
            # without it an analyst's correction came back as an import label.
            labels=[LabelRef(task, row["label"], (row.get("split") or "").strip() or split,
                             source=(row.get("label_source") or "").strip() or None)],
        )


class Unattached(MissingTally):
    """A split file's images left missing for want of ``--images-root``: said in one
    line. The writer adds each it stores missing: the split files of a setting share
    images, and a re-import's images may be stored ok already (attached by an import
    given the folder); counted as the rows were read, each file counted them again."""

    def __init__(self, file: str) -> None:
        self.file, self.count = file, 0

    def add(self, record: PostRecord, ref: MediaRef) -> None:
        self.count += 1

    def finish(self) -> Iterator[Problem]:
        if self.count:
            yield Problem(Where(self.file), f"{plural(self.count, 'image')} marked missing: "
                          f"{NO_ROOT}. Import again with the CrisisMMD folder (the one that "
                          "holds data_image) as the images folder to attach them.", "warning")
