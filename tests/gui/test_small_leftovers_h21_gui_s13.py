"""Small leftovers of session 13 in the app: an earlier release's shipped head in the
Model versions window, and the Caption images row counting captions as the job does."""

from __future__ import annotations

from pathlib import Path

from test_app_jobs import _Captioner, _settings
from test_main_window import open_window
from test_small_leftovers_h21_s13 import shipped_versions, two_texts_project

from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs.versions_dialog import VersionsDialog


def test_a_replaced_shipped_head_cannot_be_picked_in_the_versions_window(
        qtbot, tmp_path: Path) -> None:
    project = Project.open(tmp_path / "p", create=True)
    old, _ = shipped_versions(project)
    dialog = VersionsDialog(project)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.loaded, timeout=10_000)
    tree = dialog.tree
    rows = [tree.topLevelItem(i).child(j) for i in range(tree.topLevelItemCount())
            for j in range(tree.topLevelItem(i).childCount())]
    (row,) = [r for r in rows if r.text(0).startswith(f"{old} ")]
    assert "Cannot be made active" in row.toolTip(0) and "another damage head" in \
        row.toolTip(0)
    dialog.tree.setCurrentItem(row)
    assert not dialog.activate.isEnabled()


def test_the_caption_row_counts_captions_of_a_photo_posted_with_two_texts(
        qtbot, tmp_path: Path, monkeypatch) -> None:
    from crisisdesk.core.captions import factory

    project = two_texts_project(tmp_path)
    monkeypatch.setattr(factory, "load_captioner", lambda name=None, **_: _Captioner("fake"))
    _settings(captioner="fake", device="cpu")
    window = open_window(qtbot, project)
    jobs = window.actions_.jobs
    with qtbot.waitSignal(jobs.job_finished, timeout=30_000) as finished:
        window.actions_.caption.trigger()
    assert finished.args[1] == "done", jobs.rows[0].runner.details
    with project.open_store() as store:
        written = store.conn.execute("SELECT COUNT(*) FROM captions").fetchone()[0]
    # One image, two captions: the row's count and its noun agree with what was written.
    assert written == 2
    assert f"{written} captions" in jobs.rows[0].figures.text()
