"""Checks that a deliberately broken label store makes a test fail (mutation audit,
session 15). Each test pins one behaviour that no earlier test caught when the code
was broken on purpose in a scratch copy (the audit's table is in the session report):

* an annotator's undo stack holds only their own steps in the app, never an import's
  labels filed under a source that bears their name;
* the size the window announces for the next undo is the latest step's;
* ``history --since T`` lists the changes made at T itself;
* a label carried over from another project's export is told as such in the history,
  and a label given here is not;
* an export of only corrected items counts (its progress total) the items it writes;
* every connection of a store commits with ``synchronous=FULL`` (a label survives a
  power cut, not only a killed process: WAL's NORMAL may lose the last commits).
"""

from __future__ import annotations

from pathlib import Path

from import_helpers import items, run_import, write_csv
from test_label_journal import _items

from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange, Store


def test_an_import_named_after_the_analyst_is_not_on_their_undo_stack(
        tmp_path: Path, project: Project) -> None:
    # Ana's own sheet, ana.csv, imported: its labels are the source "ana"'s import, not
    # a step of the analyst ana. Her Ctrl+Z past her own steps took the whole import back.
    sheet = write_csv(tmp_path / "ana.csv", ["id", "text", "damage"],
                      [["1", "bridge gone", "severe_damage"],
                       ["2", "roof off", "mild_damage"]])
    run_import(project, [sheet])
    with project.open_store() as store:
        (one,), (two,) = items(store, "ana", "1"), items(store, "ana", "2")
        assert store.current_label(one.id, "damage").source == "import"
        assert store.stack_sizes("ana") == (0, 0)
        store.add_labels([LabelChange(one.id, "damage", "little_or_no_damage")],
                         annotator="ana")
        assert store.stack_sizes("ana") == (1, 0)
        store.undo("ana")
        assert store.undo("ana") == []  # nothing more of hers to take back
        assert store.current_label(one.id, "damage").label == "severe_damage"
        assert store.current_label(two.id, "damage").label == "mild_damage"


def test_the_next_undo_announces_the_size_of_the_latest_step(project: Project) -> None:
    # A bulk step, then a small one: Ctrl+Z takes the small one back, and the window's
    # "undoing N labels" must say its size, not the bulk step's.
    with project.open_store() as store:
        ids = _items(store, 7)
        store.add_labels([LabelChange(i, "damage", "mild_damage") for i in ids],
                         annotator="ana")
        store.add_labels([LabelChange(i, "damage", "severe_damage") for i in ids[:2]],
                         annotator="ana")
        assert store.next_step_size("ana") == 2
        assert store.next_step_size("ana", undo=False) is None
        store.undo("ana")
        assert store.next_step_size("ana") == 7
        assert store.next_step_size("ana", undo=False) == 2


def test_label_events_since_a_changes_own_time_include_that_change(
        project: Project) -> None:
    with project.open_store() as store:
        one, two = _items(store, 2)
        store.add_labels([LabelChange(one, "damage", "mild_damage")], annotator="ana")
        store.add_labels([LabelChange(two, "damage", "mild_damage")], annotator="ana")
        first, second = store.label_events()
        since = list(store.label_events(since=first.at))
    # "at or after": the first change, made at that very time, is listed with the other.
    assert [e.journal_id for e in since] == [first.journal_id, second.journal_id]


def test_history_tells_a_carried_over_label_from_one_given_here(project: Project) -> None:
    with project.open_store() as store:
        one, two = _items(store, 2)
        # An export of another project: omar's label, given in April, imported today.
        store.add_labels([LabelChange(one, "damage", "severe_damage", annotator="omar",
                                      source="human", given_at="2024-04-01T09:00:00.000Z")],
                         annotator="src", source="import", skip_unchanged=False)
        store.add_labels([LabelChange(two, "damage", "mild_damage")], annotator="ana")
        (carried,), (here,) = store.label_history(one), store.label_history(two)
    assert carried.carried_over and "imported" in carried.how()
    assert "2024-04-01 09:00:00 UTC" in carried.how()
    assert not here.carried_over and "imported" not in here.how()


def test_an_export_of_only_corrected_items_counts_what_it_writes(project: Project) -> None:
    # The export's progress total: items whose label only an import gave, or that an
    # analyst cleared, are not written, and must not be counted either.
    with project.open_store() as store:
        imported, corrected, cleared, untouched = _items(store, 4)
        store.add_labels([LabelChange(i, "damage", "mild_damage")
                          for i in (imported, corrected, cleared)],
                         annotator="src", source="import")
        store.add_labels([LabelChange(corrected, "damage", "severe_damage")],
                         annotator="ana")
        store.add_labels([LabelChange(cleared, "damage", None)], annotator="ana")
        written = list(store.export_items(["damage"], only_corrected=True))
        assert [item["tasks"]["damage"]["label"] for item in written] == ["severe_damage"]
        assert store.export_count(["damage"], only_corrected=True) == len(written)
        assert store.export_count(["damage"]) == 4


def test_every_store_connection_commits_through_a_power_cut(project: Project) -> None:
    # 2 is FULL: with WAL, NORMAL keeps the database whole after a power cut but may lose
    # the labels of the last commits, which the analyst saw saved.
    with project.open_store() as store, Store(store.path, create=False) as other:
        for conn in (store.conn, other.conn):
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
