"""CSV and JSONL files of posts, with a mapping from columns to post fields.

Each row is a post (or one more image of a post: rows with the same id and the same
text add media). Default column names cover common exports; ``--map field=column``
overrides them. Label columns are named after a task (``damage``, ``label_damage`` or
``damage_label``), for the built-in tasks and the project's own (the ``schemes`` the
caller passes, ``store.schemes()``); a ``split`` column (or ``<task>_split``) gives the
split. Optional
``sensitive`` and ``alt_text`` columns mark the post sensitive and describe its images.

This module reads the files; which column holds each field is decided in
:mod:`crisisdesk.core.importers.table_columns` (whose names are imported from here too),
and the cells of a row become a record in :mod:`crisisdesk.core.importers.rows`.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

from crisisdesk.core.importers.header_checks import (
    repeated_columns,
    unknown_tasks,
    unread_label_column,
)
from crisisdesk.core.importers.jsonsource import lazy_lines
from crisisdesk.core.importers.records import Expected, Parsed, Problem, Where
from crisisdesk.core.importers.rows import TASK_CELLS, RowReader
from crisisdesk.core.importers.table_columns import (  # noqa: F401 - imported from here too
    DEFAULT_COLUMNS,
    FIELDS,
    MissingColumn,
    image_id_column,
    label_columns,
    media_index_column,
    resolve_columns,
)
from crisisdesk.core.importers.textio import TextFileError, csv_lines, read_text_file
from crisisdesk.core.schemes import LabelScheme

MAX_FIELD_CHARS = 10 * 1024 * 1024
csv.field_size_limit(MAX_FIELD_CHARS)


def first_cells(header: list[str], values: list[str]) -> dict[str, str]:
    """A CSV row by column name; a name given twice keeps its first cell."""
    row: dict[str, str] = {}
    for name, value in zip(header, values, strict=False):
        row.setdefault(name, value)
    return row


#: Separators a sheet may use: Excel writes ';' where the decimal mark is a comma (most of
#: Europe, Latin America), tabs in its "Unicode Text" (UTF-16) export.
DELIMITERS = (",", ";", "\t")
_LINE_END = re.compile(r"\r\n|\r|\n")


def table_delimiter(text: str, default: str) -> tuple[str, str]:
    """The separator of a sheet's ``text`` and the text to read (an Excel ``sep=;``
    first line, which names the separator, taken off). Without that line, the separator
    is the one that splits the header row into the most columns; ``default`` (the file
    suffix's) when none splits it: else a European Excel's ``id;text`` header was one
    column and the file "had no id column"."""
    first, *rest = _LINE_END.split(text, maxsplit=1)
    directive = first.strip(" ")  # not a tab: "sep=\t" names one
    if directive.lower().startswith("sep=") and len(directive) == 5:
        return "".join(rest), directive[4]
    counts = {sep: len(first.split(sep)) for sep in DELIMITERS}
    best = max(DELIMITERS, key=lambda sep: (counts[sep], sep == default))
    return text, best if counts[best] > 1 else default


def parse_csv(path: Path, base: Path, mapping: Mapping[str, str],
              defaults: Mapping[str, str | None],
              schemes: Mapping[str, LabelScheme] | None = None) -> Iterator[Parsed]:
    """Records of a CSV (or TSV) file; images resolve against ``base``; labels are read
    for the tasks of ``schemes`` (the project's; default the built-in ones)."""
    try:
        text, warning = read_text_file(path)
    except TextFileError as exc:
        yield Problem(Where(str(path)), str(exc))
        return
    if warning:
        yield Problem(Where(str(path)), warning, "warning")
    text, delimiter = table_delimiter(text, "\t" if path.suffix.lower() == ".tsv" else ",")
    reader = csv.reader(csv_lines(text), dialect="excel", delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        yield Problem(Where(str(path)), "empty file: no header row")
        return
    except csv.Error as exc:
        yield Problem(Where(str(path), 1), f"unreadable header row: {exc}")
        return
    problems, chosen = csv_header(str(path), header, mapping, schemes)
    yield from problems
    if chosen is None:
        return
    rows = RowReader(str(path), base, *chosen, defaults, media_index_column(header),
                     schemes, image_id_column(header), whole_file=True)
    yield Expected(max(text.count("\n") - 1, 0))
    number, rows_seen = 1, 0
    while True:
        number += 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield Problem(Where(str(path), reader.line_num), f"malformed CSV: {exc}; row skipped")
            continue
        rows_seen += yield from csv_row(rows, header, values, number)
    if not rows_seen:  # else "0 new posts" alone, as if every post were known already
        yield Problem(Where(str(path)), "no rows below the header: nothing to import",
                      "warning")


def csv_header(file: str, header: list[str], mapping: Mapping[str, str],
               schemes: Mapping[str, LabelScheme] | None
               ) -> tuple[list[Problem], tuple[dict[str, str], dict[str, str]] | None]:
    """A CSV header's warnings, and the columns of the fields and of the labels (None,
    the error among the problems, when a column is missing); a watch asks at each look."""
    problems = [Problem(Where(file, 1), line, "warning") for line in (
        repeated_columns(header) + unknown_tasks(header, schemes)
        + unread_label_column(header, mapping, schemes))]
    try:
        return problems, (resolve_columns(header, mapping, schemes),
                          label_columns(header, mapping, schemes=schemes))
    except MissingColumn as exc:
        return [*problems, Problem(Where(file), str(exc))], None


def csv_row(rows: RowReader, header: list[str], values: list[str],
            number: int) -> Generator[Parsed, None, bool]:
    """Row ``number`` of a CSV below its header: its record and warnings; returns whether
    it was a row (not blank, not the header again). A watch reads appended rows by it."""
    if not any(v.strip() for v in values):
        return False
    if [v.strip().lstrip("\ufeff") for v in values] == [h.strip() for h in header]:
        # Two exports joined with `cat` (the second's BOM too): else a post with id
        # "id" and text "text".
        yield Problem(Where(rows.file, number), "the header row again (files joined?); "
                      "row skipped", "warning")
        return False
    if len(values) != len(header):
        yield Problem(Where(rows.file, number),
                      f"row has {len(values)} fields, the header has {len(header)}",
                      "warning")
    yield from rows.parse_row(first_cells(header, values), number)
    return True


def _flatten_tasks(obj: dict[str, Any]) -> None:
    """Lift crisisdesk's own JSONL export shape (``"tasks": {task: {"label", "split",
    "label_source", ...}}``) into the flat ``<task>`` / ``<task>_split`` / ... keys the
    row reader knows."""
    tasks = obj.get("tasks")
    if not isinstance(tasks, dict):
        return
    for task, entry in tasks.items():
        if isinstance(entry, dict) and entry.get("label"):
            obj.setdefault(str(task), entry["label"])
            for key in TASK_CELLS:
                if entry.get(key):
                    obj.setdefault(f"{task}_{key}", entry[key])


def parse_jsonl(path: Path, base: Path, mapping: Mapping[str, str],
                defaults: Mapping[str, str | None],
                schemes: Mapping[str, LabelScheme] | None = None) -> Iterator[Parsed]:
    """Records of a JSON Lines file (or a .json file holding a list of objects); labels
    as for :func:`parse_csv`."""
    try:
        text, warning = read_text_file(path)
    except TextFileError as exc:
        yield Problem(Where(str(path)), str(exc))
        return
    if warning:
        yield Problem(Where(str(path)), warning, "warning")

    def objects() -> Iterator[tuple[int, Any] | Problem]:
        """The file's values, parsed again at each call: JSON Lines' objects are not
        held (200,000 of them took 260 MB before the first was imported)."""
        if array is not None:
            yield from enumerate(array, start=1)
            return
        for number, line in enumerate(lazy_lines(text), start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield Problem(Where(str(path), number),
                                  f"malformed JSON: {exc.msg}; line skipped")

    array = None  # a .json document's list, held whole as json.loads makes it
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        try:
            array = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Problem(Where(str(path), exc.lineno), f"malformed JSON: {exc.msg}")
            return
    # A first pass for the keys (a column may start on any line) and the count.
    first_keys: dict[str, None] = {}  # in order of first use
    count = 0
    for entry in objects():
        if isinstance(entry, Problem):
            yield entry
            continue
        count += 1
        if isinstance(entry[1], dict):
            _flatten_tasks(entry[1])
            first_keys.update(dict.fromkeys(entry[1]))
    keys = list(first_keys)
    if not keys:
        if count:
            yield Problem(Where(str(path)), "no JSON objects in the file")
        return
    for line in unknown_tasks(keys, schemes) + unread_label_column(keys, mapping, schemes):
        yield Problem(Where(str(path)), line, "warning")
    try:
        columns = resolve_columns(keys, mapping, schemes)
        labels = label_columns(keys, mapping, schemes=schemes)
    except MissingColumn as exc:
        yield Problem(Where(str(path)), str(exc))
        return
    rows = RowReader(str(path), base, columns, labels, defaults,
                     media_index_column(keys), schemes, image_id_column(keys),
                     whole_file=True)
    yield Expected(count)
    for entry in objects():
        if isinstance(entry, Problem):
            continue  # said by the first pass
        number, obj = entry
        if not isinstance(obj, dict):
            yield Problem(Where(str(path), number),
                          f"expected a JSON object, got {type(obj).__name__}; line skipped")
            continue
        _flatten_tasks(obj)  # parsed again: as the first pass saw it
        yield from rows.parse_row(obj, number)


class JsonlRows:
    """Plain JSONL posts one object at a time (a watched file's new lines): columns are
    resolved per object."""

    def __init__(self, file: str, base: Path, mapping: Mapping[str, str],
                 defaults: Mapping[str, str | None],
                 schemes: Mapping[str, LabelScheme]) -> None:
        self.mapping, self.schemes = mapping, schemes
        self.rows = RowReader(file, base, {}, {}, defaults, schemes=schemes)
        self.reported: set[str] = set()  # tasks the project lacks: said once per file

    def use_schemes(self, schemes: Mapping[str, LabelScheme]) -> None:
        """Read the next lines with the project's schemes as they are now (a task added
        with ``schemes add`` while the watch runs)."""
        self.schemes = self.rows.schemes = schemes

    def feed(self, number: int, obj: Any) -> Iterator[Parsed]:
        if not isinstance(obj, dict):
            yield Problem(Where(self.rows.file, number),
                          f"expected a JSON object, got {type(obj).__name__}; line skipped")
            return
        # A crisisdesk JSONL export, as `crisisdesk import` reads it: labels under "tasks".
        _flatten_tasks(obj)
        for line in (unknown_tasks(list(obj), self.schemes)
                     + unread_label_column(list(obj), self.mapping, self.schemes)):
            if line not in self.reported:
                self.reported.add(line)
                yield Problem(Where(self.rows.file), line, "warning")
        try:
            self.rows.columns = resolve_columns(list(obj), self.mapping, self.schemes)
        except MissingColumn as exc:
            yield Problem(Where(self.rows.file, number), f"{exc}; line skipped")
            return
        # One object of many: one without a mapped label column is only unlabelled.
        self.rows.labels = label_columns(list(obj), self.mapping, strict=False,
                                         schemes=self.schemes)
        # A CrisisMMD file converted to JSONL numbers its images as `import` does.
        self.rows.image_id_column = image_id_column(list(obj))
        yield from self.rows.parse_row(obj, number)
