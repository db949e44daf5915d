"""Fetching remote media (the image URLs collectors write) into the project's media/.

Only on request: ``crisisdesk import ... --fetch-media`` or ``crisisdesk media fetch``.
Each download is bounded (per-request timeout, a per-file time and size limit, a total
size limit for the run), must be served as ``image/*`` and must decode as an image (an
HTML page served as image/jpeg is refused). Files are stored by sha256 under
``media/fetched/<2 hex>/<sha256>.<ext>``: a photo posted a hundred times is stored once,
and a URL fetched before is not fetched again. The job is resumable: it only looks at
media still remote, so a re-run fetches what is missing. Failures are reported per item:
network and HTTP errors leave the media remote (tried again next run); bytes that are
no usable image (or a 410 Gone) make it unreadable (tried again only with ``retry_unreadable``).
Only public addresses are fetched from unless ``FetchLimits.allowed_networks`` holds
the address (``--allow-network``): a URL in a stranger's post must not reach this
machine, the intranet or a cloud's metadata service. Such media stay remote, with the
reason, so that a run allowing their network fetches them.
Stdlib urllib only, http and https only.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from crisisdesk import __version__
from crisisdesk.core.fetch_report import FetchReport
from crisisdesk.core.files import save_report
from crisisdesk.core.http_get import (
    FETCH_COMMAND,
    Deadline,
    FetchError,
    Network,
    RefusedAddress,
    credentials,
    opener,
    request_url,
    shown_url,
)
from crisisdesk.core.imaging import (
    MAX_IMAGE_BYTES,
    ImageFacts,
    ImageLimits,
    inspect_image,
    open_image,
)
from crisisdesk.core.importers.records import Problem, Where
from crisisdesk.core.jobs import tracked
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import FETCHED_MEDIA, Project
from crisisdesk.core.store import Store
from crisisdesk.core.store.posts import RemoteMedia
from crisisdesk.core.words import file_size_text

CHUNK = 64 * 1024
SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp", "BMP": ".bmp",
            "TIFF": ".tif"}


@dataclass(frozen=True)
class FetchLimits:
    """How media are fetched: concurrency, time and size bounds."""

    concurrency: int = 8
    timeout: float = 20.0  # seconds to connect, and at most between two reads
    max_seconds: float = 120.0  # one file in all (a server trickling bytes is cut off)
    max_file_bytes: int = MAX_IMAGE_BYTES
    max_total_bytes: int = 5 * 1024 ** 3  # downloaded by one run
    image_limits: ImageLimits = ImageLimits()
    # Networks fetched from although not public (an intranet's media server); the
    # default fetches from public addresses only (URLs in posts are strangers').
    allowed_networks: tuple[Network, ...] = ()

    def __post_init__(self) -> None:
        # The image check after the download has a size limit of its own: a file allowed
        # here must pass it too (else a 55 MB photo was fetched whole, then refused).
        if self.image_limits.max_bytes < self.max_file_bytes:
            object.__setattr__(self, "image_limits", replace(
                self.image_limits, max_bytes=self.max_file_bytes))


class LimitReached(FetchError):
    """Not fetched for the run's total size limit: no failure (the analyst set it)."""


class _Budget:
    """The total bytes one run may download, shared by its download threads."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used, self.exceeded = limit, 0, False
        self._lock = threading.Lock()

    def take(self, n: int) -> None:
        with self._lock:
            if self.used + n > self.limit:
                self.exceeded = True
                raise LimitReached(f"not fetched: this run's total size limit "
                                   f"({file_size_text(self.limit)}) was reached")
            self.used += n


@dataclass(frozen=True)
class Fetched:
    """A stored file and its facts; ``new_file`` False when the same bytes were stored."""

    path: Path
    facts: ImageFacts
    new_file: bool


def _looks_like_html(head: bytes) -> bool:
    start = head[:512].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<html" in start


def fetch_one(url: str, folder: Path, limits: FetchLimits, budget: _Budget) -> Fetched:
    """Download one image URL into ``folder`` by sha256; raises FetchError with a reason."""
    url = request_url(url)
    partial = folder / ".partial"
    partial.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=partial, suffix=".part")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, content_type = _download(url, out, limits, budget)
        facts = inspect_image(tmp, limits.image_limits)
        if facts.status != "ok":
            with tmp.open("rb") as handle:
                html = _looks_like_html(handle.read(512))
            raise FetchError(f"an HTML page served as {content_type}" if html else
                             f"served as {content_type} but {facts.reason}", "unreadable")
        assert facts.sha256 == digest
        with open_image(tmp) as img:
            suffix = SUFFIXES.get(img.format or "", f".{(img.format or 'img').lower()}")
        final = folder / digest[:2] / f"{digest}{suffix}"
        final.parent.mkdir(parents=True, exist_ok=True)
        return Fetched(final, facts, _store_once(tmp, final))
    finally:
        tmp.unlink(missing_ok=True)


def _store_once(tmp: Path, final: Path) -> bool:
    """Put the whole file ``tmp`` under its sha256 name ``final``; whether it is new.

    A hard link is created whole and fails when the name exists, so of two threads that
    fetch the same photo from two URLs at once exactly one stores it (checking first and
    renaming after counted it twice when both checked before either renamed).
    """
    try:
        os.link(tmp, final)
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: rename (still whole, atomic)
        new = not final.exists()
        os.replace(tmp, final)
        return new


def _download(url: str, out: BinaryIO, limits: FetchLimits, budget: _Budget
              ) -> tuple[str, str]:
    """Stream ``url`` into ``out``, within the limits; (sha256, content type)."""
    deadline = Deadline(limits.max_seconds)
    too_long = f"took longer than {limits.max_seconds:g} s"
    try:
        result = _stream(url, out, limits, budget, deadline)
    except FetchError:
        if deadline.expired:  # whatever the cut connection looked like
            raise FetchError(too_long) from None
        raise
    finally:
        deadline.timer.cancel()
    if deadline.expired:  # cut after the last bytes: maybe not the whole file
        raise FetchError(too_long)
    return result


def _stream(url: str, out: BinaryIO, limits: FetchLimits, budget: _Budget,
            deadline: Deadline) -> tuple[str, str]:
    """The body of :func:`_download`, its connections watched by ``deadline``."""
    url, auth = credentials(url)
    request = urllib.request.Request(url, headers={
        "User-Agent": f"crisisdesk/{__version__}", "Accept": "image/*", **auth})
    digest, size, started = hashlib.sha256(), 0, time.monotonic()
    try:
        with opener(deadline, limits.allowed_networks).open(
                request, timeout=limits.timeout) as response:
            content_type = response.headers.get_content_type()
            if not content_type.startswith("image/"):
                raise FetchError(f"served as {content_type}, not as an image",
                                 "unreadable")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limits.max_file_bytes:
                raise FetchError(f"file too large ({file_size_text(int(declared))}; the "
                                 f"limit is {file_size_text(limits.max_file_bytes)})",
                                 "unreadable")
            # read1: whatever has arrived, so the time limit is checked as bytes trickle
            # in (read would wait for a whole chunk however slowly it came).
            while block := response.read1(CHUNK):
                size += len(block)
                if size > limits.max_file_bytes:
                    raise FetchError(f"file too large (over the limit of "
                                     f"{file_size_text(limits.max_file_bytes)})",
                                     "unreadable")
                if time.monotonic() - started > limits.max_seconds:
                    raise FetchError(f"took longer than {limits.max_seconds:g} s")
                budget.take(len(block))
                digest.update(block)
                out.write(block)
    except urllib.error.HTTPError as exc:
        if str(exc.reason).startswith(urllib.request.HTTPRedirectHandler.inf_msg):
            # urllib's own refusal to follow on, in a message of three lines.
            raise FetchError(f"too many redirects (a loop, or more than "
                             f"{urllib.request.HTTPRedirectHandler.max_redirections})"
                             ) from None
        if exc.code == 410:
            # Gone for good, as the server says (a post's media deleted): asked again at
            # every run and every watch poll, thousands of them were thousands of
            # requests each time. A 404 stays remote: a collector may see a URL before
            # its server serves it.
            # Shown in the app too (the detail panel), which fetches nothing: the way
            # to ask again is the CLI's, said as a command.
            raise FetchError(f"HTTP 410 {exc.reason} (removed for good; to ask again, in "
                             f"a terminal: {FETCH_COMMAND} --retry-unreadable)",
                             "unreadable") from None
        raise FetchError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, RefusedAddress):
            raise FetchError(str(exc.reason)) from None
        if isinstance(exc.reason, TimeoutError):
            raise FetchError(f"timed out after {limits.timeout:g} s") from None
        raise FetchError(f"cannot connect: {exc.reason}") from None
    except TimeoutError:
        raise FetchError(f"timed out after {limits.timeout:g} s") from None
    # ssl.SSLError: a TLS record failing its check mid-body (no ConnectionError).
    except (http.client.HTTPException, ConnectionError, ssl.SSLError) as exc:
        raise FetchError(f"connection failed: {type(exc).__name__}: {exc}") from None
    if declared and declared.isdigit() and size < int(declared):
        # http.client ends the body quietly when the connection drops: a network
        # failure, worth trying again, not a broken image.
        raise FetchError(f"connection closed after {size} of {declared} bytes")
    if size == 0:
        raise FetchError("empty response (0 bytes)", "unreadable")
    out.flush()
    os.fsync(out.fileno())
    return digest.hexdigest(), content_type


def _remove_stale_parts(partial: Path, age_s: float = 3600.0) -> None:
    """Delete downloads a crash left half-written (old enough not to be another run's)."""
    if not partial.is_dir():
        return
    now = time.time()
    for part in partial.glob("*.part"):
        try:
            if now - part.stat().st_mtime > age_s:
                part.unlink()
        except OSError:
            pass  # gone already, or in use: the next run tries again


class MediaFetchJob:
    """Fetch every remote media of a project (a cancellable, resumable job)."""

    kind = "media-fetch"

    def __init__(self, project: Project, limits: FetchLimits = FetchLimits(),
                 retry_unreadable: bool = False) -> None:
        self.project, self.limits, self.retry = project, limits, retry_unreadable
        self.report = FetchReport()
        self.report_path: Path | None = None
        self.report_not_saved = ""  # why the report could not be written, if it could not

    def run(self) -> Iterator[Progress]:
        """Fetch in batches, yielding progress after each batch is recorded."""
        params = {"concurrency": self.limits.concurrency, "timeout": self.limits.timeout,
                  "retry_unreadable": self.retry,
                  "allowed_networks": [str(n) for n in self.limits.allowed_networks]}
        return tracked(self.project, self.kind, params, self._run(),
                       problems=lambda: len(self.report.problems),
                       result=self.report.counts)

    def _run(self) -> Iterator[Progress]:
        store = self.project.open_store()
        folder = self.project.folder("media") / FETCHED_MEDIA
        budget = _Budget(self.limits.max_total_bytes)
        _remove_stale_parts(folder / ".partial")
        pool = ThreadPoolExecutor(self.limits.concurrency, thread_name_prefix="fetch")
        batch = max(16, self.limits.concurrency * 8)
        try:
            total, done, after = store.count_remote_media(self.retry), 0, 0
            while not budget.exceeded:
                rows = store.remote_media(after, batch, self.retry)
                if not rows:
                    break
                after = rows[-1].id
                results = self._fetch_batch(store, rows, folder, budget, pool)
                with store.transaction():
                    for row in rows:
                        self._record(store, row, results[row.url])
                done += len(rows)
                yield Progress(done, max(total, done), f"{self.report.fetched} media fetched")
            self.report.total_limit_reached = budget.exceeded
            if budget.exceeded:
                # What the same command fetches next: with --retry-unreadable, the
                # unreadable media it has not come to yet too.
                self.report.left_to_fetch = store.count_remote_media(self.retry)
                self.report.total_limit = budget.limit
        except (GeneratorExit, KeyboardInterrupt):
            self.report.cancelled = True
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self.report_path, self.report_not_saved = save_report(
                lambda: self.project.folder("reports"), "fetch", self.report.to_json())
            store.close()

    def _fetch_batch(self, store: Store, rows: list[RemoteMedia], folder: Path, budget: _Budget,
                     pool: ThreadPoolExecutor) -> dict[str, Fetched | FetchError]:
        """One result per distinct URL: a file fetched before, or a download now."""
        results: dict[str, Fetched | FetchError] = {}
        todo = []
        for url in dict.fromkeys(r.url for r in rows):
            known = store.fetched_by_url(url)
            if known is not None:
                results[url] = Fetched(Path(known[0]), known[1], False)
            else:
                todo.append(url)
        futures = {pool.submit(fetch_one, url, folder, self.limits, budget): url
                   for url in todo}
        for future in as_completed(futures):
            url = futures[future]
            try:
                results[url] = fetched = future.result()
            except FetchError as exc:
                results[url] = exc
                continue
            self.report.downloaded += 1
            self.report.bytes += fetched.facts.size or 0
            self.report.stored_files += fetched.new_file
        return results

    def _record(self, store: Store, row: RemoteMedia, result: Fetched | FetchError) -> None:
        if isinstance(result, Fetched):
            if store.set_media_fetched(row.id, str(result.path), result.facts):
                self.report.fetched += 1
            return
        status = result.status
        url = shown_url(row.url)
        store.set_media_fetch_failed(row.id, status, f"{result.reason} ({url})")
        if isinstance(result, LimitReached):
            return  # said once, in the summary, with how many are left
        self.report.failed[status] = self.report.failed.get(status, 0) + 1
        then = "left remote, tried again next run" if status == "remote" else "unreadable"
        self.report.problems.append(Problem(Where(row.uid), f"{url}: {result.reason}; {then}"))
