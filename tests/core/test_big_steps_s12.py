"""Big label steps and big exports at the size of a real project.

Found at 100,000 items: the undo (or redo) of a label given to a whole queue ran one
SELECT and one INSERT per row of the step (5-10 s, the window showing nothing), and an
export reported "0 of 1" and then wrote every row with nothing to show or to cancel.
Now an undo or redo is a few set-based statements whatever the step's size, with the
journal's rules unchanged, and an export yields its progress a chunk of rows at a time
and, closed midway, leaves no file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_scale_hunt import build

from crisisdesk.core.exporters import Exporter
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange, Store

N = 5_000
TASK = "damage"


@pytest.fixture
def big(tmp_path: Path) -> Project:
    """N items, a third labelled on import, item 7 given mild_damage by ana."""
    return build(tmp_path / "big", N)


def _state(store: Store) -> dict[int, tuple]:
    """Every item's current (label, annotator, source, time) for TASK (None: none)."""
    rows = store.conn.execute(
        "SELECT l.item, l.label, l.annotator, l.source, l.created_at FROM labels l"
        " JOIN (SELECT item, MAX(id) AS id FROM labels WHERE task = ? GROUP BY item) m"
        " ON m.id = l.id", [TASK]).fetchall()
    return {r[0]: (tuple(r[1:]) if r[1] is not None else None) for r in rows}


def _counted(store: Store, work) -> tuple[object, int]:
    """What ``work()`` returns, and how many SQL statements it ran.

    SQLite calls the trace again, with the same statement's text, each time a trigger
    runs inside it (the journal's trigger keeps ``label_state``): a run of the same text
    is one statement. Rows written one by one differ in their bound values."""
    statements: list[str] = []
    store.conn.set_trace_callback(
        lambda sql: None if statements and statements[-1] == sql else statements.append(sql))
    try:
        return work(), len(statements)
    finally:
        store.conn.set_trace_callback(None)


def test_undo_and_redo_of_a_big_step_restore_every_label_in_a_few_statements(
        big: Project) -> None:
    with big.open_store() as store:
        before = _state(store)
        assert before[7][:2] == ("mild_damage", "ana")
        assert store.add_labels([LabelChange(i, TASK, "little_or_no_damage")
                                 for i in range(1, N + 1)], annotator="ana") is not None
        # A colleague changes ten of them afterwards: ana's undo must leave those alone.
        ben = list(range(10, 110, 10))
        store.add_labels([LabelChange(i, TASK, "severe_damage") for i in ben],
                         annotator="ben")
        given = _state(store)

        restored, undo_statements = _counted(store, lambda: store.undo("ana"))
        after_undo = _state(store)
        for item in range(1, N + 1):
            want = given[item] if item in ben else before.get(item)
            assert after_undo.get(item) == want, item
        # Each label as it was before, with its provenance: the import's rows keep their
        # annotator, source and time; item 7 is ana's mild_damage again.
        assert after_undo[1][1:3] == ("import", "import")
        assert sorted(c.item for c in restored) == [i for i in range(1, N + 1)
                                                     if i not in ben]
        assert {c.label for c in restored if c.item == 2} == {None}

        redone, redo_statements = _counted(store, lambda: store.redo("ana"))
        after_redo = _state(store)
        for item in range(1, N + 1):
            assert after_redo[item] == given[item], item
        assert len(redone) == N - len(ben)
        # The journal rows of a step are not read and written one by one: 5,000 rows
        # were 10,000 statements or more.
        assert undo_statements < 50 and redo_statements < 50, (undo_statements,
                                                               redo_statements)
        assert store.stack_sizes("ana") == (2, 0)


def test_a_step_naming_an_item_twice_is_undone_as_the_journal_rules_say(
        project: Project) -> None:
    """A step whose changes name an (item, task) twice: undo restores the label before
    the step once. The second severe_damage changes nothing and writes no row (the
    changes of a step apply in order: test_label_steps_s12)."""
    with project.open_store() as store:
        store.ensure_source("src", "csv", "/data/src.csv")
        post = store.insert_post("src", "1", text="post")
        item = store.add_text_item(post, "src", "1")
        other = store.add_text_item(store.insert_post("src", "2", text="b"), "src", "2")
        store.add_labels([LabelChange(item, TASK, "mild_damage")], annotator="ben")
        store.add_labels([LabelChange(item, TASK, "severe_damage"),
                          LabelChange(item, TASK, "severe_damage"),
                          LabelChange(other, TASK, "severe_damage")], annotator="ana")
        restored = store.undo("ana")
        assert sorted((c.item, c.label) for c in restored) == [(item, "mild_damage"),
                                                               (other, None)]
        assert [r["label"] for r in store.journal(item, TASK)] == [
            "mild_damage", "severe_damage", "mild_damage"]
        assert store.current_label(item, TASK).annotator == "ben"
        assert store.current_label(other, TASK) is None


def test_an_export_yields_its_progress_a_chunk_of_rows_at_a_time(
        big: Project, tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    with big.open_store() as store:
        steps = list(Exporter(store).writing(out, "csv"))
    assert all(isinstance(s, Progress) for s in steps)
    assert len(steps) >= 4
    assert {s.total for s in steps} == {N}
    assert [s.done for s in steps] == sorted(s.done for s in steps)
    assert steps[-1].done == N
    assert len(out.read_text(encoding="utf-8").splitlines()) == N + 1


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "crisismmd"])
def test_an_export_closed_midway_leaves_no_file_and_the_old_one_as_it_was(
        big: Project, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out" / f"labels.{'tsv' if fmt == 'crisismmd' else fmt}"
    out.parent.mkdir()
    out.write_text("the export before\n", encoding="utf-8")
    with big.open_store() as store:
        steps = Exporter(store, tasks=[TASK]).writing(out, fmt)
        next(steps)
        progress = next(steps)
        assert 0 < progress.done < N
        steps.close()  # the analyst's Cancel
    assert out.read_text(encoding="utf-8") == "the export before\n"
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temp file left
