"""The shared decoder pool: order, stacked arrays, reuse across jobs, cancelling, dead
workers. Hangs are caught by a thread join with a generous limit (a safety net, not a
measure of speed)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
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
