"""A watched folder in the app (issue 8, item 3): File > Watch a folder… runs the watch
through the jobs panel; lines a collector appends and files dropped in the folder show up
in the item list and the queue counts; Cancel stops watching."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import QFileDialog
from test_main_window import open_window

from crisisdesk.core.importers.watch import WatchOptions
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.gui import watch_folder


def _append(path: Path, first: int, count: int) -> None:
    with path.open("a", encoding="utf-8") as handle:
        for n in range(first, first + count):
            handle.write(json.dumps({"id": f"c{n}", "text": f"road {n} flooded near school"})
                         + "\n")


def test_new_posts_appear_in_the_list_and_counts_and_cancel_stops_watching(
        qtbot, demo_like_project: Project, tmp_path: Path, monkeypatch) -> None:
    window = open_window(qtbot, demo_like_project)
    actions = window.actions_
    before = window.model.total
    all_items = Queue("all")
    assert window.queues.count_of(all_items) == before
    folder = tmp_path / "collector"
    folder.mkdir()
    stream = folder / "stream.jsonl"
    _append(stream, 0, 3)

    # The File menu's action asks for the folder, then watches it (fast polls for the test).
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    assert actions.watch in file_menu.actions() and actions.watch.isEnabled()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *args, **kwargs: str(folder)))
    real_start = actions.folder_watch.start
    monkeypatch.setattr(actions.folder_watch, "start", lambda path: real_start(
        path, WatchOptions(interval=0.1, settle=60)))
    monkeypatch.setattr(watch_folder, "REFRESH_S", 0.3)
    actions.watch.trigger()
    row = actions.jobs.rows[0]
    assert row.runner.title == f"Watch {folder}" and row.runner.is_running()
    qtbot.waitUntil(lambda: window.model.total == before + 3, timeout=20_000)
    qtbot.waitUntil(lambda: window.queues.count_of(all_items) == before + 3, timeout=10_000)

    # The collector appends more, and a CSV file is dropped in: both arrive while watching.
    _append(stream, 3, 4)
    (folder / "more.csv").write_text("id,text\nd1,bridge down on route 9\n", encoding="utf-8")
    qtbot.waitUntil(lambda: window.model.total == before + 8, timeout=20_000)
    qtbot.waitUntil(lambda: window.queues.count_of(all_items) == before + 8, timeout=10_000)
    texts = {window.model.row_at(r).text for r in range(window.model.total)
             if window.model.row_at(r) is not None}
    assert "road 5 flooded near school" in texts and "bridge down on route 9" in texts
    assert row.runner.is_running()
    refreshes = actions.folder_watch.refreshes
    assert refreshes >= 2

    # Cancel stops it: the row says so, and a line appended afterwards is not imported.
    with qtbot.waitSignal(row.runner.finished, timeout=20_000) as finished:
        row.cancel.click()
    assert finished.args[0] == "cancelled"
    assert "Cancelled" in row.state.text()
    _append(stream, 7, 1)
    qtbot.wait(500)
    with demo_like_project.open_store() as store:
        # The watch names its source after the folder.
        assert store.find_post("collector", "c6") is not None
        assert store.find_post("collector", "c7") is None
        state = store.conn.execute("SELECT state FROM jobs WHERE kind = 'import-watch'"
                                   ).fetchone()[0]
    assert state == "cancelled"

