"""A watched CSV that a collector keeps appending to: the rows appended are imported at
the very next poll (the file never holds still during a busy hour), read from where the
last poll stopped with the header kept, a record cut by the end of the file (a quoted
field's newline, a row without its newline) waits for its end, a rewritten file is read
again whole, a new watch goes on from the stored offset, and problems name the row as a
one-shot import numbers it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from test_watch import poll

from crisisdesk.core.importers import WatchJob, WatchOptions
from crisisdesk.core.importers.records import Problem
from crisisdesk.core.importers.tabular import parse_csv

HEADER = "id,text,informative\r\n"


def _feed(tmp_path: Path, text: str) -> Path:
    """A collector's CSV in a folder of its own, holding ``text`` so far."""
    (tmp_path / "feed").mkdir()
    table = tmp_path / "feed" / "posts.csv"
    table.write_text(text, newline="")
    return table


@contextmanager
def _watching(proj, table: Path) -> Iterator[tuple[WatchJob, Iterator]]:
    """A watch of the table's folder and its running generator, closed at the end (as
    Ctrl-C or a crash stops it)."""
    # settle: long, so that no unfinished row is taken for a whole one during a test.
    job = WatchJob(proj, table.parent, watch=WatchOptions(interval=0, settle=3600))
    run = job.run()
    try:
        yield job, run
    finally:
        run.close()


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(text)


def _watch_through(proj, table: Path, *appends: str) -> WatchJob:
    """A watch that polls, then appends each of ``appends`` and polls after each."""
    with _watching(proj, table) as (job, run):
        poll(run)
        for text in appends:
            _append(table, text)
            poll(run)
    return job


def _posts(proj) -> dict[str, str]:
    with proj.open_store() as store:
        return dict(store.conn.execute("SELECT post_id, text FROM posts ORDER BY id"))


def _labels(proj) -> dict[str, str]:
    with proj.open_store() as store:
        return dict(store.conn.execute(
            "SELECT p.post_id, l.label FROM labels l JOIN items i ON i.id = l.item"
            " JOIN posts p ON p.id = i.post WHERE l.task = 'informative'"))


def test_rows_appended_at_every_poll_are_imported_at_each_poll(proj, tmp_path):
    table = _feed(tmp_path, HEADER)
    with _watching(proj, table) as (job, run):
        for n in range(1, 6):
            # The collector appends between any two polls: the size never holds still.
            _append(table, f"r{n},report {n} from the field,informative\r\n")
            poll(run)
            assert list(_posts(proj)) == [f"r{k}" for k in range(1, n + 1)]
    assert job.report.records == 5  # each row read once, none read again
    assert job.report.problems == []
    assert _labels(proj) == {f"r{k}": "informative" for k in range(1, 6)}


def test_a_quoted_newline_split_across_two_appends_is_imported_once_whole(proj, tmp_path):
    table = _feed(tmp_path, HEADER + "q1,first,informative\r\n")
    with _watching(proj, table) as (job, run):
        poll(run)
        _append(table, 'q2,"Bridge out on Route 9\r\n')  # the field's newline, not the row's
        poll(run, 3)  # the file holds still meanwhile
        assert list(_posts(proj)) == ["q1"]
        _append(table, 'send boats",informative\r\nq3,third,informative\r\n')
        poll(run)
    assert _posts(proj) == {"q1": "first", "q2": "Bridge out on Route 9\r\nsend boats",
                            "q3": "third"}
    assert job.report.records == 3
    assert job.report.problems == []


def test_a_last_row_without_its_newline_waits_for_the_rest(proj, tmp_path):
    # A collector's buffer flushed in the middle of a row, then a quiet spell.
    table = _feed(tmp_path, HEADER + "h1,water rising fast nea")
    with _watching(proj, table) as (job, run):
        poll(run, 3)
        assert _posts(proj) == {}
        _append(table, "r the school,informative\r\n")
        poll(run)
    assert _posts(proj) == {"h1": "water rising fast near the school"}
    assert job.report.problems == []


def test_a_rewritten_csv_is_read_again_whole(proj, tmp_path):
    table = _feed(tmp_path, HEADER + "a1,old first,informative\r\n"
                  "a2,old second,informative\r\n")
    with _watching(proj, table) as (_, run):
        poll(run)
        # Saved again, newest first and shorter at the offset: no offset of the old
        # file means anything in it.
        table.write_text("id,informative,text\r\nb1,not_informative,newest\r\n"
                         "a2,informative,old second\r\n", newline="")
        poll(run)
    assert _posts(proj) == {"a1": "old first", "a2": "old second", "b1": "newest"}
    assert _labels(proj)["b1"] == "not_informative"


def test_a_new_watch_goes_on_from_the_stored_offset(proj, tmp_path):
    table = _feed(tmp_path, HEADER + "c1,one,informative\r\n")
    first = _watch_through(proj, table, 'c2,"two,\r\nstill two",not_informative\r\nc3,thr')
    # The watch stopped (a crash, Ctrl-C) with c3 half-written; a new one starts.
    _append(table, "ee,informative\r\nc4,four,not_informative\r\n")
    second = _watch_through(proj, table)
    assert first.report.records == 2
    assert second.report.records == 2  # c3 and c4 only: none lost, none read again
    assert _posts(proj) == {"c1": "one", "c2": "two,\r\nstill two", "c3": "three",
                            "c4": "four"}
    # The header, read again from the file's start, still gives the label column.
    assert _labels(proj) == {"c1": "informative", "c2": "not_informative",
                             "c3": "informative", "c4": "not_informative"}


def test_problems_name_the_row_as_a_one_shot_import_numbers_it(proj, tmp_path):
    table = _feed(tmp_path, HEADER + 'p1,"two\r\nlines",informative\r\n')
    job = _watch_through(proj, table, "\r\n,no id,informative\r\np3,three,bogus\r\n")
    once = [str(p) for p in parse_csv(table, table.parent, {}, {}) if isinstance(p, Problem)]
    watched = [str(p) for p in job.report.problems]
    assert any("row 4: empty id" in p for p in watched)  # the blank row 3 counts
    assert [p for p in watched if "empty id" in p] == [p for p in once if "empty id" in p]
    assert any(f"{table} row 5: 'bogus' is not a class" in p for p in watched)
