"""The watched folder: a writer process appends lines (one of them half-written for a
while); every complete line is imported once, none twice, nothing from the partial line;
offsets live in the project, so a new watch goes on where the last one stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from import_helpers import post_row

from crisisdesk.core.importers import ImportOptions, WatchJob, WatchOptions

WRITER = r"""
import json, sys, time
from pathlib import Path

out, half, ack, n = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
with out.open("ab", buffering=0) as f:
    for i in range(n):
        line = json.dumps({"id": f"w{i}", "text": f"report {i} from the field"}) + "\n"
        if i == n // 2:
            # Half a line, then wait until the test has polled the folder meanwhile.
            f.write(line[:20].encode())
            half.write_text("written")
            deadline = time.monotonic() + 20
            while not ack.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            f.write(line[20:].encode())
        else:
            f.write(line.encode())
        time.sleep(0.005)
"""


def poll(run, times: int = 1) -> None:
    for _ in range(times):
        next(run)


def stored_ids(proj) -> list[str]:
    with proj.open_store() as store:
        return [r[0] for r in store.conn.execute("SELECT post_id FROM posts ORDER BY id")]


def test_writer_process_lines_imported_once_and_partial_line_waits(proj, tmp_path):
    folder = tmp_path / "collector"
    folder.mkdir()
    out, half, ack, n = folder / "stream.jsonl", tmp_path / "half", tmp_path / "ack", 40
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(half), str(ack),
                               str(n)])
    job = WatchJob(proj, folder, ImportOptions(), WatchOptions(interval=0.02, settle=60))
    run = job.run()
    try:
        deadline = time.monotonic() + 30
        while not half.exists() and time.monotonic() < deadline:
            poll(run)
        assert half.exists(), "the writer never wrote its half line"
        poll(run, 3)  # polls while the last line is half-written
        # Everything before the partial line is in; the partial line is not a bad row.
        assert stored_ids(proj) == [f"w{i}" for i in range(n // 2)]
        assert job.report.problems == []
        ack.write_text("go on")
        assert writer.wait(timeout=30) == 0
        poll(run, 3)
    finally:
        run.close()
        if writer.poll() is None:
            writer.kill()
    ids = stored_ids(proj)
    assert ids == [f"w{i}" for i in range(n)]  # each once, in order
    assert job.report.problems == []
    assert job.report.records == n  # no line was read twice
    with proj.open_store() as store:
        state = store.watched_file(str(out))
        assert post_row(store, "collector", f"w{n // 2}")["text"] == \
            f"report {n // 2} from the field"
        job_state = store.conn.execute(
            "SELECT state FROM jobs WHERE kind = 'import-watch'").fetchone()[0]
    assert (state.offset, state.line, state.format) == (out.stat().st_size, n, "lines-jsonl")
    assert job_state == "cancelled"  # closing is how a watch stops


def twarc_line(*ids: str) -> str:
    return json.dumps({"data": [{"id": i, "text": f"tweet {i}", "author_id": "u"}
                                for i in ids], "includes": {}, "meta": {}}) + "\n"


def test_new_watch_resumes_from_the_stored_offset_and_reports_bad_lines(proj, tmp_path):
    folder = tmp_path / "twarc_out"
    folder.mkdir()
    file = folder / "search.jsonl"
    file.write_text(twarc_line("1", "2") + twarc_line("3"), "utf-8")
    first = WatchJob(proj, folder, watch=WatchOptions(interval=0.01))
    run = first.run()
    poll(run, 2)
    run.close()
    assert first.report.posts_added == 3
    with file.open("a", encoding="utf-8") as handle:
        handle.write("{broken\n" + twarc_line("4") + twarc_line("5")[:15])
    second = WatchJob(proj, folder, watch=WatchOptions(interval=0.01, settle=60))
    run = second.run()
    poll(run, 2)
    run.close()
    # Only what was appended is read: the bad line is reported by its line number.
    assert second.report.records == 1
    assert second.report.posts_added == 1
    assert [str(p) for p in second.report.problems] == [
        f"error: {file} row 3: malformed JSON: Expecting property name enclosed in double "
        "quotes (column 2); line skipped"]
    assert stored_ids(proj) == ["1", "2", "3", "4"]
    with proj.open_store() as store:
        assert store.watched_file(str(file)).format == "lines-twarc"


def test_unterminated_last_line_is_taken_once_it_settles(proj, tmp_path):
    folder = tmp_path / "done"
    folder.mkdir()
    file = folder / "final.jsonl"
    file.write_text(twarc_line("1") + twarc_line("2").rstrip("\n"), "utf-8")
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01, settle=0.05))
    run = job.run()
    poll(run)
    assert stored_ids(proj) == ["1"]
    time.sleep(0.1)
    poll(run, 2)
    assert stored_ids(proj) == ["1", "2"]
    # The collector goes on: the newline ending the taken line is no new line.
    with file.open("a", encoding="utf-8") as handle:
        handle.write("\n" + twarc_line("3"))
    poll(run, 2)
    run.close()
    assert stored_ids(proj) == ["1", "2", "3"]
    assert job.report.problems == []
    with proj.open_store() as store:
        assert store.watched_file(str(file)).line == 3


def test_whole_json_documents_are_imported_once_stable(proj, tmp_path):
    folder = tmp_path / "pages"
    folder.mkdir()
    page = {"posts": [{"uri": "at://did:plc:a/app.bsky.feed.post/1", "author": {"handle": "a"},
                       "record": {"text": "hello", "createdAt": "2024-01-01T00:00:00Z"}}]}
    (folder / "page1.json").write_text(json.dumps(page, indent=2), "utf-8")
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01))
    run = job.run()
    poll(run)
    assert stored_ids(proj) == []  # seen once: not known to be stable yet
    poll(run, 2)
    run.close()
    assert stored_ids(proj) == ["at://did:plc:a/app.bsky.feed.post/1"]
    assert job.report.problems == []


def test_a_file_replaced_by_a_longer_one_is_read_again_from_the_start(proj, tmp_path):
    # A collector that rewrites its file (write a temporary file, rename it over the old
    # one) leaves a new file under the same name: the old offset means nothing in it.
    folder = tmp_path / "latest"
    folder.mkdir()
    file = folder / "latest.jsonl"
    file.write_text(twarc_line("1") + twarc_line("2"), "utf-8")
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01, settle=60))
    run = job.run()
    poll(run)
    assert stored_ids(proj) == ["1", "2"]
    fresh = folder / ".latest.tmp"
    fresh.write_text("".join(twarc_line(str(i), f"{i}b") for i in range(10, 14)), "utf-8")
    os.replace(fresh, file)
    poll(run, 2)
    run.close()
    assert stored_ids(proj) == ["1", "2", "10", "10b", "11", "11b", "12", "12b", "13", "13b"]
    assert [str(p) for p in job.report.problems] == [
        f"warning: {file}: file was replaced (a new file under the same name); reading it "
        "again from the start"]


def test_a_file_that_cannot_be_read_is_reported_once_and_the_watch_goes_on(
        proj, tmp_path, monkeypatch):
    # A collector's file the analyst may not read (another user's, mode 0600), or one
    # deleted between the look at its size and the read: the watch used to stop on it.
    folder = tmp_path / "shared"
    folder.mkdir()
    locked = folder / "a_locked.jsonl"
    locked.write_text(twarc_line("1"), "utf-8")
    (folder / "b_open.jsonl").write_text(twarc_line("2"), "utf-8")
    real_open = Path.open

    def guarded_open(self, *args, **kwargs):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded_open)
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01))
    run = job.run()
    poll(run, 3)
    run.close()
    assert stored_ids(proj) == ["2"]
    assert [str(p) for p in job.report.problems] == [
        f"error: {locked}: cannot read: Permission denied; tried again at each look"]
