"""The import, export and settings dialogs, driven with qtbot; results checked in the
store and in the files written."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

from import_helpers import build_posts_folder, make_image, run_import, write_csv
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from crisisdesk.core.models import registry
from crisisdesk.core.project import Project
from crisisdesk.core.store.labels import LabelChange
from crisisdesk.gui.dialogs.export_dialog import ExportDialog
from crisisdesk.gui.dialogs.import_dialog import ImportDialog
from crisisdesk.gui.dialogs.settings_dialog import SettingsDialog, annotator_name, setting
from crisisdesk.gui.jobs_panel import JobsPanel

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _choose(combo, data) -> None:
    index = combo.findData(data)
    assert index >= 0, f"{data!r} not offered"
    combo.setCurrentIndex(index)


# --------------------------------------------------------------------------- import


def test_import_a_folder_through_the_dialog(qtbot, project: Project, tmp_path) -> None:
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    dialog.add_source(build_posts_folder(tmp_path / "posts"))
    _choose(dialog.format, "folder")
    dialog.event.setText("test_flood")
    assert not dialog.mapping_box.isVisibleTo(dialog)  # a folder has no columns to map
    with qtbot.waitSignal(dialog.imported, timeout=20_000) as imported:
        qtbot.mouseClick(dialog.start, Qt.MouseButton.LeftButton)
    report = imported.args[0]
    assert report.posts_added == 6 and report.items_added == 6
    assert dialog.runner.thread_ident != threading.get_ident()
    assert "6 new posts" in dialog.status.text()
    with project.open_store() as store:
        counts = store.counts()
        (job_state,) = store.conn.execute(
            "SELECT state FROM jobs WHERE kind = 'import'").fetchone()
    assert counts["posts"] == 6 and counts["items"] == 6
    assert counts["events"] == {"test_flood": 6}
    assert job_state == "done"


def test_import_a_csv_with_mapped_columns_shows_its_problems(qtbot, project, tmp_path) -> None:
    src = tmp_path / "odd"
    make_image(src / "a.jpg", 1)
    table = write_csv(src / "odd.csv", ["ident", "words", "picture"], [
        ["1", "Water up to the roofs", "a.jpg"],
        ["2", "Picture missing", "gone.jpg"],
    ])
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    dialog.add_source(table)
    assert dialog.mapping_box.isVisibleTo(dialog)
    qtbot.waitUntil(lambda: dialog.columns["id"].count() == 4, timeout=5000)  # header read
    _choose(dialog.columns["id"], "ident")
    _choose(dialog.columns["text"], "words")
    _choose(dialog.columns["image"], "picture")
    assert dialog.options().mapping == {"id": "ident", "text": "words", "image": "picture"}
    with qtbot.waitSignal(dialog.imported, timeout=20_000):
        dialog.start.click()
    with project.open_store() as store:
        texts = sorted(r[0] for r in store.conn.execute("SELECT text FROM posts"))
    assert texts == ["Picture missing", "Water up to the roofs"]
    assert dialog.problems.isVisibleTo(dialog)
    shown = [dialog.problems.topLevelItem(i) for i in range(dialog.problems.topLevelItemCount())]
    assert any("gone.jpg" in row.text(3) and row.text(2) == "3" for row in shown), \
        [(r.text(0), r.text(2), r.text(3)) for r in shown]


def test_import_through_the_jobs_panel_lists_the_job(qtbot, project, tmp_path) -> None:
    panel = JobsPanel()
    qtbot.addWidget(panel)
    dialog = ImportDialog(project, jobs=panel)
    qtbot.addWidget(dialog)
    dialog.add_source(build_posts_folder(tmp_path / "posts"))
    with qtbot.waitSignal(panel.job_finished, timeout=20_000) as finished:
        dialog.start.click()
    assert finished.args == ["Import posts", "done"]
    assert panel.rows[0].runner is dialog.runner


def test_import_with_nothing_chosen_says_so(qtbot, project) -> None:
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    assert dialog.start_import() is None
    assert "Add a file or a folder" in dialog.status.text()


# --------------------------------------------------------------------------- export


def _label_one(project: Project) -> str:
    with project.open_store() as store:
        item = store.conn.execute("SELECT id, uid FROM items ORDER BY id LIMIT 1").fetchone()
        store.add_labels([LabelChange(item["id"], "damage", "severe_damage")],
                         annotator="ana")
    return item["uid"]


def test_export_csv_of_corrected_items_with_hashed_authors(qtbot, demo_like_project,
                                                           tmp_path) -> None:
    uid = _label_one(demo_like_project)
    dialog = ExportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    out = tmp_path / "out" / "damage.csv"
    _choose(dialog.format, "csv")
    _choose(dialog.task, "damage")
    dialog.only_corrected.setChecked(True)
    dialog.hash_authors.setChecked(True)
    dialog.out.setText(str(out))
    with qtbot.waitSignal(dialog.exported, timeout=10_000) as exported:
        dialog.export_button.click()
    assert exported.args == [[out]]
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["item_id"], r["damage"], r["damage_label_source"]) for r in rows] == [
        (uid, "severe_damage", "human")]
    assert "informative" not in rows[0]  # only the task asked for
    assert all(not r["author"] or r["author"].startswith("anon-") for r in rows)
    with demo_like_project.open_store() as store:
        (state,) = store.conn.execute("SELECT state FROM jobs WHERE kind = 'export'").fetchone()
    assert state == "done"


def test_export_jsonl_of_every_item_keeps_authors(qtbot, demo_like_project, tmp_path) -> None:
    dialog = ExportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    _choose(dialog.format, "jsonl")
    assert dialog.out.text().endswith(str(Path("exports") / "labels.jsonl"))  # suggested
    out = tmp_path / "all.jsonl"
    dialog.out.setText(str(out))
    with qtbot.waitSignal(dialog.exported, timeout=10_000):
        dialog.export_button.click()
    records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(records) == 6
    assert {"informative", "humanitarian", "damage"} <= set(records[0]["tasks"])
    assert "alice" in {r["author"] for r in records}


def test_spreadsheet_checkbox_is_for_csv_and_reaches_the_exporter(qtbot, demo_like_project,
                                                                  tmp_path) -> None:
    dialog = ExportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    _choose(dialog.format, "jsonl")
    assert not dialog.for_spreadsheet.isEnabled()
    _choose(dialog.format, "csv")
    assert dialog.for_spreadsheet.isEnabled() and not dialog.for_spreadsheet.isChecked()
    dialog.for_spreadsheet.setChecked(True)
    out = tmp_path / "sheet.csv"
    dialog.out.setText(str(out))
    with qtbot.waitSignal(dialog.exported, timeout=10_000):
        dialog.export_button.click()
    assert out.read_bytes().startswith(b"\xef\xbb\xbfitem_id,")
    with demo_like_project.open_store() as store:
        (params,) = store.conn.execute("SELECT params FROM jobs WHERE kind = 'export'"
                                       ).fetchone()
    assert json.loads(params)["for_spreadsheet"] is True


def test_leaving_csv_unchecks_the_spreadsheet_option(qtbot, demo_like_project) -> None:
    dialog = ExportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    _choose(dialog.format, "csv")
    dialog.for_spreadsheet.setChecked(True)
    _choose(dialog.format, "crisismmd")
    assert not dialog.for_spreadsheet.isChecked()


def test_export_to_an_unwritable_place_shows_the_error(qtbot, demo_like_project,
                                                       tmp_path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder", "utf-8")
    dialog = ExportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    dialog.out.setText(str(blocker / "x.csv"))  # a folder that is a file
    runner = dialog.start_export()
    with qtbot.waitSignal(runner.finished, timeout=10_000) as finished:
        pass
    assert finished.args[0] == "failed"
    assert "Export failed" in dialog.status.text()


# --------------------------------------------------------------------------- settings


def test_settings_are_saved_and_read_back(qtbot, user_folders) -> None:
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    assert dialog.device.currentText() == "auto"
    dialog.device.setCurrentText("cpu")
    dialog.text_encoder.setCurrentText("minilm")
    dialog.quantization.setCurrentText("4bit")
    dialog.offline.setChecked(True)
    dialog.annotator.setText("  Dana  ")
    dialog.accept()
    assert (user_folders["config"] / "gui.ini").is_file()
    assert setting("device") == "cpu"
    assert setting("quantization") == "4bit"
    assert setting("offline") is True
    assert annotator_name() == "Dana"
    again = SettingsDialog()
    qtbot.addWidget(again)
    assert again.device.currentText() == "cpu" and again.offline.isChecked()


def test_cancel_leaves_the_settings_alone(qtbot) -> None:
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.device.setCurrentText("cuda")
    dialog.reject()
    assert setting("device") == "auto"


def test_a_model_folder_is_registered(qtbot, tmp_path, monkeypatch) -> None:
    folder = tmp_path / "clip_copy"
    folder.mkdir()
    # What registering checks: an open_clip folder's config and weights.
    (folder / "open_clip_config.json").write_text("{}")
    (folder / "open_clip_model.safetensors").write_bytes(b"w")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: str(folder)))
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.model_name.setCurrentText("clip-vit-b-32")
    assert dialog.add_model_folder()
    assert registry.registered_paths()["clip-vit-b-32"]["path"] == str(folder)
    assert dialog.models.topLevelItem(0).text(0) == "clip-vit-b-32"


# --------------------------------------------------------------------------- retrain

CLASSES = ("severe_damage", "mild_damage", "little_or_no_damage")


def _trainable_project(tmp_path: Path, n: int = 200, dim: int = 12, noise: float = 2.2
                       ) -> Project:
    """Posts with damage labels and splits, and cached embeddings (as the core training
    tests make them) whose class is readable with some noise, so scores are not perfect."""
    import numpy as np

    rng = np.random.default_rng(0)
    src = tmp_path / "train_src"
    labels = rng.integers(0, 3, n)
    splits = ["train"] * int(n * 0.6) + ["dev"] * int(n * 0.2)
    splits += ["test"] * (n - len(splits))
    for i in range(n):
        make_image(src / f"{i}.png", i, size=(8, 8))
    write_csv(src / "posts.csv", ["id", "text", "image", "damage", "split"],
              [[str(i), f"post {i}", f"{i}.png", CLASSES[labels[i]], splits[i]]
               for i in range(n)])
    project = Project.open(tmp_path / "trainable", create=True)
    run_import(project, [src / "posts.csv"])
    centres_img, centres_txt = rng.normal(size=(3, dim)), rng.normal(size=(3, dim))
    with project.open_store() as store:
        texts = {t.item: t.key for t in store.item_texts()}
        shas = store.item_images(texts)
        order = sorted(texts)
        k = {item: index for index, item in enumerate(order)}
        image = np.stack([centres_img[labels[k[i]]] + noise * rng.normal(size=dim)
                          for i in order])
        text = np.stack([centres_txt[labels[k[i]]] + noise * rng.normal(size=dim)
                         for i in order])
        store.put_embeddings("image", "img-enc", [shas[i][0] for i in order], image)
        store.put_embeddings("text", "txt-enc", [texts[i] for i in order], text)
    return project


def _retrain(project: Project, qtbot, epochs: int):
    """Run a RetrainJob of the damage task through a JobRunner; return the job."""
    from crisisdesk.core.fusion.train import Recipe
    from crisisdesk.core.retrain import RetrainJob
    from crisisdesk.gui.worker import JobRunner

    recipe = Recipe(optimizer="adamw", lr=5e-3, max_epochs=epochs, patience=3)
    job = RetrainJob(project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
                     recipe=recipe)
    runner = JobRunner("Retrain", job.run)
    with qtbot.waitSignal(runner.finished, timeout=120_000) as finished:
        runner.start()
    assert finished.args[0] == "done", runner.details
    return job


def _active(project: Project) -> int | None:
    with project.open_store() as store:
        version = store.active_model_version("damage")
    return version["id"] if version else None


def test_retrain_report_shows_both_versions_and_switches(qtbot, tmp_path) -> None:
    from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

    project = _trainable_project(tmp_path)
    first = _retrain(project, qtbot, epochs=1)
    assert first.report.tasks["damage"].current is None  # nothing to compare with yet
    dialog = RetrainDialog(project, first.report)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.switched, timeout=60_000) as switched:
        qtbot.mouseClick(dialog.switch, Qt.MouseButton.LeftButton)
    assert switched.args == [["damage"]]
    old = first.report.tasks["damage"].candidate
    assert _active(project) == old

    second = _retrain(project, qtbot, epochs=30)
    entry = second.report.tasks["damage"]
    assert entry.active == old and entry.current is not None and entry.new is not None
    dialog = RetrainDialog(project, second.report)
    qtbot.addWidget(dialog)
    dialog.resize(780, 780)
    dialog.show()
    page = dialog.pages["damage"]
    assert page.new_grid.matrix == entry.new["confusion"]
    assert page.active_grid.matrix == entry.current["confusion"]
    assert f"{entry.new['macro_f1']:.1%}" in page.headline.text()
    assert f"{entry.current['macro_f1']:.1%}" in page.headline.text()
    qtbot.waitUntil(lambda: page.versions.topLevelItemCount() == 2, timeout=10_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SHOTS / "retrain_report.png"))

    if not entry.recommend_switch:
        # A worse new version switches only with the override ticked.
        assert page.override.isVisible()
        assert dialog.apply() is None and _active(project) == old
        page.override.setChecked(True)
    with qtbot.waitSignal(dialog.switched, timeout=60_000):
        dialog.switch.click()
    assert _active(project) == entry.candidate
    with project.open_store() as store:
        predicted = store.conn.execute(
            "SELECT COUNT(*) FROM predictions WHERE model_version = ?",
            [entry.candidate]).fetchone()[0]
    assert predicted == 200  # the switch re-predicted the task

    # An older version can be made active again from the versions list.
    qtbot.waitUntil(lambda: page.versions.topLevelItemCount() == 2
                    and page.versions.topLevelItem(0).text(3) == "yes", timeout=10_000)
    page.versions.setCurrentItem(page.versions.topLevelItem(1))
    with qtbot.waitSignal(dialog.switched, timeout=10_000):
        page.reactivate.click()
    assert _active(project) == old


def test_a_worse_version_needs_the_override(qtbot, tmp_path, monkeypatch) -> None:
    from crisisdesk.core.store import Store
    from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

    queried_in: list[int] = []
    original = Store.model_versions

    def recorded(self, task):
        queried_in.append(threading.get_ident())
        return original(self, task)

    monkeypatch.setattr(Store, "model_versions", recorded)
    project = _trainable_project(tmp_path, n=90)
    report = _retrain(project, qtbot, epochs=2).report
    entry = report.tasks["damage"]
    entry.recommend_switch = False  # as the report says when the new one is worse
    before = _active(project)
    dialog = RetrainDialog(project, report)
    qtbot.addWidget(dialog)
    page = dialog.pages["damage"]
    assert "Recommended: keep the active version" in page.headline.text()
    assert page.override.isVisibleTo(dialog.tabs.widget(0).widget())
    assert dialog.apply() is None
    assert "Nothing to switch" in dialog.status.text()
    assert _active(project) == before
    # Nothing to switch: Switch is off and Enter means Keep (once the report has been up
    # a moment: a key pressed as it appears was meant for the list).
    dialog.show()
    qtbot.waitUntil(lambda: dialog.armed, timeout=10_000)
    assert not dialog.switch.isEnabled() and dialog.keep.isDefault()
    page.override.setChecked(True)
    assert dialog.switch.isEnabled() and dialog.switch.text().replace("&", "") == "Switch damage"
    assert dialog.switch.isDefault() and not dialog.keep.isDefault()
    with qtbot.waitSignal(dialog.switched, timeout=60_000):
        dialog.switch.click()
    assert _active(project) == entry.candidate
    # The versions list is loaded off the GUI thread.
    qtbot.waitUntil(lambda: page.versions.topLevelItemCount() == 1, timeout=10_000)
    assert queried_in and threading.get_ident() not in queried_in
