"""A process killed while it writes labels loses nothing it was told was committed.

A child process labels items in a loop through ``Store.add_labels`` and prints a line
after each call returns. The test SIGKILLs it mid-stream, then opens the project: the
database passes SQLite's integrity check, every label the child reported is in the
journal, and each item's current label is the last one reported or at most one change
past it (a call that committed but was killed before it could print).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

POSTS = 50
TASK = "informative"
LABELS = ("informative", "not_informative")
REPORTS_BEFORE_KILL = 200
DEADLINE_S = 20.0

CHILD = r"""
import sys
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange

root, task, labels = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
store = Project.open(root).open_store()
items = [row[0] for row in store.conn.execute("SELECT id FROM items ORDER BY id")]
print("ready", len(items), flush=True)
for k in range(1_000_000):
    item = items[k % len(items)]
    # Each item alternates between the two labels, so every call is a real change.
    label = labels[(k // len(items)) % 2]
    action = store.add_labels([LabelChange(item, task, label)], annotator="crash-test")
    if action is None:
        sys.exit(f"add_labels skipped a change: {item} {label}")
    print("committed", action, item, label, flush=True)
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project with one CSV import of text-only posts (no labels yet)."""
    source = tmp_path / "posts.csv"
    source.write_text("id,text\n" + "".join(
        f"t{i},Water rising on street {i}, need help\n" for i in range(POSTS)),
        encoding="utf-8")
    project = Project.open(tmp_path / "proj", create=True)
    job = ImportJob(project, [source], ImportOptions())
    for _ in job.run():
        pass
    assert job.report.posts_added == POSTS and job.report.errors == 0
    return project


def test_sigkill_during_label_writes_loses_no_committed_label(
        project: Project, tmp_path: Path) -> None:
    stderr_path = tmp_path / "child-stderr.txt"
    with stderr_path.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(project.root), TASK, ",".join(LABELS)],
            stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1)
    # If the child hangs, kill it so readline() returns and the test fails cleanly.
    watchdog = threading.Timer(DEADLINE_S, child.kill)
    watchdog.start()
    reported: list[tuple[int, int, str]] = []
    killed = False
    try:
        assert child.stdout is not None
        header = child.stdout.readline()
        assert header.startswith("ready"), stderr_path.read_text()
        assert int(header.split()[1]) == POSTS
        while len(reported) < REPORTS_BEFORE_KILL:
            line = child.stdout.readline()
            assert line, f"child ended early: {stderr_path.read_text()}"
            word, action, item, label = line.split()
            assert word == "committed"
            reported.append((int(action), int(item), label))
        os.kill(child.pid, signal.SIGKILL)
        killed = True
        # Lines already in the pipe were printed after their commit too; a cut-off last
        # line (no newline) was not fully reported and does not count.
        for line in child.stdout:
            if line.endswith("\n"):
                word, action, item, label = line.split()
                reported.append((int(action), int(item), label))
    finally:
        watchdog.cancel()
        if not killed:
            child.kill()
        child.wait(timeout=10)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL, "the watchdog, not the test, ended the child"

    with project.open_store() as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.integrity_ok()

        # Every reported call has its journal row, in the action it returned.
        for action, item, label in reported:
            row = store.conn.execute(
                "SELECT item, task, label FROM labels WHERE action = ?", [action]).fetchall()
            assert [tuple(r) for r in row] == [(item, TASK, label)], (action, item, label)

        # Per (item, label): at least as many journal rows as reports.
        journal = Counter(
            (r["item"], r["label"]) for r in store.conn.execute(
                "SELECT item, label FROM labels WHERE task = ?", [TASK]))
        for key, count in Counter((item, label) for _, item, label in reported).items():
            assert journal[key] >= count, key

        # Per item: the current label is the last reported one, or one change past it.
        last: dict[int, str] = {}
        per_item = Counter()
        for _, item, label in reported:
            last[item] = label
            per_item[item] += 1
        stored_per_item = Counter(item for item, _ in journal.elements())
        for item, label in last.items():
            now = store.current_label(item, TASK)
            assert now is not None
            extra = stored_per_item[item] - per_item[item]
            assert extra in (0, 1), (item, extra)
            expected = label if extra == 0 else next(x for x in LABELS if x != label)
            assert now.label == expected, (item, label, now.label)
        # Only the one call in flight at the kill can be committed but unreported.
        assert sum(stored_per_item.values()) - len(reported) in (0, 1)

        # The project stays writable, and the killed annotator's undo stack replays.
        item = reported[-1][1]
        before = store.current_label(item, TASK).label
        after = next(x for x in LABELS if x != before)
        assert store.add_labels([LabelChange(item, TASK, after)], annotator="crash-test")
        assert store.undo("crash-test") == [LabelChange(item, TASK, before)]
        assert store.current_label(item, TASK).label == before
