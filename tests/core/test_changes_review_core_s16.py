"""Session 16's changes read again (core): a project two fold changes behind (schema 12)
folds its stored texts once when it opens, not once per change: each refold reads and
rewrites every text that is not plain ASCII, a minute or more on a big project."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from old_schema import as_schema
from test_scripts_search_s13 import add_post
from test_search_folding import found

from crisisdesk.core.store import Store, folding, schema


#: Posts, their texts and the folded copies the fold of schema 12 wrote (the tone mark
#: dropped, the zero-width space kept: the fold does neither now).
OLD_FOLDS = {"horse": ("ม้าติดอยู่บนหลังคา", "มาติดอยบนหลังคา"),
             "zw": ("Me\u0301\u200bxico", "me\u200bxico")}


def test_a_project_two_folds_behind_folds_each_text_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.sqlite"
    before_refolds = schema.MIGRATIONS.index(schema._v13_fold_invisibles)
    with monkeypatch.context() as patch:  # a project as schema 12 wrote it
        as_schema(patch, before_refolds)
        with Store(path) as old:
            old.ensure_source("src", "csv", "/src")
            for post, (text, folded_then) in OLD_FOLDS.items():
                add_post(old, post, text)
                old.conn.execute("UPDATE posts SET text_folded = ? WHERE post_id = ?",
                                 [folded_then, post])
    folded: Counter[str] = Counter()
    fold = folding.fold

    def counted(text: str | None) -> str | None:
        folded[text] += 1
        return fold(text)

    monkeypatch.setattr(folding, "fold", counted)
    with Store(path) as store:
        assert store.migrated_from == before_refolds
        assert found(store, "ม้า") == ["horse"]  # folded as the fold does now
        assert found(store, "mexico") == ["zw"]
    assert [folded[text] for text, _ in OLD_FOLDS.values()] == [1, 1], folded
