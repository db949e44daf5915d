"""``crisisdesk import --watch --fetch-media`` whose fetch at one look at the folder is
stopped by the total size limit (5 GB a look by default): the media left are no failure
(session 19), and the watch said nothing of them at all; they also waited for a look that
brought new media before being fetched. Now each look whose fetch reached the limit says
so once (how many are left, that the next look fetches them), the next look fetches them
whether or not new posts came, and the command line prints it as it happens."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_media_fetch import LOOPBACK, ROUTES, jpeg, server  # noqa: F401 - server: fixture

from crisisdesk.cli import OK, main
from crisisdesk.core.importers import ImportOptions, WatchJob, WatchOptions
from crisisdesk.core.media_fetch import FetchLimits
from crisisdesk.core.project import Project

N_PHOTOS = 6


def _collector(tmp_path: Path, server: str) -> tuple[Path, int]:  # noqa: F811
    """A watched folder holding a twarc page of N_PHOTOS posts, each with a photo served
    by ``server``; the folder and the size of the largest photo."""
    ROUTES.update({f"/W{i}.jpg": (200, "image/jpeg", jpeg(i + 170)) for i in range(N_PHOTOS)})
    urls = [f"{server}/W{i}.jpg" for i in range(N_PHOTOS)]
    page = {"data": [{"id": f"t{i}", "text": f"post {i}", "author_id": "u",
                      "attachments": {"media_keys": [f"k{i}"]}} for i in range(len(urls))],
            "includes": {"media": [{"media_key": f"k{i}", "type": "photo", "url": url}
                                   for i, url in enumerate(urls)]}}
    folder = tmp_path / "collector"
    folder.mkdir()
    (folder / "page.jsonl").write_text(json.dumps(page) + "\n", "utf-8")
    return folder, max(len(jpeg(i + 170)) for i in range(N_PHOTOS))


def _remote(proj: Project) -> int:
    with proj.open_store() as store:
        return store.counts()["media"].get("remote", 0)


def _limit_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if "media left to fetch" in line]


def test_each_look_stopped_by_the_size_limit_says_so_once_and_the_next_look_fetches_on(
        proj: Project, tmp_path: Path, server: str) -> None:  # noqa: F811
    folder, size = _collector(tmp_path, server)
    limits = FetchLimits(concurrency=1, timeout=10, max_total_bytes=int(size * 2.5),
                         allowed_networks=LOOPBACK)
    job = WatchJob(proj, folder, ImportOptions(), WatchOptions(interval=0.01, fetch=limits))
    run = job.run()
    try:
        first = next(run)
        left = _remote(proj)
        assert 0 < left < N_PHOTOS  # the precondition: the limit stopped this look's fetch
        (said,) = first.notes  # once, as it happened, for a front end that only drives
        assert f"{left} media left to fetch" in said and "next look" in said, said
        assert job.report.errors == 0, job.report.summary()  # no failure, no line a media
        assert _limit_lines([p.message for p in job.report.problems]) == [said]
        # No new posts since: the next looks fetch the rest all the same.
        looks = [first]
        while _remote(proj) and len(looks) < 2 * N_PHOTOS:
            looks.append(next(run))
        assert _remote(proj) == 0, job.report.summary()
        with proj.open_store() as store:
            assert store.counts()["media"] == {"ok": N_PHOTOS}
    finally:
        run.close()
    reached = [look for look in looks if look.notes]
    assert 1 < len(reached) < len(looks)  # the last look fetched all that was left
    assert all(len(look.notes) == 1 for look in reached)
    lines = _limit_lines([p.message for p in job.report.problems])
    assert lines == [look.notes[0] for look in reached]  # each said once, in the report too
    assert all(p.severity == "warning" for p in job.report.problems), job.report.summary()


def test_the_command_line_watch_prints_the_limit_as_it_is_reached(
        proj: Project, tmp_path: Path, server: str,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The watch runs until Ctrl-C: a line kept for its end came hours late."""
    import crisisdesk.cli_media as cli_media
    import crisisdesk.core.importers.watch as watch_module

    folder, size = _collector(tmp_path, server)
    small = FetchLimits(concurrency=1, timeout=10, max_total_bytes=int(size * 2.5),
                        allowed_networks=LOOPBACK)
    # `import` has no size options: its fetch limits, made small.
    monkeypatch.setattr(cli_media, "_limits", lambda args=None: small)
    looks: list[str] = []

    def sleep(seconds: float) -> None:
        # Where the watch waits between looks: what was printed so far, then (once all is
        # fetched) the analyst's Ctrl-C.
        looks.append(capsys.readouterr().out)
        if _remote(proj) == 0 or len(looks) > 2 * N_PHOTOS:
            raise KeyboardInterrupt

    monkeypatch.setattr(watch_module, "time", SimpleNamespace(sleep=sleep,
                                                              monotonic=time.monotonic))
    assert main(["import", str(proj.root), str(folder), "--watch", "--fetch-media",
                 "--allow-network", "127.0.0.1"]) == OK
    end = capsys.readouterr().out
    assert _remote(proj) == 0, end
    live = [_limit_lines(out.splitlines()) for out in looks]
    assert len(live[0]) == 1 and "next look" in live[0][0], looks  # said at the first look
    assert all(len(lines) <= 1 for lines in live), looks  # once a look
    assert sum(map(len, live)) >= 2, looks
    assert "Stopped" in end and "error" not in end.replace("0 errors", ""), end
