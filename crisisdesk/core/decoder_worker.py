"""What runs in a decoder worker process, and the wire between it and the pool
(:mod:`crisisdesk.core.decoder_pool`).

A worker takes a job's function, then chunks of items, and answers each chunk in order
with a pickled header and, where the chunk's results stack into one array, that array's
raw bytes (pickling them would copy them twice more on each side).
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

# -- the wire ----------------------------------------------------------------------------
# A result is a pickled header (job, seq, kind, ...) and, for kind "numpy" or "torch",
# the raw bytes of one stacked array: pickling them would copy them twice more on each side.

def pack(job: int, seq: int, values: list[Any]) -> tuple[tuple, np.ndarray | None]:
    """(header, stacked array or None) of one chunk's results (in the worker)."""
    loaded = [v for v in values if not isinstance(v, str)]
    kinds = {"torch" if type(v).__module__.startswith("torch") else
             "numpy" if isinstance(v, np.ndarray) else "objects" for v in loaded}
    if len(kinds) == 1 and kinds != {"objects"}:
        arrays = [v.numpy() if kinds == {"torch"} else v for v in loaded]
        if len({(a.shape, a.dtype.str) for a in arrays}) == 1:
            stacked = np.ascontiguousarray(np.stack(arrays))
            reasons = [v if isinstance(v, str) else None for v in values]
            return (job, seq, kinds.pop(), reasons, stacked.shape, stacked.dtype.str), stacked
    return (job, seq, "objects", values), None


def read(conn: Connection) -> tuple[int, int, list[Any] | None, str | None]:
    """(job, seq, values, error) of the next result on a worker's pipe (main process)."""
    header = pickle.loads(conn.recv_bytes())
    job, seq, kind = header[:3]
    if kind == "error":
        return job, seq, None, header[3]
    if kind == "objects":
        return job, seq, header[3], None
    reasons, shape, dtype = header[3:]
    stacked = np.empty(shape, np.dtype(dtype))
    recv_raw(conn, stacked.reshape(-1).view(np.uint8))
    if kind == "torch":
        import torch

        stacked = torch.from_numpy(stacked)
    rows = iter(stacked)
    return job, seq, [r if r is not None else next(rows) for r in reasons], None


def send_raw(conn: Connection, data: np.ndarray) -> None:
    view = memoryview(data.reshape(-1).view(np.uint8))
    if os.name != "posix":
        conn.send_bytes(view)
        return
    while view:
        view = view[os.write(conn.fileno(), view):]


def recv_raw(conn: Connection, into: np.ndarray) -> None:
    view = memoryview(into)
    if os.name != "posix":
        conn.recv_bytes_into(view)
        return
    while view:
        got = os.readv(conn.fileno(), [view])  # straight into the array, GIL released
        if got == 0:
            raise EOFError("decoder worker closed its pipe")
        view = view[got:]


# -- the worker --------------------------------------------------------------------------

def work(conn: Connection) -> None:
    """A worker's loop: take a job's function, then chunks; answer each chunk in order.

    It ends when the pool sends None or its end of ``conn`` closes (a shutdown, or the
    app gone: only the app holds that end, so its death is end-of-file here).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # A thread takes each message as it comes: a worker blocked writing a big result still
    # empties its pipe, so the parent is never blocked sending it chunks meanwhile (each
    # side waiting for the other, for good).
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    threading.Thread(target=take_messages, args=(conn, inbox), daemon=True).start()
    fn: Callable[[Any], Any] | None = None
    fn_error = ""
    while True:
        message = inbox.get()
        if message is None:
            return
        if message[0] == "fn":
            try:
                fn, fn_error = pickle.loads(message[2]), ""
                one_torch_thread()
            except Exception:  # noqa: BLE001 - reported with each chunk of the job
                fn, fn_error = None, traceback.format_exc()
            continue
        _, job, seq, items = message
        try:
            if fn is None:
                raise RuntimeError(f"the job's decode function did not load:\n{fn_error}")
            header, stacked = pack(job, seq, [fn(item) for item in items])
            # Plain pickle: multiprocessing's sends a torch tensor as a shared-memory
            # handle, one file descriptor each (~1,000 held at once exhaust the limit).
            answer = pickle.dumps(header, pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - the job gets the traceback, the worker goes on
            answer, stacked = pickle.dumps((job, seq, "error", traceback.format_exc())), None
        try:
            conn.send_bytes(answer)
            if stacked is not None:
                send_raw(conn, stacked)
        except OSError:
            return  # the parent closed the pipe (shutdown, resize)


def one_torch_thread() -> None:
    """Keep torch (when the server preloaded it or the function imported it) to one
    thread: its default pool, one thread per core in each worker, would fight the others."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def take_messages(conn: Connection, inbox: queue.SimpleQueue[Any]) -> None:
    """A worker's reader thread: each message into ``inbox``, then None at the end."""
    try:
        while True:
            inbox.put(conn.recv())
    except BaseException:  # noqa: BLE001 - the pipe closed, or a message that cannot be read
        inbox.put(None)  # the worker stops; the parent sees it die (and retries once)
