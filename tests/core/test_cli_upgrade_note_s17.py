"""A command on a project an older crisisdesk wrote says, once and on stderr, that it
upgraded it (as the app's window does): after the upgrade the release that made it
refuses it, and whoever shares the folder with that release must know why."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from old_schema import as_schema

from crisisdesk.cli import main
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange
from crisisdesk.core.store.schema import SCHEMA_VERSION

#: The old release's schema (as in the app's old-project day).
OLD = 10


def old_project(tmp_path: Path) -> Path:
    """A project as the release at schema ``OLD`` left it: two text posts, one labelled."""
    root = tmp_path / "old"
    with pytest.MonkeyPatch.context() as patch:
        as_schema(patch, OLD)
        project = Project.open(root, create=True)
        with project.open_store() as store, store.transaction():
            store.ensure_source("field", "csv", "/field")
            items = [store.add_text_item(store.insert_post("field", key, text=text),
                                         "field", key)
                     for key, text in (("p1", "Bridge down"), ("p2", "Shelter open"))]
            store.add_labels([LabelChange(items[0], "informative", "informative")],
                             annotator="ana")
    return root


def schema_of(root: Path) -> int:
    """The schema the project's store is at, read without opening (upgrading) it."""
    with closing(sqlite3.connect(root / "project.sqlite")) as conn:
        return int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'")
                   .fetchone()[0])


@pytest.fixture
def old(tmp_path: Path) -> Path:
    """An old-schema project (checked to be old, so no test passes on a new one)."""
    root = old_project(tmp_path)
    assert schema_of(root) == OLD < SCHEMA_VERSION
    return root


def notes(text: str) -> int:
    """How many upgrade notes ``text`` holds."""
    return text.count("made by an older version of crisisdesk")


@pytest.mark.parametrize("argv", [
    ["info", "{p}"],
    ["info", "{p}", "--json"],
    ["export", "{p}", "{out}"],
    ["schemes", "list", "{p}"],
    ["history", "{p}", "--json"],
], ids=lambda argv: "-".join(a for a in argv if not a.startswith("{")))
def test_a_command_that_upgrades_an_old_project_says_so_once_on_stderr(
        old: Path, tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str]) -> None:
    args = [a.format(p=old, out=tmp_path / "labels.csv") for a in argv]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert schema_of(old) == SCHEMA_VERSION  # the command did upgrade it
    assert notes(err) == 1 and notes(out) == 0
    assert str(old) in err and f"schema {OLD} to {SCHEMA_VERSION}" in err
    if "--json" in args:
        # stdout stays clean JSON (history's: JSON Lines, a change a line)
        lines = out.splitlines() if args[0] == "history" else [out]
        assert [json.loads(line) for line in lines]
    # The next command finds it upgraded already: nothing more to say.
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert notes(err) == 0 and notes(out) == 0


def test_a_current_project_and_a_new_one_get_no_note(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "posts.csv"
    source.write_text("id,text\np1,Bridge down\n", encoding="utf-8")
    root = tmp_path / "new"
    assert main(["import", str(root), str(source)]) == 0
    assert main(["info", str(root), "--json"]) == 0
    out, err = capsys.readouterr()
    assert notes(err) == 0 and notes(out) == 0


def test_an_old_project_imported_into_says_so(
        old: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "posts.csv"
    source.write_text("id,text\nn1,Road closed\n", encoding="utf-8")
    assert main(["import", str(old), str(source)]) == 0
    assert notes(capsys.readouterr().err) == 1
    assert schema_of(old) == SCHEMA_VERSION


def test_checking_a_project_for_an_upgrade_does_not_load_torch(
        old: Path, tmp_path: Path) -> None:
    # The check imports the app's launch module, which once imported the demo builder
    # and with it torch: seconds added to every `crisisdesk info`.
    script = ("import sys; from crisisdesk.cli import main; "
              f"code = main(['info', {str(old)!r}, '--json']); "
              "print(code, 'torch' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True,
                          text=True, timeout=120)
    assert notes(done.stderr) == 1
    assert done.stderr.splitlines()[-1] == "0 False"



def test_open_leaves_the_upgrade_and_its_note_to_the_app(old: Path, monkeypatch) -> None:
    # The app upgrades in its background look-up (after the first paint) and its window
    # says so; a desktop launch shows no stderr, so the CLI must not upgrade it first.
    import crisisdesk.cli as cli

    opened: list[str | None] = []
    monkeypatch.setattr(cli, "open_app", lambda project: opened.append(project) or 0)
    assert main(["open", str(old)]) == 0
    assert opened == [str(old)]
    assert schema_of(old) == OLD  # left for the app's open


def test_an_upgrade_run_in_turns_by_two_opens_is_said_once(old: Path) -> None:
    # Two windows opening an old project at once each ran some of its steps (the second
    # waiting for the lock between the first's): neither open had upgraded it all, and
    # neither window said it (1 run in 9 of the app's two-window test).
    from crisisdesk.core import launch

    with pytest.MonkeyPatch.context() as patch:
        as_schema(patch, OLD + 2)
        with Project.open(old).open_store():
            pass  # the first open's steps, up to OLD + 2
    assert schema_of(old) == OLD + 2
    project = Project.open(old)
    with project.open_store():
        pass  # the second's: the rest
    assert schema_of(old) == SCHEMA_VERSION
    assert launch.take_upgrade(project) == OLD  # said from where the project was
    assert launch.take_upgrade(project) is None  # and once
    assert launch.upgrade_note(old) is None
