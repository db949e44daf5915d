"""Bugs found by driving the dialogs and the jobs panel as an analyst would: a cancel
that came too late, a typed path overwritten, offline mode switched on after a download
was offered, an emptied encoder saved, an import retried from its row."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

from import_helpers import write_csv
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from test_jobs_panel import failed_for_want_of_a_model

from crisisdesk.core import exporters
from crisisdesk.core.models import hub_download
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs.export_dialog import ExportDialog
from crisisdesk.gui.dialogs.import_dialog import ImportDialog
from crisisdesk.gui.dialogs.settings_dialog import (
    DEFAULTS,
    SettingsDialog,
    app_settings,
    setting,
)
from crisisdesk.gui.jobs_panel import JobsPanel


def _choose(combo, data) -> None:
    index = combo.findData(data)
    assert index >= 0, f"{data!r} not offered"
    combo.setCurrentIndex(index)


def test_a_cancel_that_comes_while_the_file_is_written_reports_the_file(
        qtbot, demo_like_project: Project, tmp_path, monkeypatch) -> None:
    """The export's last chunk of rows ends in the rename of its temp file: a Cancel
    clicked while it is written comes after the file is in place, so the dialog must not
    say "no file was replaced" once it is."""
    writing, release = threading.Event(), threading.Event()
    write = exporters.Exporter._csv

    def slow_write(self, out):
        writing.set()
        release.wait(10)
        yield from write(self, out)

    monkeypatch.setattr(exporters.Exporter, "_csv", slow_write)
    dialog = ExportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    out = tmp_path / "labels.csv"
    dialog.out.setText(str(out))
    runner = dialog.start_export()
    assert writing.wait(10)
    runner.cancel()
    with qtbot.waitSignal(dialog.exported, timeout=10_000) as exported:
        release.set()
    assert out.exists()
    assert exported.args == [[out]]
    assert "no file was replaced" not in dialog.status.text()
    assert dialog.status.text() == f"Wrote {out}"


def test_a_typed_export_path_survives_a_change_of_format_or_task(
        qtbot, demo_like_project: Project, tmp_path) -> None:
    dialog = ExportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    typed = str(tmp_path / "for_the_team.csv")
    dialog.out.clear()
    qtbot.keyClicks(dialog.out, typed)
    _choose(dialog.task, "damage")
    _choose(dialog.format, "jsonl")
    assert dialog.out.text() == typed


def test_offline_mode_saved_after_the_offer_stops_the_download(qtbot, tmp_path,
                                                               monkeypatch) -> None:
    panel = JobsPanel()
    qtbot.addWidget(panel)
    row = failed_for_want_of_a_model(qtbot, panel, tmp_path, monkeypatch)
    assert row.download.isEnabled()  # online: offered
    fetched: list[str] = []
    monkeypatch.setattr(hub_download, "download",
                        lambda spec, say=None: fetched.append(spec.name) or tmp_path / "snapshot")

    settings = SettingsDialog()
    qtbot.addWidget(settings)
    settings.offline.setChecked(True)
    settings.accept()  # saved while the row still offers the download

    assert not row.download.isEnabled()
    row._download()  # even when reached another way, nothing goes online
    assert [r.runner.title for r in panel.rows] == ["Embed images"]
    assert fetched == []


def test_an_emptied_encoder_is_saved_as_the_default(qtbot) -> None:
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.image_encoder.setCurrentText("")
    dialog.text_encoder.setCurrentText("  ")
    qtbot.keyClick(dialog.annotator, Qt.Key.Key_Return)  # Enter: Save, the default
    assert not dialog.isVisible() and dialog.result() == dialog.DialogCode.Accepted
    assert setting("image_encoder") == DEFAULTS["image_encoder"]
    assert setting("text_encoder") == DEFAULTS["text_encoder"]
    assert app_settings().value("image_encoder") == DEFAULTS["image_encoder"]


def test_an_import_retried_from_its_row_reports_only_its_own_run(qtbot, project: Project,
                                                                tmp_path) -> None:
    table = write_csv(tmp_path / "src" / "posts.csv", ["id", "text", "image"],
                      [["1", "Water up to the roofs", "gone.jpg"], ["2", "Bridge out", ""]])
    panel = JobsPanel()
    qtbot.addWidget(panel)
    dialog = ImportDialog(project, jobs=panel)
    qtbot.addWidget(dialog)
    dialog.add_source(table)
    with qtbot.waitSignal(dialog.imported, timeout=20_000) as first:
        dialog.start.click()
    assert len(first.args[0].problems) == 1
    with qtbot.waitSignal(panel.job_finished, timeout=20_000):
        panel.row_of(dialog.runner).retry.click()
    newest = max((project.root / "reports").glob("import-*.json"))
    report = json.loads(newest.read_text("utf-8"))
    assert report["records"] == 2
    assert [s["path"] for s in report["sources"]] == [str(table)]
    assert len(report["problems"]) == 1


def _report_to_switch():
    """A retrain report of one task whose new version is recommended."""
    from crisisdesk.core.retrain import RetrainReport, TaskRetrain

    scores = {"macro_f1": 0.9, "classes": ["yes", "no"], "confusion": [[3, 0], [1, 2]],
              "per_class": {"yes": {"f1": 0.9}, "no": {"f1": 0.8}}}
    entry = TaskRetrain("damage", holdout_split="dev", holdout=6, candidate=7,
                        candidate_name="damage-v7", new=scores, recommend_switch=True)
    return RetrainReport({"damage": entry})


def _switch(qtbot, project: Project, monkeypatch, steps):
    from crisisdesk.gui.dialogs import retrain_dialog

    monkeypatch.setattr(retrain_dialog, "apply_job", lambda *args: steps())
    panel = JobsPanel()
    qtbot.addWidget(panel)
    dialog = retrain_dialog.RetrainDialog(project, _report_to_switch(), jobs=panel)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_a_cancelled_switch_says_so_in_words(qtbot, project: Project, monkeypatch) -> None:
    gate = threading.Event()

    def steps() -> Iterator[Progress]:
        yield Progress(0, 4, "damage: predicting")
        gate.wait(10)
        yield Progress(2, 4, "damage: predicting")

    dialog = _switch(qtbot, project, monkeypatch, steps)
    runner = dialog.apply()
    qtbot.waitUntil(lambda: runner.last_progress is not None, timeout=10_000)
    runner.cancel()
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        gate.set()
    assert "cancelled" in dialog.status.text()
    assert "None" not in dialog.status.text()


def test_enter_closes_the_report_once_switched(qtbot, project: Project, monkeypatch) -> None:
    def steps() -> Iterator[Progress]:
        yield Progress(1, 1, "damage: predicted")

    dialog = _switch(qtbot, project, monkeypatch, steps)
    qtbot.waitUntil(lambda: dialog.armed, timeout=10_000)  # a stray Enter does nothing
    with qtbot.waitSignal(dialog.switched, timeout=10_000):
        qtbot.keyClick(dialog, Qt.Key.Key_Return)  # Enter: Switch damage
    assert dialog.keep.text().replace("&", "") == "Close" and not dialog.switch.isEnabled()
    qtbot.keyClick(dialog, Qt.Key.Key_Return)  # Enter again: the enabled button, Close
    assert not dialog.isVisible()


def _offered(dialog: ImportDialog, field: str) -> list[str]:
    combo = dialog.columns[field]
    return [combo.itemData(i) for i in range(1, combo.count())]


def test_a_pretty_printed_json_list_offers_its_keys_and_imports_mapped(
        qtbot, project: Project, tmp_path) -> None:
    """A .json file holding a list (as the importer reads it) with one key per line."""
    table = tmp_path / "posts.json"
    table.write_text(json.dumps([{"ident": "1", "words": "Flood in town"},
                                 {"ident": "2", "words": "Bridge out"}], indent=2), "utf-8")
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    dialog.add_source(table)
    qtbot.waitUntil(lambda: _offered(dialog, "id") == ["ident", "words"], timeout=5000)
    assert "cannot read" not in dialog.status.text()
    _choose(dialog.columns["id"], "ident")
    _choose(dialog.columns["text"], "words")
    with qtbot.waitSignal(dialog.imported, timeout=20_000) as imported:
        dialog.start.click()
    assert imported.args[0].posts_added == 2


def test_a_jsonl_key_first_seen_in_a_later_object_can_be_mapped(qtbot, project: Project,
                                                               tmp_path) -> None:
    """The importer takes the keys of every object (a tweet without media has no media
    key): the dialog offers them all, not only the first object's."""
    table = tmp_path / "posts.jsonl"
    table.write_text('{"ident": "1", "words": "Flood"}\n'
                     'not json: the importer skips this line\n'
                     '{"ident": "2", "words": "Bridge out", "pic": "b.jpg"}\n', "utf-8")
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    dialog.add_source(table)
    qtbot.waitUntil(lambda: len(_offered(dialog, "image")) == 3, timeout=5000)
    assert _offered(dialog, "image") == ["ident", "words", "pic"]


def test_a_stray_enter_as_the_report_appears_does_not_switch(qtbot, project: Project,
                                                            monkeypatch) -> None:
    """The report opens by itself when a retrain ends, often under an analyst's Enter
    meant to accept a prediction in the list: that key must not switch the versions."""
    def steps() -> Iterator[Progress]:
        yield Progress(1, 1, "damage: predicted")

    dialog = _switch(qtbot, project, monkeypatch, steps)
    switched = []
    dialog.switched.connect(switched.append)
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    qtbot.keyClick(dialog.tabs, Qt.Key.Key_Return)
    assert dialog.runner is None and not switched and dialog.isVisible()
    assert [b.text() for b in dialog.findChildren(QPushButton) if b.isDefault()] == []
    qtbot.waitUntil(lambda: dialog.armed, timeout=10_000)
    assert dialog.switch.isDefault()  # then Enter is Switch, as the button says
