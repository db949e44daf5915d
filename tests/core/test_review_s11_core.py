"""Review of session 11's core changes: what an analyst would hit in them."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from import_helpers import run_import

from crisisdesk.core.importers.tabular import MAX_FIELD_CHARS
from crisisdesk.core.project import Project


@pytest.fixture()
def small_field_limit() -> Iterator[int]:
    """A field limit of a few hundred characters, so that a header cut by an unclosed
    quote overruns it without writing the 10 MB it takes in a real file."""
    limit = 200
    csv.field_size_limit(limit)
    try:
        yield limit
    finally:
        csv.field_size_limit(MAX_FIELD_CHARS)


def test_an_unreadable_header_row_is_reported_and_the_other_files_import(
        tmp_path: Path, small_field_limit: int) -> None:
    # The look for an export's source column read the header outside its guard: the
    # whole import ended in a csv.Error traceback, the good file not imported either.
    bad = tmp_path / "bad.csv"
    bad.write_text('id,"text,n,source\n' + "x" * (small_field_limit + 10)
                   + "\n1,hello,0,a\n", "utf-8")
    good = tmp_path / "good.csv"
    good.write_text("id,text\n7,bridge closed\n", "utf-8")
    job = run_import(Project.open(tmp_path / "p", create=True), [bad, good])
    assert job.report.posts_added == 1
    [problem] = [p for p in job.report.problems if p.severity == "error"]
    assert problem.where.file == str(bad) and problem.where.row == 1
    assert "unreadable header row" in problem.message
