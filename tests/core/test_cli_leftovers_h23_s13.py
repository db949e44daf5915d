"""Command-line leftovers: an upgrade that failed once and then succeeded is one line,
not a traceback; a predict stopped by Ctrl-C says it was cancelled and which tasks it
did not reach; an embed re-run with nothing to encode never loads the model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlite_utils
from old_schema import as_schema
from test_training_job import FAST, _project  # tests/core/ is on sys.path (pytest)
from tiny_clip import make_tiny_clip

from crisisdesk import cli_progress
from crisisdesk.cli import PROBLEMS, USAGE, main
from crisisdesk.core.encoders import factory
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.store import schema

#: The schema the "older" project below was written at.
OLD = 10


def _sqlite_error(db: sqlite_utils.Database) -> None:
    db.execute("SELECT * FROM no_such_table")  # a SQLite error (an I/O hiccup, say)


def _our_error(db: sqlite_utils.Database) -> None:
    raise ValueError("boom")


@pytest.mark.parametrize("failure", [_sqlite_error, _our_error])
def test_an_upgrade_that_fails_once_then_opens_is_one_line(
        failure: Callable[[sqlite_utils.Database], None], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The command's upgrade fails, the check that follows (open_checked) upgrades the
    project well (the cause was passing): one line, never a traceback."""
    with monkeypatch.context() as patch:
        as_schema(patch, OLD)
        project = Project.open(tmp_path / "harvey", create=True)
        project.open_store().close()
    real = schema.MIGRATIONS[OLD]
    failed: list[bool] = []

    def once(db: sqlite_utils.Database) -> None:
        real(db)
        if not failed:
            failed.append(True)
            failure(db)

    once.__name__ = real.__name__
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS[:OLD], once,
                                               *schema.MIGRATIONS[OLD + 1:]])
    assert main(["info", str(project.root)]) == USAGE
    err = capsys.readouterr().err
    assert failed and "Traceback" not in err
    # Besides the line saying the upgrade as it began (test_opening_upgrades_s18):
    lines = [line for line in err.strip().splitlines()
             if not line.startswith("crisisdesk: upgrading ")]
    assert len(lines) == 1 and lines[0].startswith("crisisdesk: error: "), err
    assert str(project.root) in err and "again" in err
    # It did open in the end: the same command now works.
    assert main(["info", str(project.root)]) == 0


class _StopAt:
    """A progress view that raises KeyboardInterrupt (Ctrl-C) at the first progress whose
    message holds ``text``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def update(self, progress: Progress) -> None:
        if self.text in progress.message:
            raise KeyboardInterrupt

    def close(self, finished: bool) -> None:
        pass


def test_predict_stopped_by_ctrl_c_says_cancelled_and_names_the_tasks_not_reached(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, n=30)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    with project.open_store() as store:
        tasks = list(store.schemes())
    assert "damage" in tasks and len(tasks) > 1
    monkeypatch.setattr(cli_progress, "progress_view",
                        lambda stream, unit: _StopAt("damage: finding the items"))
    assert main(["predict", str(project.root)]) == PROBLEMS
    out = capsys.readouterr().out
    assert "cancelled" in out.lower(), out
    (line,) = [line for line in out.splitlines() if "not reached" in line.lower()]
    for task in tasks:
        assert task in line, out  # each task stood after the one planning was stopped in


def test_predict_stopped_while_predicting_names_only_the_tasks_it_did_not_reach(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Stopped in its last task, every task was reached: cancelled, and none named as
    not reached (those without a model are said as before)."""
    project = _project(tmp_path, n=30)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    monkeypatch.setattr(cli_progress, "progress_view",
                        lambda stream, unit: _StopAt("damage: 30 predicted"))
    assert main(["predict", str(project.root)]) == PROBLEMS
    out = capsys.readouterr().out
    assert "cancelled" in out.lower() and "not reached" not in out.lower(), out
    assert "damage: 30 items predicted" in out


def test_an_embed_with_nothing_to_encode_never_loads_the_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A second run, each text embedded by the first: the model is found (a missing
    one is still said) but never loaded."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    tiny = make_tiny_clip(tmp_path / "models")
    assert main(["models", "add", "tiny", str(tiny["folder"])]) == 0
    src = tmp_path / "posts.csv"
    src.write_text("id,text\n1,road closed\n2,bridge down\n", encoding="utf-8")
    assert main(["import", str(tmp_path / "p"), str(src)]) == 0
    project = Project.open(tmp_path / "p")
    assert main(["embed", str(project.root), "--encoder", "tiny", "--kind", "text",
                 "--device", "cpu"]) == 0

    def no_loading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded with nothing to encode")

    monkeypatch.setattr(factory, "load_encoder", no_loading)
    capsys.readouterr()
    assert main(["embed", str(project.root), "--encoder", "tiny", "--kind", "text",
                 "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert "nothing to encode" in captured.out + captured.err
    assert "Traceback" not in captured.err
