"""Batches that shrink when the GPU runs out of memory (the embed and caption jobs).

A job hands a batch to :meth:`Halving.run` with the work to do on a chunk of it. On a CUDA
out-of-memory error the chunk is halved and retried; the size that fitted is kept for the
later batches, so one oversized batch does not make every batch fail first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is CUDA's out-of-memory error (False where torch is not installed,
    e.g. a server-only captioning install)."""
    try:
        import torch
    except ImportError:
        return False
    return isinstance(exc, torch.cuda.OutOfMemoryError)


def empty_cuda_cache() -> None:
    """Hand cached GPU blocks back before retrying a smaller chunk."""
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class Halving:
    """Runs work over batches in chunks, halving the chunk on out-of-memory errors.

    ``fail`` builds the error raised when even one item does not fit.
    """

    def __init__(self, fail: Callable[[BaseException], Exception]) -> None:
        self.fail = fail
        self.size: int | None = None  # the chunk size that fitted last, None before
        self.halvings = 0

    def run(self, batch: Sequence[T], work: Callable[[list[T]], R]) -> list[tuple[list[T], R]]:
        """(chunk, work(chunk)) for consecutive chunks covering ``batch``."""
        items = list(batch)
        size = len(items) if self.size is None else min(self.size, len(items))
        out: list[tuple[list[T], R]] = []
        start = 0
        while start < len(items):
            chunk = items[start:start + size]
            try:
                out.append((chunk, work(chunk)))
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                if size == 1:
                    raise self.fail(exc) from exc
                size = max(1, size // 2)
                self.size = size
                self.halvings += 1
                empty_cuda_cache()
                continue
            start += len(chunk)
        return out
