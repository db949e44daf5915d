"""Trust in predictions: wherever a prediction is shown or leaves the tool, the analyst
can tell which model version made it, and why a task has none."""

from __future__ import annotations

import csv
from pathlib import Path

from test_export import _import_texts  # tests/core/ is on sys.path (pytest)

from crisisdesk.core.exporters import Exporter
from crisisdesk.core.fusion.starts import ZERO_SHOT
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project
from crisisdesk.core.store import Prediction


def test_a_crisismmd_export_names_the_version_of_each_prediction(project: Project,
                                                                 tmp_path: Path) -> None:
    """The CrisisMMD TSV carried a prediction and its confidence with nothing saying
    which model made them: a zero-shot guess read like a trained head's. Like the CSV's
    ``<task>_model_version``, each row names the version, and the file still imports."""
    _import_texts(project, tmp_path, ["Bridge down on Main St", "Water at the shelter"])
    with project.open_store() as store:
        items = [store.resolve_item(f"{i}_0").id for i in range(2)]
        version = store.add_model_version("damage", "zero-shot-clip-damage",
                                          f"{ZERO_SHOT}clip")
        store.add_predictions(version, [Prediction(items[0], "damage", {
            "severe_damage": 0.5, "mild_damage": 0.3, "little_or_no_damage": 0.2})])
        out = tmp_path / "task_damage_text_img.tsv"
        Exporter(store, tasks=["damage"]).write(out, "crisismmd")
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, dialect="excel-tab"))
    by_tweet = {r["tweet_id"]: r for r in rows}
    assert by_tweet["0"]["prediction"] == "severe_damage"
    assert by_tweet["0"]["model_version"] == "zero-shot-clip-damage"
    assert by_tweet["1"]["model_version"] == ""  # no prediction, no version
    again = Project.open(tmp_path / "again", create=True)
    job = ImportJob(again, [out], ImportOptions())
    list(job.run())
    assert job.report.errors == 0, job.report.summary()
    with again.open_store() as store:
        assert store.counts()["labels"]["damage"]["total"] == 2


def test_the_detail_panel_says_why_a_task_has_no_prediction(project: Project,
                                                            tmp_path: Path) -> None:
    """Every task without a prediction said "no prediction yet", also where none will
    ever come: a zero-shot start on image embeddings alone never predicts a text-only
    post (predict leaves it out), and a task with no model version has nothing to
    predict with. The view says which of these it is, and names the version."""
    from crisisdesk.core.review import item_detail

    _import_texts(project, tmp_path, ["Bridge down on Main St", "Water at the shelter"])
    with project.open_store() as store:
        first, second = (store.resolve_item(f"{i}_0").id for i in range(2))
        zero_shot = store.add_model_version(
            "damage", "zero-shot-clip-damage", f"{ZERO_SHOT}clip",
            config={"zero_shot": True, "encoder": "clip"})
        trained = store.add_model_version(
            "informative", "informative-text_only-1", "models/informative-text_only-1",
            config={"config": {"variant": "text_only"}, "text_encoder": "minilm"})
        store.add_predictions(trained, [Prediction(first, "informative", {
            "informative": 0.8, "not_informative": 0.2})])
        views = {v.task: v for v in item_detail(store, second).tasks}
        predicted = {v.task: v for v in item_detail(store, first).tasks}
    assert zero_shot  # registered, active, and it can never see a text-only item
    damage = views["damage"].no_prediction
    assert damage is not None
    assert "zero-shot-clip-damage" in damage and "image" in damage
    assert "never" in damage or "cannot" in damage
    informative = views["informative"].no_prediction
    assert informative is not None and "informative-text_only-1" in informative
    assert "never" not in informative and "cannot" not in informative
    humanitarian = views["humanitarian"].no_prediction
    assert humanitarian is not None and "no model version" in humanitarian
    assert predicted["informative"].no_prediction is None  # it has one
