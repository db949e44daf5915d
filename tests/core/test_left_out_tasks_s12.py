"""A task whose stored label scheme is damaged ("left out") is named with the real reason
by ``versions`` and the store's add_labels, not as an unknown task; and adding its scheme
again is held to the labels the journal already has of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_project_move import _project  # tests/core/ is on sys.path (pytest)
from test_received_project_s12 import _add_stored_scheme, _spoil

from crisisdesk.cli import main
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange


def _first_item_id(project: Project) -> int:
    with project.open_store() as store:
        return store.conn.execute("SELECT id FROM items ORDER BY id LIMIT 1").fetchone()[0]


def _scheme_file(tmp_path: Path, classes: list[str]) -> Path:
    path = tmp_path / "urgency.json"
    path.write_text(json.dumps({"task": "urgency", "classes": classes}), encoding="utf-8")
    return path


def _left_out_with_labels(tmp_path: Path) -> Project:
    """A project whose task urgency (high, low) has a label "high", then its stored
    scheme damaged."""
    project = _project(tmp_path, n=60, train=False)
    assert main(["schemes", "add", str(project.root),
                 str(_scheme_file(tmp_path, ["high", "low"]))]) == 0
    with project.open_store() as store:
        store.add_labels([LabelChange(_first_item_id(project), "urgency", "high")], annotator="a")
    _spoil(project, "UPDATE label_schemes SET classes = '{not json' WHERE task = 'urgency'")
    return project


def test_versions_names_a_left_out_task_with_the_reason(tmp_path: Path, capsys) -> None:
    project = _project(tmp_path, n=60, train=False)
    _add_stored_scheme(project, "urgency", "{not json")
    assert main(["versions", str(project.root), "--task", "urgency"]) == 2
    err = capsys.readouterr().err
    assert "unknown task" not in err
    assert "'urgency'" in err and "cannot be used" in err and "crisisdesk schemes add" in err


def test_add_labels_names_a_left_out_task_with_the_reason(tmp_path: Path) -> None:
    project = _project(tmp_path, n=60, train=False)
    _add_stored_scheme(project, "urgency", "{not json")
    with project.open_store() as store, pytest.raises(ValueError) as caught:
        store.add_labels([LabelChange(_first_item_id(project), "urgency", "high")], annotator="a")
    assert "unknown task" not in str(caught.value)
    assert "cannot be used" in str(caught.value)


def test_add_labels_still_says_unknown_for_a_task_never_had(tmp_path: Path) -> None:
    project = _project(tmp_path, n=60, train=False)
    with project.open_store() as store, pytest.raises(ValueError, match="unknown task"):
        store.add_labels([LabelChange(_first_item_id(project), "needs", "food")], annotator="a")


def test_re_adding_a_left_out_scheme_without_a_labelled_class_is_refused(
        tmp_path: Path, capsys) -> None:
    project = _left_out_with_labels(tmp_path)
    assert main(["schemes", "add", str(project.root),
                 str(_scheme_file(tmp_path, ["urgent", "later"]))]) == 2
    err = capsys.readouterr().err
    assert "has labels already" in err and "'high'" in err
    with project.open_store() as store:
        assert "urgency" not in store.schemes()  # nothing written


def test_re_adding_a_left_out_scheme_covering_its_labels_is_allowed(
        tmp_path: Path) -> None:
    project = _left_out_with_labels(tmp_path)
    assert main(["schemes", "add", str(project.root),
                 str(_scheme_file(tmp_path, ["high", "low"]))]) == 0
    with project.open_store() as store:
        assert store.schemes()["urgency"].classes == ("high", "low")
        assert store.scheme_problems() == []
