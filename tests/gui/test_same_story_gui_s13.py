"""The app tells the same story as the CLI: the retrain report's versions list gives a
version the figure ``crisisdesk versions`` and the Model versions window give it."""

from __future__ import annotations

from test_retrain import FAST, _project

from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.fusion.versions import summarise_versions
from crisisdesk.core.retrain import RetrainReport, TaskRetrain
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog
from crisisdesk.gui.dialogs.versions_dialog import figures_text


def test_the_retrain_reports_versions_list_shows_the_figure_crisisdesk_versions_shows(
        qtbot, tmp_path) -> None:
    # Before: the report's list showed the mean macro F1 over the seeds (0.419 for the
    # shipped damage head) while `crisisdesk versions` and the Model versions window
    # showed the registered head's (43.6%): one version, two figures.
    project = _project(tmp_path, n=120)
    list(TrainJob(project, "damage", image_encoder=None, text_encoder="noise-txt",
                  recipe=FAST, seeds=3).run())
    with project.open_store() as store:
        (version,) = summarise_versions(store, "damage")
        metrics = store.model_versions("damage")[0]["metrics"]
    mean = metrics["summary"]["macro_f1"]["mean"]
    assert round(mean, 3) != round(version.macro_f1, 3)  # the seeds differ: a real check
    dialog = RetrainDialog(project, RetrainReport({"damage": TaskRetrain("damage")}))
    qtbot.addWidget(dialog)
    page = dialog.pages["damage"]
    qtbot.waitUntil(lambda: page.versions.topLevelItemCount() == 1, timeout=10_000)
    row = page.versions.topLevelItem(0)
    shown = [row.text(c) for c in range(page.versions.columnCount())]
    # As the CLI prints it (the cell holds the figure to its name with no-break spaces).
    assert f"macro F1 {version.macro_f1:.1%}" in " ".join(shown).replace("\u00a0", " ")
    assert figures_text(version) in shown  # as the Model versions window shows it
    assert f"{mean:.3f}" not in " ".join(shown)
