"""Behaviours of session 18's new code in the app that no test held (found by planting
bugs in a copy, one at a time): the job history's look for jobs of other windows never
overtakes a Show older jobs on its way (the older lines were dropped), goes on looking
after a read failed, reads the lines again only for a change when older jobs are shown,
and its line under the list names the job it speaks of; the import dialog offers the
columns of a table after a CrisisMMD split, of a JSON Lines table and of a table whose
format was chosen; a missing model's name with an apostrophe is found."""

from __future__ import annotations

import threading
from pathlib import Path

from test_history_keys_s17 import _jobs
from test_history_keys_s17 import _opened as opened_history

from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs import job_history

#: Never within a test: the looks are asked for by the test.
NEVER_MS = 3_600_000


def _all_jobs(project: Project) -> list[int]:
    with project.open_store() as store:
        return [row["id"] for row in store.jobs_page()]


def test_a_look_that_finds_a_new_job_does_not_drop_show_older_on_its_way(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    monkeypatch.setattr(job_history, "POLL_MS", NEVER_MS)
    monkeypatch.setattr(job_history, "PAGE", 2)
    for _ in range(2):  # with the fixture's import: 5 jobs, the page of the older two
        _jobs(demo_like_project)  # past the jobs a reload of the lines shown reads
    wanted = _all_jobs(demo_like_project)[:4]
    dialog = opened_history(qtbot, demo_like_project, 2)
    drive_back = threading.Event()
    real = job_history.read_page

    def read(project, older_than, down_to=None):
        if older_than is None and down_to is None:
            drive_back.wait(30)  # the look's read, on a slow drive
        return real(project, older_than, down_to=down_to)

    monkeypatch.setattr(job_history, "read_page", read)
    try:
        dialog._look()  # a tick of the poll
        with demo_like_project.open_store() as store:  # meanwhile the CLI's job
            store.finish_job(store.start_job("export", {"format": "csv"}), "done")
        dialog.older.click()  # and the analyst asks for the older jobs
    finally:
        drive_back.set()
    qtbot.waitUntil(lambda: not dialog.background.busy() and dialog.refresh.isEnabled(),
                    timeout=20_000)
    shown = [line.job for line in dialog.lines]
    assert set(wanted) <= set(shown), f"older jobs asked for, not shown: {shown}"
    dialog.reject()


def test_the_history_looks_again_after_a_read_that_failed(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    # The drive was away at a Refresh; back again, the looks bring other programs' jobs.
    monkeypatch.setattr(job_history, "POLL_MS", NEVER_MS)
    dialog = opened_history(qtbot, demo_like_project, 1)
    real, reads = job_history.read_page, []

    def away(*args, **kwargs):
        raise OSError("disk I/O error")

    monkeypatch.setattr(job_history, "read_page", away)
    dialog.refresh.click()
    qtbot.waitUntil(lambda: "could not be read" in dialog.status.text(), timeout=20_000)

    def back(*args, **kwargs):
        reads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(job_history, "read_page", back)
    with demo_like_project.open_store() as store:
        other = store.start_job("export", {"format": "csv"})
        store.finish_job(other, "done")
    dialog._look()
    qtbot.waitUntil(lambda: any(line.job == other for line in dialog.lines),
                    timeout=20_000)
    dialog.reject()


def test_the_line_under_the_list_names_the_selected_job(
        qtbot, demo_like_project: Project) -> None:
    retrain, export = _jobs(demo_like_project)
    with demo_like_project.open_store() as store:
        bare = store.start_job("media-fetch", {})  # a record that names nothing it ran on
        store.finish_job(bare, "done")
    dialog = opened_history(qtbot, demo_like_project, 4)
    for row, line in enumerate(dialog.lines):
        dialog.table.selectRow(row)
        said = dialog.details.text()
        assert line.what in said and line.started in said, said
        if line.job == bare:
            assert not line.ran_on and "does not say what it ran on" in said, said
    dialog.table.clearSelection()
    assert "Select a job" in dialog.details.text()
    dialog.reject()


def test_a_look_with_older_jobs_shown_reads_the_lines_again_only_for_a_change(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    # More lines than a page (Show older jobs): each look compared the whole list with
    # one page and read every line again, every few seconds, for nothing.
    monkeypatch.setattr(job_history, "POLL_MS", NEVER_MS)
    monkeypatch.setattr(job_history, "PAGE", 2)
    _jobs(demo_like_project)  # with the fixture's import: 3 jobs
    dialog = opened_history(qtbot, demo_like_project, 2)
    dialog.older.click()
    qtbot.waitUntil(lambda: len(dialog.lines) == 3 and dialog.refresh.isEnabled(),
                    timeout=20_000)
    real, reads = job_history.read_page, []

    def counted(*args, **kwargs):
        reads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(job_history, "read_page", counted)
    dialog._look()
    # Busy until the look's answer is handled, and again if that asked for a read.
    qtbot.waitUntil(lambda: bool(reads) and not dialog.background.busy(), timeout=20_000)
    assert len(reads) == 1, f"{len(reads)} reads for a look that found nothing new"
    dialog.reject()


# ------------------------------------------------------ the import dialog's columns


def test_a_split_file_before_a_table_leaves_the_tables_columns_offered(
        qtbot, tmp_path: Path) -> None:
    # A CrisisMMD split has no columns to map: the first table after it is the one.
    from test_import_leftovers_gui_s18 import SPLIT

    from crisisdesk.gui.dialogs.import_dialog import ImportDialog

    split = tmp_path / "task_damage_text_img_dev.tsv"
    split.write_text(SPLIT, "utf-8")
    table = tmp_path / "sheet.csv"
    table.write_text("ident,words\n1,Bridge down\n", "utf-8")
    dialog = ImportDialog(Project.open(tmp_path / "p", create=True))
    qtbot.addWidget(dialog)
    dialog.add_source(split)
    assert not dialog.mapping_box.isVisibleTo(dialog)
    dialog.add_source(table)
    qtbot.waitUntil(lambda: dialog.columns["id"].count() == 3, timeout=5000)
    assert dialog.mapping_box.isVisibleTo(dialog)
    assert dialog.unpicked_required() == ["id", "text"]


def test_the_columns_of_a_json_lines_table_and_of_a_table_of_a_chosen_format(
        tmp_path: Path) -> None:
    from crisisdesk.gui.dialogs.import_columns import mappable_columns

    lines = tmp_path / "posts.jsonl"
    lines.write_text('{"ident": "1", "words": "Bridge down"}\n', "utf-8")
    assert mappable_columns(lines, "auto") == ["ident", "words"]
    # Named so the format is not told from it: the analyst chose CSV in the dialog.
    sheet = tmp_path / "posts.txt"
    sheet.write_text("ident,words\n1,Bridge down\n", "utf-8")
    assert mappable_columns(sheet, "csv") == ["ident", "words"]


# ------------------------------------------------------------------ a missing model


def test_a_missing_model_whose_name_holds_an_apostrophe_is_named() -> None:
    # Python's repr quotes such a name in double quotes: "model \"ana's clip\" is not
    # installed"; the row's Download and Choose local folder need the name.
    from types import SimpleNamespace

    from crisisdesk.core.models.registry import ModelMissing
    from crisisdesk.gui.missing_model import missing_model

    name = "ana's clip"
    failed = SimpleNamespace(exception=ModelMissing(f"model {name!r} is not installed"),
                             error=None)
    assert missing_model(failed) == name
