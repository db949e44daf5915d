"""Post times as analysts' sheets give them: the day and the clock in two columns
(``date`` and ``time``, as Meltwater's and many spreadsheets' exports write them), and zone
names that mean two places."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import items, post_row, run_import, write_csv, write_jsonl

from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue, queue_page
from crisisdesk.core.store.times import post_time


def test_a_date_column_and_a_time_column_give_the_posts_time(proj: Project,
                                                             tmp_path: Path) -> None:
    # Read alone, "date" put every post of the day at midnight without a word: the
    # clock was dropped and "sort by time" lost the order within each day.
    source = write_csv(tmp_path / "posts.csv", ["id", "text", "date", "time"], [
        ["a", "bridge down", "2017-09-20", "14:03"],
        ["b", "roads closed", "2017-09-20", "09:15:30+02:00"],
        ["c", "need water", "2017-09-20", "23:59"],
        ["d", "no clock given", "2017-09-21", ""],
    ])
    job = run_import(proj, [source])
    assert job.report.posts_added == 4 and not job.report.problems
    with proj.open_store() as store:
        times = {p: post_row(store, "posts", p)["created_at"] for p in "abcd"}
        post_of = {i.id: p for p in "abcd" for i in items(store, "posts", p)}
        order = [post_of[r.id] for r in
                 queue_page(store, Queue("all"), offset=0, limit=10, sort="time")]
    assert times == {"a": "2017-09-20T14:03:00.000Z", "b": "2017-09-20T07:15:30.000Z",
                     "c": "2017-09-20T23:59:00.000Z", "d": "2017-09-21T00:00:00.000Z"}
    assert order == ["d", "c", "a", "b"]  # newest first


def test_a_day_and_a_clock_that_do_not_read_together_are_reported(proj: Project,
                                                                   tmp_path: Path) -> None:
    # A 12-hour clock beside a D/M date (Meltwater's "20-Sep-2017", "02:03 PM"): not
    # guessed, reported with file and row, the post imported with the two as written.
    source = write_jsonl(tmp_path / "posts.jsonl", [
        {"id": "a", "text": "flooding", "Date": "20/09/2017", "Time": "2:03 PM"},
    ])
    job = run_import(proj, [source])
    assert job.report.posts_added == 1
    with proj.open_store() as store:
        assert post_row(store, "posts", "a")["created_at"] == "20/09/2017 2:03 PM"
    (warning,) = job.report.problems
    assert warning.severity == "warning" and warning.where.row == 1
    assert "'20/09/2017 2:03 PM'" in warning.message


def test_a_date_column_holding_the_whole_time_is_read_as_before(proj: Project,
                                                                tmp_path: Path) -> None:
    # A "time" column beside a "date" that already has its clock (a posting hour kept
    # for charts): the date's own time is the post's.
    source = write_csv(tmp_path / "posts.csv", ["id", "text", "date", "time"], [
        ["a", "bridge down", "2017-09-20T14:03:01+02:00", "14"],
        ["b", "roads closed", "1505916181", "14"],  # Unix seconds
    ])
    job = run_import(proj, [source])
    assert not job.report.problems
    with proj.open_store() as store:
        assert post_row(store, "posts", "a")["created_at"] == "2017-09-20T12:03:01.000Z"
        assert post_row(store, "posts", "b")["created_at"] == "2017-09-20T14:03:01.000Z"


@pytest.mark.parametrize("written", [
    "Wed, 20 Sep 2017 17:03:01 AST",  # Arabia Standard Time (+3) or Atlantic (-4)
    "Wed Sep 20 17:03:01 AST 2017",   # Unix `date`
    "Wed, 20 Sep 2017 17:03:01 adt",
])
def test_a_zone_name_rfc_2822_does_not_define_is_not_guessed(written: str) -> None:
    # email.utils reads AST as Atlantic time: a post from the Gulf was 7 h off without a
    # word; the README says such a name is kept as written, with a warning.
    assert post_time(written) is None


def test_a_numeric_offset_is_read_whatever_its_comment_names() -> None:
    assert post_time("Wed, 20 Sep 2017 17:03:01 +0300 (AST)") == "2017-09-20T14:03:01.000Z"

