"""Which column of a table holds each post field and each task's labels.

A CSV, TSV or JSONL file's header (a JSONL file's keys) is matched against the default
names of each field (:data:`DEFAULT_COLUMNS`, case, spaces and hyphens aside) and the
analyst's ``--map field=column``; label columns are named after a task of the project's
schemes. The importers (:mod:`~crisisdesk.core.importers.tabular`, a watched CSV) ask here
and then read the rows; a missing column is a :class:`MissingColumn` naming what was
looked for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from crisisdesk.core.importers.rows import CLOCK
from crisisdesk.core.schemes import LabelScheme, builtin_schemes

# Default columns for each field, tried in order (case-insensitive).
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "post_id", "tweet_id", "status_id", "id_str"),
    "text": ("text", "tweet_text", "full_text", "content", "body", "message"),
    "image": ("image", "image_path", "images", "media", "image_file", "file", "filename"),
    "created_at": ("created_at", "date", "timestamp", "time", "created"),
    "author": ("author", "user", "username", "screen_name", "user_screen_name", "handle"),
    "platform": ("platform",),
    "language": ("language", "lang"),
    "url": ("url", "link", "permalink"),
    "event": ("event", "event_name"),
    "split": ("split",),
    # Optional: the post marked sensitive (its images are blurred in the app), and the
    # poster's description of each image.
    "sensitive": ("sensitive", "possibly_sensitive"),
    "alt_text": ("alt_text",),
}
FIELDS = tuple(DEFAULT_COLUMNS)


class MissingColumn(ValueError):
    """A required or mapped column is absent, or a mapping names no field; the message
    names it and what was looked for."""


def _by_lower(header: list[str]) -> dict[str, str]:
    """Column names by their lower-case form, then by that form with runs of spaces and
    hyphens as ``_`` (a sheet's "Tweet ID" is tweet_id); of two that differ only so (or a
    name given twice) the first counts, as the first of a task's label cells does."""
    by_lower: dict[str, str] = {}
    names = [name for name in header if name is not None]
    for name in names:
        by_lower.setdefault(name.strip().lower(), name)
    for name in names:  # after every name as written: "tweet_id" beats "Tweet ID"
        by_lower.setdefault(_SPACED.sub("_", name.strip().lower()), name)
    return by_lower


_SPACED = re.compile(r"[\s-]+")


def resolve_columns(header: list[str], mapping: Mapping[str, str],
                    schemes: Mapping[str, LabelScheme] | None = None) -> dict[str, str]:
    """Pick the column of each field (and :data:`CLOCK`, a ``time`` column completing a
    ``date`` one); raise MissingColumn when no id or no text/image,
    or when ``mapping`` names a column that is not there or a field that is not one
    (``label_<task>`` for a task of ``schemes``, default the built-in ones)."""
    label_keys = [f"label_{task}" for task in schemes or builtin_schemes()]
    for field, column in mapping.items():
        if field not in FIELDS and field not in label_keys:
            raise MissingColumn(
                f"--map {field}={column}: no field {field!r} (fields: {', '.join(FIELDS)}; "
                f"a task's labels: {', '.join(label_keys)})")
    by_lower = _by_lower(header)
    chosen: dict[str, str] = {}
    for field in FIELDS:
        if field in mapping:
            column = by_lower.get(mapping[field].strip().lower())
            if column is None:
                raise MissingColumn(
                    f"--map {field}={mapping[field]}: no such column "
                    f"(columns: {', '.join(header)})")
            chosen[field] = column
            continue
        for candidate in DEFAULT_COLUMNS[field]:
            if candidate in by_lower:
                chosen[field] = by_lower[candidate]
                break
    if "id" not in chosen:
        raise MissingColumn(
            "required column 'id' is missing (looked for "
            f"{', '.join(DEFAULT_COLUMNS['id'])}; map one with --map id=COLUMN)")
    if "text" not in chosen and "image" not in chosen:
        raise MissingColumn(
            "required column 'text' (or 'image') is missing (looked for "
            f"{', '.join(DEFAULT_COLUMNS['text'])}; map one with --map text=COLUMN)")
    # The day and the clock in two columns (Meltwater's and many sheets' "Date" and
    # "Time"): the clock completes the day, else every post of a day was at midnight.
    day, clock = by_lower.get("date"), by_lower.get("time")
    if ("created_at" not in mapping and day is not None and chosen.get("created_at") == day
            and clock is not None and clock not in chosen.values()):
        chosen[CLOCK] = clock
    return chosen


def label_columns(header: list[str], mapping: Mapping[str, str], strict: bool = True,
                  schemes: Mapping[str, LabelScheme] | None = None) -> dict[str, str]:
    """Columns holding labels, by task of ``schemes`` (default the built-in ones):
    ``<task>``, ``label_<task>`` or ``<task>_label``, or the column
    ``--map label_<task>=COLUMN`` names (case aside, as for the fields).

    A mapped column that is not there raises MissingColumn; with ``strict`` False (one
    JSON object of many, which may just be unlabelled) that task has no column."""
    by_lower = _by_lower(header)
    found = {}
    for task in schemes or builtin_schemes():
        if f"label_{task}" in mapping:
            mapped = mapping[f"label_{task}"]
            column = by_lower.get(mapped.strip().lower())
            if column is not None:
                found[task] = column
            elif strict:
                raise MissingColumn(f"--map label_{task}={mapped}: no such column "
                                    f"(columns: {', '.join(header)})")
            continue
        for candidate in (task, f"label_{task}", f"{task}_label"):
            if candidate in by_lower:
                found[task] = by_lower[candidate]
                break
    return found


def media_index_column(header: list[str]) -> str | None:
    """The ``n`` column of crisisdesk's own CSV and JSONL exports (known by their
    ``item_id`` column): one row per item, whose media index a re-import keeps, so
    item ids and CrisisMMD image ids (``<tweet id>_2``) stay what they were."""
    by_lower = _by_lower(header)
    return by_lower.get("n") if "item_id" in by_lower else None


def image_id_column(header: list[str]) -> str | None:
    """The ``image_id`` column: in crisisdesk's own CSV and JSONL exports the CrisisMMD
    image id an item was imported with (``<other tweet id>_0`` too), kept by a re-import;
    in another table (CrisisMMD's columns) it numbers the row's image too."""
    return _by_lower(header).get("image_id")
