"""Opening an old project: a long upgrade says so as it runs (each step heard, the CLI's
stderr says it before it finishes); a command checks its arguments before its open
upgrades the project; a command opens the store no more often than it needs; the demo's
upgrade is never said as if it were the analyst's data."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from old_schema import as_schema
from test_cli_upgrade_note_s17 import OLD, notes, old_project, schema_of
from upgrade_clock import steps_said_at_once  # noqa: F401 - the fixture

from crisisdesk.cli import main
from crisisdesk.core import launch
from crisisdesk.core.project import Project
from crisisdesk.core.store import Store, schema
from crisisdesk.core.store.db import StoreBase
from crisisdesk.core.store.schema import SCHEMA_VERSION


@pytest.fixture
def old(tmp_path: Path) -> Path:
    """An old-schema project (checked to be old, so no test passes on a new one)."""
    root = old_project(tmp_path)
    assert schema_of(root) == OLD < SCHEMA_VERSION
    return root


@pytest.fixture
def store_opens(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The store files opened from now on (each Store made), in order."""
    opened: list[Path] = []
    made = StoreBase.__init__

    def counted(self, path, *args, **kwargs) -> None:
        opened.append(Path(path))
        made(self, path, *args, **kwargs)

    monkeypatch.setattr(StoreBase, "__init__", counted)
    return opened


def test_each_step_of_an_upgrade_is_heard_as_it_starts(old: Path) -> None:
    heard: list[tuple[int, int, int]] = []

    def listener(done: int, total: int) -> None:
        heard.append((done, total, schema_of(old)))  # where the store is at that time

    with schema.upgrades_heard(listener):
        Store(old / "project.sqlite").close()
    steps = SCHEMA_VERSION - OLD
    # Before each step (the store still at the step before), then once at the end.
    assert heard == [(done, steps, OLD + done) for done in range(steps + 1)]
    with schema.upgrades_heard(listener):
        Store(old / "project.sqlite").close()  # nothing left to do: nothing heard
        Project.open(old.parent / "new", create=True)  # a new store is no upgrade
    assert len(heard) == steps + 1


def test_an_upgrade_is_heard_only_where_the_listener_was_set(old: Path) -> None:
    # Two windows each hear their own open's upgrade: the listener holds for the
    # thread (context) that set it, not for another thread's open meanwhile.
    heard: list[int] = []
    with schema.upgrades_heard(lambda done, total: heard.append(done)):
        opening = threading.Thread(target=lambda: Store(old / "project.sqlite").close())
        opening.start()
        opening.join()
    assert schema_of(old) == SCHEMA_VERSION and heard == []


def test_a_command_says_on_stderr_that_it_is_upgrading_before_it_is_done(
        old: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
        steps_said_at_once: None) -> None:
    # A long upgrade (one past the moment at once: the steps of a quick one are not said).
    said_during: list[str] = []
    last = schema.MIGRATIONS[-1]

    def last_step(db) -> None:
        said_during.append(capsys.readouterr().err)  # what stderr held mid-upgrade
        last(db)

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS[:-1], last_step])
    assert main(["info", str(old), "--json"]) == 0
    (during,) = said_during
    assert "upgrading" in during.lower() and str(old) in during
    assert f"of {SCHEMA_VERSION - OLD}" in during  # which step of how many
    assert notes(during) == 0  # the note that it is done comes once it is
    assert notes(capsys.readouterr().err) == 1


@pytest.mark.parametrize("argv", [
    ["export", "{p}", "{out}.jsonl", "--for-spreadsheet"],
    ["history", "{p}", "--since", "last tuesday"],
    ["media", "relink", "{p}", "/old/pictures", "{out}-no-such-folder"],
], ids=lambda argv: "-".join(a for a in argv[:2] if not a.startswith("{")))
def test_a_command_with_a_wrong_argument_leaves_an_old_project_as_it_was(
        old: Path, tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str]) -> None:
    # Refused for its arguments, the command did nothing: the project must not have been
    # upgraded meanwhile (the release that made it would then refuse it, for nothing).
    args = [a.format(p=old, out=tmp_path / "out") for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "error" in err and notes(err) == 0
    assert schema_of(old) == OLD


@pytest.mark.parametrize("current", [False, True], ids=["old", "current"])
def test_a_command_opens_its_store_once(old: Path, store_opens: list[Path],
                                        capsys: pytest.CaptureFixture, current: bool) -> None:
    if current:
        Store(old / "project.sqlite").close()
        launch.take_upgrade(Project(old))
        store_opens.clear()
    assert main(["info", str(old), "--json"]) == 0
    assert notes(capsys.readouterr().err) == (0 if current else 1)
    assert store_opens == [old / "project.sqlite"]


def old_demo(data: Path) -> Path:
    """A demo project as an older release built it (a few posts, marked built)."""
    from crisisdesk.core.demo import BUILT_KEY, demo_root

    root = demo_root(data)
    root.parent.mkdir(parents=True)
    with pytest.MonkeyPatch.context() as patch:
        as_schema(patch, OLD)
        project = Project.open(root, create=True)
        with project.open_store() as store:
            store.ensure_source("crisismmd", "csv", "/demo")
            store.add_text_item(store.insert_post("crisismmd", "1", text="Flood"),
                                "crisismmd", "1")
            store.set_meta(BUILT_KEY, "2024-01-01T00:00:00+00:00")
    assert schema_of(root) == OLD
    return root


def test_the_demo_upgraded_for_a_new_version_is_never_said_upgraded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # The app opens the demo when there is no last project, as it finds it (built by an
    # older release): that the demo was upgraded is nothing the analyst must act on, and
    # "every label is kept ... whoever shares this folder" would read as their data.
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    demo = old_demo(tmp_path / "data")
    chosen = launch.choose(None, data_dir=tmp_path / "data")
    assert chosen.root == demo
    project = Project.open(chosen.root)
    assert launch.take_upgrade(project) is None  # as the app's opening takes it
    assert schema_of(demo) == SCHEMA_VERSION
    assert main(["info", str(demo)]) == 0  # nor said later by a command
    assert notes(capsys.readouterr().err) == 0


def test_the_demo_named_to_a_command_is_not_said_upgraded(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    demo = old_demo(tmp_path / "data")
    assert main(["info", str(demo)]) == 0
    assert notes(capsys.readouterr().err) == 0
    assert schema_of(demo) == SCHEMA_VERSION
