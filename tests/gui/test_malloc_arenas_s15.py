"""The app's threads share two of glibc's malloc arenas (crisisdesk.gui.app.main sets it
before the QApplication and its threads exist): by default each thread that allocates
(Qt's pool, the job thread, torch's OpenMP and tokenizers' rayon workers) got an arena of
its own, up to 8 per core, each keeping what its thread freed. Measured with
bench/gui_bench.py (embed then retrain over 100,000 items): peak 813 MB without the cap,
794 MB with it (means of four paired runs). An analyst's own MALLOC_ARENA_MAX or
GLIBC_TUNABLES wins.

Each check runs in a fresh interpreter: an arena, once made, stays for the process's
life, and the cap counts only if set before the threads allocate."""

from __future__ import annotations

import os
import sys

import pytest
from offline_python import run_offline

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux")
    or "glibc" not in (os.confstr("CS_GNU_LIBC_VERSION") or ""),
    reason="malloc arenas are glibc's")

#: Prints how many malloc arenas the process has once 8 threads allocated at once (each
#: thread that allocates first is given an arena, up to the limit).
COUNT_ARENAS = """
def count_arenas():
    import ctypes, os, tempfile, threading
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.fopen.restype = ctypes.c_void_p
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    barrier = threading.Barrier(8)
    def work():
        block = libc.malloc(4096)  # the thread's first allocation picks its arena
        barrier.wait()  # all alive at once: an ended thread's arena is handed on
        libc.free(block)
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    path = os.path.join(tempfile.mkdtemp(), "malloc.xml")
    f = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, f)
    libc.fclose(f)
    print("arenas", open(path).read().count("<heap nr="))
"""

#: app.main as the command line runs it, up to the QApplication: counted there, then out.
APP_MAIN = COUNT_ARENAS + """
import crisisdesk.gui.app as app
def make_application():
    count_arenas()
    raise SystemExit(0)
app.window_problem = lambda: None  # a display or not: the same start
app.make_application = make_application
app.main(None)
"""


def _arenas(code: str) -> int:
    """How many arenas a fresh interpreter running ``code`` counted."""
    out = run_offline(code)
    assert out.returncode == 0, out.stderr[-2000:]
    return int(out.stdout.split("arenas")[-1])


@pytest.fixture(autouse=True)
def _glibc_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The children start with glibc's own malloc settings, whatever this shell has."""
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)


def test_without_the_app_eight_threads_get_arenas_of_their_own() -> None:
    # The baseline the cap is measured against: glibc's default, on this machine.
    assert _arenas(COUNT_ARENAS + "count_arenas()\n") > 2


def test_the_app_caps_the_arenas_before_its_qapplication_is_made() -> None:
    assert _arenas(APP_MAIN) <= 2


@pytest.mark.parametrize(("setting", "arenas"), [
    ({"MALLOC_ARENA_MAX": "4"}, 4),
    ({"GLIBC_TUNABLES": "glibc.malloc.arena_max=3"}, 3),
])
def test_the_analysts_own_malloc_setting_wins(
        monkeypatch: pytest.MonkeyPatch, setting: dict[str, str], arenas: int) -> None:
    for name, value in setting.items():
        monkeypatch.setenv(name, value)
    assert _arenas(APP_MAIN) == arenas
