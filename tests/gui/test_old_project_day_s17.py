"""An analyst's day on a project an older crisisdesk left (schema 10): opened in the app,
searched in Arabic, Cyrillic and Thai, labelled from the keyboard, retrained, its jobs'
history and reports read, its labels exported, closed and opened again; and the same old
project opened in two windows at once."""

from __future__ import annotations

import csv
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from old_schema import as_schema
from PySide6.QtCore import Qt
from test_retrain import FAST, _project
from window_helpers import open_window, settle, work_down

from crisisdesk.core import retrain
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.job_locks import INTERRUPTED
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainJob
from crisisdesk.core.store import LabelChange
from crisisdesk.core.store.folding import fold
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog
from crisisdesk.gui.item_model import ROW_ROLE

#: The old release's schema.
OLD = 10
#: Texts in other scripts the old project holds (its search had no folded copies).
TEXTS = {
    "ar": "انهيار مـبنى المدرسة في الموصل",  # a tatweel inside "building"
    "ru": "Мой дом затопило, ждём помощи",
    "ru2": "мои вещи остались в доме",
    "th": "ม้า ติดอยู่ในน้ำท่วม",
    "th2": "น้ำมา เร็วมาก",
}
#: The fields of a retrain's saved report added since the old release.
NEWER_REPORT_FIELDS = ("sizes", "not_embedded", "holdout_not_embedded", "active_error",
                       "active_optimistic")
#: When the old job that never ended was started.
LONG_AGO = "2025-03-01T08:00:00+00:00"


def old_project(tmp_path: Path) -> tuple[Project, dict[str, int]]:
    """A project as the release at schema ``OLD`` left it: damage-labelled posts with
    embeddings, an active version and its predictions, a retrain whose report was saved,
    texts in other scripts labelled by an analyst, and a caption job left "running" by a
    process that died long ago. Returns it and the items of ``TEXTS`` by key."""
    with pytest.MonkeyPatch.context() as patch:
        as_schema(patch, OLD)
        project = _project(tmp_path, n=90)
        list(TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                      recipe=FAST).run())
        list(RetrainJob(project, ["damage"], image_encoder="img-enc",
                        text_encoder="txt-enc", recipe=FAST).run())
        with project.open_store() as store, store.transaction():
            # Its report as that release saved it, without the fields added since.
            (job, result), = store.conn.execute(
                "SELECT id, result FROM jobs WHERE kind = 'retrain'").fetchall()
            report = json.loads(result)
            for entry in report["tasks"].values():
                for name in NEWER_REPORT_FIELDS:
                    del entry[name]
            store.conn.execute("UPDATE jobs SET result = ? WHERE id = ?",
                               [json.dumps(report), job])
            store.ensure_source("field", "csv", "/field")
            items = {key: store.add_text_item(store.insert_post("field", key, text=text),
                                              "field", key)
                     for key, text in TEXTS.items()}
            store.add_labels([LabelChange(items["ar"], "informative", "informative"),
                              LabelChange(items["ru"], "informative", "informative")],
                             annotator="ana")
            store.add_labels([LabelChange(items["th"], "informative", "not_informative")],
                             annotator="ana")
            store.conn.execute(
                "INSERT INTO jobs (kind, params, state, done, total, problems,"
                " started_at) VALUES ('caption', '{}', 'running', 3, 10, 0, ?)",
                [LONG_AGO])
    return project, items


def journal(project: Project) -> list[tuple]:
    """Every row of the label journal, in order (read as it is: opening a store would
    upgrade an old project)."""
    with closing(sqlite3.connect(project.db_path)) as conn:
        return conn.execute("SELECT id, item, task, label, annotator, source FROM labels"
                            " ORDER BY id").fetchall()


def schema_of(project: Project) -> int:
    """The schema version the project's store is at (read as it is)."""
    with closing(sqlite3.connect(project.db_path)) as conn:
        return int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                                ).fetchone()[0])


def test_the_old_project_is_built_at_the_old_schema(tmp_path: Path) -> None:
    project, _ = old_project(tmp_path)
    assert schema_of(project) == OLD


def found(qtbot, window, query: str) -> set[int]:
    """The items the window's search lists for ``query``."""
    window.search.setText(query)
    window._search_now()
    qtbot.waitUntil(lambda: window.model.search == query and not window.background.busy())
    settle(qtbot, window)
    model = window.model
    rows = [model.data(model.index(r), ROW_ROLE) for r in range(model.rowCount())]
    assert None not in rows  # one page: all there
    return {row.id for row in rows}


def small_retrain(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retrain from the window trains the damage task on the test encoders, quickly."""
    real_init = RetrainJob.__init__

    def small(self, project, tasks=None, **kwargs):
        real_init(self, project, ["damage"], image_encoder="img-enc",
                  text_encoder="txt-enc", recipe=FAST)

    monkeypatch.setattr(retrain.RetrainJob, "__init__", small)


def visible(qtbot, window, kind: type):
    """The first shown window of ``kind`` that ``window`` owns, once there is one."""
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(kind)),
                    timeout=30_000)
    return next(d for d in window.findChildren(kind) if d.isVisible())


def test_a_day_on_the_old_project(qtbot, tmp_path: Path, monkeypatch) -> None:
    project, items = old_project(tmp_path)
    a_day(qtbot, tmp_path, monkeypatch, project, items)


def a_day(qtbot, tmp_path: Path, monkeypatch, project: Project, items: dict[str, int]
          ) -> None:
    """The analyst's day on the old ``project`` (``items``: those of ``TEXTS``)."""
    before = journal(project)
    project = Project.open(project.root)  # as the app opens it
    window = open_window(qtbot, project)
    assert journal(project) == before  # every label kept
    with project.open_store() as store:
        (state, error), = store.conn.execute(
            "SELECT state, error FROM jobs WHERE kind = 'caption'").fetchall()
    assert (state, error) == ("failed", INTERRUPTED)
    for query in ("мой", "Мои", "ма", "มา", "ม้า", "مبنى", "المدرسة"):
        expected = {item for key, item in items.items()
                    if fold(query) in fold(TEXTS[key])}
        assert found(qtbot, window, query) == expected, query

    # Label from the keys, undo the last.
    window.search.setText("")
    window._search_now()
    qtbot.waitUntil(lambda: window.model.search == "" and window.model.total > 90)
    window.items.setFocus()
    work_down(qtbot, window, Qt.Key.Key_1, 3)
    qtbot.keyClick(window.items, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    after = journal(project)
    assert after[:len(before)] == before and len(after) == len(before) + 4

    # Retrain with the small recipe; its report opens by itself.
    small_retrain(monkeypatch)
    jobs = window.actions_.jobs
    with qtbot.waitSignal(jobs.job_finished, timeout=120_000) as finished:
        window.actions_.retrain.trigger()
    assert finished.args == ["Retrain", "done"], jobs.rows[0].runner.details
    report = visible(qtbot, window, RetrainDialog)
    report.reject()
    settle(qtbot, window)

    history = window.actions_.open_history()
    qtbot.waitUntil(lambda: history.table.rowCount() >= 5 and history.refresh.isEnabled(),
                    timeout=20_000)
    outcomes = {line.what: line.outcome for line in history.lines}
    assert outcomes["Caption images"] == "interrupted"
    with project.open_store() as store:
        old_retrain = store.conn.execute(
            "SELECT MIN(id) FROM jobs WHERE kind = 'retrain'").fetchone()[0]
    history.table.selectRow(next(i for i, line in enumerate(history.lines)
                                 if line.job == old_retrain))
    history.open_report()
    qtbot.waitUntil(lambda: any(d.isVisible() and d.property("job") == old_retrain
                                for d in window.findChildren(RetrainDialog)),
                    timeout=20_000)
    old_report = next(d for d in window.findChildren(RetrainDialog)
                      if d.isVisible() and d.property("job") == old_retrain)
    assert "an earlier retrain" in old_report.made.text()
    assert old_report.pages["damage"].new_grid is not None  # its figures shown
    old_report.reject()
    history.reject()
    settle(qtbot, window)

    # Switch to the new version from its report opened again.
    window.actions_.last_retrain.trigger()
    report = visible(qtbot, window, RetrainDialog)
    page = report.pages["damage"]
    if not page.override.isHidden():
        page.override.setChecked(True)
    runner = report.apply()
    assert runner is not None
    qtbot.waitUntil(lambda: not runner.is_running(), timeout=60_000)
    assert runner.state == "done", runner.exception
    report.reject()
    settle(qtbot, window)

    # Export every item's labels, and read the file back.
    export = window.actions_.open_export()
    export.format.setCurrentIndex(export.format.findData("csv"))
    out = tmp_path / "labels.csv"
    export.out.setText(str(out))
    with qtbot.waitSignal(export.exported, timeout=30_000):
        export.export_button.click()
    with out.open(newline="", encoding="utf-8") as handle:
        rows = {row["item_id"]: row for row in csv.DictReader(handle)}
    with project.open_store() as store:
        uids = dict(store.conn.execute("SELECT id, uid FROM items"))
        for task in ("damage", "informative"):
            labelled = {uids[item]: label for item, label, _ in store.labelled_items(task)}
            assert {uid: row[task] for uid, row in rows.items() if row[task]} == labelled
    for key, text in TEXTS.items():
        assert rows[uids[items[key]]]["text"] == text
    export.close()
    settle(qtbot, window)

    # Closed and opened again: the same journal, the same search.
    kept = journal(project)
    window.close()
    again = open_window(qtbot, Project.open(project.root))
    assert journal(project) == kept
    assert found(qtbot, again, "мой") == {items["ru"]}
    settle(qtbot, again)


def upgrade_notes(window) -> list[str]:
    """The notes shown above ``window``'s list that say the project was upgraded."""
    from crisisdesk.gui.launch_notice import LaunchNotice

    return [n.label.text() for n in window.findChildren(LaunchNotice)
            if not n.isHidden() and "upgraded" in n.label.text()]


def test_the_app_says_once_that_it_upgraded_the_project(qtbot, tmp_path: Path) -> None:
    """An old project opened in the app was upgraded without a word: after that, the
    release that made it refuses it ("written by a newer crisisdesk"), and a colleague
    sharing the folder with that release could not tell why."""
    from crisisdesk.core.store.schema import SCHEMA_VERSION
    from crisisdesk.gui import app

    project, _ = old_project(tmp_path)
    app.make_application()
    shown = []
    for _ in range(2):  # the upgrade, then the next start
        opener = app.open_project_window(str(project.root), annotator="ana")
        qtbot.waitUntil(lambda o=opener: o.window is not None or o.failure is not None,
                        timeout=60_000)
        assert opener.failure is None
        qtbot.addWidget(opener.window)
        qtbot.waitUntil(lambda o=opener: o.window.actions_.preloaded is not None,
                        timeout=60_000)
        # Read once events have run: a widget put in a shown window's layout is shown by
        # a queued call (QLayout), and hidden till then (CI read it before: no note).
        shown.append(upgrade_notes(opener.window))
        opener.shutdown()
        opener.window.close()
    assert schema_of(project) == SCHEMA_VERSION
    (said,), again = shown
    assert again == []  # said once
    assert str(project.root) in said and "older" in said


def test_the_old_project_in_two_windows_at_once(qtbot, tmp_path: Path, monkeypatch
                                               ) -> None:
    from crisisdesk.core.store import schema
    from crisisdesk.gui import app

    project, items = old_project(tmp_path)
    before = journal(project)
    ran: list[str] = []

    def counted(migration):
        def run(db) -> None:
            ran.append(migration.__name__)
            migration(db)
        return run

    monkeypatch.setattr(schema, "MIGRATIONS", [counted(m) for m in schema.MIGRATIONS])
    app.make_application()
    openers = [app.open_project_window(str(project.root), annotator=name)
               for name in ("ana", "ben")]
    qtbot.waitUntil(lambda: all(o.window is not None or o.failure is not None
                                for o in openers), timeout=60_000)
    assert [o.failure for o in openers] == [None, None]
    first, second = (o.window for o in openers)
    for window in (first, second):
        qtbot.addWidget(window)
        qtbot.waitUntil(lambda w=window: w.detail.detail is not None and w.model.total > 0
                        and w.actions_.preloaded is not None, timeout=60_000)
    assert len(ran) == len(schema.MIGRATIONS) - OLD, ran  # each step once
    assert journal(project) == before
    # The window whose opening upgraded the project says so; the other does not.
    assert sorted(len(upgrade_notes(w)) for w in (first, second)) == [0, 1]
    first.items.setFocus()
    work_down(qtbot, first, Qt.Key.Key_1, 2)
    second.items.setFocus()
    work_down(qtbot, second, Qt.Key.Key_2, 2)
    qtbot.keyClick(second.items, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, second)
    after = journal(project)
    assert after[:len(before)] == before
    with closing(sqlite3.connect(project.db_path)) as conn:
        given = conn.execute("SELECT a.annotator, a.kind FROM labels l JOIN label_actions a"
                             " ON a.id = l.action WHERE l.id > ? ORDER BY l.id",
                             [before[-1][0]]).fetchall()
    assert given == [("ana", "set")] * 2 + [("ben", "set")] * 2 + [("ben", "undo")]
    # The first window shows the second's labels once refreshed (F5).
    with project.open_store() as store:
        now = {item: label for item, label, _ in store.labelled_items("damage")}
    first.refresh()
    settle(qtbot, first)
    model = first.model
    shown = [model.data(model.index(r), ROW_ROLE) for r in range(3)]
    assert [row.labels.get("damage") for row in shown] == [now.get(row.id) for row in shown]
    for opener in openers:
        opener.shutdown()
