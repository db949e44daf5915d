"""The label journal as an audit trail: an item's changes in order with who made each
and whether it was an undo or redo (and of whose step), a project-wide listing filtered
by annotator, task and time and read page by page, and the ``history`` command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count

import pytest

from crisisdesk.cli import main
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange, Store
from crisisdesk.core.store import history as history_module
from crisisdesk.core.store import labels as labels_module


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Journal times one minute apart, from 2024-05-01 10:00 UTC: the order and the
    --since filter are then known."""
    minutes = count()

    def now() -> str:
        n = next(minutes)
        return f"2024-05-01T{10 + n // 60:02d}:{n % 60:02d}:00.000Z"

    monkeypatch.setattr(labels_module, "utc_now", now)
    yield


def _items(store: Store, n: int) -> list[int]:
    store.ensure_source("src", "csv", "/data/src.csv")
    out = []
    for k in range(n):
        post = store.insert_post("src", str(500 + k), text=f"text {k}")
        out.append(store.add_text_item(post, "src", str(500 + k)))
    return out


def _disputed(store: Store) -> tuple[int, int]:
    """Amina labels an item, Omar changes it, undoes and redoes; Amina labels a second
    item's other task. Returns the two items."""
    first, second = _items(store, 2)
    store.add_labels([LabelChange(first, "damage", "severe_damage")], annotator="amina")
    store.add_labels([LabelChange(first, "damage", "mild_damage")], annotator="omar")
    store.undo("omar")
    store.redo("omar")
    store.add_labels([LabelChange(second, "informative", "informative")], annotator="amina")
    store.add_labels([LabelChange(first, "informative", "not_informative")], annotator="omar")
    return first, second


def test_an_items_history_lists_label_change_undo_and_redo_in_order(
        proj: Project, clock) -> None:
    with proj.open_store() as store:
        first, _ = _disputed(store)
        events = store.label_history(first, "damage")
    assert [(e.kind, e.label, e.changed_by, e.given_by, e.source) for e in events] == [
        ("set", "severe_damage", "amina", "amina", "human"),
        ("set", "mild_damage", "omar", "omar", "human"),
        # Omar's undo gives Amina's label back: the row credits her, he made the change.
        ("undo", "severe_damage", "omar", "amina", "human"),
        ("redo", "mild_damage", "omar", "omar", "human"),
    ]
    assert [e.at for e in events] == sorted(e.at for e in events)
    undo, redo = events[2], events[3]
    assert (undo.reverts, undo.reverts_by) == (events[1].action, "omar")
    assert (redo.reverts, redo.reverts_by) == (undo.action, "omar")
    # The restored label keeps Amina's time; the undo's own time is later.
    assert undo.given_at == events[0].given_at and undo.at > events[1].at
    assert "undo by omar of their own step" in undo.in_words()
    assert "amina's human label again" in undo.in_words()


def test_an_items_history_without_a_task_holds_every_task(proj: Project, clock) -> None:
    with proj.open_store() as store:
        first, second = _disputed(store)
        assert [e.task for e in store.label_history(first)] == ["damage"] * 4 + [
            "informative"]
        assert [(e.task, e.label) for e in store.label_history(second)] == [
            ("informative", "informative")]


def test_an_undone_first_label_shows_as_cleared(proj: Project, clock) -> None:
    with proj.open_store() as store:
        (item,) = _items(store, 1)
        store.add_labels([LabelChange(item, "damage", "severe_damage")], annotator="amina")
        store.undo("amina")
        events = store.label_history(item)
    assert [(e.kind, e.label) for e in events] == [("set", "severe_damage"), ("undo", None)]
    assert events[1].in_words().startswith("(cleared)")


def test_project_listing_filters_by_annotator_task_and_time(proj: Project, clock) -> None:
    with proj.open_store() as store:
        first, second = _disputed(store)
        everything = list(store.label_events())
        by_omar = list(store.label_events(annotator="omar"))
        informative = list(store.label_events(task="informative"))
        late = list(store.label_events(since="2024-05-01T10:07:00Z"))
        both = list(store.label_events(annotator="amina", since="2024-05-01 10:04"))
        first_uid = store.item_uid_of(first)
    assert len(everything) == 6
    assert [e.journal_id for e in everything] == sorted(e.journal_id for e in everything)
    # The undo restoring Amina's label is Omar's change, not hers.
    assert [(e.kind, e.label) for e in by_omar] == [
        ("set", "mild_damage"), ("undo", "severe_damage"), ("redo", "mild_damage"),
        ("set", "not_informative")]
    assert {e.task for e in informative} == {"informative"} and len(informative) == 2
    assert all(e.at >= "2024-05-01T10:07:00.000Z" for e in late)
    assert [e.kind for e in late] == ["set", "set"]  # the two labels after the redo
    assert [(e.item, e.changed_by) for e in both] == [(second, "amina")]
    assert everything[0].item_uid == first_uid


def test_project_listing_is_read_page_by_page(proj: Project, monkeypatch) -> None:
    monkeypatch.setattr(history_module, "PAGE", 10)
    with proj.open_store() as store:
        items = _items(store, 25)
        store.add_labels([LabelChange(i, "damage", "severe_damage") for i in items],
                         annotator="amina")
        queries: list[str] = []
        store.conn.set_trace_callback(queries.append)
        events = store.label_events()
        assert isinstance(events, Iterator)
        first = next(events)
        pages_for_first = sum("FROM labels l" in q for q in queries)
        rest = list(events)
        store.conn.set_trace_callback(None)
    assert first.item == items[0] and [e.item for e in rest] == items[1:]
    assert pages_for_first == 1
    assert sum("FROM labels l" in q for q in queries) == 3  # 10 + 10 + 5 rows


def test_a_bad_since_is_refused(proj: Project) -> None:
    with proj.open_store() as store, pytest.raises(ValueError):
        store.label_events(since="last tuesday")


# ------------------------------------------------------------------ the command
def test_history_command_lists_an_items_changes(proj: Project, clock, capsys) -> None:
    with proj.open_store() as store:
        first, _ = _disputed(store)
        uid = store.item_uid_of(first)
    assert main(["history", str(proj.root), "500_0", "--task", "damage"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("2024-05-01 10:00:00 UTC  damage  severe_damage")
    assert "amina" in lines[0] and "omar" in lines[1]
    assert "undo by omar" in lines[2] and "redo by omar" in lines[3]
    assert main(["history", str(proj.root), uid, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["kind"], r["task"]) for r in rows] == [
        ("set", "damage"), ("set", "damage"), ("undo", "damage"), ("redo", "damage"),
        ("set", "informative")]
    assert rows[2]["reverts_by"] == "omar" and rows[2]["given_by"] == "amina"


def test_history_command_lists_the_project_filtered(proj: Project, clock, capsys) -> None:
    with proj.open_store() as store:
        _, second = _disputed(store)
        uid = store.item_uid_of(second)
    assert main(["history", str(proj.root), "--annotator", "amina",
                 "--since", "2024-05-01T10:01Z"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and f"  {uid}  informative  informative" in out[0]
    assert main(["history", str(proj.root), "--annotator", "nobody"]) == 0
    assert capsys.readouterr().out.strip() == "no label changes match"


def test_history_command_says_what_is_wrong(proj: Project, clock, capsys) -> None:
    with proj.open_store() as store:
        _disputed(store)
    assert main(["history", str(proj.root), "no-such-item"]) == 2
    assert "no-such-item" in capsys.readouterr().err
    assert main(["history", str(proj.root), "--since", "yesterday"]) == 2
    assert "--since" in capsys.readouterr().err
    assert main(["history", str(proj.root), "--task", "damagee"]) == 2
    assert "damagee" in capsys.readouterr().err
