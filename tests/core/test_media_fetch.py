"""Fetching remote media from a local HTTP server the tests start on 127.0.0.1: a 404, a
response slower than the timeout, an HTML page served as image/jpeg, oversized files,
the same photo under two URLs (stored once), resuming, cancelling, the total limit."""

from __future__ import annotations

import io
import ipaddress
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from fetch_helpers import import_urls, media, serving
from PIL import Image

from crisisdesk.cli import main
from crisisdesk.core.media_fetch import (
    FetchError,
    FetchLimits,
    MediaFetchJob,
    _Budget,
    fetch_one,
)

MAX_FILE = 20_000


def jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (seed * 40 % 256, 90, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


PHOTO, OTHER = jpeg(1), jpeg(2)
ROUTES: dict[str, tuple[int, str, bytes]] = {
    "/a.jpg": (200, "image/jpeg", PHOTO),
    "/same_photo_other_url.jpg": (200, "image/jpeg", PHOTO),
    "/c.jpg": (200, "image/jpeg", OTHER),
    "/page.jpg": (200, "image/jpeg", b"<!DOCTYPE html><html><body>Login</body></html>"),
    "/big.jpg": (200, "image/jpeg", b"\xff\xd8" + bytes(MAX_FILE * 2)),
    "/text": (200, "text/html", b"<html></html>"),
    "/gone.jpg": (410, "text/plain", b"gone"),
}


class Handler(BaseHTTPRequestHandler):
    hits: Counter = Counter()

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        Handler.hits[self.path] += 1
        if self.path == "/slow.jpg":
            time.sleep(1.5)  # past the 0.5 s timeout
        if self.path == "/trickle.jpg":
            self._trickle()
            return
        if self.path == "/cut.jpg":
            # The connection drops halfway through the promised bytes.
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(PHOTO)))
            self.end_headers()
            self.wfile.write(PHOTO[:len(PHOTO) // 2])
            return
        if self.path == "/big_no_length.jpg":
            # No Content-Length: the size limit must cut the stream itself.
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"\xff\xd8" + bytes(MAX_FILE * 3))
            return
        status, ctype, body = ROUTES.get(self.path, (404, "text/plain", b"not found"))
        if self.path == "/slow.jpg":
            status, ctype, body = 200, "image/jpeg", OTHER
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self) -> None:
        """A byte every 20 ms for 3 s, then silence with the connection open: a client
        that only checks its time limit between 64 KiB reads never sees the limit."""
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(150):
                self.wfile.write(b"\xff")
                self.wfile.flush()
                time.sleep(0.02)
            time.sleep(3.0)
        except OSError:
            pass  # the client gave up: what a time limit is for

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(monkeypatch) -> Iterator[str]:
    Handler.hits = Counter()
    with serving(Handler, monkeypatch) as address:
        yield f"http://{address}"


# The server is on 127.0.0.1, refused unless allowed: as an analyst allows an intranet's.
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
LIMITS = FetchLimits(concurrency=4, timeout=0.5, max_file_bytes=MAX_FILE,
                     allowed_networks=LOOPBACK)


def test_fetch_stores_by_sha256_and_reports_each_failure(proj, tmp_path, server):
    paths = ["/a.jpg", "/a.jpg", "/same_photo_other_url.jpg", "/c.jpg", "/missing.jpg",
             "/slow.jpg", "/page.jpg", "/big.jpg", "/big_no_length.jpg", "/text"]
    import_urls(proj, tmp_path, [server + p for p in paths])
    job = MediaFetchJob(proj, LIMITS)
    list(job.run())
    report = job.report
    assert report.fetched == 4  # a.jpg twice, its twin, c.jpg
    assert report.downloaded == 3  # the same URL is downloaded once
    assert report.stored_files == 2  # the same photo under two URLs is stored once
    assert report.failed == {"remote": 2, "unreadable": 4}
    assert Handler.hits["/a.jpg"] == 1
    stored = sorted(p for p in (proj.root / "media" / "fetched").rglob("*.jpg"))
    assert len(stored) == 2
    a, twin = media(proj, "t0"), media(proj, "t2")
    assert a["status"] == twin["status"] == "ok"
    assert a["path"] == twin["path"] == media(proj, "t1")["path"]
    assert Path(a["path"]).read_bytes() == PHOTO
    assert Path(a["path"]).name.startswith(a["sha256"])
    assert (a["width"], a["height"]) == (16, 12)
    assert a["url"] == server + "/a.jpg"  # kept after fetching
    expected = {"t4": ("remote", "HTTP 404 Not Found"), "t5": ("remote", "timed out after 0.5 s"),
                "t6": ("unreadable", "an HTML page served as image/jpeg"),
                "t7": ("unreadable", "file too large (39.1 KB; the limit is 19.5 KB)"),
                "t8": ("unreadable", "file too large (over the limit"),
                "t9": ("unreadable", "served as text/html, not as an image")}
    lines = [str(p) for p in report.problems]
    assert len(lines) == 6
    for post_id, (status, reason) in expected.items():
        row = media(proj, post_id)
        assert row["status"] == status, post_id
        assert reason in row["reason"], (post_id, row["reason"])
        # Each failure is one report line naming the item and the URL.
        assert sum(f"error: col:{post_id}:0: {row['url']}: {reason}" in line
                   for line in lines) == 1, (post_id, lines)
    assert not list((proj.root / "media" / "fetched" / ".partial").iterdir())


def test_rerun_fetches_only_what_is_missing(proj, tmp_path, server):
    import_urls(proj, tmp_path, [server + p for p in ("/a.jpg", "/c.jpg", "/missing.jpg",
                                                      "/page.jpg")])
    list(MediaFetchJob(proj, LIMITS).run())
    assert Counter(Handler.hits) == Counter({"/a.jpg": 1, "/c.jpg": 1, "/missing.jpg": 1,
                                             "/page.jpg": 1})
    again = MediaFetchJob(proj, LIMITS)
    list(again.run())
    # Only the media left remote (the 404) are tried again; unreadable ones are not.
    assert Handler.hits == Counter({"/a.jpg": 1, "/c.jpg": 1, "/missing.jpg": 2,
                                    "/page.jpg": 1})
    assert (again.report.fetched, again.report.failed) == (0, {"remote": 1})
    retry = MediaFetchJob(proj, LIMITS, retry_unreadable=True)
    list(retry.run())
    assert Handler.hits["/page.jpg"] == 2


def test_closing_the_job_stops_after_the_batch_in_hand(proj, tmp_path, server):
    ROUTES.update({f"/n{i}.jpg": (200, "image/jpeg", jpeg(i + 10)) for i in range(40)})
    import_urls(proj, tmp_path, [f"{server}/n{i}.jpg" for i in range(40)])
    # A timeout no loaded machine reaches: a fetch timed out stays remote, by design.
    job = MediaFetchJob(proj, FetchLimits(concurrency=1, timeout=10,
                                          allowed_networks=LOOPBACK))
    run = job.run()
    first = next(run)
    run.close()
    assert first.done == 16 and first.total == 40  # one batch of 16 at concurrency 1
    assert job.report.cancelled
    with proj.open_store() as store:
        counts = store.counts()["media"]
        state = store.conn.execute(
            "SELECT state FROM jobs WHERE kind = 'media-fetch'").fetchone()[0]
    assert counts == {"ok": 16, "remote": 24}
    assert state == "cancelled"
    list(MediaFetchJob(proj, FetchLimits(concurrency=4, timeout=10,
                                         allowed_networks=LOOPBACK)).run())
    with proj.open_store() as store:
        assert store.counts()["media"] == {"ok": 40}


def test_total_size_limit_stops_the_run(proj, tmp_path, server):
    ROUTES.update({f"/t{i}.jpg": (200, "image/jpeg", jpeg(i + 60)) for i in range(20)})
    import_urls(proj, tmp_path, [f"{server}/t{i}.jpg" for i in range(20)])
    size = len(jpeg(60))
    job = MediaFetchJob(proj, FetchLimits(concurrency=1, timeout=10,
                                          max_total_bytes=int(size * 3.5),
                                          allowed_networks=LOOPBACK))
    list(job.run())
    assert job.report.total_limit_reached
    assert job.report.fetched == 3
    with proj.open_store() as store:
        assert store.counts()["media"] == {"ok": 3, "remote": 17}


def test_cli_media_fetch(tmp_path, server, capsys):
    project = tmp_path / "proj"
    src = tmp_path / "page.jsonl"
    src.write_text(json.dumps({"data": [
        {"id": "1", "text": "x", "attachments": {"media_keys": ["k"]}}],
        "includes": {"media": [{"media_key": "k", "type": "photo",
                                "url": server + "/missing.jpg"}]}}) + "\n", "utf-8")
    assert main(["import", str(project), str(src)]) == 0
    assert main(["media", "fetch", str(project), "--timeout", "10",
                 "--allow-network", "127.0.0.1"]) == 1
    out = capsys.readouterr().out
    assert "HTTP 404 Not Found; left remote, tried again next run" in out
    ROUTES["/missing.jpg"] = (200, "image/jpeg", PHOTO)
    try:
        assert main(["media", "fetch", str(project), "--timeout", "10",
                     "--allow-network", "127.0.0.1"]) == 0
    finally:
        del ROUTES["/missing.jpg"]
    assert "Fetched: 1 media" in capsys.readouterr().out


def test_a_server_trickling_bytes_is_cut_off_by_the_per_file_time_limit(proj, tmp_path,
                                                                         server):
    # A byte every 20 ms never trips the 1 s idle timeout; only the 0.3 s per-file
    # limit can stop it (without it, the read waits out the trickle, then times out).
    import_urls(proj, tmp_path, [server + "/trickle.jpg"])
    job = MediaFetchJob(proj, FetchLimits(timeout=1.0, max_seconds=0.3,
                                          allowed_networks=LOOPBACK))
    list(job.run())
    row = media(proj, "t0")
    assert row["status"] == "remote"
    assert "took longer than 0.3 s" in row["reason"], row["reason"]


def test_a_download_cut_short_stays_remote_to_be_tried_again(proj, tmp_path, server):
    # Fewer bytes than Content-Length promised is a network failure, not a bad image.
    import_urls(proj, tmp_path, [server + "/cut.jpg"])
    job = MediaFetchJob(proj, LIMITS)
    list(job.run())
    row = media(proj, "t0")
    assert row["status"] == "remote", row["reason"]
    half = len(PHOTO) // 2
    assert f"connection closed after {half} of {len(PHOTO)} bytes" in row["reason"]
    assert job.report.failed == {"remote": 1}


def test_non_ascii_urls_are_fetched_and_a_malformed_url_fails_alone(proj, tmp_path, server):
    # A URL with accented letters and a space (an IRI, as users paste them) is sent
    # percent-encoded, as browsers do; it used to end the whole run with an encoding error.
    encoded = {"/caf%C3%A9%20photo.jpg": OTHER, "/%C3%A9t%C3%A9.jpg": jpeg(7)}
    ROUTES.update({path: (200, "image/jpeg", body) for path, body in encoded.items()})
    try:
        import_urls(proj, tmp_path, [server + "/café photo.jpg", server + "/été.jpg",
                                     server + "/a.jpg"])
        job = MediaFetchJob(proj, LIMITS)
        list(job.run())
    finally:
        for path in encoded:
            del ROUTES[path]
    for post_id, body in zip(("t0", "t1", "t2"), (OTHER, jpeg(7), PHOTO), strict=True):
        row = media(proj, post_id)
        assert row["status"] == "ok", (post_id, row["reason"])
        assert Path(row["path"]).read_bytes() == body
    # A URL that is no URL at all is that item's failure (unreadable), not an exception.
    with pytest.raises(FetchError, match="not a valid URL") as caught:
        fetch_one("http://[::1/x.jpg", tmp_path / "fetched", LIMITS, _Budget(1 << 20))
    assert caught.value.status == "unreadable"
    assert not (tmp_path / "fetched" / ".partial").exists() or not list(
        (tmp_path / "fetched" / ".partial").iterdir())


def test_the_same_photo_fetched_by_two_threads_at_once_is_one_new_file(
        tmp_path, server, monkeypatch) -> None:
    """Two URLs of one photo downloaded at the same moment: both store it under its
    sha256, and exactly one of them counts it as a new file (the report's figure)."""
    import os

    from crisisdesk.core import media_fetch

    # Both threads reach the store step before either stores: the race that made the
    # run's report count the photo twice, about one run in five.
    meet = threading.Barrier(2, timeout=10)
    for name in ("link", "replace"):
        real = getattr(os, name)

        def waiting(src, dst, *args, _real=real, **kwargs):
            if str(src).endswith(".part"):
                try:
                    meet.wait()
                except threading.BrokenBarrierError:
                    pass
            return _real(src, dst, *args, **kwargs)

        monkeypatch.setattr(media_fetch.os, name, waiting)
    folder, budget = tmp_path / "fetched", _Budget(10**9)
    results = []
    threads = [threading.Thread(target=lambda url=url: results.append(
        fetch_one(server + url, folder, LIMITS, budget)))
        for url in ("/a.jpg", "/same_photo_other_url.jpg")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(results) == 2 and results[0].path == results[1].path
    assert sorted(r.new_file for r in results) == [False, True]
    assert results[0].path.read_bytes() == PHOTO
    assert not list((folder / ".partial").iterdir())  # no temp file left


def test_media_gone_for_good_are_not_asked_for_again(proj, tmp_path, server):
    # 410 Gone (a post's media deleted) stayed remote and was asked for again at every
    # run and every watch poll; a 404 still is (a collector may see a URL early).
    import_urls(proj, tmp_path, [server + "/gone.jpg", server + "/missing.jpg"])
    list(MediaFetchJob(proj, LIMITS).run())
    gone, missing = media(proj, "t0"), media(proj, "t1")
    assert gone["status"] == "unreadable" and "HTTP 410" in gone["reason"]
    assert missing["status"] == "remote"
    list(MediaFetchJob(proj, LIMITS).run())
    assert Handler.hits["/gone.jpg"] == 1 and Handler.hits["/missing.jpg"] == 2
    list(MediaFetchJob(proj, LIMITS, retry_unreadable=True).run())
    assert Handler.hits["/gone.jpg"] == 2
