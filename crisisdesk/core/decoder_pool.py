"""A persistent pool of image decoder processes, shared by every embed job of the process.

On a GPU the embed job decodes images in worker processes (threads are held back by the
GIL). Starting those processes for each job, filling them and joining them at its end
cost ~0.9 s per job on an H200 (half the time of a 2,000-image job); this pool is started
by the first job and reused, so a later job pays none of it. It is shut down at
interpreter exit or by :func:`shutdown_pool`.

Workers are never forked from the app's process: it is multi-threaded (Qt job threads,
torch's thread pools), and a fork copies whatever lock another thread holds at that moment
(the child can deadlock on it; Python 3.12 warns, 3.14 stopped defaulting to fork on Linux).
They are forks of multiprocessing's fork server, a process that only imports modules and
forks ("spawn" where there is none: Windows). The server has the worker module, and what
:func:`start_ahead` names, imported once; started while a model loads, it is warm by the
first job.

Each worker runs only Pillow and numpy (never CUDA) and has its own duplex pipe, so the
pool knows which chunks each worker holds: a worker that dies is replaced and its chunks
are retried once; a chunk that kills its worker twice is a clear :class:`DecoderPoolError`,
never a hang; nor is a shutdown while a job of another thread uses the pool (the app
closing): that job ends with a clear :class:`PoolShutDown`. What runs in the workers, and
the wire (one header plus one stacked array per chunk, written straight from the worker's
memory into an array of the main process), is :mod:`crisisdesk.core.decoder_worker`.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import os
import pickle
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from crisisdesk.core.decoder_worker import read, work
from crisisdesk.core.words import first_few

#: Modules the fork server imports once, so that a new worker starts with them loaded.
_preload = ["crisisdesk.core.decoder_worker"]


class DecoderPoolError(RuntimeError):
    """Decoding in worker processes failed as a whole (not one image: those get reasons)."""


class PoolShutDown(DecoderPoolError):
    """The pool was shut down while a job of another thread was using it."""


SHUT_DOWN = ("the image decoder pool was shut down while this job used it (the app is "
             "closing); what the job stored so far is kept: run it again to do the rest")


def default_workers() -> int:
    """Worker processes for a GPU job: every core but one (the one drives the GPU)."""
    return max(1, (os.cpu_count() or 2) - 1)


def _context() -> multiprocessing.context.BaseContext:
    """Where workers come from: the fork server, or "spawn" where there is none."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Read when the server starts (the first worker of the process); later calls are no-ops.
    context.set_forkserver_preload(_preload)
    return context


@dataclass
class _Task:
    """A chunk of items of one job, as sent to a worker."""

    job: int
    seq: int
    items: list[Any]
    tries: int = 0


@dataclass
class _Worker:
    """One decoder process, its pipe and the tasks it holds (results come back in order)."""

    process: Any
    conn: Connection
    assigned: deque[_Task] = field(default_factory=deque)
    job: int = -1  # the job whose function this worker holds


class DecoderPool:
    """Worker processes that apply a picklable function to chunks of items, in order."""

    def __init__(self, workers: int) -> None:
        self._context = _context()
        self._workers: list[_Worker] = []
        self._jobs = itertools.count()
        self._busy = threading.Lock()  # one job at a time (see lend)
        # shutdown() may run in another thread (atexit, the app closing) while a job
        # replaces a dead worker: this keeps it from starting one the pool would not stop
        self._lock = threading.Lock()
        self.closed = False
        self.resize(workers)

    # -- processes ---------------------------------------------------------------------

    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and diagnostics)."""
        return [w.process.pid for w in self._workers]

    def in_flight(self) -> int:
        """Chunks sent to workers whose results have not been read yet (of any job)."""
        return sum(len(w.assigned) for w in self._workers)

    def resize(self, workers: int) -> None:
        """Start or stop workers until there are ``workers`` (call while no job runs)."""
        if workers < 1:
            raise ValueError(f"workers must be >= 1, not {workers}")
        while len(self._workers) < workers:
            self._workers.append(self._start())
        while len(self._workers) > workers:
            # the least loaded goes; its queued chunks are of a finished job (discarded)
            worker = min(self._workers, key=lambda w: len(w.assigned))
            self._workers.remove(worker)
            self._stop([worker])

    def _start(self) -> _Worker:
        mine, theirs = self._context.Pipe(duplex=True)
        # The worker gets only its own end (not forked from here, it inherits no other
        # pipe): the app's end closing (shutdown, or the app gone) is end-of-file there.
        process = self._context.Process(target=work, args=(theirs,),
                                        name="crisisdesk-decoder", daemon=True)
        process.start()
        theirs.close()  # only the child holds it: its death reads as end-of-file here
        return _Worker(process, mine)

    def _stop(self, workers: list[_Worker]) -> None:
        for worker in workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
            worker.conn.close()  # a worker blocked writing stale results gets EPIPE
        for worker in workers:
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=2)

    def shutdown(self) -> None:
        """Stop every worker (the pool cannot be used afterwards); a job using it in
        another thread ends with :class:`PoolShutDown`."""
        with self._lock:
            if not self.closed:
                self.closed = True
                self._stop(self._workers)
                self._workers = []

    def _check_open(self) -> None:
        if self.closed:
            raise PoolShutDown(SHUT_DOWN)

    @contextmanager
    def _shutdown_said_plainly(self) -> Iterator[None]:
        """Whatever a job trips over once the pool is shut down under it (a closed pipe,
        a worker gone from the list: an OSError, IndexError or TypeError) is the
        shutdown, and is reported as such."""
        try:
            yield
        except Exception as exc:
            if self.closed and not isinstance(exc, PoolShutDown):
                raise PoolShutDown(SHUT_DOWN) from exc
            raise

    def _replace(self, worker: _Worker) -> list[_Task]:
        """Start a new worker in a dead one's place; the dead one's tasks are returned."""
        with self._lock:
            self._check_open()  # a worker stopped by shutdown() is not replaced
            index = self._workers.index(worker)
            worker.conn.close()
            worker.process.join(timeout=2)
            self._workers[index] = self._start()
            return list(worker.assigned)

    def _lose(self, worker: _Worker) -> None:
        """Replace a worker whose pipe holds part of a message (a read or write cut short
        by Ctrl-C): the rest of it would be taken for the next message."""
        worker.process.kill()
        if not self.closed:  # the interrupt propagates, not a PoolShutDown
            self._replace(worker)

    def replace_dead(self) -> None:
        """Replace workers that died between jobs (their tasks were of an older job)."""
        for worker in list(self._workers):
            if not worker.process.is_alive():
                self._replace(worker)

    # -- jobs ------------------------------------------------------------------------

    def map_chunks(self, fn: Callable[[Any], Any], chunks: Iterable[Sequence[Any]],
                   window: int) -> Iterator[list[tuple[Any, Any]]]:
        """``[(item, fn(item)), ...]`` for each chunk, in order, computed in the workers.

        Chunks are taken from ``chunks`` lazily, at most ``window`` of them sent and not
        yet yielded: memory stays flat, and closing this generator leaves at most
        ``window`` chunks running (their results are read and dropped by the next job).
        ``fn`` must be picklable; a str it returns (a reason) passes through as is.
        """
        job = next(self._jobs)
        fn_bytes = pickle.dumps(fn)
        sent: dict[int, _Task] = {}
        results: dict[int, list[Any]] = {}
        feed = iter(chunks)
        submitted = yielded = 0
        exhausted = False
        while True:
            with self._shutdown_said_plainly():
                while not exhausted and submitted - yielded < max(1, window):
                    items = next(feed, None)
                    if items is None:
                        exhausted = True
                        break
                    sent[submitted] = _Task(job, submitted, list(items))
                    self._submit(sent[submitted], fn_bytes)
                    submitted += 1
                if yielded == submitted:
                    return
                while yielded not in results:
                    self._receive(job, results, fn_bytes)
            task = sent.pop(yielded)
            yield list(zip(task.items, results.pop(yielded), strict=True))
            yielded += 1

    def _submit(self, task: _Task, fn_bytes: bytes) -> None:
        self._check_open()
        worker = min(self._workers, key=lambda w: len(w.assigned))
        try:
            if worker.job != task.job:
                worker.conn.send(("fn", task.job, fn_bytes))
                worker.job = task.job
            worker.conn.send(("chunk", task.job, task.seq, task.items))
        except OSError:  # the worker is gone: its death is handled like any other
            worker.assigned.append(task)
            self._died(worker, task.job, fn_bytes)
            return
        except BaseException:
            self._lose(worker)
            raise
        worker.assigned.append(task)

    def _receive(self, job: int, results: dict[int, list[Any]], fn_bytes: bytes) -> None:
        """Wait for one result (or a worker's death) and file it."""
        busy = [w for w in self._workers if w.assigned]
        # Checked after taking the list: a shutdown since has its workers exit, which wakes
        # the wait; the emptied list of a shutdown before would wait on nothing, for good.
        self._check_open()
        ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
        for worker in busy:
            if worker.conn in ready:
                try:
                    seq_job, seq, values, error = read(worker.conn)
                except (EOFError, OSError):
                    self._died(worker, job, fn_bytes)
                    continue
                except BaseException:
                    self._lose(worker)
                    raise
                task = worker.assigned.popleft()
                assert (task.job, task.seq) == (seq_job, seq), "worker answered out of order"
                if seq_job != job:
                    continue  # a chunk of a cancelled job: dropped
                if error is not None:
                    raise DecoderPoolError(f"decoding images in a worker process failed:\n"
                                           f"{error}")
                results[seq] = values
            elif worker.process.sentinel in ready:
                if worker.conn.poll():
                    continue  # read what it sent before it died first (next round)
                self._died(worker, job, fn_bytes)

    def _died(self, worker: _Worker, job: int, fn_bytes: bytes) -> None:
        """A worker died: start another, retry its chunks of this job once."""
        worker.process.join(timeout=2)
        code = worker.process.exitcode
        lost = [t for t in self._replace(worker) if t.job == job]
        for task in lost:
            if task.tries >= 1:
                raise DecoderPoolError(_death_message(worker.process.pid, code, task))
            task.tries += 1
            self._submit(task, fn_bytes)


def _death_message(pid: int | None, code: int | None, task: _Task) -> str:
    how = (f"was killed by signal {signal.Signals(-code).name}" if code is not None and
           code < 0 and -code in signal.valid_signals() else f"exited with code {code}")
    names = first_few([str(getattr(item, "path", item)) for item in task.items])
    return (f"an image decoder process (pid {pid}) {how} twice while decoding the same "
            f"{len(task.items)} images ({names}); out of memory, or an image that "
            "crashes the decoder")


# -- the process's pool ------------------------------------------------------------------

_shared: DecoderPool | None = None
_shared_lock = threading.Lock()
_atexit_registered = False


def shared_pool(workers: int | None = None) -> DecoderPool:
    """The process's pool, started on first use with ``workers`` (default: every core but
    one); resized to ``workers`` when given and no job is using it."""
    global _shared, _atexit_registered
    with _shared_lock:
        if _shared is None or _shared.closed:
            _shared = DecoderPool(workers or default_workers())
            if not _atexit_registered:
                # daemon workers would be killed at exit anyway; this stops them cleanly
                atexit.register(shutdown_pool)
                _atexit_registered = True
        elif workers and _shared._busy.acquire(blocking=False):
            try:
                _shared.resize(workers)
            finally:
                _shared._busy.release()
        return _shared


def start_ahead(preload: Sequence[str] = (), workers: int | None = None) -> None:
    """Start the fork server now, while a model loads, so that the first job's workers are
    forks of a warm server (milliseconds each) rather than waiting for it to load; with
    ``workers``, start the process's pool of that many workers too.

    It loads in its own process, and the pool starts in a thread: this returns at once.
    ``preload``: modules the jobs' functions need to unpickle and run, imported once
    there, not by each worker at its first job. Keep them light: a job's first workers
    wait for the server's imports (torch and open_clip took seconds; the CLIP decode step
    needs neither). Names given after the server has started count for nothing. Workers
    started ahead save the job their start (each also runs the main module's imports):
    on an H200 the first batch of a 2,000-image ViT-L-14 job was stored after 0.34-0.39 s
    with workers started by the job, 0.28-0.30 s with workers started ahead. Without a
    fork server (Windows) the server part does nothing: "spawn" workers start in the
    background anyway.
    """
    _preload.extend(name for name in preload if name not in _preload)
    if _context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
    if workers:
        threading.Thread(target=_start_shared, args=(workers,), daemon=True,
                         name="crisisdesk-decoder-start").start()


def _start_shared(workers: int) -> None:
    """Start the process's pool ahead of its first job (a thread's target)."""
    try:
        shared_pool(workers)
    except Exception:  # noqa: BLE001 - the job starts the pool itself and says why it fails
        pass


def shutdown_pool() -> None:
    """Stop the process's pool (a later job starts a new one)."""
    global _shared
    with _shared_lock:
        pool, _shared = _shared, None
    if pool is not None:
        pool.shutdown()


@contextmanager
def lend(workers: int) -> Iterator[DecoderPool]:
    """The shared pool for one job with ``workers`` workers; a private pool, shut down
    afterwards, when another job is using the shared one (two jobs at once)."""
    pool = shared_pool(workers)
    if pool._busy.acquire(blocking=False):
        try:
            pool.resize(workers)
            pool.replace_dead()
            yield pool
        finally:
            pool._busy.release()
        return
    private = DecoderPool(workers)
    try:
        yield private
    finally:
        private.shutdown()
