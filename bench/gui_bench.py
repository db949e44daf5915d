"""GUI benchmark: first paint and scrolling over 100,000 items, the UI heartbeat while
jobs run, and peak memory.

    .venv/bin/python bench/gui_bench.py [--items 100000] [--job-seconds 20] [--workdir DIR]
                                        [--made-up-texts]

Builds a project of N text-only items with bulk inserts (as tests/gui/test_item_model.py
does), then, offscreen, in this one process:

* texts: the demo's ~100 real CrisisMMD tweets (resources/demo/crisismmd_dev_sample.csv)
  cycled over the items, each followed by "(post number N)" so that every text differs
  (the embed encodes each one). --made-up-texts gives the older runs' short made-up
  texts ("post number N about the flood", ~10 tokens), to compare with their figures:
  real tweets (30-100 tokens) make the embed's buffers several times larger;
* first paint: from creating the main window to its first page of items painted;
* start-up preload: right after the first paint the window imports the jobs' libraries
  (torch, transformers, open_clip) in the background; its length and the longest
  heartbeat gap while it runs are printed (the hitch the analyst may notice at start);
* scroll to end: from ``scrollToBottom()`` to the last row painted;
* query changes: a sort switched, a search typed and cleared: the time to the new list
  and the longest heartbeat gap meanwhile (each resets the list over the whole queue);
* heartbeat: a 10 ms QTimer runs while an embed job (text, minilm) and a retrain run
  through the window's jobs panel (each stopped after --job-seconds); the longest gap
  between beats is how long the UI thread was blocked. The project is given --labelled
  labels (task informative) and cached text embeddings of a made-up encoder for those
  items, so the retrain really trains (for the whole --job-seconds) instead of skipping;
* peak memory: the process's peak RSS (psutil samples + ru_maxrss), with the malloc
  arenas the app sets at start (crisisdesk.gui.app.share_malloc_arenas). On a machine
  without a GPU the preload hands back the CUDA library pages torch's import made
  resident (crisisdesk.core.gpu_library_pages), as the app does; the peak before jobs
  still holds them (it is taken during the import). At the end the resident memory is
  split into the process's own (anonymous) pages and pages mapped from files (library
  code, model weights), which the kernel can drop and read again.

Goals: first paint <= 1.5 s, longest gap < 100 ms, peak <= 800 MB. Figures are printed,
never asserted. Where PYTHONDONTWRITEBYTECODE is set (some shells and CI images set it)
every module is compiled from source at each start, as an installed app's never are
(pip writes their bytecode): the first paint, the preload and the first showing of a
dialog read slower. Run without it, twice, for an installed app's figures.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
# This checkout's crisisdesk first: run from a copy, the editable install's is another tree.
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "gui")]

GOAL_FIRST_PAINT_S = 1.5
GOAL_GAP_MS = 100.0
GOAL_PEAK_MB = 800.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def resident_split() -> str:
    """This process's resident memory now, split into its own pages and file pages
    (Linux's /proc/self/status); empty elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            kb = {line.split(":")[0]: int(line.split()[1]) for line in status
                  if line.startswith(("VmRSS:", "RssAnon:", "RssFile:"))}
        return (f"memory at the end: {kb['VmRSS'] / 1024:.0f} MB resident: "
                f"{kb['RssAnon'] / 1024:.0f} MB the process's own, "
                f"{kb['RssFile'] / 1024:.0f} MB mapped from files (libraries, weights)")
    except (OSError, KeyError, ValueError, IndexError):
        return ""


def other_stacks() -> str:
    """The innermost frames of every thread but this one (where a gap just ended)."""
    import threading
    import traceback

    lines = []
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        stack = traceback.extract_stack(frame)[-4:]
        lines.append("  " + " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}"
                                        for f in reversed(stack)))
    return "\n".join(lines)


def watch_gui_thread(clock, last: list[float]) -> None:
    """--why: a watcher thread printing the GUI thread's stack whenever the heartbeat is
    80 ms late (it sees the GUI thread's own slow Python work; a C call holding the GIL
    blocks the watcher too, and then only the gap's end is seen)."""
    import threading
    import traceback

    gui = threading.get_ident()

    def watch() -> None:
        reported = -1.0
        while True:
            time.sleep(0.02)
            behind = clock.elapsed() - last[0]
            if behind > 80 and last[0] != reported:
                reported = last[0]
                frame = sys._current_frames().get(gui)
                if frame is not None:
                    stack = traceback.extract_stack(frame)[-6:]
                    print(f"GUI thread {behind} ms late, in: " + " <- ".join(
                        f"{Path(f.filename).name}:{f.lineno} {f.name}"
                        for f in reversed(stack)))

    threading.Thread(target=watch, daemon=True).start()


#: The bench's real texts: the demo's CrisisMMD dev tweets (see resources/demo/README.md).
DEMO_TWEETS = ("demo", "crisismmd_dev_sample.csv")


def tweet_texts() -> Callable[[int], str]:
    """Post ``i``'s text: the demo's real tweets in turn, each followed by its post number
    (the search below finds "number 7" in these texts as in the made-up ones)."""
    from crisisdesk.core.resources import resource

    with resource(*DEMO_TWEETS).open(encoding="utf-8", newline="") as handle:
        tweets = [row["tweet_text"] for row in csv.DictReader(handle)]
    return lambda i: f"{tweets[(i - 1) % len(tweets)]} (post number {i})"


def texts_used(project) -> str:
    """Which texts the project's posts hold, for the figures' header (a project kept
    with --workdir holds those of the run that built it)."""
    from test_item_model import made_up_text

    with project.open_store() as store:
        first = store.item_texts([1])
    if first and first[0].text == made_up_text(1):
        return "made-up texts (\"post number N about the flood\", --made-up-texts)"
    return f"real tweets ({'/'.join(DEMO_TWEETS)}, cycled, each + \"(post number N)\")"


def add_training_data(project, n: int, dim: int = 384) -> None:
    """Label the first ``n`` items (task informative, from their post number) and cache
    text embeddings of the encoder ``bench-text`` for them, readable with some noise: the
    retrain then has real work (the encoder with the most text embeddings is chosen)."""
    import numpy as np

    from crisisdesk.core.store import LabelChange

    rng = np.random.default_rng(0)
    classes = ("informative", "not_informative")
    centres = rng.normal(size=(2, dim))
    with project.open_store() as store:
        texts = store.item_texts(range(1, n + 1))
        which = [t.item % 2 for t in texts]
        store.add_labels([LabelChange(t.item, "informative", classes[c])
                          for t, c in zip(texts, which, strict=True)], annotator="bench")
        vectors = centres[which] + 2.0 * rng.normal(size=(len(texts), dim))
        store.put_embeddings("text", "bench-text", [t.key for t in texts], vectors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--job-seconds", type=float, default=20.0)
    parser.add_argument("--why", action="store_true",
                        help="at each gap over 80 ms, print where the other threads are")
    parser.add_argument("--labelled", type=int, default=20_000,
                        help="items given a label and a cached embedding for the retrain")
    parser.add_argument("--made-up-texts", action="store_true",
                        help="the older runs' short made-up texts instead of real tweets "
                             "(to compare with figures taken before)")
    parser.add_argument("--workdir", type=Path,
                        help="build the project here and keep it (a later run reuses it, "
                             "with the texts it was built with); "
                             "default: a temp folder, removed at the end")
    args = parser.parse_args()
    if args.workdir:
        return run(args, args.workdir)
    # A 100,000-item project is tens of MB: a run without --workdir leaves nothing behind.
    with tempfile.TemporaryDirectory(prefix="crisisdesk-gui-bench-",
                                     ignore_cleanup_errors=True) as folder:
        return run(args, Path(folder))


def run(args: argparse.Namespace, workdir: Path) -> int:
    """Build (or reuse) the project under ``workdir`` and print the figures."""
    import psutil
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication
    from test_item_model import build_large_project, made_up_text  # the tests' builder

    from crisisdesk.gui.app import share_malloc_arenas

    share_malloc_arenas()  # as the app's main does, before Qt's (and torch's) threads
    app = QApplication([])
    from crisisdesk.gui import style

    style.apply_light(app)  # as the app looks, on a dark desktop too
    os.environ.setdefault("CRISISDESK_CONFIG_DIR", str(workdir / "config"))
    root = workdir / "project"
    t = time.perf_counter()
    text = made_up_text if args.made_up_texts else tweet_texts()
    project = build_large_project(root, args.items, text) if not root.exists() else None
    if project is None:
        from crisisdesk.core.project import Project
        project = Project.open(root)
    else:
        add_training_data(project, min(args.labelled, args.items))
    print(f"project: {args.items:,} items at {root} (built in {time.perf_counter() - t:.1f} s)")
    print(f"texts: {texts_used(project)}")
    process = psutil.Process()
    peak_rss = [process.memory_info().rss]

    def pump(until, timeout: float = 60.0) -> None:
        end = time.perf_counter() + timeout
        while not until():
            app.processEvents()
            time.sleep(0.001)
            peak_rss[0] = max(peak_rss[0], process.memory_info().rss)
            if time.perf_counter() > end:
                raise TimeoutError("the window did not get there in time")

    # -- first paint
    t0 = time.perf_counter()
    from crisisdesk.gui.main_window import MainWindow

    window = MainWindow(project, annotator="bench", preload=True)  # as the app opens it
    window.show()
    pump(lambda: window.model.row_at(0) is not None)
    window.items.viewport().repaint()
    first_paint = time.perf_counter() - t0
    print(f"first paint: {first_paint:.2f} s (goal <= {GOAL_FIRST_PAINT_S} s)")

    # -- heartbeat (during the start-up preload, while scrolling, during jobs)
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def beat() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        if args.why and now - last[0] > 80:
            print(f"gap {now - last[0]} ms; the other threads now:\n{other_stacks()}")
        last[0] = now

    heart = QTimer()
    heart.setInterval(10)
    heart.timeout.connect(beat)
    heart.start()
    if args.why:
        watch_gui_thread(clock, last)

    print(f"memory at the first paint: {process.memory_info().rss / 2**20:.0f} MB")
    t0 = time.perf_counter()
    pump(lambda: window.actions_.preloaded is not None, timeout=120)
    took = window.actions_.preloaded or {}
    slowest = sorted(took.items(), key=lambda kv: -kv[1])[:3]
    print(f"start-up preload of the job libraries: {time.perf_counter() - t0:.1f} s "
          f"(slowest: {', '.join(f'{name} {sec:.1f} s' for name, sec in slowest)}); "
          f"longest heartbeat gap meanwhile {max(gaps, default=0):.0f} ms")
    print(f"memory after the preload: {process.memory_info().rss / 2**20:.0f} MB")
    gaps.clear()

    t0 = time.perf_counter()
    window.items.scrollToBottom()
    total = window.model.total
    pump(lambda: window.model.row_at(total - 1) is not None)
    window.items.viewport().repaint()
    print(f"scroll to end: {time.perf_counter() - t0:.2f} s; rows fetched "
          f"{window.model.rows_fetched:,} of {total:,}")
    bar = window.items.verticalScrollBar()
    for step in range(200):  # a drag of the scrollbar across the list, frame by frame
        bar.setValue(bar.maximum() * step // 199)
        app.processEvents()
    pump(lambda: not window.background.busy())
    print(f"scrollbar drag: longest heartbeat gap {max(gaps, default=0):.0f} ms; "
          f"rows fetched {window.model.rows_fetched:,}")

    # -- query changes: each resets the list over the whole queue (a view that walks
    # every row then froze the UI in proportion to the queue's size)
    def changed(what: str, change) -> None:
        gaps.clear()
        loaded = [False]

        def done() -> None:
            loaded[0] = True

        window.model.loaded.connect(done)
        t1 = time.perf_counter()
        change()
        pump(lambda: loaded[0])
        window.items.viewport().repaint()
        app.processEvents()
        window.model.loaded.disconnect(done)
        print(f"{what}: {time.perf_counter() - t1:.2f} s to the new list; longest "
              f"heartbeat gap {max(gaps, default=0):.0f} ms")

    changed("sort switched to time", lambda: window.sort.setCurrentIndex(
        window.sort.findData("time")))
    changed("search typed", lambda: (window.search.setText("number 7"), window._search_now()))
    changed("search cleared", lambda: (window.search.clear(), window._search_now()))
    changed("sort switched back", lambda: window.sort.setCurrentIndex(
        window.sort.findData("priority")))

    print(f"memory before jobs: {max(peak_rss[0] / 2**20, peak_mb()):.0f} MB peak")

    # -- jobs
    jobs = window.actions_.jobs
    for title, start in (("embed", window.actions_.run_embed),
                         ("retrain", window.actions_.run_retrain)):
        action = window.actions_.embed if title == "embed" else window.actions_.retrain
        if jobs is None or not action.isEnabled():
            print(f"{title}: not available ({action.toolTip() or 'no jobs panel'})")
            continue
        gaps.clear()
        before = len(jobs.rows)
        start()
        runners = [row.runner for row in jobs.rows[: len(jobs.rows) - before]]
        end = time.perf_counter() + args.job_seconds
        pump(lambda r=runners, e=end: time.perf_counter() > e
             or not any(x.is_running() for x in r), timeout=args.job_seconds + 30)
        for runner in runners:
            runner.cancel()
        pump(lambda r=runners: not any(x.is_running() for x in r), timeout=120)
        states = ", ".join(f"{r.title}: {r.state}"
                           + (f" ({r.error.splitlines()[0]})" if r.error else "")
                           for r in runners)
        print(f"{title}: longest heartbeat gap {max(gaps, default=0):.0f} ms over "
              f"{len(gaps)} beats (goal < {GOAL_GAP_MS:.0f} ms); {states}")
        latest = runners[0].last_progress
        print(f"{title}: {latest.done if latest else 0:,} of "
              f"{latest.total if latest else 0:,} done; "
              f"peak memory so far {max(peak_rss[0] / 2**20, peak_mb()):.0f} MB")
    heart.stop()
    window.close()
    peak = max(peak_rss[0] / 2**20, peak_mb())
    print(f"peak memory: {peak:.0f} MB (goal <= {GOAL_PEAK_MB:.0f} MB)")
    if split := resident_split():
        print(split)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
