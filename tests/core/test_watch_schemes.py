"""A watch and the project's own tasks: a task added (``schemes add``, another process)
while a watch runs is used from the next poll, for JSONL lines and for CSV files."""

from __future__ import annotations

import json

from test_watch import poll

from crisisdesk.core.importers import WatchJob, WatchOptions
from crisisdesk.core.schemes import scheme_from_json

SEVERITY = {"task": "severity", "classes": ["low", "medium", "high_risk"],
            "merges": {"very bad": "high_risk"}}


def _add_severity(proj) -> None:
    """Add the task from another connection, as ``crisisdesk schemes add`` would."""
    with proj.open_store() as store:
        store.add_scheme(scheme_from_json(SEVERITY, "severity.json"))


def _severity_labels(proj) -> list[tuple[str, str]]:
    with proj.open_store() as store:
        return sorted(tuple(row) for row in store.conn.execute(
            "SELECT p.post_id, l.label FROM labels l JOIN items i ON i.id = l.item"
            " JOIN posts p ON p.id = i.post WHERE l.task = 'severity'").fetchall())


def _line(post_id: str, severity: str) -> str:
    return json.dumps({"id": post_id, "text": f"post {post_id}",
                       "severity": severity}) + "\n"


def test_a_task_added_while_watching_jsonl_is_used_from_the_next_poll(proj, tmp_path):
    folder = tmp_path / "feed"
    folder.mkdir()
    stream = folder / "posts.jsonl"
    stream.write_text(_line("a1", "low"))
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01, settle=60))
    run = job.run()
    try:
        poll(run)  # the task is not there yet: the line's label is not taken
        _add_severity(proj)
        with stream.open("a") as handle:
            handle.write(_line("a2", "very bad"))
        poll(run, 2)
    finally:
        run.close()
    assert _severity_labels(proj) == [("a2", "high_risk")]


def test_a_task_added_while_watching_csv_is_used_from_the_next_poll(proj, tmp_path):
    folder = tmp_path / "feed"
    folder.mkdir()
    table = folder / "posts.csv"
    table.write_text("id,text\nc1,first post\n")
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01, settle=60))
    run = job.run()
    try:
        poll(run, 3)  # read whole once stable: the writer now exists
        _add_severity(proj)
        table.write_text("id,text,severity\nc1,first post,\nc2,second post,medium\n")
        poll(run, 3)
    finally:
        run.close()
    assert _severity_labels(proj) == [("c2", "medium")]


def _export_line(post_id: str, task: str, label: str) -> str:
    """A line as ``crisisdesk export --format jsonl`` writes it: labels under "tasks"."""
    return json.dumps({"source": "other", "post_id": post_id, "text": f"post {post_id}",
                       "tasks": {task: {"label": label, "label_source": "human",
                                        "annotator": "ana", "split": None}}}) + "\n"


def test_a_watched_crisisdesk_jsonl_export_brings_its_labels(proj, tmp_path):
    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "export.jsonl").write_text(_export_line("e1", "informative", "informative"))
    _add_severity(proj)
    with (folder / "export.jsonl").open("a") as handle:
        handle.write(_export_line("e2", "severity", "very bad"))
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01, settle=60))
    run = job.run()
    try:
        poll(run)
    finally:
        run.close()
    assert _severity_labels(proj) == [("e2", "high_risk")]
    with proj.open_store() as store:
        assert [tuple(r) for r in store.conn.execute(
            "SELECT label, source, annotator FROM labels WHERE task = 'informative'")] == \
            [("informative", "human", "ana")]


def test_a_watched_export_of_a_task_the_project_lacks_is_reported_once(proj, tmp_path):
    folder = tmp_path / "feed"
    folder.mkdir()
    stream = folder / "export.jsonl"
    stream.write_text(_export_line("e1", "severity", "low"))
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01, settle=60))
    run = job.run()
    try:
        poll(run)
        with stream.open("a") as handle:
            handle.write(_export_line("e2", "severity", "high_risk"))
        poll(run, 2)
    finally:
        run.close()
    lacking = [p for p in job.report.problems if "'severity'" in p.message]
    assert len(lacking) == 1
    assert lacking[0].where.file == str(stream)
    assert "schemes add" in lacking[0].message


def test_a_csv_read_again_does_not_repeat_the_problems_of_its_old_rows(proj, tmp_path):
    folder = tmp_path / "feed"
    folder.mkdir()
    table = folder / "posts.csv"
    table.write_text("id,text,created_at,informative\nc1,first,yesterday,bogus\n,no id,,\n")
    job = WatchJob(proj, folder, watch=WatchOptions(interval=0.01, settle=60))
    run = job.run()
    try:
        poll(run, 3)
        first = [str(p) for p in job.report.problems]
        table.write_text("id,text,created_at,informative\nc1,first,yesterday,bogus\n"
                         ",no id,,\nc2,second,soon,\n")
        poll(run, 3)
    finally:
        run.close()
    assert len(first) == 3  # the unreadable time, the unknown class, the empty id
    later = [str(p) for p in job.report.problems][len(first):]
    assert len(later) == 1 and "'soon'" in later[0]  # only the new row's problem
    with proj.open_store() as store:
        assert store.find_post("feed", "c2") is not None
