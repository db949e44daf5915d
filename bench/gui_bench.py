"""GUI benchmark: first paint and scrolling over 100,000 items, the UI heartbeat while
jobs run, and peak memory.

    .venv/bin/python bench/gui_bench.py [--items 100000] [--job-seconds 20] [--workdir DIR]

Builds a project of N text-only items with bulk inserts (as tests/gui/test_item_model.py
does), then, offscreen, in this one process:

* first paint: from creating the main window to its first page of items painted;
* scroll to end: from ``scrollToBottom()`` to the last row painted;
* heartbeat: a 10 ms QTimer runs while an embed job (text, minilm) and a retrain run
  through the window's jobs panel (each stopped after --job-seconds); the longest gap
  between beats is how long the UI thread was blocked;
* peak memory: the process's peak RSS (psutil samples + ru_maxrss).

Goals: first paint <= 1.5 s, longest gap < 100 ms, peak <= 800 MB. Figures are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "gui"))

GOAL_FIRST_PAINT_S = 1.5
GOAL_GAP_MS = 100.0
GOAL_PEAK_MB = 800.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--job-seconds", type=float, default=20.0)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    import psutil
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication
    from test_item_model import build_large_project  # the tests' bulk builder

    app = QApplication([])
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="crisisdesk-gui-bench-"))
    os.environ.setdefault("CRISISDESK_CONFIG_DIR", str(workdir / "config"))
    root = workdir / "project"
    t = time.perf_counter()
    project = build_large_project(root, args.items) if not root.exists() else None
    if project is None:
        from crisisdesk.core.project import Project
        project = Project.open(root)
    print(f"project: {args.items:,} items at {root} (built in {time.perf_counter() - t:.1f} s)")
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

    window = MainWindow(project, annotator="bench")
    window.show()
    pump(lambda: window.model.row_at(0) is not None)
    window.items.viewport().repaint()
    first_paint = time.perf_counter() - t0
    print(f"first paint: {first_paint:.2f} s (goal <= {GOAL_FIRST_PAINT_S} s)")

    # -- heartbeat (also while scrolling)
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def beat() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    heart = QTimer()
    heart.setInterval(10)
    heart.timeout.connect(beat)
    heart.start()

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
                           + (f" ({r.error})" if r.error else "") for r in runners)
        print(f"{title}: longest heartbeat gap {max(gaps, default=0):.0f} ms over "
              f"{len(gaps)} beats (goal < {GOAL_GAP_MS:.0f} ms); {states}")
    heart.stop()
    window.close()
    peak = max(peak_rss[0] / 2**20, peak_mb())
    print(f"peak memory: {peak:.0f} MB (goal <= {GOAL_PEAK_MB:.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
