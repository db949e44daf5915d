"""The shared decoder pool: order, stacked arrays, reuse across jobs, cancelling, dead
workers. Hangs are caught by a thread join with a generous limit (a safety net, not a
measure of speed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from crisisdesk.core.decoder_pool import DecoderPool, DecoderPoolError

SAFETY_S = 120


def _finishes(run: Callable[[], Any]) -> Any:
    """``run()`` in a thread; fails the test instead of hanging it."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = run()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(SAFETY_S)
    assert not thread.is_alive(), f"still running after {SAFETY_S} s: hung"
    if "error" in out:
        raise out["error"]
    return out["value"]


# Module-level functions: the workers get them by pickle.

def square_or_reason(item: int) -> Any:
    """A row of floats, or a reason (a str) for odd multiples of 5."""
    if item % 5 == 0 and item % 2:
        return f"no good: {item}"
    return np.full(3, item * item, dtype=np.float32)


def as_tensor(item: int) -> Any:
    return torch.full((2, 2), item, dtype=torch.uint8)


def mixed(item: int) -> Any:
    return {"item": item} if item % 2 else np.arange(item)  # not stackable


def slow(item: int) -> int:
    time.sleep(0.02)
    return item


def pid_then_slow(item: int) -> Any:
    time.sleep(0.05)
    return np.array([os.getpid(), item])


def poisoned(item: str) -> str:
    if item == "poison":
        os.kill(os.getpid(), signal.SIGKILL)  # a decoder crash, as a segfault would be
    return item.upper()


def failing(item: int) -> int:
    raise ValueError(f"broken on {item}")


@pytest.fixture
def pool() -> Iterator[DecoderPool]:
    own = DecoderPool(2)
    # A worker imports this module (and torch) when it loads its first job's function:
    # seconds on a busy machine, and not alike for both. Tests that count what each
    # worker still holds (a cancelled job's chunks) need them both past that.
    _finishes(lambda: list(own.map_chunks(slow, [[0], [1]], 2)))
    yield own
    own.shutdown()


def _chunks(n: int, size: int) -> list[list[int]]:
    return [list(range(i, min(n, i + size))) for i in range(0, n, size)]


def test_results_come_back_in_order_with_reasons_in_place(pool: DecoderPool) -> None:
    out = _finishes(lambda: list(pool.map_chunks(square_or_reason, _chunks(23, 4), 3)))
    assert [[item for item, _ in chunk] for chunk in out] == _chunks(23, 4)
    for chunk in out:
        for item, value in chunk:
            if item % 5 == 0 and item % 2:
                assert value == f"no good: {item}"
            else:
                assert isinstance(value, np.ndarray)
                np.testing.assert_array_equal(value, np.full(3, item * item, np.float32))


def test_tensors_come_back_as_tensors_and_odd_values_as_they_are(pool: DecoderPool) -> None:
    tensors = _finishes(lambda: list(pool.map_chunks(as_tensor, _chunks(6, 3), 2)))
    for item, value in (pair for chunk in tensors for pair in chunk):
        assert isinstance(value, torch.Tensor) and value.dtype == torch.uint8
        assert torch.equal(value, torch.full((2, 2), item, dtype=torch.uint8))
    odd = _finishes(lambda: list(pool.map_chunks(mixed, _chunks(4, 4), 1)))
    assert [v if isinstance(v, dict) else v.tolist() for _, v in odd[0]] == \
        [[], {"item": 1}, [0, 1], {"item": 3}]


def test_a_cancelled_job_leaves_at_most_its_window_and_the_next_job_works(
        pool: DecoderPool) -> None:
    pulled: list[int] = []

    def feed() -> Iterator[list[int]]:
        for chunk in _chunks(2000, 2):
            pulled.append(chunk[0])
            yield chunk

    run = pool.map_chunks(slow, feed(), 4)
    first = _finishes(lambda: next(run))
    run.close()
    assert first == [(0, 0), (1, 1)]
    assert len(pulled) <= 1 + 4  # lazy: not 1,000 chunks queued
    assert pool.in_flight() <= 4
    again = _finishes(lambda: list(pool.map_chunks(slow, _chunks(7, 3), 2)))
    assert [item for chunk in again for item, _ in chunk] == list(range(7))
    assert [value for chunk in again for _, value in chunk] == list(range(7))
    assert pool.in_flight() == 0  # the stale chunks were read and dropped


def test_a_killed_worker_is_replaced_and_its_chunks_retried(pool: DecoderPool) -> None:
    before = set(pool.pids())
    run = pool.map_chunks(pid_then_slow, _chunks(40, 2), 6)
    out = [_finishes(lambda: next(run))]
    victim = next(w for w in pool._workers if w.assigned)
    os.kill(victim.process.pid, signal.SIGKILL)
    out += _finishes(lambda: list(run))
    assert [int(v[1]) for chunk in out for _, v in chunk] == list(range(40))
    after = set(pool.pids())
    assert victim.process.pid not in after and len(after - before) == 1


def test_a_chunk_that_kills_its_worker_twice_is_a_clear_error(pool: DecoderPool) -> None:
    chunks = [["a", "b"], ["c", "poison"], ["d"]]
    with pytest.raises(DecoderPoolError, match="SIGKILL twice.*poison"):
        _finishes(lambda: list(pool.map_chunks(poisoned, chunks, 3)))
    # the pool goes on: dead workers were replaced
    out = _finishes(lambda: list(pool.map_chunks(poisoned, [["x"], ["y", "z"]], 2)))
    assert out == [[("x", "X")], [("y", "Y"), ("z", "Z")]]
    assert all(w.process.is_alive() for w in pool._workers)


def test_an_exception_in_the_function_is_the_jobs_error(pool: DecoderPool) -> None:
    with pytest.raises(DecoderPoolError, match="broken on 0"):
        _finishes(lambda: list(pool.map_chunks(failing, [[0, 1]], 1)))
    assert _finishes(lambda: list(pool.map_chunks(slow, [[5]], 1))) == [[(5, 5)]]


def test_resize_and_shutdown(pool: DecoderPool) -> None:
    first = pool.pids()
    pool.resize(3)
    assert pool.pids()[:2] == first and len(pool.pids()) == 3
    pool.resize(1)
    assert len(pool.pids()) == 1
    processes = [w.process for w in pool._workers]
    pool.shutdown()
    assert not any(p.is_alive() for p in processes)


def megabytes(item: str) -> Any:
    return np.full(2**20, len(item) % 251, dtype=np.uint8)


def test_big_results_and_many_queued_chunks_do_not_deadlock(pool: DecoderPool) -> None:
    # A worker blocked writing a big result does not read its pipe; if the parent is then
    # blocked sending it more chunks (long paths, a window of many chunks per worker:
    # one worker and batches of 256 on a two-core machine) neither side moves again.
    chunks = [["x" * 20_000] for _ in range(40)]  # 30 queued: ~300 KB per worker's pipe
    out = _finishes(lambda: list(pool.map_chunks(megabytes, chunks, 30)))
    assert len(out) == 40
    assert all(value.nbytes == 2**20 and value[0] == 20_000 % 251
               for chunk in out for _, value in chunk)


def test_ctrl_c_while_reading_a_result_leaves_the_pool_usable(
        pool: DecoderPool, monkeypatch: pytest.MonkeyPatch) -> None:
    real_readv = os.readv

    def interrupted(fd: int, buffers: list[Any]) -> int:
        real_readv(fd, [memoryview(buffers[0])[:1000]])  # part of an array is read...
        raise KeyboardInterrupt  # ...when Ctrl-C lands

    monkeypatch.setattr(os, "readv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        list(pool.map_chunks(megabytes, [["a"], ["bb"], ["ccc"]], 3))
    monkeypatch.undo()
    # the rest of that array must not be read as the next job's results
    out = _finishes(lambda: list(pool.map_chunks(megabytes, [["dddd"], ["eeeee"]], 2)))
    assert [(item, int(value[0])) for chunk in out for item, value in chunk] == \
        [("dddd", 4), ("eeeee", 5)]


def test_shutdown_reaches_workers_blocked_writing_despite_a_later_pool(
        pool: DecoderPool) -> None:
    run = pool.map_chunks(megabytes, [["x" * 8] for _ in range(12)], 6)
    _finishes(lambda: next(run))
    run.close()  # a cancelled job: its workers are blocked writing 1 MB results
    later = DecoderPool(2)  # e.g. a second job's private pool, forked afterwards
    try:
        processes = [w.process for w in pool._workers]
        pool.shutdown()
        # Closing the pipe stops a blocked writer (exit code 0). Had the later pool's
        # workers kept copies of its ends, each would wait out the join and be
        # terminated (at interpreter exit: 2 s per worker).
        assert [p.exitcode for p in processes] == [0, 0]
    finally:
        later.shutdown()


def varying_tensor(item: int) -> Any:
    return torch.full((3, 4 + item % 3), item, dtype=torch.uint8)


def unpicklable(item: int) -> Any:
    return (lambda: item) if item == 3 else np.zeros(2)


def test_tensors_of_different_shapes_come_back_by_value(pool: DecoderPool) -> None:
    # Sent with multiprocessing's pickler they would come as shared-memory handles, each
    # holding a file descriptor: ~1,000 held at once is "received 0 items of ancdata".
    out = _finishes(lambda: list(pool.map_chunks(varying_tensor, _chunks(9, 3), 2)))
    assert [[item for item, _ in chunk] for chunk in out] == _chunks(9, 3)  # all came back
    for item, value in (pair for chunk in out for pair in chunk):
        assert torch.equal(value, varying_tensor(item))
        assert not value.is_shared()


def test_a_result_that_cannot_be_sent_is_a_clear_error(pool: DecoderPool) -> None:
    pids = pool.pids()
    with pytest.raises(DecoderPoolError, match="pickle") as error:
        _finishes(lambda: list(pool.map_chunks(unpicklable, [[1, 2], [3, 4]], 2)))
    assert "crashes the decoder" not in str(error.value)
    assert pool.pids() == pids  # not a worker's death


def test_shutting_the_pool_down_under_a_paused_job_is_a_clear_error(
        pool: DecoderPool) -> None:
    # The job's thread is between chunks (storing a batch) when the app closes.
    run = pool.map_chunks(slow, _chunks(40, 2), 4)
    assert _finishes(lambda: next(run)) == [(0, 0), (1, 1)]
    pool.shutdown()
    with pytest.raises(DecoderPoolError, match="decoder pool was shut down"):
        _finishes(lambda: next(run))


def test_shutdown_pool_while_a_job_thread_waits_is_a_clear_error() -> None:
    # atexit (or the app closing) calls shutdown_pool while a daemon job thread is inside
    # the pool: wherever the shutdown finds it, the job ends with the shutdown's error,
    # not with the IndexError or OSError that pulling the workers from under it causes.
    from crisisdesk.core.decoder_pool import lend, shutdown_pool

    first = threading.Event()
    raised: list[BaseException] = []

    def job() -> None:
        try:
            with lend(2) as shared:
                for _ in shared.map_chunks(slow, _chunks(400, 2), 4):
                    first.set()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            raised.append(exc)

    thread = threading.Thread(target=job, daemon=True)
    thread.start()
    assert first.wait(SAFETY_S)
    shutdown_pool()
    thread.join(SAFETY_S)
    assert not thread.is_alive(), f"still running after {SAFETY_S} s: hung"
    assert len(raised) == 1 and isinstance(raised[0], DecoderPoolError), raised
    assert "decoder pool was shut down" in str(raised[0])


def parent_pid(item: int) -> int:
    return os.getppid()


def test_workers_are_not_forked_from_the_process_that_made_the_pool(
        pool: DecoderPool) -> None:
    # The app is multi-threaded (Qt job threads, torch's pools): a fork of it copies the
    # locks those threads hold, and the child can deadlock on one.
    out = _finishes(lambda: list(pool.map_chunks(parent_pid, [[0], [1], [2], [3]], 4)))
    parents = {value for chunk in out for _, value in chunk}
    assert parents and os.getpid() not in parents


def _ended(pid: int) -> bool:
    """Whether process ``pid`` is gone (or a zombie: it has exited, not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_end_when_the_app_dies_without_shutting_the_pool_down() -> None:
    # Killed, the app shuts nothing down: a worker must see its pipe close on its own.
    code = ("import os, signal; from crisisdesk.core.decoder_pool import DecoderPool; "
            "print(DecoderPool(2).pids(), flush=True); os.kill(os.getpid(), signal.SIGKILL)")
    app = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=SAFETY_S, cwd=Path(__file__).parents[2])
    assert app.returncode == -signal.SIGKILL, app.stderr
    pids = [int(pid) for pid in app.stdout.strip("[]\n").split(",")]
    deadline = time.monotonic() + SAFETY_S  # a safety net, not a measure of speed
    while not all(_ended(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_ended(pid) for pid in pids), f"workers {pids} outlived the app"


def test_start_ahead_starts_the_shared_pool_before_any_job_and_the_job_reuses_it() -> None:
    # A GPU job's first batch waited for its worker processes to start (forked, then
    # each running the main module's imports): started while the model loads, they wait
    # for the job instead.
    from crisisdesk.core import decoder_pool

    decoder_pool.shutdown_pool()
    try:
        decoder_pool.start_ahead(workers=2)  # returns at once: started in a thread
        deadline = time.monotonic() + SAFETY_S  # a safety net, not a measure of speed
        while decoder_pool._shared is None and time.monotonic() < deadline:
            time.sleep(0.01)
        pool = decoder_pool._shared
        assert pool is not None, "no pool was started ahead"
        started = _finishes(pool.pids)  # waits while the starting thread holds it
        assert len(started) == 2
        with decoder_pool.lend(2) as lent:
            assert lent is pool and lent.pids() == started
            out = _finishes(lambda: list(lent.map_chunks(slow, [[1], [2]], 2)))
        assert [value for chunk in out for _, value in chunk] == [1, 2]
    finally:
        decoder_pool.shutdown_pool()
