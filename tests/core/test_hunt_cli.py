"""CLI hunt: the command line as an analyst drives it, on paths and options that went wrong.

Commands run in-process through ``crisisdesk.cli.main`` (output via capsys).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from spoiled_stores import spoil_newer_schema, spoil_random, spoil_zero_bytes

from crisisdesk.cli import main

CSV_TEXT = (
    "id,text,informative\n"
    "p1,Bridge on Main St collapsed,informative\n"
    "p2,Thoughts and prayers,not informative\n"
)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A CSV of two labelled text-only posts."""
    path = tmp_path / "posts.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, source: Path, capsys: pytest.CaptureFixture) -> Path:
    """A project holding the small CSV, imported through the CLI."""
    path = tmp_path / "proj"
    assert main(["import", str(path), str(source)]) == 0
    capsys.readouterr()
    return path


def test_import_into_a_project_folder_that_cannot_be_made_says_why(
        tmp_path: Path, source: Path, capsys: pytest.CaptureFixture) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    target = blocker / "sub" / "proj"  # a folder under a file: mkdir fails
    assert main(["import", str(target), str(source)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("crisisdesk: error: ") and str(target) in err
    assert "Traceback" not in err


def test_export_through_a_symlink_writes_the_file_it_points_to(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    real = tmp_path / "shared" / "labels.csv"
    real.parent.mkdir()
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "labels.csv"
    link.symlink_to(real)
    assert main(["export", str(project), str(link)]) == 0
    assert link.is_symlink(), "the export replaced the link with a file of its own"
    assert "Bridge on Main St collapsed" in real.read_text(encoding="utf-8")


def test_export_onto_a_pipe_or_device_is_refused_and_left_alone(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main(["export", str(project), str(fifo)]) == 2
    err = capsys.readouterr().err
    assert f"cannot export to {fifo}" in err and "not a plain file" in err
    assert fifo.is_fifo(), "the export replaced the pipe with a file"


def test_ctrl_c_before_a_job_starts_ends_with_130_and_a_line_not_a_traceback(
        project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    import crisisdesk.core.encoders.factory as factory

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while torch and the model load (seconds)

    monkeypatch.setattr(factory, "load_encoder", interrupted)
    assert main(["embed", str(project), "--encoder", "minilm", "--kind", "text"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err


@pytest.mark.parametrize("option", ["--epochs", "--batch-size", "--patience"])
@pytest.mark.parametrize("value", ["0", "-3"])
def test_train_count_below_one_names_the_option_given(
        project: Path, option: str, value: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["train", str(project), "--task", "informative", "--text-encoder", "minilm",
              option, value])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: must be at least 1, not {value}" in err


@pytest.mark.parametrize("command", [["train", "--task", "informative", "--epochs"],
                                     ["embed", "--batch-size"]])
def test_a_count_that_is_no_number_is_said_plainly(
        project: Path, command: list[str], capsys: pytest.CaptureFixture) -> None:
    name, *options = command
    with pytest.raises(SystemExit) as stopped:
        main([name, str(project), *options, "abc"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {options[-1]}: must be a whole number, not 'abc'" in err
    assert "_positive" not in err


def test_open_without_a_display_says_so_instead_of_starting_qt(
        project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    """Over SSH Qt aborts the process (core dump, status 134) with "Reinstalling the
    application may fix this problem": the command says what is wrong before that."""
    import sys

    import crisisdesk.gui.app

    started: list = []
    monkeypatch.setattr(crisisdesk.gui.app, "main", lambda arg: started.append(arg) or 0)
    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert main(["open", str(project)]) == 2
    assert started == []
    err = capsys.readouterr().err
    assert "no display" in err and "QT_QPA_PLATFORM" in err


@pytest.mark.parametrize("blank", ["", "  "])
def test_label_with_a_blank_annotator_is_refused_and_writes_nothing(
        project: Path, blank: str, capsys: pytest.CaptureFixture) -> None:
    from crisisdesk.core.project import Project

    with pytest.raises(SystemExit) as stopped:
        main(["label", str(project), "p1_0", "--task", "informative",
              "--label", "not_informative", "--annotator", blank])
    assert stopped.value.code == 2
    assert "argument --annotator: " in capsys.readouterr().err
    with Project.open(project).open_store() as store:
        label = store.current_label(store.resolve_item("p1_0").id, "informative")
    assert (label.label, label.source) == ("informative", "import")


@pytest.mark.parametrize(("spoil", "reason"), [
    (spoil_random, "its project.sqlite is damaged or is not a SQLite database"),
    (spoil_newer_schema, "this project was written by a newer crisisdesk (schema 999"),
])
@pytest.mark.parametrize("command", [["info", "PROJECT"], ["export", "PROJECT", "OUT"],
                                     ["predict", "PROJECT"], ["schemes", "list", "PROJECT"]])
def test_a_project_whose_store_cannot_be_opened_is_said_not_a_traceback(
        project: Path, tmp_path: Path, spoil, reason: str, command: list[str],
        capsys: pytest.CaptureFixture) -> None:
    spoil(project / "project.sqlite")
    given = {"PROJECT": str(project), "OUT": str(tmp_path / "out.csv")}
    assert main([given.get(word, word) for word in command]) == 2
    err = capsys.readouterr().err
    assert f"crisisdesk: error: {project} could not be opened: {reason}" in err


@pytest.mark.parametrize("command", [["info", "PROJECT"], ["import", "PROJECT", "SOURCE"],
                                     ["label", "PROJECT", "1", "--task", "informative",
                                      "--label", "informative"]])
def test_an_empty_project_store_is_refused_not_made_a_new_project(
        project: Path, source: Path, command: list[str],
        capsys: pytest.CaptureFixture) -> None:
    """A project.sqlite cut to 0 bytes (a full disk, a failed copy) was quietly given a
    new schema by any command: the project carried on empty, unsaid. The app refused it;
    the CLI now says so too and leaves the file as it is."""
    db = project / "project.sqlite"
    spoil_zero_bytes(db)
    args = [str(project) if a == "PROJECT" else str(source) if a == "SOURCE" else a
            for a in command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "project.sqlite is empty (0 bytes)" in err
    assert db.stat().st_size == 0


def test_a_crisismmd_export_of_several_tasks_onto_a_file_says_give_a_folder(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Several tasks go out as one file per task into a folder: an existing file given
    as OUT gave '[Errno 17] File exists'."""
    out = tmp_path / "labels.tsv"
    out.write_text("keep me", encoding="utf-8")
    assert main(["export", str(project), str(out), "--format", "crisismmd"]) == 2
    err = capsys.readouterr().err
    assert "writes one file per task into a folder" in err and "--task" in err
    assert out.read_text(encoding="utf-8") == "keep me"


def test_a_runtime_error_not_from_the_store_is_not_blamed_on_the_project(
        project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
        ) -> None:
    """Any RuntimeError (torch's out of memory, a size mismatch) sent the CLI to ask what
    was wrong with the project, and a project that could not be opened for writing got
    the blame: the real error was lost."""
    from crisisdesk import cli
    from crisisdesk.core import launch

    def boom(args):
        raise RuntimeError("CUDA out of memory (torch)")

    monkeypatch.setattr(cli, "cmd_info", boom)
    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_info(parser(), boom))
    monkeypatch.setattr(launch, "open_checked", lambda path: (_ for _ in ()).throw(
        launch.ProjectNotOpened("the project folder is read-only")))
    with pytest.raises(RuntimeError, match="CUDA out of memory"):
        main(["info", str(project)])
    assert "read-only" not in capsys.readouterr().err


def _with_info(parser, func):
    """``parser`` with its info command running ``func``."""
    for action in parser._subparsers._group_actions:
        action.choices["info"].set_defaults(func=func)
    return parser
