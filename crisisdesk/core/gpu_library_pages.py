"""Hand back the memory that torch's GPU libraries hold on a machine with no usable GPU.

The torch that pip installs on Linux is the CUDA build. Importing it maps its CUDA
libraries (cuBLAS and cuBLASLt, NVRTC, nvJitLink, libtorch_cuda, ...) into the process,
and loading them reads ~135 MB of their code and read-only data into the process's
resident memory (measured with /proc/self/smaps right after ``import torch`` on a 2-core
machine without a GPU: libcublasLt 55 MB, nvJitLink 26, NVRTC 23, libtorch_cuda 15, ...).
Where torch finds no GPU, none of that code runs again, yet it stayed counted in the app's
memory for as long as the app ran: about a sixth of the 800 MB the app is meant to stay
under (bench/gui_bench.py).

:func:`release_unused_gpu_libraries` unmaps those pages from this process
(``madvise(MADV_DONTNEED)``). Nothing is lost: it only touches mappings of a library file
that are read-only and hold no page of their own (smaps' ``Anonymous: 0``), so every page
it drops is an unchanged copy of the file, and a page touched again is read back from the
file (from the kernel's page cache, usually) on that touch. Mappings that hold changed
pages (the loader's relocations) are left as they are. ``MADV_PAGEOUT`` was measured too:
it skips pages that another process also maps, so a second torch process (the CLI beside
the app) kept everything resident.

Linux only (other systems: nothing done); on a machine where torch sees a GPU, nothing is
done either.
"""

from __future__ import annotations

import ctypes
import re
import sys
from dataclasses import dataclass

#: The libraries that only a GPU runs: torch's CUDA half and NVIDIA's runtime libraries
#: that pip installs beside it. Matched on the file's name in /proc/self/smaps.
GPU_LIBRARY = re.compile(
    r"/(libtorch_cuda|libc10_cuda|libcublas|libcublasLt|libcudnn\w*|libnvJitLink|libnvrtc"
    r"|libcusparse|libcusparseLt|libcufft|libcufile|libcusolver|libcurand|libcupti"
    r"|libnccl|libnvshmem\w*|libnvToolsExt|libcudart|libcaffe2_nvrtc)[^/]*\.so[.\d]*$")

MADV_DONTNEED = 4


@dataclass(frozen=True)
class Mapping:
    """One mapping of /proc/self/smaps: its address range, permissions, file, and how
    much of it is resident and how much of that is the process's own changed pages."""

    start: int
    end: int
    permissions: str
    path: str
    resident_kb: int
    anonymous_kb: int

    def can_be_dropped(self) -> bool:
        """True for a read-only private mapping of a GPU library holding no changed page:
        dropping its pages loses nothing."""
        return ("w" not in self.permissions and self.permissions.endswith("p")
                and self.anonymous_kb == 0 and self.resident_kb > 0
                and GPU_LIBRARY.search(self.path) is not None)


def read_mappings(smaps_text: str) -> list[Mapping]:
    """The file-backed mappings of an smaps listing (``/proc/PID/smaps``'s text)."""
    mappings: list[Mapping] = []
    head: list[str] | None = None
    fields: dict[str, int] = {}

    def close() -> None:
        if head is not None and len(head) > 5:
            start, end = (int(part, 16) for part in head[0].split("-"))
            mappings.append(Mapping(start, end, head[1], " ".join(head[5:]),
                                    fields.get("Rss", 0), fields.get("Anonymous", 0)))

    for line in smaps_text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0].endswith(":"):
            if len(parts) >= 2 and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])
            continue
        close()  # a new mapping's first line: "start-end perms offset dev inode [path]"
        head, fields = parts, {}
    close()
    return mappings


def gpu_is_usable() -> bool:
    """Whether torch (imported already) sees a GPU it can run on."""
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    try:
        return bool(torch.cuda.is_available())
    except Exception:  # a broken driver: torch will not run there either
        return False


def release_unused_gpu_libraries() -> int:
    """Drop this process's resident pages of GPU libraries when torch is imported and
    sees no GPU; the kilobytes dropped (0 where nothing was done).

    Call it once torch (and whatever else a job needs) has been imported, from any
    thread: it takes ~20 ms (reading smaps, one ``madvise`` per mapping).
    """
    if not sys.platform.startswith("linux") or "torch" not in sys.modules:
        return 0
    if gpu_is_usable():
        return 0
    try:
        with open("/proc/self/smaps", encoding="utf-8", errors="replace") as smaps:
            mappings = read_mappings(smaps.read())
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
    except (OSError, AttributeError):
        return 0  # no /proc, or a libc without madvise: nothing to give back
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    dropped = 0
    for mapping in mappings:
        if mapping.can_be_dropped() and madvise(
                mapping.start, mapping.end - mapping.start, MADV_DONTNEED) == 0:
            dropped += mapping.resident_kb
    return dropped
