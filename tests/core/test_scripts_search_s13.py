"""Search across scripts: invisible format characters (zero-width spaces and joiners,
soft hyphens, direction marks, a BOM) and the Arabic tatweel are not part of the word
an analyst types; Japanese voicing marks are part of the letter, and a project folded
before the fold learned this is folded again when it opens."""

from __future__ import annotations

from pathlib import Path

import pytest
from old_schema import as_schema
from test_search_folding import found

from crisisdesk.core.project import Project
from crisisdesk.core.store import Store, schema


def add_post(store: Store, post_id: str, text: str) -> None:
    """A text-only post."""
    store.add_text_item(store.insert_post("src", post_id, text=text), "src", post_id)


@pytest.fixture
def store(tmp_path: Path):
    with Project.open(tmp_path / "p", create=True).open_store() as store:
        store.ensure_source("src", "csv", "/src")
        yield store


INVISIBLE = [  # (typed, stored): the stored text holds a character nobody types
    ("mexico", "Sismo en Mé\u200bxico"),  # zero-width space (pasted from a web page)
    ("hochwasser", "Hoch\u00adwasser in Passau"),  # soft hyphen
    ("میخواهم", "کمک می\u200cخواهم"),  # Persian zero-width non-joiner
    ("houston الآن", "فيضان في Houston\u200f الآن"),  # right-to-left mark after Latin
    ("need help", "need \ufeffhelp"),  # a BOM of a joined file, inside a cell
    ("a\u2060b", "ab"),  # a word joiner typed is as good as none
    ("مدينة", "غرق مـــدينة"),  # tatweel: Arabic letters drawn out for emphasis
    ("#مدينة_غزة", "#مدينة\u200c_غزة"),  # a hashtag with a joiner control inside
]


@pytest.mark.parametrize(("typed", "stored"), INVISIBLE)
def test_invisible_characters_do_not_hide_a_text_from_search(
        store: Store, typed: str, stored: str) -> None:
    add_post(store, "hit", stored)
    add_post(store, "miss", "nothing here")
    assert found(store, typed) == ["hit"]


def test_japanese_voicing_marks_are_kept_and_half_width_kana_match(store: Store) -> None:
    """Dropping the voicing mark made "バス" (bus) find "ハス" (lotus) and "パス" (pass):
    to a Japanese reader those are different letters, not an accent."""
    add_post(store, "bus", "バスが止まった")
    add_post(store, "lotus", "ハスの花")
    add_post(store, "pass", "パスワード")
    assert found(store, "バス") == ["bus"]
    assert found(store, "ﾊﾞｽ") == ["bus"]  # half-width kana, as some phones type
    assert found(store, "ハス") == ["lotus"]
    assert found(store, "で") == []


def test_a_project_folded_before_is_folded_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.sqlite"
    with monkeypatch.context() as patch:  # a project as the previous schema wrote it
        as_schema(patch, len(schema.MIGRATIONS) - 1)
        with Store(path) as old:
            old.ensure_source("src", "csv", "/src")
            add_post(old, "1", "Sismo en Mé\u200bxico")
            # The folded copy as the earlier fold wrote it: the space kept.
            old.conn.execute("UPDATE posts SET text_folded = 'sismo en me\u200bxico'")
    with Store(path) as store:
        assert found(store, "mexico") == ["1"]
