"""One-shot import of a collector's JSON Lines file whose first line was cut short (a
collector that died mid-line and was started again): read as JSON Lines of its
collector kind, the broken line reported by number, the rest imported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from import_helpers import run_import
from test_import_collectors import post_view, status, twarc_page, tweet

from crisisdesk.core.importers import detect_format


def twarc_lines() -> list[str]:
    return [json.dumps(twarc_page([tweet(i, f"tweet {i}")])) for i in ("1", "2")]


def mastodon_lines() -> list[str]:
    return [json.dumps(status(i, f"<p>toot {i}</p>")) for i in ("1", "2")]


def bluesky_lines() -> list[str]:
    return [json.dumps({"cursor": i, "posts": [post_view(f"p{i}", f"skeet {i}")]})
            for i in ("1", "2")]


SHAPES = [
    # (collector, its good lines, the cut-short first line, a name that says nothing)
    ("twarc", twarc_lines, '{"data": [{"id": "8", "text": "cut', "search.jsonl"),
    ("mastodon", mastodon_lines, '{"id": "9", "created_at": "2024-09-27T1', "stream.json"),
    ("bluesky", bluesky_lines, '{"cursor": "0", "posts": [{"uri": "at://did:plc', "feed.dat"),
]


@pytest.mark.parametrize(("fmt", "lines", "broken", "name"), SHAPES,
                         ids=[s[0] for s in SHAPES])
def test_a_cut_short_first_line_is_reported_and_the_rest_imported(
        proj, tmp_path: Path, fmt, lines, broken, name):
    file = tmp_path / name
    file.write_text("\n".join([broken, *lines()]) + "\n", "utf-8")
    assert detect_format(file) == fmt
    job = run_import(proj, [file])
    assert job.report.sources == [{"path": str(file), "format": fmt, "name": file.stem}]
    assert job.report.posts_added == 2
    problems = [p for p in job.report.problems if p.severity == "error"]
    assert len(problems) == 1
    assert problems[0].where.file == str(file) and problems[0].where.row == 1
    assert "malformed JSON" in problems[0].message and "line skipped" in problems[0].message


def test_a_pretty_printed_document_is_still_a_document(proj, tmp_path: Path):
    # The lines of a document are no JSON value by themselves: not taken for JSON Lines.
    file = tmp_path / "statuses.json"
    file.write_text(json.dumps([status("1", "<p>a</p>"), status("2", "<p>b</p>")], indent=2),
                    "utf-8")
    assert detect_format(file) == "mastodon"
    job = run_import(proj, [file])
    assert job.report.posts_added == 2 and job.report.problems == []
