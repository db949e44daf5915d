"""Behaviours of the label schemes, the failed-upgrade words and the demo that no test
held (found by planting bugs in a copy): a class added at the end of a project's own
scheme before any label; task names that are not lower-case letters, digits and _ refused;
a description that is not text refused; every built-in class shown in plain words; the
failed migration named; a demo whose build was stopped not taken for built; demo files an
upgrade changed in any way copied again; another start's fresh copy not taken for stale;
the demo build's progress within each step."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_upgrade_fails_s13 import OLD, fail_at, no_such_table, old_project, refused_at_launch

from crisisdesk.cli import main
from crisisdesk.core import demo
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.schemes import SchemeError, builtin_schemes, display_name, scheme_from_json
from crisisdesk.core.store import schema


def test_a_class_added_at_the_end_of_a_projects_own_scheme_is_taken_before_labels(
        project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The analyst's first draft of a task missed a class: the file, with it added at
    # the end, is added again (nothing is labelled yet), not refused with a traceback.
    path = tmp_path / "risk.json"
    path.write_text(json.dumps({"task": "risk", "classes": ["high", "low"]}), "utf-8")
    assert main(["schemes", "add", str(project.root), str(path)]) == 0
    path.write_text(json.dumps({"task": "risk", "classes": ["high", "low", "none"]}),
                    "utf-8")
    assert main(["schemes", "add", str(project.root), str(path)]) == 0, \
        capsys.readouterr().err
    with project.open_store() as store:
        assert store.schemes()["risk"].classes == ("high", "low", "none")


@pytest.mark.parametrize("task", ["risk level", "risk-level", "riskLevel", "risk\n"])
def test_a_task_name_that_is_not_all_lower_case_letters_digits_and_underscores_is_refused(
        task: str) -> None:
    # It names a column (label_<task>), files and a command-line option: "risk level"
    # would be a column no spreadsheet import finds again.
    with pytest.raises(SchemeError, match="key 'task'.*is not a task name"):
        scheme_from_json({"task": task, "classes": ["high", "low"]}, "risk.json")


def test_a_scheme_description_that_is_not_text_is_refused_naming_the_key() -> None:
    # A description written as a list of lines: said at "schemes add", not a failure
    # later where the app shows the task's description.
    with pytest.raises(SchemeError, match="risk.json: key 'description': text is needed"):
        scheme_from_json({"task": "risk", "classes": ["high", "low"],
                          "description": ["High: act today.", "Low: watch."]}, "risk.json")


def test_every_built_in_class_is_shown_in_plain_words() -> None:
    # "little_or_no_damage" is the stored name; the analyst reads "little or no damage".
    for scheme in builtin_schemes().values():
        for name in scheme.classes:
            assert display_name(name) == " ".join(name.split("_"))
    assert display_name("little_or_no_damage") == "little or no damage"


def test_a_failed_upgrade_names_the_migration_that_failed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The analyst reports the message to the developers: the step's number alone does
    # not say which migration of which release failed.
    project = old_project(tmp_path, monkeypatch)
    name = schema.MIGRATIONS[OLD].__name__.lstrip("_")  # the step to schema OLD + 1
    fail_at(monkeypatch, OLD + 1, no_such_table)
    assert f"failed at step {OLD + 1} ({name}):" in refused_at_launch(project)


def test_a_demo_whose_build_was_stopped_is_not_taken_for_built(tmp_path: Path) -> None:
    # A first start closed during the build (or killed): the next start finishes the
    # demo rather than opening it half made (no predictions) for good.
    root = demo.demo_root(tmp_path)
    Project.open(root, create=True)  # as the build's first step leaves it
    assert not demo.is_built(root)
    with Project(root).open_store() as store:
        store.set_meta(demo.BUILT_KEY, "2024-01-01T00:00:00+00:00")
    assert demo.is_built(root)


@pytest.mark.parametrize("old_files", [
    {"posts.csv": "id,text\n1,old\n", "scenes.csv": "id\n1\n"},  # a file changed
    {"posts.csv": "id,text\n1,new\n"},  # a file the upgrade added
    {"posts.csv": "id,text\n1,new\n", "scenes.csv": "id\n1\n", "gone.csv": "x\n"},
])
def test_demo_files_an_upgrade_changed_in_any_way_are_copied_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old_files: dict[str, str]) -> None:
    # The demo reset after an upgrade: the rebuild imports this release's files, however
    # the old copy differs from them (test_hunt_firstrun: all at once).
    package = tmp_path / "package-demo"
    package.mkdir()
    new_files = {"posts.csv": "id,text\n1,new\n", "scenes.csv": "id\n1\n"}
    for name, text in new_files.items():
        (package / name).write_text(text, "utf-8")
    monkeypatch.setattr(demo, "resource", lambda *parts: package)
    project = Project.open(tmp_path / "data" / "demo", create=True)
    old = project.folder("media") / "demo"
    old.mkdir()
    for name, text in old_files.items():
        (old / name).write_text(text, "utf-8")
    copied = demo.DemoJob(tmp_path / "data")._copy_sources(project)
    assert {p.name: p.read_text("utf-8") for p in copied.iterdir()} == new_files


def test_another_starts_fresh_copy_of_old_files_is_not_taken_for_stale(
        tmp_path: Path) -> None:
    # Two first starts at once: the other's copy in the making keeps the installed
    # files' old times (copytree copies them); removed, that start's build fails.
    media = tmp_path / "media"
    partial = media / f"{demo.PARTIAL}{os.getppid()}"  # a process that runs
    partial.mkdir(parents=True)
    hours_ago = time.time() - 3 * demo.STALE_PARTIAL_S
    os.utime(partial, (hours_ago, hours_ago))  # as copied; its ctime is now
    demo._remove_stale_partials(media)
    assert partial.is_dir()


def test_the_demo_builds_progress_moves_within_each_step_and_says_each_plainly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first start's embedding takes minutes: a bar stuck at a step's start looks
    # hung. A step whose job says nothing more is its name, without a dangling colon.
    class Step:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def run(self) -> Iterator[Progress]:
            yield Progress(1, 2, "half")
            yield Progress(2, 2, "")

    for name in ("ImportJob", "EmbedJob", "PredictJob"):
        monkeypatch.setattr(demo, name, Step)
    monkeypatch.setattr(demo.DemoJob, "_copy_sources",
                        lambda self, project: tmp_path / "sources")
    reports = list(demo.DemoJob(tmp_path).run())
    assert [(p.done, p.message) for p in reports[2:4]] == [
        (150, f"{demo.STEPS[1]}: half"), (200, demo.STEPS[1])]
    assert [p.done for p in reports] == sorted(p.done for p in reports)
    assert reports[-1].done == reports[-1].total
