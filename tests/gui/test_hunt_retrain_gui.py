"""Bug hunt on the retrain report dialog: a lost checkpoint made active again, an active
version that cannot be scored, the count of holdout items left out of the comparison."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from test_retrain import _project
from test_retrain_saved_s16 import _retrained

from crisisdesk.core.retrain import RetrainReport, TaskRetrain
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog
from crisisdesk.gui.dialogs.retrain_headline import headline


def _scores(n: int) -> dict:
    return {"n": n, "macro_f1": 0.8, "classes": ["yes", "no"],
            "confusion": [[n - 1, 1], [0, 0]],
            "per_class": {"yes": {"f1": 0.8}, "no": {"f1": 0.0}}}


def test_a_version_whose_checkpoint_is_gone_stays_inactive_and_the_report_says_why(
        qtbot, tmp_path) -> None:
    # Before: the dialog activated it and asked for a Predict, which then failed on the
    # missing sidecar, as every later Predict did, for every task.
    project, job = _retrained(tmp_path)
    entry = job.report.tasks["damage"]
    with project.open_store() as store:
        lost = store.model_version(entry.candidate)
    Path(lost["path"]).unlink()
    dialog = RetrainDialog(project, job.report)
    qtbot.addWidget(dialog)
    page = dialog.pages["damage"]
    qtbot.waitUntil(lambda: page.versions.topLevelItemCount() == 2, timeout=10_000)
    page.versions.setCurrentItem(page.versions.topLevelItem(0))
    assert page.versions.currentItem().data(0, Qt.ItemDataRole.UserRole) == entry.candidate
    reactivated: list[str] = []
    dialog.reactivated.connect(reactivated.append)
    page.reactivate.click()
    qtbot.waitUntil(lambda: lost["name"] in dialog.status.text(), timeout=10_000)
    assert "cannot be made active" in dialog.status.text()
    assert reactivated == []
    with project.open_store() as store:
        assert store.active_model_version("damage")["id"] == entry.active


def test_the_headline_says_why_the_active_version_was_not_scored() -> None:
    entry = TaskRetrain("damage", holdout_split="test", holdout=6, candidate=7,
                        candidate_name="damage-v7", new=_scores(6), active=3,
                        active_name="damage-v3", recommend_switch=True,
                        active_error="/p/models/damage-v3.json: no such sidecar")
    text = headline(entry)
    assert "damage-v3 cannot be scored" in text and "no such sidecar" in text
    assert "sees none" not in text


def test_the_headline_counts_the_items_left_out_of_the_comparison(qtbot, tmp_path) -> None:
    # The new version misses 1 holdout item, the active one 3 others: both are scored
    # on the 5 both see, so 4 are left out (it said 3, the larger of the two).
    entry = TaskRetrain("damage", holdout_split="test", holdout=9, candidate=7,
                        candidate_name="damage-v7", new=_scores(5), new_unseen=1,
                        active=3, active_name="damage-v3", current=_scores(5),
                        current_unseen=3, recommend_switch=True)
    text = headline(entry)
    # A count is held to its word by a no-break space.
    assert "scored on the 5 both versions see, 4 left out" in text.replace("&nbsp;", " ")
    dialog = RetrainDialog(_project(tmp_path, n=3), RetrainReport({"damage": entry}))
    qtbot.addWidget(dialog)
    assert dialog.pages["damage"].headline.text() == text


def test_a_new_version_with_nothing_to_score_it_on_is_not_called_not_retrained() -> None:
    # A project whose labels are all in train has no holdout: the new version is trained
    # and registered (the override can switch to it), yet the report said "Not retrained".
    entry = TaskRetrain("damage", holdout_split="test", holdout=0, candidate=7,
                        candidate_name="damage-v7",
                        skipped="no labelled holdout items to compare on; not switched")
    text = headline(entry)
    assert "Not retrained" not in text
    assert "Not compared" in text and "no labelled holdout items" in text
    entry = TaskRetrain("damage", holdout_split="test", holdout=4, candidate=7,
                        candidate_name="damage-v7")  # it sees none of the 4 items
    assert "damage-v7 sees none of the 4&nbsp;holdout items" in headline(entry)


def test_the_headline_says_when_the_active_versions_figure_is_optimistic() -> None:
    # The shipped heads picked their seed on CrisisMMD's dev, the holdout of a project
    # imported from it: their figure there flatters them, and the report now says so.
    why = "this head's seed was picked on its dev figures"
    entry = TaskRetrain("damage", holdout_split="dev", holdout=6, candidate=7,
                        candidate_name="damage-v7", new=_scores(6), active=3,
                        active_name="damage-v3", current=_scores(6),
                        active_optimistic=why)
    assert "optimistic" in headline(entry) and escape(why) in headline(entry)
    entry.active_optimistic = None
    assert "optimistic" not in headline(entry)
