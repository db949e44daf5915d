"""The app hands back the pages of torch's GPU libraries on a machine with no GPU
(crisisdesk.core.gpu_library_pages): only pages that are unchanged copies of a library
file, never on a machine whose GPU torch can use, and torch computes as before."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from crisisdesk.core import gpu_library_pages
from crisisdesk.core.gpu_library_pages import Mapping, read_mappings

SMAPS = textwrap.dedent("""\
    7f0000000000-7f0000400000 r-xp 00000000 08:01 11 /site/nvidia/cublas/lib/libcublasLt.so.13
    Size:               4096 kB
    Rss:                3000 kB
    Anonymous:             0 kB
    VmFlags: rd ex mr mw me
    7f0000400000-7f0000500000 r--p 00400000 08:01 11 /site/nvidia/cublas/lib/libcublasLt.so.13
    Rss:                 800 kB
    Anonymous:           120 kB
    7f0000500000-7f0000600000 rw-p 00500000 08:01 11 /site/nvidia/cublas/lib/libcublasLt.so.13
    Rss:                 100 kB
    Anonymous:             0 kB
    7f0000600000-7f0000700000 r-xp 00000000 08:01 12 /site/torch/lib/libtorch_cpu.so
    Rss:                5000 kB
    Anonymous:             0 kB
    7f0000700000-7f0000800000 rw-p 00000000 00:00 0
    Rss:                 400 kB
    Anonymous:           400 kB
    7f0000800000-7f0000900000 r-xs 00000000 08:01 13 /site/torch/lib/libtorch_cuda.so
    Rss:                  10 kB
    Anonymous:             0 kB
    """)


def test_smaps_is_read_into_its_file_mappings() -> None:
    mappings = read_mappings(SMAPS)
    assert [m.path.rsplit("/", 1)[-1] for m in mappings] == [
        "libcublasLt.so.13", "libcublasLt.so.13", "libcublasLt.so.13", "libtorch_cpu.so",
        "libtorch_cuda.so"]  # the anonymous mapping has no file: left out
    first = mappings[0]
    assert (first.start, first.end, first.permissions) == (
        0x7F0000000000, 0x7F0000400000, "r-xp")
    assert (first.resident_kb, first.anonymous_kb) == (3000, 0)
    assert mappings[1].anonymous_kb == 120


def test_only_unchanged_read_only_pages_of_gpu_libraries_are_dropped() -> None:
    dropped = [m.can_be_dropped() for m in read_mappings(SMAPS)]
    # the code of cuBLASLt: yes; its relocated part (changed pages), its writable data,
    # torch's CPU library and a shared mapping: no
    assert dropped == [True, False, False, False, False]


def test_a_mapping_with_nothing_resident_is_left_alone() -> None:
    assert not Mapping(0, 4096, "r-xp", "/x/libnvrtc.so.13", 0, 0).can_be_dropped()
    assert Mapping(0, 4096, "r-xp", "/x/libnvrtc.so.13", 4, 0).can_be_dropped()


PROBE = textwrap.dedent("""\
    import json, sys
    from crisisdesk.core import gpu_library_pages as pages
    if sys.argv[1] == "gpu":
        pages.gpu_is_usable = lambda: True
    def resident():
        with open("/proc/self/smaps") as f:
            return sum(m.resident_kb for m in pages.read_mappings(f.read())
                       if m.can_be_dropped())
    if sys.argv[2] == "preload":
        from crisisdesk.gui.job_libraries import preload_job_modules
        import torch
        before = resident()
        preload_job_modules(("torch",))
        dropped = None
    else:
        import torch
        before = resident()
        dropped = pages.release_unused_gpu_libraries()
    after = resident()
    torch.manual_seed(0)
    a = torch.randn(64, 64)
    same = bool(torch.allclose(a @ a.T, torch.einsum("ij,kj->ik", a, a), atol=1e-4))
    print(json.dumps({"before": before, "after": after, "dropped": dropped,
                      "gpu": torch.cuda.is_available(), "same": same}))
    """)


def _probe(gpu: str, how: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, gpu, how], capture_output=True,
                          text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _needs_gpu_libraries_without_gpu(figures: dict) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("smaps and madvise are Linux's")
    if figures["gpu"]:
        pytest.skip("this machine has a GPU torch can use: the pages are in use")
    if figures["before"] < 10_000:
        pytest.skip("this torch maps no GPU library (a CPU-only build)")


def test_torch_gpu_libraries_are_handed_back_without_a_gpu_and_torch_still_computes(
) -> None:
    figures = _probe("none", "call")
    _needs_gpu_libraries_without_gpu(figures)
    assert figures["after"] <= figures["before"] // 10
    assert figures["dropped"] >= figures["before"] - figures["after"]
    assert figures["same"]


def test_the_app_preload_hands_them_back() -> None:
    figures = _probe("none", "preload")
    _needs_gpu_libraries_without_gpu(figures)
    assert figures["after"] <= figures["before"] // 10
    assert figures["same"]


def test_nothing_is_dropped_where_torch_can_use_a_gpu() -> None:
    figures = _probe("gpu", "call")
    if figures["before"] < 10_000:
        pytest.skip("this torch maps no GPU library (a CPU-only build)")
    assert figures["dropped"] == 0
    assert figures["after"] >= figures["before"] * 9 // 10


def test_nothing_is_done_before_torch_is_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    asked: list[str] = []
    monkeypatch.setattr(gpu_library_pages, "gpu_is_usable",
                        lambda: asked.append("asked") or False)
    assert gpu_library_pages.release_unused_gpu_libraries() == 0
    assert asked == []  # it did not even look: importing torch here would cost ~500 MB
