"""Importing a table of 100,000-300,000 posts on a laptop: what must not grow with it.

Found with 200,000 posts (a 38 MB CSV, a 48 MB JSONL):

* A CSV (or CrisisMMD TSV) was read through ``io.StringIO``, which holds the whole text
  again at 4 bytes a character: 190 MB before the first row for a 38 MB file.
* A JSON Lines file was parsed into a list of every object before its first record
  (260 MB up front), where a first pass over the lines for their keys does.
* Each row's text, author, time and url were kept to spot a repeated post id with other
  content (about 1 KB a post for the whole import): a digest of them is enough.
"""

from __future__ import annotations

import csv
import json
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crisisdesk.core.importers.crisismmd import parse_crisismmd
from crisisdesk.core.importers.records import PostRecord, Problem
from crisisdesk.core.importers.tabular import parse_csv, parse_jsonl

ROWS = 4_000


def _text(i: int) -> str:
    """A post's text, long as a real one and different in every row."""
    return f"post {i}: " + " ".join(f"flood{(i * 7 + k) % 1000}" for k in range(200))


def _csv(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "author", "created_at", "damage"])
        for i in range(ROWS):
            w.writerow([i, _text(i), f"user{i}", "2024-01-02T03:04:05Z",
                        "mild_damage" if i % 3 == 0 else ""])
    return path


def _jsonl(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i in range(ROWS):
            f.write(json.dumps({"id": str(i), "text": _text(i), "author": f"user{i}",
                                "created_at": "2024-01-02T03:04:05Z"}) + "\n")
    return path


def _crisismmd(path: Path) -> Path:
    path.mkdir()
    file = path / "task_damage_text_img_train.tsv"
    with file.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, dialect="excel-tab")
        w.writerow(["event_name", "tweet_id", "image_id", "tweet_text", "image", "label"])
        for i in range(ROWS):
            w.writerow(["flood", i, f"{i}_0", _text(i), "", "mild_damage"])
    return file


def _measured(entries: Iterator) -> tuple[int, int, int]:
    """(records, peak traced bytes, traced bytes held when the last record came) of a
    parse, its records let go as they come (as the import's writer does)."""
    records = held = 0
    tracemalloc.start()
    try:
        for entry in entries:
            assert not (isinstance(entry, Problem) and entry.severity == "error"), entry
            if isinstance(entry, PostRecord):
                records += 1
                if records == ROWS:
                    held = tracemalloc.get_traced_memory()[0]
            del entry
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return records, peak, held


PARSERS: dict[str, tuple[Callable[[Path], Path], Callable[[Path], Iterator]]] = {
    "csv": (_csv, lambda p: parse_csv(p, p.parent, {}, {})),
    "jsonl": (_jsonl, lambda p: parse_jsonl(p, p.parent, {}, {})),
    "crisismmd": (_crisismmd, lambda p: parse_crisismmd(p, None)),
}


@pytest.mark.parametrize("fmt", list(PARSERS))
def test_a_big_table_is_parsed_in_about_its_own_size(tmp_path: Path, fmt: str) -> None:
    make, parse = PARSERS[fmt]
    path = make(tmp_path / f"posts.{fmt}")
    size = path.stat().st_size
    records, peak, held = _measured(parse(path))
    assert records == ROWS
    # The file's bytes and their text while it is decoded (2x), then its text alone:
    # not the text again 4x over (StringIO), every row's object, or every row's text.
    assert peak < 3 * size, f"peak {peak / size:.1f}x the file"
    assert held < 1.5 * size, f"{held / size:.1f}x the file held by the last row"


def test_a_repeated_id_with_other_content_is_still_told_apart(tmp_path: Path) -> None:
    """The digest kept for each post id tells a repeat of the same row (more media of
    the post) from a row that reuses the id for another post."""
    path = tmp_path / "posts.csv"
    path.write_text("id,text,author,image\n1,flood,ana,a.jpg\n1,flood,ana,b.jpg\n"
                    "1,fire,ana,c.jpg\n2,flood,bo,\n1,flood,ana,d.jpg\n", encoding="utf-8")
    entries = list(parse_csv(path, tmp_path, {}, {}))
    records = [e for e in entries if isinstance(e, PostRecord)]
    assert [(r.post_id, [m.declared for m in r.media]) for r in records] == [
        ("1", ["a.jpg"]), ("1", ["b.jpg"]), ("2", []), ("1", ["d.jpg"])]
    errors = [e for e in entries if isinstance(e, Problem) and e.severity == "error"]
    assert [(e.where.row, e.message) for e in errors] == [
        (4, "post id 1 appears again (first at row 2) with different content; kept the first")]


def test_lines_of_every_ending_reach_the_csv_reader(tmp_path: Path) -> None:
    """Old Mac (CR), Windows (CRLF) and Unix line ends, and a quoted text holding line
    ends of its own, read as they did through StringIO."""
    path = tmp_path / "posts.csv"
    path.write_bytes(b'id,text\r1,one\r\n2,"two\rlines\r\nand\nmore"\n3,three\r4,four')
    records = [e for e in parse_csv(path, tmp_path, {}, {}) if isinstance(e, PostRecord)]
    assert [(r.post_id, r.text) for r in records] == [
        ("1", "one"), ("2", "two\rlines\r\nand\nmore"), ("3", "three"), ("4", "four")]
