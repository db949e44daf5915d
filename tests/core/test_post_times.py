"""Posts' times are stored in one format (UTC ISO 8601), so that "sort by time" is right
across sources that write times differently (Twitter's classic format, offsets, Unix)."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import items, post_row, run_import, write_csv
from old_schema import as_schema

from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue, queue_page
from crisisdesk.core.store import Store, schema
from crisisdesk.core.store.times import post_time


@pytest.mark.parametrize(("written", "stored"), [
    ("Fri Sep 01 11:00:00 +0000 2017", "2017-09-01T11:00:00.000Z"),  # Twitter v1.1
    ("2017-09-01T12:30:00+02:00", "2017-09-01T10:30:00.000Z"),
    ("2017-09-01T11:30:00Z", "2017-09-01T11:30:00.000Z"),
    ("2017-09-01 11:30:00", "2017-09-01T11:30:00.000Z"),  # no zone: UTC
    ("Fri, 01 Sep 2017 11:00:00 +0000", "2017-09-01T11:00:00.000Z"),  # RFC 2822
    ("Fri, 01 Sep 2017 13:00:00 EDT", "2017-09-01T17:00:00.000Z"),
    ("Fri, 01 Sep 2017 11:00:00 GMT", "2017-09-01T11:00:00.000Z"),
    ("Fri, 01 Sep 2017 11:00:00 -0000", "2017-09-01T11:00:00.000Z"),  # zone not known
    ("Fri, 01 Sep 2017 11:00:00", "2017-09-01T11:00:00.000Z"),  # no zone: UTC
    ("Fri Sep  1 11:00:00 2017", "2017-09-01T11:00:00.000Z"),  # asctime
    ("1504263600", "2017-09-01T11:00:00.000Z"),
    ("1504263600000", "2017-09-01T11:00:00.000Z"),
    ("yesterday", None),
    ("", None),
])
def test_post_time_reads_what_platforms_write(written: str, stored: str | None) -> None:
    assert post_time(written) == stored


@pytest.mark.parametrize("written", [
    "Oct 9, 2017 2:03 PM",                 # was 02:03: email.utils drops PM
    "Monday, October 9, 2017 2:03:00 PM",  # Excel's long date format
    "Wed, 10 Oct 2018 20:19:24 IST",       # a zone email.utils does not know: was UTC
    "Wed Oct 10 20:19:24 CEST 2018",       # Unix `date`
    "Wed, 10 Oct 2018 20:19:24 +05:30",    # colon offset, not RFC 2822: was UTC
    "0001-01-01T00:00:00+01:00",           # before year 1 in UTC: was OverflowError
    "10/09/2017 14:03",                    # 10 September or October 9?
])
def test_times_post_time_cannot_read_right_are_left_as_written(written: str) -> None:
    # None: the importer keeps the text as written, with a warning naming file and row.
    assert post_time(written) is None


def test_sort_by_time_orders_posts_written_in_different_formats(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "posts.csv", ["id", "text", "created_at"], [
        ["a", "first", "Fri Sep 01 11:00:00 +0000 2017"],  # 11:00 UTC
        ["b", "second", "2017-09-01T12:30:00+02:00"],  # 10:30 UTC
        ["c", "third", "2017-09-01T11:30:00Z"],  # 11:30 UTC
        ["d", "fourth", "some day"],
    ])
    project = Project.open(tmp_path / "p", create=True)
    job = run_import(project, [source])
    with project.open_store() as store:
        post_of = {i.id: post for post in "abcd" for i in items(store, "posts", post)}
        rows = queue_page(store, Queue("all"), offset=0, limit=10, sort="time")
        by_time = [post_of[r.id] for r in rows if post_of[r.id] != "d"]
        assert by_time == ["c", "a", "b"]  # newest first
        assert post_row(store, "posts", "d")["created_at"] == "some day"  # kept as written
    (warning,) = [p for p in job.report.problems if "created_at" in p.message]
    assert warning.severity == "warning" and "'some day'" in warning.message


def test_the_migration_stores_old_posts_times_in_the_one_format(tmp_path: Path,
                                                                monkeypatch) -> None:
    path = tmp_path / "old.sqlite"
    # The version before _v10_post_times, which is no longer the newest migration.
    before = schema.MIGRATIONS.index(schema._v10_post_times)
    with monkeypatch.context() as patch:  # a project as the release before wrote it
        as_schema(patch, before)
        with Store(path) as old:
            old.ensure_source("src", "csv", "/data/src.csv")
            old.insert_post("src", "1", text="a", created_at="Fri Sep 01 11:00:00 +0000 2017")
            old.insert_post("src", "2", text="b", created_at="not a time")
    with Store(path) as store:
        assert store.migrated_from == before
        times = dict(store.conn.execute("SELECT post_id, created_at FROM posts"))
    assert times == {"1": "2017-09-01T11:00:00.000Z", "2": "not a time"}
