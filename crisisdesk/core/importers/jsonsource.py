"""JSON as collectors write it: JSON Lines (one object a line) or one JSON document.

Shared by the collector importers (twarc.py, mastodon.py, bluesky.py) and the watched
folder: turning text into numbered JSON values (a malformed line is a Problem naming file
and line, and the rest goes on), and media URLs into remote media references.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from crisisdesk.core.importers.records import Expected, MediaRef, Parsed, Problem, Where
from crisisdesk.core.importers.textio import TextFileError, read_text_file

# A parsed value with its line (JSON Lines) or element number (a JSON array).
Numbered = tuple[int, Any]
# JSON escapes every control character inside a string, so these are the only line
# ends; str.splitlines() would also break at U+2028, U+2029 and NEL, which JSON strings
# hold raw (crisisdesk's own JSONL export writes them so).
LINE_END = re.compile(r"\r\n?|\n")


def split_lines(text: str) -> list[str]:
    """The lines of JSON Lines text (a trailing line end gives a last, blank line)."""
    return LINE_END.split(text)


def json_lines(file: str, lines: Iterable[tuple[int, str]]) -> Iterator[Numbered | Problem]:
    """Each non-blank line as a JSON value, or a Problem for a line that is not JSON."""
    for number, line in lines:
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield Problem(Where(file, number), f"malformed JSON: {exc.msg} (column "
                                               f"{exc.colno}); line skipped")


def numbered_lines(text: str, first: int = 1) -> Iterator[tuple[int, str]]:
    """The lines of ``text`` with their numbers, starting at ``first``."""
    return enumerate(split_lines(text), start=first)


def is_document(text: str) -> bool:
    """Whether ``text`` is one JSON document (an array, or an object spread over lines)
    rather than JSON Lines: its first non-blank line is not a JSON value by itself, and
    is not a broken first line of JSON Lines (see :func:`_broken_first_line`)."""
    for line in split_lines(text):
        if line.strip():
            try:
                json.loads(line)
            except json.JSONDecodeError:
                return not _broken_first_line(text)
            return line.lstrip().startswith("[")
    return False


def _broken_first_line(text: str) -> bool:
    """Whether text whose first line is no JSON value is JSON Lines with a broken first
    line (a collector that died mid-line and started again), not a JSON document: at
    least half its first 100 lines are JSON objects by themselves, which the lines of a
    document (opened by a bracket, joined by commas) are not. ``text`` ends at a line
    end (a line cut by a read would count against)."""
    lines = list(islice((line for line in lazy_lines(text) if line.strip()), 100))
    if len(lines) < 2 or lines[0].lstrip().startswith("[") or \
            lines[0].rstrip().endswith(("{", "[", ",")):
        return False
    whole = 0
    for line in lines:
        try:
            whole += isinstance(json.loads(line), dict)
        except ValueError:
            continue
    return whole * 2 >= len(lines)


def lazy_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one at a time: a whole file is not split to look at its head."""
    start = 0
    for end in LINE_END.finditer(text):
        yield text[start:end.start()]
        start = end.end()
    yield text[start:]


def json_values(path: Path) -> Iterator[Numbered | Problem]:
    """The JSON values of a file: a document's array elements (numbered from 1) or the
    document itself, else one value per line. A file that cannot be read is a Problem."""
    file = str(path)
    try:
        text, warning = read_text_file(path)
    except TextFileError as exc:
        yield Problem(Where(file), str(exc))
        return
    if warning:
        yield Problem(Where(file), warning, "warning")
    if not is_document(text):
        yield from json_lines(file, numbered_lines(text))
        return
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        yield Problem(Where(file, exc.lineno), f"malformed JSON: {exc.msg} (column "
                                               f"{exc.colno}); file not imported")
        return
    if isinstance(document, list):
        yield from enumerate(document, start=1)
    else:
        yield 1, document


def first_value(path: Path, head_bytes: int = 1 << 20) -> Any:
    """The first JSON value of a file (see :func:`first_value_in`), from its first
    ``head_bytes``, to recognise a format by content; None when there is none."""
    try:
        with path.open("rb") as handle:
            head = handle.read(head_bytes + 1)  # one more: whether the head is all of it
    except OSError:
        return None
    return first_value_in(head[:head_bytes].decode("utf-8-sig", errors="replace"),
                          whole=len(head) <= head_bytes)


def first_value_in(text: str, whole: bool) -> Any:
    """The first JSON value of a file's text already read (first line, first array
    element, or the whole document when ``whole``: the text is all of the file; the
    first whole line after a broken first line); None when there is none."""
    stripped = text.lstrip()
    first_line = stripped.split("\n", 1)[0]
    try:
        return _first_element(json.loads(first_line))
    except json.JSONDecodeError:
        pass
    whole_lines = text if whole else text[:text.rfind("\n") + 1]
    if _broken_first_line(whole_lines):
        # JSON Lines after a line cut short: the first whole line tells the kind.
        for line in lazy_lines(whole_lines):
            try:
                return _first_element(json.loads(line))
            except ValueError:
                continue
    decoder = json.JSONDecoder()
    if stripped.startswith("["):
        try:
            return decoder.raw_decode(stripped[1:].lstrip())[0]
        except json.JSONDecodeError:
            return None
    if stripped.startswith("{"):
        if whole:
            try:
                return decoder.raw_decode(stripped)[0]
            except json.JSONDecodeError:
                return None
        # A large pretty-printed page: its first list's first element tells the kind.
        for key in ('"posts"', '"feed"', '"data"'):
            at = stripped.find(key)
            start = stripped.find("[", at) if at >= 0 else -1
            if start >= 0:
                try:
                    return {key.strip('"'): [decoder.raw_decode(stripped[start + 1:].lstrip())[0]]}
                except json.JSONDecodeError:
                    continue
    return None


def _first_element(value: Any) -> Any:
    """A JSON array's first element (a page of posts), else the value itself."""
    return value[0] if isinstance(value, list) and value else value


def remote_ref(url: Any, what: str, alt_text: Any = None) -> MediaRef:
    """A media reference for a URL a collector wrote: remote (fetched on request), or
    unreadable with a reason when it is no http(s) URL. ``alt_text``: the poster's
    description of the image as the collector wrote it (kept when it is text)."""
    alt = text_of(alt_text).strip() or None
    text = str(url or "").strip()
    if not text:
        return MediaRef(f"({what})", None, status="missing", reason=f"{what} has no URL",
                        alt_text=alt)
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket: this media only, not the file
        return MediaRef(text, None, status="unreadable", reason=f"not a valid URL: {exc}",
                        alt_text=alt)
    if scheme not in ("http", "https"):
        return MediaRef(text, None, status="unreadable",
                        reason=f"only http and https media URLs are fetched, not {scheme!r}",
                        alt_text=alt)
    # quiet: a remote image is expected, not a problem to list in the report.
    return MediaRef(text, None, status="remote", quiet=True, alt_text=alt)


def flag_of(*values: Any) -> bool | None:
    """A collector's sensitive flag: True when any value is true, False when the values
    that are booleans are all false, None when none is a boolean (the source does not say)."""
    flags = [v for v in values if isinstance(v, bool)]
    return any(flags) if flags else None


def text_of(value: Any) -> str:
    """A string field as text ('' for absent or non-string values)."""
    return value if isinstance(value, str) else ""


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON object, or {} for anything else (collectors omit or null fields)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """A JSON array, or [] for anything else."""
    return value if isinstance(value, list) else []


class PageParser(Protocol):
    """A collector format's parser: posts per JSON value, and records from one value."""

    def count(self, obj: Any) -> int: ...

    def feed(self, number: int, obj: Any) -> Iterator[Parsed]: ...


def parse_json_file(parser: PageParser, path: Path, *, split_arrays: bool = False
                    ) -> Iterator[Parsed]:
    """The records of a JSON or JSON Lines file through ``parser``: the expected count
    first, then each value's records, with unreadable lines passed on as problems.
    ``split_arrays`` feeds the elements of a top-level array one by one."""
    values = list(json_values(path))
    yield Expected(sum(parser.count(v[1]) for v in values if isinstance(v, tuple)))
    for value in values:
        if isinstance(value, Problem):
            yield value
        elif split_arrays and isinstance(value[1], list):
            for item in value[1]:
                yield from parser.feed(value[0], item)
        else:
            yield from parser.feed(*value)
