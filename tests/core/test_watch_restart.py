"""A watch started again goes on from the offset kept in the project, unless the file was
rewritten in place while no watch ran: its fingerprint is kept with the offset."""

from __future__ import annotations

from pathlib import Path

from test_watch import poll, stored_ids
from test_watch_more import problems, toots

from crisisdesk.core.importers import WatchJob, WatchOptions


def watch_once(proj, folder) -> WatchJob:
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01, settle=60))
    run = job.run()
    poll(run)
    run.close()
    return job


def watched_once(proj, tmp_path) -> Path:
    """A Mastodon file of statuses 100 and 101, watched once (and the watch stopped)."""
    folder = tmp_path / "mastodon"
    folder.mkdir()
    file = folder / "public.jsonl"
    file.write_text(toots("100", "101"), "utf-8")
    watch_once(proj, folder)
    return file


def test_a_file_rewritten_between_two_watches_is_read_again_from_the_start(proj, tmp_path):
    # The fingerprint lived in memory: a new watch read the longer new file from the
    # old offset, mid-way, and its first lines were skipped without a word.
    file = watched_once(proj, tmp_path)
    folder = file.parent
    file.write_text(toots("102", "103", "104", "105"), "utf-8")  # truncated, same inode
    job = watch_once(proj, folder)
    assert stored_ids(proj) == ["100", "101", "102", "103", "104", "105"]
    assert problems(job) == [
        f"warning: {file}: file was rewritten (what was read is no longer there); reading "
        "it again from the start"]


def test_a_file_grown_between_two_watches_goes_on_from_its_offset(proj, tmp_path):
    file = watched_once(proj, tmp_path)
    folder = file.parent
    with file.open("a", encoding="utf-8") as handle:
        handle.write(toots("102"))
    job = watch_once(proj, folder)
    assert stored_ids(proj) == ["100", "101", "102"]
    assert problems(job) == []
    assert job.report.posts_added == 1
