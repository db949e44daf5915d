"""Bugs found exercising the label journal as analysts do: labels given beside another
process's change of the task's scheme, ..."""

from __future__ import annotations

import pytest

from crisisdesk.core.project import Project
from crisisdesk.core.schemes import LabelScheme
from crisisdesk.core.store import LabelChange, Store


def _item(store: Store) -> int:
    store.ensure_source("src", "csv", "/data/src.csv")
    post = store.insert_post("src", "1", text="a post")
    return store.add_text_item(post, "src", "1")


def test_a_label_is_checked_against_the_scheme_another_process_changed_meanwhile(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """The label was checked against the task's classes before the write lock was
    taken: a `schemes add` that changed the classes of a task without labels in between
    (and was allowed to: no labels yet) left the journal a label of a class the task no
    longer has, which exports, queues and training do not know."""
    with project.open_store() as store, project.open_store() as other:
        store.add_scheme(LabelScheme("severity", ("low", "high")))
        item = _item(store)
        real_transaction = store.transaction

        def transaction():
            # The other process's change lands between the check and the write.
            other.add_scheme(LabelScheme("severity", ("minor", "major")))
            return real_transaction()

        monkeypatch.setattr(store, "transaction", transaction)
        with pytest.raises(ValueError, match="'low' is not a class of task severity"):
            store.add_labels([LabelChange(item, "severity", "low")], annotator="ana")
        monkeypatch.undo()
        assert store.journal(item) == []
