"""Media fetching against a local HTTP server: media/s and memory for N small images.

    .venv/bin/python bench/fetch_bench.py [--n 5000] [--concurrency 8]

A server process on 127.0.0.1 makes a distinct small JPEG for each path; a project gets
one twarc2 page per 100 tweets pointing at them; MediaFetchJob fetches them all. Prints
the import time, fetch rate, and this process's peak RSS (server excluded), then a
re-run that should fetch nothing. Figures on a shared machine are inflated by contention.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from crisisdesk.core.importers import ImportJob, ImportOptions  # noqa: E402
from crisisdesk.core.media_fetch import FetchLimits, MediaFetchJob  # noqa: E402
from crisisdesk.core.project import Project  # noqa: E402


def serve(port_queue: multiprocessing.Queue) -> None:
    """The server process: /img/<n>.jpg is a distinct 32x32 JPEG."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from PIL import Image

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:  # noqa: N802
            n = int(self.path.rsplit("/", 1)[-1].split(".")[0])
            img = Image.new("RGB", (32, 32), (n % 256, (n // 256) % 256, 77))
            img.putpixel((n % 32, 0), (255, 255, 255))
            buffer = io.BytesIO()
            img.save(buffer, "JPEG", quality=80)
            body = buffer.getvalue()
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    port_queue.put(httpd.server_address[1])
    httpd.serve_forever()


def write_pages(path: Path, base: str, n: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for start in range(0, n, 100):
            ids = range(start, min(start + 100, n))
            out.write(json.dumps({
                "data": [{"id": str(i), "text": f"post {i}", "author_id": "u",
                          "attachments": {"media_keys": [f"k{i}"]}} for i in ids],
                "includes": {"media": [{"media_key": f"k{i}", "type": "photo",
                                        "url": f"{base}/img/{i}.jpg"} for i in ids]},
            }) + "\n")


class PeakRss:
    """Samples this process's RSS every 20 ms."""

    def __init__(self) -> None:
        self.proc, self.peak, self._stop = psutil.Process(), 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy"):
        os.environ.pop(name, None)
    queue: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(queue,), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{queue.get(timeout=30)}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            project = Project.open(Path(tmp) / "proj", create=True)
            pages = Path(tmp) / "pages.jsonl"
            write_pages(pages, base, args.n)
            started = time.perf_counter()
            list(ImportJob(project, [pages], ImportOptions()).run())
            imported = time.perf_counter() - started
            rss_before = psutil.Process().memory_info().rss
            limits = FetchLimits(concurrency=args.concurrency, timeout=10)
            with PeakRss() as peak:
                started = time.perf_counter()
                job = MediaFetchJob(project, limits)
                list(job.run())
                fetched_in = time.perf_counter() - started
            started = time.perf_counter()
            again = MediaFetchJob(project, limits)
            list(again.run())
            rerun = time.perf_counter() - started
            report = job.report
            mb = 1024 * 1024
            print(f"images: {args.n}, concurrency {args.concurrency}")
            print(f"import of {args.n} posts (remote media): {imported:.1f} s")
            print(f"fetch: {report.fetched} media, {report.downloaded} downloads, "
                  f"{report.bytes / mb:.1f} MB in {fetched_in:.1f} s = "
                  f"{report.fetched / fetched_in:.0f} media/s; failed: {report.failed}")
            print(f"RSS before fetch {rss_before / mb:.0f} MB, peak during fetch "
                  f"{peak.peak / mb:.0f} MB (+{(peak.peak - rss_before) / mb:.0f} MB)")
            print(f"re-run: {again.report.fetched} fetched in {rerun:.2f} s")
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
