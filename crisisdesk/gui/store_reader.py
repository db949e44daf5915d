"""The item list's one read connection, kept from page to page for its window's life."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from crisisdesk.core.project import Project
from crisisdesk.core.store import Store


class StoreReader:
    """The item list's one read connection, kept from page to page so the id order
    ``queue_page`` caches per connection serves every deep page of a queue.

    The cache stays right however the project changes: ``PRAGMA data_version`` on this
    connection moves with every commit of any other connection (this window's labels,
    another window's, another process's imports, predictions, version switches), and
    this one never writes. Pool threads use it one at a time (the lock), which is what
    lets it cross threads (``check_same_thread=False``)."""

    def __init__(self, project: Project) -> None:
        self._project = project
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._file: tuple[int, int] | None = None  # (device, inode) of the file open
        self._closed = False

    @contextmanager
    def store(self) -> Iterator[Store]:
        """The connection, for one fetch at a time (opened again where it must be)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the item list was closed")
            store = self._open()
            try:
                yield store
            except BaseException:
                self._drop()  # a connection in an unknown state is not kept
                raise

    def _open(self) -> Store:
        path = self._project.db_path
        try:
            stat = os.stat(path)
            file: tuple[int, int] | None = (stat.st_dev, stat.st_ino)
        except OSError:
            file = None
        # Another file at the path (a backup restored over it) is opened anew; a file gone
        # (the project folder moved while open) is said as open_store says it (ProjectError),
        # never read on through the old connection.
        if self._store is not None and file is not None and file == self._file:
            return self._store
        self._drop()
        if file is None:
            self._project.open_store().close()  # raises ProjectError when it is gone
        self._store = Store(path, create=False, check_same_thread=False)
        self._file = file
        return self._store

    def _drop(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def close(self) -> None:
        """Close the connection for good (waits for the fetch using it, if any)."""
        with self._lock:
            self._closed = True
            self._drop()
