"""Every command that takes a PROJECT says in one line why it cannot open one (a folder
that is not there, a file in its place) and ends with the usage exit code, without a
traceback: the one promise each command's own "open the project" code used to repeat."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from crisisdesk.cli import USAGE, build_parser, main


def _argv(command: str, project: Path, tmp_path: Path) -> list[str]:
    """The shortest valid command line of ``command`` on ``project``: every argument it
    needs besides the project, good enough that the project is what it stops at."""
    scheme = tmp_path / "scheme.json"
    scheme.write_text(json.dumps({"task": "smoke", "classes": ["yes", "no"]}),
                      encoding="utf-8")
    vectors = tmp_path / "vectors.npz"
    vectors.write_bytes(b"")
    p = str(project)
    return {
        "info": ["info", p],
        "label": ["label", p, "123_0", "--task", "damage", "--label", "severe_damage"],
        "undo": ["undo", p],
        "redo": ["redo", p],
        "export": ["export", p, str(tmp_path / "out.csv")],
        "embeddings import": ["embeddings", "import", p, str(vectors), "--encoder", "e",
                              "--kind", "image"],
        "embed": ["embed", p],
        "schemes list": ["schemes", "list", p],
        "schemes add": ["schemes", "add", p, str(scheme)],
        "caption": ["caption", p],
        "train": ["train", p, "--task", "damage"],
        "eval": ["eval", p, "--task", "damage"],
        "versions": ["versions", p],
        "predict": ["predict", p],
        "media fetch": ["media", "fetch", p],
        "media relink": ["media", "relink", p, str(tmp_path / "old"), str(tmp_path)],
        "explain": ["explain", p, "123_0", "--task", "damage"],
        "history": ["history", p, "123_0"],
    }[command]


#: The commands that open an existing project (``import`` makes one: see below; ``open``
#: starts the app).
OPENING = ["info", "label", "undo", "redo", "export", "embeddings import", "embed",
           "schemes list", "schemes add", "caption", "train", "eval", "versions",
           "predict", "media fetch", "media relink", "explain", "history"]


def _commands_taking_a_project() -> set[str]:
    """Every (sub)command of the parser with a positional ``project``."""
    found: set[str] = set()

    def walk(parser: argparse.ArgumentParser, name: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    walk(sub, (*name, sub_name))
            elif action.dest == "project" and not action.option_strings and name:
                found.add(" ".join(name))

    walk(build_parser(), ())
    return found


def test_the_list_below_holds_every_command_that_takes_a_project() -> None:
    """A new command is checked here too, or this says it is missing."""
    assert _commands_taking_a_project() == {*OPENING, "import", "open"}


def _one_line_naming(err: str, where: Path) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("crisisdesk: error: ") and str(where) in lines[0], err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", OPENING)
def test_a_missing_project_folder_is_one_line_naming_it(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gone = tmp_path / "no-such-project"
    assert main(_argv(command, gone, tmp_path)) == USAGE
    _one_line_naming(capsys.readouterr().err, gone)
    assert not gone.exists()  # looked at, never made


def test_import_into_a_file_is_one_line_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``import`` makes a missing project, so its refusal is a file in the folder's way."""
    in_the_way = tmp_path / "harvey"
    in_the_way.write_text("not a folder", encoding="utf-8")
    source = tmp_path / "posts.csv"
    source.write_text("id,text\n1,hello\n", encoding="utf-8")
    assert main(["import", str(in_the_way), str(source)]) == USAGE
    _one_line_naming(capsys.readouterr().err, in_the_way)
    assert in_the_way.read_text(encoding="utf-8") == "not a folder"
