"""A table row as a post record: the cells of CSV and JSONL rows (image lists, the
``sensitive`` flag, alt texts, a task's label, split and provenance cells) and the
:class:`RowReader` that turns mapped rows into records, catching a post given twice.

Which column holds each field is decided in :mod:`crisisdesk.core.importers.tabular`,
which reads the files; this module only reads the cells of one row.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from crisisdesk.core.columns import PROVENANCE_KEYS
from crisisdesk.core.importers.export_images import ExportImages
from crisisdesk.core.importers.records import (
    LabelRef,
    MediaRef,
    Parsed,
    PostRecord,
    Problem,
    Where,
    find_inside,
)
from crisisdesk.core.importers.sheet_checks import (
    WHAT_TO_DO,
    checked_post_id,
    id_from_image_id,
)
from crisisdesk.core.schemes import LabelScheme, builtin_schemes


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


#: The longest ``source`` cell taken for a source name: names come from file and folder
#: names (at most 255 characters on common file systems) or from ``--source``.
MAX_SOURCE_CHARS = 255
#: Bidi embeddings, overrides and isolates: in a name they reorder the text after it.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def source_cell_problem(name: str) -> str | None:
    """Why an export's ``source`` cell is no source name crisisdesk writes (None: it is
    one). The name goes into each of the post's item ids, which lists, reports and
    terminals show: half a surrogate pair cannot be stored (the whole import ended in a
    traceback), control characters and bidi overrides garble each line showing it, and
    a megabyte of it went into every item id."""
    if len(name) > MAX_SOURCE_CHARS:
        return f"is {len(name):,} characters long (a source name has at most " \
               f"{MAX_SOURCE_CHARS})"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "holds half of a UTF-16 surrogate pair"
    if any(unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS for c in name):
        return "holds control characters"
    return None


#: Keys naming the poster in a user object (Twitter v1 "user", Mastodon "account"...);
#: Mastodon's "acct" before its "username", which drops the instance (john@a, john@b).
HANDLE_KEYS = ("screen_name", "acct", "username", "handle", "name")


def _digest(cells: tuple[str | None, ...]) -> bytes:
    """A short fingerprint of a row's cells: equal for equal cells, and (at 128 bits) not
    equal for different ones in any file."""
    return hashlib.blake2b(json.dumps(cells).encode(),  # ASCII: JSON escapes the rest
                           digest_size=16).digest()


def _field_cell(field: str, value: Any) -> str | None:
    """One field's cell: an author given as a user object (a hydrated v1 tweet's "user")
    is its handle; str() of the object was stored as the author, quotes and all."""
    if field == "author" and isinstance(value, dict):
        value = next((value[key] for key in HANDLE_KEYS if value.get(key)), None)
    return _clean(value)


#: The column key of a post's clock when a sheet keeps the day and the clock apart
#: (``date`` and ``time``): not a field of its own, it completes ``created_at``.
CLOCK = "created_at_clock"


#: A day cell that holds its clock too: a time of day, or Unix seconds or milliseconds.
_DAY_WITH_CLOCK = re.compile(r".*:|\d{10}")


def post_time_cells(day: str | None, clock: str | None) -> str | None:
    """A post's time from a day cell and a clock cell: both, when the day holds no clock
    of its own (read alone, "2017-09-20" put every post of the day at midnight)."""
    if not clock or (day and _DAY_WITH_CLOCK.match(day)):
        return day
    return f"{day} {clock}" if day else clock


def _comparable(ref: LabelRef, schemes: Mapping[str, LabelScheme]) -> tuple[str, str | None]:
    """A label and split as they will be stored, so that "Severe damage" and
    "severe_damage" count as the same label."""
    scheme = schemes.get(ref.task)
    return (scheme.normalise(ref.label) if scheme else None) or ref.label, ref.split


TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes"), ("false", "0", "no")


def parse_flag(value: str | None) -> bool | None:
    """A ``sensitive`` cell as a flag (None: empty); ValueError for another word."""
    if value is None:
        return None
    word = value.lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise ValueError(f"sensitive {value!r} is not one of true/false/1/0/yes/no; "
                     "left unknown")


def split_alt_texts(value: Any, images: int) -> list[str | None]:
    """The alt texts of a row's images: a post's one image takes the whole cell; several
    take a list (JSON) or '|'-separated parts, in order (not ';', which descriptions
    use). ValueError when the count does not match the images' (none included)."""
    listed = value if isinstance(value, list) else None
    text = _clean(value) if listed is None else None
    if (listed is None and text is None) or (images == 0 and listed == []):
        return [None] * images
    if images == 0:  # dropped without a word, the analyst would not know it was
        raise ValueError("alt_text given for a row without images; not kept")
    if images == 1 and text is not None:
        return [text]
    if text is not None and text.startswith("["):
        try:
            listed = json.loads(text)
        except json.JSONDecodeError:
            listed = None
    parts = [str(v or "") for v in listed] if isinstance(listed, list) else \
        str(text).split("|")
    if len(parts) != images:
        raise ValueError(f"alt_text has {len(parts)} parts for {images} images "
                         "(separate them with '|'); alt texts not kept")
    return [part.strip() or None for part in parts]


# Per-task cells beside a label (``<task>_<key>``), as crisisdesk's exports write them.
TASK_CELLS = ("split", *PROVENANCE_KEYS)


def _task_cells(row: Mapping[str, Any], task: str) -> dict[str, str | None]:
    """The row's ``<task>_split``, ``<task>_label_source``, ``<task>_annotator`` and
    ``<task>_labelled_at`` cells by key; the columns' names match without regard to
    case, as the label columns' names do."""
    wanted = {f"{task}_{key}": key for key in TASK_CELLS}
    cells: dict[str, str | None] = {}
    for column, value in row.items():
        key = wanted.get(column.strip().lower()) if isinstance(column, str) else None
        if key is not None:
            cells.setdefault(key, _clean(value))  # the first such column, as for labels
    return {key: cells.get(key) for key in TASK_CELLS}


def split_media(value: Any) -> list[str]:
    """Image paths of a cell: a JSON list, or paths separated by '|' or ';'."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
            if isinstance(parsed, list):
                return [str(v).strip() for v in parsed if str(v).strip()]
        except json.JSONDecodeError:
            pass
    for sep in ("|", ";"):
        if sep in text:
            return [part.strip() for part in text.split(sep) if part.strip()]
    return [text] if text else []


def media_ref(declared: str, base: Path, remote: bool = False) -> MediaRef:
    """A MediaRef for a path or URL written in a source whose files live under ``base``.
    ``remote``: a URL is a medium still to fetch (crisisdesk's own export writes a
    collected image's URL), else it is recorded as missing."""
    if declared.lower().startswith(("http://", "https://")):
        if remote:  # quiet: a remote image is expected, as when the collector's file came in
            return MediaRef(declared, None, status="remote", quiet=True)
        return MediaRef(declared, None, status="missing",
                        reason="remote image not fetched (only local files are imported)")
    found = find_inside(base, declared)
    if found.path is None:
        return MediaRef(declared, None, status="missing" if found.missing else "unreadable",
                        reason=found.reason)
    return MediaRef(declared, found.path, note=found.note)


#: The largest image index a CrisisMMD image id gives (its tweets have a handful): a
#: larger "n" is some other id of the same shape (a media key, ``3_1460323737035677698``).
MAX_IMAGE_INDEX = 999


def crisismmd_image(record: PostRecord, image_id: str, said: set[str]) -> Iterator[Problem]:
    """Number the one image of a table's row as its CrisisMMD ``image_id``
    (``<tweet id>_<n>``) says, and keep that id, as the CrisisMMD importer does: a
    CrisisMMD file converted to CSV or JSONL (or a sheet with its columns) then gives the
    same items as the file itself, though tweets lack images (``_0`` absent, ``_1``
    and ``_2`` given); numbered in file order, ``<tweet id>_2`` was item 0 and
    ``label PROJECT <tweet id>_2`` found nothing. A warning where the id is no such id,
    once a file (``said``: what was said of it: a sheet of its own ids said it per row)."""
    prefix, sep, n = image_id.rpartition("_")
    if not (sep and n.isascii() and n.isdigit() and int(n) <= MAX_IMAGE_INDEX
            and (prefix == record.post_id or (prefix.isascii() and prefix.isdigit()))):
        if "not crisismmd" not in said:
            said.add("not crisismmd")
            yield Problem(record.where, f"image_id {image_id!r} is not <post id>_<n>; images "
                          "whose image_id is not are numbered in file order (said once for "
                          "the file)", "warning")
        return
    if prefix != record.post_id:
        # As in CrisisMMD's own files: a tweet showing another tweet's image; a real pair.
        yield Problem(record.where, f"image_id {image_id} belongs to another tweet than "
                      f"{record.post_id}; imported as image {int(n)} of tweet "
                      f"{record.post_id}", "warning")
    record.media[0].n, record.media[0].external_id = int(n), image_id


class RowReader:
    """Turns mapped rows into records; remembers ids to catch duplicates within a file.
    ``schemes``: the project's label schemes (default the built-in ones), to compare the
    labels two rows give one post as they will be stored. ``index_column``: the ``n``
    column of crisisdesk's own export (None for another file), whose one row is one
    item; such a row's ``source`` cell names the project source it was exported from
    (:attr:`PostRecord.source`), and a post is known by that source and its id.
    ``image_id_column``: the ``image_id`` column, an export's or CrisisMMD's."""

    def __init__(self, file: str, base: Path, columns: dict[str, str],
                 labels: dict[str, str], defaults: Mapping[str, str | None],
                 index_column: str | None = None,
                 schemes: Mapping[str, LabelScheme] | None = None,
                 image_id_column: str | None = None, whole_file: bool = False) -> None:
        self.file, self.base, self.columns, self.labels = file, base, columns, labels
        # An export read whole (not a watch's rows): its images not found are said by
        # the import once the writer knows which it stored as missing (ExportImages).
        self.export_images = ExportImages(file, base) \
            if whole_file and index_column is not None else None
        self.defaults, self.index_column = defaults, index_column
        self.image_id_column = image_id_column
        self.schemes = schemes or builtin_schemes()
        self.seen: dict[tuple[str | None, str], tuple[int, bytes]] = {}
        self.said: set[str] = set()  # warnings given once a file
        # Per post and images: the row that first labelled each task, and its label.
        self.labelled: dict[tuple, dict[str, tuple[int, tuple]]] = {}
        # Posts an earlier row gave an image numbered in file order (no image id).
        self.in_file_order: set[tuple[str | None, str]] = set()

    def parse_row(self, row: Mapping[str, Any], number: int) -> Iterator[Parsed]:
        """The row's record, after warnings about its optional cells; or a Problem."""
        where = Where(self.file, number)
        get = {f: _field_cell(f, row.get(c)) for f, c in self.columns.items()}
        post_id = get.get("id")
        if not post_id:
            yield Problem(where, "empty id; row skipped")
            return
        # A sheet saved by a spreadsheet: a long id rewritten as a number would file the
        # row's labels under a new post, or another post that has that id. A CrisisMMD
        # sheet's image_id cell, text to the spreadsheet, keeps the id (as in its .tsv).
        image_id = _clean(row.get(self.image_id_column)) if self.image_id_column else None
        found = None if self.index_column is not None else \
            id_from_image_id(post_id, image_id, f"column {self.columns['id']}: post id",
                             WHAT_TO_DO)
        post_id, said, severity = (*found, "warning") if found else checked_post_id(
            post_id, self.columns["id"], row, self.index_column is not None)
        if said:
            yield Problem(where, said, severity)
        if post_id is None:
            return
        get["created_at"] = post_time_cells(get.get("created_at"), get.pop(CLOCK, None))
        # A digest, not the cells: kept for every post of the file (its texts took 1 KB
        # a post, 200 MB for 200,000), it tells a repeat from another post all the same.
        content = _digest(tuple(get.get(f) for f in ("text", "author", "created_at", "url")))
        # Two sources of one exported project may hold the same post id: not a repeat.
        source = self._source_cell(row)
        if source is not None and (why := source_cell_problem(source)):
            yield Problem(where, f"source cell {source[:40]!r}{'...' * (len(source) > 40)} "
                          f"{why}; read as empty", "warning")
            source = None
        first = self.seen.get((source, post_id))
        if first is not None and first[1] != content:
            yield Problem(where, f"post id {post_id} appears again (first at row {first[0]})"
                                 " with different content; kept the first")
            return
        self.seen.setdefault((source, post_id), (number, content))
        record = PostRecord(
            post_id=post_id, where=where, text=get.get("text") or "", source=source,
            platform=get.get("platform") or self.defaults.get("platform"),
            author=get.get("author"), created_at=get.get("created_at"),
            language=get.get("language"), url=get.get("url"),
            event=self.defaults.get("event") or get.get("event"),
            media=[media_ref(p, self.base, remote=self.index_column is not None)
                   for p in self._images(row)],
        )
        if self.export_images is not None:
            self.export_images.sort(record)
        for ref in record.media:
            if ref.note:  # taken, but the analyst should know which file it was
                yield Problem(where, f"image {ref.declared}: {ref.note}", "warning")
        index = _clean(row.get(self.index_column)) if self.index_column else None
        if index is not None and index.isdigit() and len(record.media) == 1:
            record.media[0].n = int(index)
        if image_id is not None and len(record.media) == 1:
            if self.index_column is not None:
                record.media[0].external_id = image_id
            elif (source, post_id) in self.in_file_order:
                # Its n may be the one the earlier image was given: that item's image
                # and label would be this row's, and this image never stored.
                yield Problem(where, f"image_id {image_id} not used to number the image: an "
                              f"earlier row gave post {post_id} an image without an image "
                              "id; numbered in file order", "warning")
            else:
                yield from crisismmd_image(record, image_id, self.said)
        if any(ref.n is None for ref in record.media):
            self.in_file_order.add((source, post_id))
        try:
            record.sensitive = parse_flag(get.get("sensitive"))
        except ValueError as exc:
            yield Problem(where, str(exc), "warning")
        try:
            alt_cell = row.get(self.columns["alt_text"]) if "alt_text" in self.columns \
                else None
            for ref, alt in zip(record.media, split_alt_texts(alt_cell, len(record.media)),
                                strict=True):
                ref.alt_text = alt
        except ValueError as exc:
            yield Problem(where, str(exc), "warning")
        for task, column in self.labels.items():
            value = _clean(row.get(column))
            if value:
                cells = _task_cells(row, task)
                split = cells["split"] or get.get("split")
                record.labels.append(LabelRef(
                    task, value, split.lower() if split else None, source=cells["label_source"],
                    annotator=cells["annotator"], labelled_at=cells["labelled_at"]))
        yield self._conflict(record, number) or record

    def _source_cell(self, row: Mapping[str, Any]) -> str | None:
        """The ``source`` cell of a row of crisisdesk's own export (None for another
        table, whose ``source`` column, if any, is no project's source name)."""
        if self.index_column is None:
            return None
        for column, value in row.items():
            if isinstance(column, str) and column.strip().lower() == "source":
                return _clean(value)
        return None

    def _images(self, row: Mapping[str, Any]) -> list[str]:
        """The image paths or URLs of a row's image cell."""
        if "image" not in self.columns:
            return []
        if self.index_column is None:
            return split_media(row.get(self.columns["image"]))
        # crisisdesk's own export: one row is one item, its cell one image, taken whole
        # (split at ';', a folder "Harvey; day 1" became two missing images).
        cell = _clean(row.get(self.columns["image"]))
        return [cell] if cell else []

    def _conflict(self, record: PostRecord, number: int) -> Problem | None:
        """A Problem when an earlier row gave the same post and images another label or
        split: both would land on the same items, the later label silently replacing the
        first while the first split stays."""
        # An image known by its index (an image id's n) is that item whatever its file
        # is called: a sheet giving one image id twice, with two files, labels one item.
        if not record.labels:
            return None  # nothing to compare, nor to keep for every post of the file
        firsts = self.labelled.setdefault((record.source, record.post_id, tuple(
            m.declared if m.n is None else m.n for m in record.media)), {})
        given = {ref.task: (_comparable(ref, self.schemes), ref) for ref in record.labels}
        for task, (value, ref) in given.items():
            first = firsts.get(task)
            if first is not None and first[1] != value:
                return Problem(record.where, f"post id {record.post_id} appears again (first "
                               f"at row {first[0]}) with {task} label {ref.label!r}"
                               f"{f' (split {ref.split})' if ref.split else ''}; kept the first")
        for task, (value, _) in given.items():
            firsts.setdefault(task, (number, value))
        return None
