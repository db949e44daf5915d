"""Leftovers of session 12's reviews, core side: the CLI's undo and redo print each
changed item's id, read in one query for the whole step, not one query per item."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_scale_hunt import build

from crisisdesk import cli_labels
from crisisdesk.cli import main
from crisisdesk.core.store import LabelChange

N = 2_000  # items of the step undone and redone
TASK = "damage"


@pytest.mark.parametrize("command", ["undo", "redo"])
def test_cli_undo_and_redo_of_a_big_step_read_the_item_ids_in_a_few_statements(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, command: str) -> None:
    project = build(tmp_path / "big", N)
    with project.open_store() as store:
        had = {r[0] for r in store.conn.execute(
            "SELECT item FROM label_state WHERE task = ? AND label = 'severe_damage'",
            [TASK])}
        store.add_labels([LabelChange(i, TASK, "severe_damage") for i in range(1, N + 1)],
                         annotator="ana")
        # The items the step changed (those given severe_damage on import stay out).
        uids = {i: u for i, u in store.conn.execute("SELECT id, uid FROM items")
                if i not in had}
        if command == "redo":
            store.undo("ana")
    statements: list[str] = []
    real_open = cli_labels._open_store

    def counted(path: str):
        store = real_open(path)
        store.conn.set_trace_callback(statements.append)
        return store

    monkeypatch.setattr(cli_labels, "_open_store", counted)
    capsys.readouterr()
    assert main([command, str(project.root), "--annotator", "ana"]) == 0
    printed = capsys.readouterr().out.splitlines()
    # Every item of the step, named by its full id.
    assert sorted(line.split()[0] for line in printed) == sorted(uids.values())
    # Not one SELECT per item: the ids of the 2,000 items come in one go (the undo
    # itself is a few set-based statements, see test_big_steps_s12.py).
    per_item = [s for s in statements if "FROM items" in s]
    assert len(per_item) <= N // 500, per_item[:3]
