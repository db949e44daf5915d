"""The libraries the app's jobs need, imported in the background once the window is
painted (torch, transformers, open_clip), and the thread settings that keep a core for
the UI while jobs compute. Core never imports Qt; neither does this module."""

from __future__ import annotations

import gc
import importlib
import os
import sys
import threading
import time

#: What the jobs import, in the order they need it. Loading torch's shared libraries and
#: registering its operators holds the GIL for ~0.3-0.5 s at a time (C code that never
#: lets go): paid mid-job, that froze the UI thread for as long (measured: 0.7 s gaps of
#: a 10 ms timer at the start of an embed job). Paid once, right after the first paint,
#: the analyst sees it as the app finishing its start, and no job pays it again.
PRELOAD_MODULES = (
    "numpy",
    "torch",
    "crisisdesk.core.embed",
    "transformers",
    "transformers.modeling_utils",
    "transformers.models.bert.modeling_bert",  # MiniLM, the default text encoder
    "crisisdesk.core.encoders.text",
    "open_clip",
    "crisisdesk.core.encoders.clip",
    "crisisdesk.core.fusion.predict",
    "crisisdesk.core.retrain",
    "crisisdesk.core.captions.job",
)


def leave_a_core_to_the_ui() -> None:
    """Keep the jobs' compute threads from starving the UI thread of a CPU core.

    Measured on a 2-core machine: with as many compute threads as cores, torch's OpenMP
    threads spin-waiting between operations made the UI thread miss its 10 ms timer by
    0.3-0.4 s while a job ran. One core fewer than the machine has leaves the UI its own
    core. The wait policy is left alone: making the threads sleep (OMP_WAIT_POLICY=
    PASSIVE) slowed a training step of the fusion head 2.3x (16.7 against 7.3 ms), and
    spinning threads only spin on the cores they were given. Only defaults are set: an
    analyst's own OMP_* settings win. Must run before torch is imported (libgomp reads
    them once).
    """
    cores = os.cpu_count() or 2
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cores - 1)))
    os.environ.setdefault("RAYON_NUM_THREADS", str(max(1, cores - 1)))  # tokenizers


#: Held while the preload imports: transformers' lazy modules imported by two threads at
#: once failed ("cannot import name 'AutoModel'"), so a job started meanwhile waits.
_PRELOADING = threading.Lock()


def wait_for_preload() -> None:
    """Return once no preload is importing (at once when none runs). Called by each job's
    thread before the job begins; never on the UI thread."""
    with _PRELOADING:
        pass


def preload_job_modules(modules: tuple[str, ...] = PRELOAD_MODULES) -> dict[str, float]:
    """Import what the jobs need (runs in a background thread); seconds per module.

    A module that is not installed (open_clip on a text-only install) is skipped: the job
    that needs it reports that when it runs. Jobs started meanwhile wait for it
    (:func:`wait_for_preload`).
    """
    with _PRELOADING:
        return _preload(modules)


def _preload(modules: tuple[str, ...]) -> dict[str, float]:
    if "torch" not in sys.modules:
        leave_a_core_to_the_ui()
    took: dict[str, float] = {}
    for name in modules:
        start = time.perf_counter()
        # Python's cyclic garbage collector walks every tracked object in a full
        # collection, holding the GIL: with torch and transformers loaded (millions of
        # objects) that took ~0.3 s, triggered by any thread allocating (a job building
        # 100,000 rows, or an import), and the UI thread stood still. The modules' objects
        # live as long as the app: freezing them leaves them out of every collection.
        gc.freeze()
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        took[name] = time.perf_counter() - start
    gc.freeze()
    return took
