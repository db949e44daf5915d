"""The watched folder under what collectors do during a disaster: a file truncated and
written again in place, a first line cut short by a crashed collector, a UTF-16 file, a
line longer than one read, two watches of one project."""

from __future__ import annotations

import json
from datetime import datetime

from test_import_collectors import status, twarc_page, tweet
from test_watch import poll, stored_ids

from crisisdesk.core import files as files_module
from crisisdesk.core.importers import ImportJob, ImportOptions, WatchJob, WatchOptions
from crisisdesk.core.importers import watch as watch_module


def toots(*ids: str) -> str:
    return "".join(json.dumps(status(i, f"<p>toot {i}</p>")) + "\n" for i in ids)


def page(*ids: str) -> str:
    return json.dumps(twarc_page([tweet(i, f"tweet {i}") for i in ids])) + "\n"


def problems(job: WatchJob) -> list[str]:
    return [str(p) for p in job.report.problems]


def test_a_file_truncated_and_written_again_longer_is_read_from_the_start(proj, tmp_path):
    # open(..., "w") keeps the inode: only the content tells the file is another one.
    # Statuses end alike, so the offset's old neighbourhood looked the same and the
    # first two new statuses were skipped without a word.
    folder = tmp_path / "mastodon"
    folder.mkdir()
    file = folder / "public.jsonl"
    file.write_text(toots("100", "101"), "utf-8")
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01, settle=60))
    run = job.run()
    poll(run)
    file.write_text(toots("102", "103", "104", "105"), "utf-8")
    poll(run)
    with file.open("a", encoding="utf-8") as handle:
        handle.write(toots("106"))
    poll(run)
    run.close()
    assert stored_ids(proj) == ["100", "101", "102", "103", "104", "105", "106"]
    assert problems(job) == [
        f"warning: {file}: file was rewritten (what was read is no longer there); reading "
        "it again from the start"]


def test_jsonl_whose_first_line_was_cut_short_is_read_not_ignored(proj, tmp_path):
    # A collector that died mid-line and was started again: the file used to be taken
    # for a JSON document of no known kind and ignored for good.
    folder = tmp_path / "twarc"
    folder.mkdir()
    file = folder / "search.jsonl"
    file.write_text('{"data": [{"id": "8", "text": "cut\n' + page("1", "2"), "utf-8")
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01, settle=60))
    run = job.run()
    poll(run)
    with file.open("a", encoding="utf-8") as handle:
        handle.write(page("3"))
    poll(run)
    run.close()
    assert stored_ids(proj) == ["1", "2", "3"]
    assert problems(job) == [
        f"error: {file} row 1: malformed JSON: Unterminated string starting at (column 31);"
        " line skipped"]
    with proj.open_store() as store:
        assert store.watched_file(str(file)).format == "lines-twarc"


def test_a_pretty_printed_document_is_still_read_whole(proj, tmp_path):
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "statuses.jsonl").write_text(
        "[\n" + ",\n".join(json.dumps(status(i, "<p>x</p>")) for i in ("1", "2")) + "\n]\n",
        "utf-8")
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01))
    run = job.run()
    poll(run, 3)
    run.close()
    assert stored_ids(proj) == ["1", "2"]
    assert problems(job) == []


def test_a_utf16_file_is_imported_whole_and_the_watch_goes_on(proj, tmp_path):
    # Its BOM made the watch decode a read cut mid-character: UnicodeDecodeError
    # stopped the whole watch, the other files' posts with it.
    folder = tmp_path / "windows"
    folder.mkdir()
    file = folder / "export.jsonl"
    file.write_bytes((page("1") + page("2")).encode("utf-16"))
    (folder / "statuses.json").write_bytes(
        json.dumps([status("100", "<p>école</p>")], indent=1).encode("utf-16"))
    (folder / "z_plain.jsonl").write_text(page("9"), "utf-8")
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01, settle=60))
    run = job.run()
    poll(run, 2)
    with file.open("ab") as handle:
        handle.write(page("3").encode("utf-16-le"))
    poll(run, 2)
    run.close()
    assert sorted(stored_ids(proj)) == ["1", "100", "2", "3", "9"]
    assert problems(job) == []


def test_a_line_longer_than_a_read_is_reported_and_skipped(proj, tmp_path, monkeypatch):
    # The limit read per look (16 MB) made small here. A long line used to hold up
    # the rest of its file for ever, unreported (one byte short of the check), and a
    # long first line kept the file from being looked at at all.
    monkeypatch.setattr(watch_module, "MAX_READ", 2000)
    folder = tmp_path / "long"
    folder.mkdir()
    long_line = page("long").replace("tweet long", "x" * 3000)
    after = folder / "a_after.jsonl"
    after.write_text(page("1") + long_line + page("2"), "utf-8")
    first = folder / "b_first.jsonl"
    first.write_text(long_line + page("3"), "utf-8")
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01, settle=60))
    run = job.run()
    poll(run, 4)
    run.close()
    assert sorted(stored_ids(proj)) == ["1", "2", "3"]
    assert sorted(problems(job)) == [
        f"error: {after} row 2: a line longer than 0 MB; line skipped",
        f"error: {first} row 1: a line longer than 0 MB; line skipped"]
    with proj.open_store() as store:
        assert store.watched_file(str(after)).line == 3


def test_two_watches_of_one_project_keep_both_reports(proj, tmp_path):
    # Reports were named to the second: two watches stopped together wrote one file.
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "a.jsonl").write_text(page("1"), "utf-8")
    jobs = [WatchJob(proj, folder, watch=WatchOptions(interval=0.01)) for _ in range(2)]
    runs = [job.run() for job in jobs]
    for run in runs:
        poll(run)
    for run in runs:
        run.close()
    assert jobs[0].report_path != jobs[1].report_path
    assert all(job.report_path.exists() for job in jobs)
    assert stored_ids(proj) == ["1"]


class _FrozenClock:
    """A ``datetime`` whose now() is always the same instant: jobs stopped together."""

    @staticmethod
    def now(tz=None):
        return datetime(2024, 9, 1, 12, 0, 0, 123456, tzinfo=tz)


def test_reports_written_at_the_same_instant_keep_their_own_files(proj, tmp_path,
                                                                   monkeypatch):
    # Microseconds in the name were not enough: two jobs stopping at once (or a clock
    # that ticks coarsely) wrote one report over the other, watch and import alike.
    monkeypatch.setattr(files_module, "datetime", _FrozenClock)  # where names are stamped
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "a.jsonl").write_text(page("1"), "utf-8")
    watches = [WatchJob(proj, folder, watch=WatchOptions(interval=0.01)) for _ in range(2)]
    for job in watches:
        run = job.run()
        poll(run)
        run.close()
    imports = [ImportJob(proj, [folder / "a.jsonl"], ImportOptions()) for _ in range(2)]
    for job in imports:
        list(job.run())
    jobs = watches + imports
    assert len({job.report_path for job in jobs}) == 4
    saved = [json.loads(job.report_path.read_text("utf-8"))["posts_added"] for job in jobs]
    assert saved == [job.report.posts_added for job in jobs] == [1, 0, 1, 0]


def test_a_file_rewritten_while_its_lines_are_written_is_read_again(proj, tmp_path,
                                                                     monkeypatch):
    # The fingerprint was taken by reading the file again at commit time: rewritten in
    # between, it described the new file at the old offset, and the next look skipped
    # the new file's first lines.
    folder = tmp_path / "mastodon"
    folder.mkdir()
    file = folder / "public.jsonl"
    file.write_text(toots("100", "101"), "utf-8")
    entries = WatchJob._entries

    def rewrite_once(*args):
        if file.read_text("utf-8") == toots("100", "101"):
            file.write_text(toots("102", "103", "104", "105"), "utf-8")
        return entries(*args)

    monkeypatch.setattr(WatchJob, "_entries", staticmethod(rewrite_once))
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01, settle=60))
    run = job.run()
    poll(run, 2)
    run.close()
    assert stored_ids(proj) == ["100", "101", "102", "103", "104", "105"]
    assert problems(job) == [f"warning: {file}: file was rewritten (what was read is no "
                             "longer there); reading it again from the start"]
