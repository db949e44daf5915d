"""A model's download as a job: the hub fetch (:func:`hub_download.download`) runs in a
thread of its own while the job yields the megabytes written of the model's files, so a
front end shows a real bar, a rate and an ETA (a 7B captioner is gigabytes: a busy bar
said nothing for many minutes). Closing the job (Cancel) stops the fetch.

The thread is the job's alone: the job waits on it in short steps, so that the caller sees
a yield (and its Cancel) at least every POLL_S, and a cancel stops the fetch at its next
chunk and waits for the thread to end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from crisisdesk.core.models import hub_download
from crisisdesk.core.models.registry import (
    Location,
    ModelMissing,
    ModelSpec,
    RegisteredPathGone,
    RegistrationsUnreadable,
    locate,
)
from crisisdesk.core.progress import Progress

#: The job's unit: decimal megabytes, as model sizes are given elsewhere.
MB = 10**6
#: Seconds between the job's yields while the fetch runs: how soon a Cancel is seen.
POLL_S = 0.5
#: Seconds a cancel waits for the fetch to stop: its next chunk, or the hub's first answer
#: (the look-up before the fetch, which nothing can interrupt, has HUB_TIMEOUT_S).
CANCEL_WAIT_S = hub_download.HUB_TIMEOUT_S + 5.0


class DownloadCancelled(Exception):
    """Raised inside the fetch's thread when its job was closed: stops the hub's fetch."""


def installed_copy(spec: ModelSpec) -> Location | None:
    """Where jobs find ``spec`` now, or None (nowhere: a download is what helps). Raises
    a registration jobs refuse (its folder gone, models.json unreadable), its words
    saying nothing was downloaded: jobs never fall back from a registration to the hub
    copy, so a download cost the model's size, said "installed", and mended nothing."""
    try:
        return locate(spec)
    except (RegisteredPathGone, RegistrationsUnreadable) as exc:
        # The same class, so a front end still tells a vanished folder from the rest.
        exc.args = (f"{exc}\nNot downloaded: while this stands, jobs would not use a "
                    "downloaded copy either.",)
        raise
    except ModelMissing:
        return None


def download_job(spec: ModelSpec) -> Iterator[Progress]:
    """Download ``spec``'s files from the hub, yielding the megabytes written of their
    total (total 0 while the hub's sizes are unknown); the last progress says where the
    model was installed, and any note the room check made. Raises what the download
    raised (NoRoom, TimeoutError, the hub's errors) with its own message, and what
    :func:`installed_copy` raises; a model installed since it was found missing (a
    folder chosen meanwhile, another window's download) is not fetched again."""
    said = f"downloading {spec.name} from {spec.hub_id}"
    where = installed_copy(spec)
    if where is not None:
        yield Progress(0, 0, f"{spec.name} is already installed ({where.path}): "
                             "nothing downloaded", "network")
        return
    fetch = _Fetch(spec)
    yield Progress(0, 0, said, "network")
    fetch.thread.start()
    try:
        while not fetch.ended.wait(POLL_S):
            done, total = fetch.bytes
            yield Progress(done // MB, _whole_mb(total), said, "network")
    finally:
        fetch.stop()  # closed at a yield (cancelled): the fetch ends before the job does
    folder = fetch.folder()
    done, total = fetch.bytes
    size = _whole_mb(max(done, total))
    yield Progress(size, size, ". ".join([f"installed in {folder}", *fetch.notes]), "network")


def _whole_mb(n_bytes: int) -> int:
    """Megabytes rounded up: a model of a few kilobytes still has one to count."""
    return -(-n_bytes // MB)


class _Fetch:
    """One download running in its own thread, with what it told so far."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.bytes = (0, 0)  # (written, total): replaced whole, read from the job's thread
        self.notes: list[str] = []  # the room could not be checked (said, the fetch went on)
        self.ended = threading.Event()
        self._stopping = threading.Event()
        self._folder: Path | None = None
        self._error: BaseException | None = None
        # A daemon: an app that quits does not wait for a fetch the job gave up on.
        self.thread = threading.Thread(target=self._run, name=f"download {spec.name}",
                                       daemon=True)

    def _run(self) -> None:
        try:
            self._folder = hub_download.download(self.spec, say=self.notes.append,
                                                 progress=self._told)
        except BaseException as exc:  # noqa: BLE001 - handed to the job, which raises it
            self._error = exc
        finally:
            self.ended.set()

    def _told(self, done: int, total: int) -> None:
        """The hub's count (in its fetching threads); raising here stops the fetch."""
        if self._stopping.is_set():
            raise DownloadCancelled(f"download of {self.spec.name} cancelled")
        self.bytes = (done, total)

    def stop(self) -> None:
        """Stop the fetch, if it still runs, and wait (a while) for its thread to end."""
        if self.ended.is_set():
            return
        self._stopping.set()
        self.ended.wait(CANCEL_WAIT_S)

    def folder(self) -> Path:
        """Where the model was installed; raises the download's error if it failed."""
        if self._error is not None:
            raise self._error
        assert self._folder is not None  # the thread ended (ended was set) without error
        return self._folder
