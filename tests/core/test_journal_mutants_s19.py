"""Checks that a deliberately broken label journal makes a test fail (mutation audit,
session 19). Each test pins one behaviour that no earlier test caught when the code was
broken on purpose in a scratch copy (the audit's table is in the session report):

* training reads an item's split for the task it trains, never the split the same item
  has in another task (a holdout item of one task must not train another's head twice,
  once as train and once as test);
* a colleague's label carried in a team sheet lands on an item whose analyst gave the
  same class and took it back: "this label was given before" means by that person;
* the history calls a carried-over label "given then" only when the file gave a time:
  a label written a few milliseconds after its step (the clock ticked between the two
  reads) is the import's time, not the file's.
"""

from __future__ import annotations

from pathlib import Path

from import_helpers import items, label_of, run_import, write_csv
from test_label_journal import _items

from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange
from crisisdesk.core.store.history import LabelEvent


def test_labelled_items_give_the_split_of_the_task_asked(project: Project) -> None:
    with project.open_store() as store:
        (item,) = _items(store, 1)
        store.add_labels([LabelChange(item, "damage", "mild_damage"),
                          LabelChange(item, "informative", "informative")],
                         annotator="ana")
        store.set_split(item, "damage", "train")
        store.set_split(item, "informative", "test")
        assert store.labelled_items("damage") == [(item, "mild_damage", "train")]
        assert store.labelled_items("informative") == [(item, "informative", "test")]


def test_a_colleagues_label_lands_where_the_analyst_took_the_same_class_back(
        tmp_path: Path, project: Project) -> None:
    header = ["id", "text", "damage", "damage_label_source", "damage_annotator",
              "damage_labelled_at"]
    sheet = write_csv(tmp_path / "team.csv", header,
                      [["1", "roof off", "", "", "", ""]])
    run_import(project, [sheet])
    with project.open_store() as store:
        (item,) = (i.id for i in items(store, "team", "1"))
        store.add_labels([LabelChange(item, "damage", "severe_damage")], annotator="ana")
        store.undo("ana")  # ana's label taken back: nobody's decision stands
    # The team sheet, updated: omar labelled the post severe_damage by hand.
    write_csv(sheet, header, [["1", "roof off", "severe_damage", "human", "omar",
                               "2024-04-01T09:00:00.000Z"]])
    job = run_import(project, [sheet])
    assert job.report.labels_added == 1
    with project.open_store() as store:
        assert label_of(store, item, "damage") == "severe_damage"
        assert store.current_label(item, "damage").annotator == "omar"


def _carried(at: str, given_at: str) -> LabelEvent:
    """A set of the import ``crisismmd`` carrying omar's human label."""
    return LabelEvent(1, 1, "src:1:0", "damage", "severe_damage", "set", "omar", at,
                      "omar", "human", given_at, 1, None, None, carried_over=True)


def test_a_label_written_a_moment_after_its_step_is_not_called_given_then() -> None:
    step = "2024-05-01T10:00:00.000Z"
    untimed = _carried(step, "2024-05-01T10:00:00.004Z")  # the clock ticked: 4 ms
    assert not untimed.time_kept()
    assert "the file gave no time" in untimed.how() and "given" not in untimed.how()
    timed = _carried(step, "2024-04-01T09:00:00.000Z")
    assert timed.time_kept() and "given 2024-04-01 09:00:00 UTC" in timed.how()
