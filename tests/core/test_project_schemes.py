"""A project's own tasks (issue 5): label schemes checked from JSON, stored in the project,
listed and added from the CLI, and used wherever the project's tasks are: import, the
journal, ``crisisdesk label``, export, training, predict and eval."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from old_schema import PROJECT_SCHEMES_VERSION, as_schema

from crisisdesk.cli import main
from crisisdesk.core.exporters import Exporter
from crisisdesk.core.fusion.evaluate import evaluate
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.fusion.train import Recipe
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project
from crisisdesk.core.schemes import (
    LabelScheme,
    SchemeError,
    scheme_from_json,
)
from crisisdesk.core.store import LabelChange, Store

SEVERITY = {"task": "severity", "description": "How bad, as this team grades it.",
            "classes": ["Low", "medium", "high-risk"], "merges": {"very bad": "high_risk"}}
CLASSES = ("low", "medium", "high_risk")
FAST = Recipe(optimizer="adamw", lr=5e-3, max_epochs=15, patience=3)


def _scheme() -> LabelScheme:
    return scheme_from_json(SEVERITY, "severity.json")


def _import(project: Project, tmp_path: Path, rows: list[list[str]]) -> None:
    path = tmp_path / "posts.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    list(ImportJob(project, [path], ImportOptions()).run())


def _labels(project: Project, task: str) -> dict[str, str]:
    with project.open_store() as store:
        return {store.item_uid_of(item): label for item, label, _ in store.labelled_items(task)}


@pytest.mark.parametrize(("change", "names"), [
    ({"task": "Severity"}, "key 'task'"),
    ({"task": "2nd"}, "key 'task'"),
    ({"task": "text"}, "post column"),
    ({"classes": ["low"]}, "at least 2 classes"),
    ({"classes": ["Low", "low ", "high"]}, "'low' is given more than once"),
    ({"classes": "low, high"}, "key 'classes'"),
    ({"merges": {"awful": "catastrophic"}}, "key 'merges': 'awful' merges into"),
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"task": "label_damage"}, "reads like a column another task's labels use"),
    ({"task": "damage_label"}, "reads like a column another task's labels use"),
    ({"task": "damage_split"}, "reads like a column another task's labels use"),
    ({"task": "damage_annotator"}, "reads like a column another task's labels use"),
    ({"task": "tasks"}, "reads like a column another task's labels use"),
])
def test_a_bad_scheme_is_refused_naming_the_file_and_the_key(change: dict, names: str
                                                             ) -> None:
    with pytest.raises(SchemeError, match="^severity.json: .*" + names):
        scheme_from_json({**SEVERITY, **change}, "severity.json")


def test_classes_and_merges_are_kept_normalised() -> None:
    scheme = _scheme()
    assert scheme.classes == CLASSES
    assert scheme.merges == {"very_bad": "high_risk"}
    assert scheme.normalise("Very Bad") == "high_risk"
    assert scheme.normalise("High risk") == "high_risk"


def test_a_project_scheme_is_stored_listed_after_the_built_in_ones_and_added_once(
        project: Project) -> None:
    with project.open_store() as store:
        assert "severity" not in store.schemes()
        assert store.add_scheme(_scheme()) is True
        assert store.add_scheme(_scheme()) is False  # the same again: nothing to do
    with project.open_store() as store:  # it travels with the project
        assert list(store.schemes()) == ["damage", "humanitarian", "informative",
                                         "severity"]
        assert store.schemes()["severity"] == _scheme()
        assert list(store.project_schemes()) == ["severity"]


def test_a_built_in_task_cannot_be_redefined(project: Project) -> None:
    with project.open_store() as store, pytest.raises(SchemeError, match="built in"):
        store.add_scheme(scheme_from_json({**SEVERITY, "task": "damage"}, "d.json"))


def test_classes_change_only_while_the_task_has_no_labels(project: Project,
                                                         tmp_path: Path) -> None:
    two = scheme_from_json({**SEVERITY, "classes": ["low", "high_risk"]}, "s.json")
    with project.open_store() as store:
        store.add_scheme(two)
        assert store.add_scheme(_scheme()) is True  # no labels yet: replaced
    _import(project, tmp_path, [["id", "text", "severity"], ["1", "a flood", "low"]])
    with project.open_store() as store:
        with pytest.raises(SchemeError, match="has labels already"):
            store.add_scheme(two)
        assert store.schemes()["severity"].classes == CLASSES
        described = LabelScheme("severity", CLASSES, _scheme().merges, "new words")
        assert store.add_scheme(described) is True  # same classes: a new description


def test_the_journal_refuses_a_class_outside_the_project_scheme(project: Project,
                                                                tmp_path: Path) -> None:
    _import(project, tmp_path, [["id", "text"], ["1", "a flood"]])
    with project.open_store() as store:
        item = store.resolve_item("posts:1:0").id
        with pytest.raises(ValueError, match="unknown task 'severity'"):
            store.add_labels([LabelChange(item, "severity", "low")], annotator="ana")
        store.add_scheme(_scheme())
        with pytest.raises(ValueError, match="'extreme' is not a class of task severity"):
            store.add_labels([LabelChange(item, "severity", "extreme")], annotator="ana")
        store.add_labels([LabelChange(item, "severity", "medium")], annotator="ana")
        assert store.current_label(item, "severity").label == "medium"


def test_the_migration_to_project_schemes_keeps_the_data(tmp_path: Path,
                                                         monkeypatch) -> None:

    path = tmp_path / "old.sqlite"
    with monkeypatch.context() as patch:  # a project as the version before wrote it
        as_schema(patch, PROJECT_SCHEMES_VERSION - 1)
        with Store(path) as old:
            old.ensure_source("src", "csv", "/data/src.csv")
            post = old.insert_post("src", "1", text="a flood")
            item = old.add_text_item(post, "src", "1")
            old.add_labels([LabelChange(item, "damage", "mild_damage")], annotator="ana")
            assert "label_schemes" not in old.db.table_names()
    with Store(path) as store:
        assert store.migrated_from == PROJECT_SCHEMES_VERSION - 1
        assert store.current_label(item, "damage").label == "mild_damage"
        assert list(store.schemes()) == ["damage", "humanitarian", "informative"]
        store.add_scheme(_scheme())
        store.add_labels([LabelChange(item, "severity", "low")], annotator="ana")


def test_cli_adds_and_lists_a_scheme_and_refuses_a_built_in_task(
        project: Project, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    file = tmp_path / "severity.json"
    file.write_text(json.dumps(SEVERITY), encoding="utf-8")
    assert main(["schemes", "add", str(project.root), str(file)]) == 0
    assert "task severity: low, medium, high_risk" in capsys.readouterr().out
    assert main(["schemes", "add", str(project.root), str(file)]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert main(["schemes", "list", str(project.root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[:2] == ["damage", "built-in"] for line in lines)
    assert any(line.split() == ["severity", "project", "low,", "medium,", "high_risk"]
               for line in lines)
    file.write_text(json.dumps({**SEVERITY, "task": "informative"}), encoding="utf-8")
    assert main(["schemes", "add", str(project.root), str(file)]) == 2
    assert "task 'informative' is built in" in capsys.readouterr().err
    file.write_text(json.dumps({**SEVERITY, "classes": ["one"]}), encoding="utf-8")
    assert main(["schemes", "add", str(project.root), str(file)]) == 2
    assert f"{file}: key 'classes'" in capsys.readouterr().err


def test_cli_says_how_classes_past_the_ninth_are_given(
        project: Project, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    file = tmp_path / "hazard.json"
    classes = [f"hazard_{n}" for n in range(1, 12)]
    file.write_text(json.dumps({"task": "hazard", "classes": classes}), encoding="utf-8")
    assert main(["schemes", "add", str(project.root), str(file)]) == 0
    assert "hazard_10 and the classes after it take two digits" in capsys.readouterr().out


def test_import_reads_the_project_task_column_with_its_merges(project: Project,
                                                              tmp_path: Path) -> None:
    with project.open_store() as store:
        store.add_scheme(_scheme())
    _import(project, tmp_path, [["id", "text", "severity"], ["1", "levee broke", "Very bad"],
                                ["2", "rain", "Low"], ["3", "sun", "apocalyptic"]])
    assert _labels(project, "severity") == {"posts:1:0": "high_risk", "posts:2:0": "low"}
    _import(project, tmp_path, [["id", "text", "label_severity"], ["4", "wind", "medium"]])
    assert _labels(project, "severity")["posts:4:0"] == "medium"


def test_cli_label_gives_a_project_class(project: Project, tmp_path: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    _import(project, tmp_path, [["id", "text"], ["1", "levee broke"]])
    root = str(project.root)
    assert main(["label", root, "posts:1:0", "--task", "severity", "--label", "low"]) == 2
    assert "unknown task 'severity'" in capsys.readouterr().err
    with project.open_store() as store:
        store.add_scheme(_scheme())
    assert main(["label", root, "posts:1:0", "--task", "severity", "--label",
                 "High risk"]) == 0
    assert _labels(project, "severity") == {"posts:1:0": "high_risk"}


def test_export_holds_the_project_task_labels(project: Project, tmp_path: Path) -> None:
    with project.open_store() as store:
        store.add_scheme(_scheme())
    _import(project, tmp_path, [["id", "text", "severity"], ["1", "levee broke", "medium"]])
    with project.open_store() as store:
        (out,) = Exporter(store).write(tmp_path / "out.csv", "csv")
    (row,) = csv.DictReader(out.open(encoding="utf-8"))
    assert row["severity"] == "medium" and row["severity_label_source"] == "import"
    assert "damage" in row  # the built-in tasks too


def _trainable(tmp_path: Path, n: int = 150, dim: int = 12) -> Project:
    """Posts of the project task "severity" whose class shows in made-up text
    embeddings ("txt-enc"), labelled and split by the import."""
    rng = np.random.default_rng(0)
    project = Project.open(tmp_path / "project", create=True)
    with project.open_store() as store:
        store.add_scheme(_scheme())
    classes = rng.integers(0, 3, n)
    splits = ["test" if i % 5 == 0 else "train" for i in range(n)]
    _import(project, tmp_path, [["id", "text", "severity", "split"]] + [
        [str(i), f"post {i}", CLASSES[classes[i]], splits[i]] for i in range(n)])
    centres = rng.normal(size=(3, dim))
    with project.open_store() as store:
        texts = {t.item: t.key for t in store.item_texts()}
        order = sorted(texts)
        vectors = np.stack([centres[classes[k]] + 0.3 * rng.normal(size=dim)
                            for k in range(n)])
        store.put_embeddings("text", "txt-enc", [texts[i] for i in order], vectors)
    return project


def test_a_project_task_trains_predicts_and_evaluates(tmp_path: Path) -> None:
    project = _trainable(tmp_path)
    train = TrainJob(project, "severity", image_encoder=None, text_encoder="txt-enc",
                     recipe=FAST)
    list(train.run())
    assert train.report.model_version is not None
    job = PredictJob(project)  # every task: the built-in ones have no model here
    list(job.run())
    assert job.report.tasks["severity"]["predicted"] == 150
    assert "crisisdesk train" in job.report.tasks["damage"]["no_model"]
    with project.open_store() as store:
        report = evaluate(store, "severity", "test")
        version = store.active_model_version("severity")
        assert version["config"]["classes"] == list(CLASSES)
    assert report["items"] == 30 and report["macro_f1"] > 0.8


def test_a_project_task_without_a_model_says_to_train_it(tmp_path: Path) -> None:
    project = _trainable(tmp_path)
    job = PredictJob(project, ["severity"])
    with pytest.raises(Exception, match=r"crisisdesk train PROJECT --task severity"):
        list(job.run())


def test_a_scheme_another_process_adds_is_seen_by_an_open_store(project: Project) -> None:
    """A watch or the app holds its connection for long: a task added meanwhile by
    `crisisdesk schemes add` (another connection) must be known to it."""
    with project.open_store() as held, project.open_store() as other:
        assert "severity" not in held.schemes()
        other.add_scheme(_scheme())
        assert "severity" in held.schemes()
        held.ensure_source("src", "csv", "/data/src.csv")
        item = held.add_text_item(held.insert_post("src", "1", text="a flood"), "src", "1")
        held.add_labels([LabelChange(item, "severity", "low")], annotator="ana")


def test_a_changed_scheme_keeps_its_place_in_the_list(project: Project) -> None:
    with project.open_store() as store:
        store.add_scheme(_scheme())
        store.add_scheme(scheme_from_json({"task": "access", "classes": ["open", "cut"]},
                                          "access.json"))
        store.add_scheme(scheme_from_json({**SEVERITY, "description": "Reworded."},
                                          "severity.json"))
        assert list(store.project_schemes()) == ["severity", "access"]
        assert store.schemes()["severity"].description == "Reworded."

