"""What the media-fetch tests share: a local HTTP server on loopback, posts whose media
are URLs, and their media rows."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from import_helpers import media_rows, run_import

PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                   "no_proxy", "NO_PROXY")


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler],
            monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``handler`` served on 127.0.0.1 (no proxy in the way); yields "127.0.0.1:PORT"."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def import_urls(proj, tmp_path: Path, urls: list[str]) -> None:
    """A twarc page with one tweet per URL (tweet ids t0, t1, ...)."""
    page = {"data": [{"id": f"t{i}", "text": f"post {i}", "author_id": "u",
                      "attachments": {"media_keys": [f"k{i}"]}} for i in range(len(urls))],
            "includes": {"media": [{"media_key": f"k{i}", "type": "photo", "url": url}
                                   for i, url in enumerate(urls)]}}
    src = tmp_path / "col.jsonl"
    src.write_text(json.dumps(page) + "\n", "utf-8")
    run_import(proj, [src])


def media(proj, post_id: str) -> dict:
    """The media row of post ``post_id`` of import_urls' source."""
    with proj.open_store() as store:
        (row,) = media_rows(store, "col", post_id)
    return row
