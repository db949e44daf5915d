"""Behaviours of session 18's new code that no test held (found by planting bugs in a
copy, one at a time): an upgrade's note is taken only from a store upgraded all the way
(the app's open finishes an upgrade another open left short; a command's note never
upgrades), waits a moment for another program's write, and survives a damaged meta row;
the last step line says "step n of n"; a listener set for one open is not heard by the
next; a terminal's last step line ends before the note. An Excel-cut id in a CrisisMMD
split advises what helps for a split file; an export filed again names the source to
give; ``train --threads`` wins over OMP_NUM_THREADS; each activation a BERT-family model
names gives its own numbers applied in place."""

from __future__ import annotations

import sqlite3
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest
from old_schema import as_schema
from test_cli_upgrade_note_s17 import OLD, old_project, schema_of
from test_review_followups_s18 import _Terminal
from test_train_threads_s18 import threads_seen, two_threads  # noqa: F401 - fixtures
from upgrade_clock import steps_said_at_once  # noqa: F401 - the fixture

from crisisdesk.cli import main
from crisisdesk.core import launch
from crisisdesk.core.project import Project
from crisisdesk.core.store import Store, schema
from crisisdesk.core.store.schema import SCHEMA_VERSION

# ------------------------------------------------- launch: taking an upgrade's note


def _left_short(tmp_path: Path, at: int) -> Path:
    """An old project whose upgrade another open left at schema ``at`` (short of this
    version): its mark of the upgrade written, the steps after ``at`` not run yet."""
    root = old_project(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        as_schema(patch, at)
        with Project.open(root).open_store():
            pass
    assert OLD < schema_of(root) == at < SCHEMA_VERSION
    return root


@pytest.mark.parametrize("at", [OLD + 2, SCHEMA_VERSION - 1], ids=["midway", "one-short"])
def test_the_apps_take_finishes_an_upgrade_left_short_and_says_it(
        tmp_path: Path, at: int) -> None:
    # Two windows at once: this one's open found the other's steps under way. The note
    # is said from where the project was, once the upgrade is whole.
    root = _left_short(tmp_path, at)
    assert launch.take_upgrade(Project(root)) == OLD
    assert schema_of(root) == SCHEMA_VERSION
    assert launch.take_upgrade(Project(root)) is None  # taken: said once


@pytest.mark.parametrize("at", [OLD + 2, SCHEMA_VERSION - 1], ids=["midway", "one-short"])
def test_a_commands_note_neither_upgrades_nor_takes_an_upgrade_left_short(
        tmp_path: Path, at: int) -> None:
    # upgrade_note runs after a command, refused or not: it must not upgrade the project
    # itself (a command refused for its arguments leaves it as it was), nor take the
    # mark of an upgrade not finished (the open that finishes it says it).
    root = _left_short(tmp_path, at)
    assert launch.upgrade_note(root) is None
    assert schema_of(root) == at
    assert launch.take_upgrade(Project(root)) == OLD  # the mark kept for that open


def test_taking_the_note_waits_a_moment_for_another_programs_write(tmp_path: Path) -> None:
    # A CLI import writing the project as the window opens: the note is taken once its
    # write ends, not lost to a busy store (then said by nobody until the next open).
    root = old_project(tmp_path)
    Store(root / "project.sqlite").close()  # upgraded; its note not said yet
    writer = sqlite3.connect(root / "project.sqlite", isolation_level=None,
                             check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    ender = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    ender.start()
    try:
        assert launch.take_upgrade(Project(root)) == OLD
    finally:
        ender.join()
        writer.close()


def test_a_damaged_schema_row_never_turns_the_note_into_a_traceback(
        tmp_path: Path) -> None:
    # upgrade_note runs in the `finally` of every command: an error there would replace
    # the command's own message with a traceback.
    root = old_project(tmp_path)
    Store(root / "project.sqlite").close()
    with closing(sqlite3.connect(root / "project.sqlite")) as conn, conn:
        conn.execute("UPDATE meta SET value = 'ten' WHERE key = 'schema_version'")
    assert launch.upgrade_note(root) is None


def test_the_last_step_is_said_as_step_n_of_n() -> None:
    # The listener hears (total, total) once the last step ends; a terminal keeps that
    # line on screen.
    assert "step 5 of 5" in launch.upgrading_words(5, 5)
    assert "step 1 of 5" in launch.upgrading_words(0, 5)


# ------------------------------------------------------ schema: the upgrade's listener


def test_a_listener_is_heard_only_within_its_block(tmp_path: Path) -> None:
    heard: list[int] = []
    with schema.upgrades_heard(lambda done, total: heard.append(done)):
        pass
    # A later open in the same thread (the window's, after the opening window's block).
    Store(old_project(tmp_path) / "project.sqlite").close()
    assert heard == []


# ------------------------------------------------------------ cli: a terminal's lines


def test_a_terminals_last_step_line_ends_before_the_note(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, steps_said_at_once: None) -> None:
    old = old_project(tmp_path)
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["info", str(old), "--json"]) == 0
    screen = [line.rsplit("\r", 1)[-1] for line in err.getvalue().split("\n")]
    steps = SCHEMA_VERSION - OLD
    assert any(line.endswith(f"step {steps} of {steps}...") for line in screen), screen
    notes = [line for line in screen if "made by an older version" in line]
    assert len(notes) == 1 and notes[0].startswith("crisisdesk: "), screen


# --------------------------------------------- importers: what a problem line advises


def test_an_excel_id_a_split_file_cannot_give_back_advises_for_split_files(
        tmp_path: Path) -> None:
    # The advice for a table ("import the plain CSV or the JSON Lines export instead")
    # is no help with a CrisisMMD split: there is no export to import instead.
    from import_helpers import run_import
    from test_crisismmd_excel_s18 import ROWS, _through_excel, _unicode_text

    from crisisdesk.core.importers.crisismmd import WHAT_TO_DO_SPLIT

    sheet = _unicode_text(tmp_path / "task_damage_text_img_dev.tsv",
                          _through_excel(ROWS[2:]))
    job = run_import(Project.open(tmp_path / "proj", create=True), [sheet])
    [error] = [p for p in job.report.problems if p.severity == "error"]
    assert WHAT_TO_DO_SPLIT in error.message, error.message


def test_an_export_filed_again_names_the_source_to_give(tmp_path: Path) -> None:
    from import_helpers import run_import
    from test_import_leftovers_s18 import _doubling_warnings, _exported

    project, out = _exported(tmp_path)
    [warning] = _doubling_warnings(run_import(project, [out]).report)
    assert "to add such a file to crisismmd's posts instead, give the source name " \
           "crisismmd" in warning, warning


# ------------------------------------------------- train: --threads and OMP_NUM_THREADS


@pytest.mark.usefixtures("two_threads")
def test_threads_option_wins_over_omp_num_threads(
        tmp_path: Path, threads_seen: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    # The analyst's OMP_NUM_THREADS (2, the process's count) and --threads 1: the option
    # is the later, narrower word.
    from test_train_threads_s18 import _train

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    _train(tmp_path, "--threads", "1")
    assert threads_seen and set(threads_seen) == {1}


# -------------------------------------------- bert: the activations applied in place


def test_each_in_place_activation_gives_the_numbers_of_its_own_activation() -> None:
    # A BERT-family model of another activation (gelu_new, the tanh GELU, relu) than
    # MiniLM's: its vectors must not change with the in-place forward.
    import torch

    from crisisdesk.core.encoders.bert import ACTIVATIONS, IN_PLACE_ACTIVATIONS

    assert set(IN_PLACE_ACTIVATIONS) == set(ACTIVATIONS)
    x = torch.linspace(-4, 4, 101)
    for name, act in ACTIVATIONS.items():
        assert torch.equal(IN_PLACE_ACTIVATIONS[name](x.clone()), act(x)), name
