"""Search in Cyrillic keeps the breve: "й" and Belarusian "ў" are letters of their own
alphabets, not "и" and "у" with an accent. Folded away, "мой" (my) found "мои" (mine,
plural), Belarusian "воўк" (wolf) "воук". "ё" still folds to "е", as Russian search does
by custom, and accents written as stress marks stay optional. A project whose copies
were folded with the breve dropped is folded again when it opens."""

from __future__ import annotations

from pathlib import Path

import pytest
from old_schema import folded_the_old_way
from test_scripts_search_s13 import add_post, store  # noqa: F401 - store: the fixture
from test_search_folding import found

from crisisdesk.core.store import Store, schema
from crisisdesk.core.store.folding import fold

BREVE_LETTERS = [  # (typed, the text it is about, a text it must not find)
    ("мой", "Мой дом затопило", "мои соседи эвакуированы"),  # Russian: my / mine (plural)
    ("мои", "мои соседи эвакуированы", "Мой дом затопило"),
    ("край", "Краснодарский край: паводок", "краи дороги размыты"),
    ("ЙОД", "нужен йод и бинты", "иод"),  # upper case typed, the breve kept
    ("воўк", "Воўк у вёсцы", "воук"),  # Belarusian short u
    ("Ўсё", "ўсё затоплена", "усё"),
    ("мій", "мій будинок зруйновано", "міи"),  # Ukrainian
]

STILL_OPTIONAL = [  # (typed, stored, a text it must not find): folded as before
    ("елка", "Ёлка упала на дорогу", "ел ка"),  # "ё" as "е": Russian search's custom
    ("замок", "за\u0301мок разрушен", "зам ок"),  # a stress mark written on a vowel
    ("mai", "Măi, apa a intrat", "mei"),  # a breve on a Latin letter stays an accent
    ("yagmur", "Tarsus'ta yağmur", "yag mur"),
]


@pytest.mark.parametrize(("typed", "stored", "other"), BREVE_LETTERS + STILL_OPTIONAL)
def test_a_cyrillic_search_finds_its_word_and_no_other(
        store: Store, typed: str, stored: str, other: str) -> None:
    add_post(store, "hit", stored)
    add_post(store, "miss", other)
    assert found(store, typed) == ["hit"]


def test_the_fold_keeps_the_breve_whichever_way_it_was_written() -> None:
    """Precomposed or as a combining breve, either case: one letter, one folded form."""
    assert fold("Й") == fold("й") == fold("и\u0306") == "й"
    assert fold("Ў") == fold("у\u0306") == "ў"
    assert fold("ё") == "е"


def test_a_project_folded_with_the_breve_dropped_is_folded_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.sqlite"
    before = folded_the_old_way(path, monkeypatch, schema._v15_fold_cyrillic_breve, {
        "my": ("Мой дом затопило", "мои дом затопило"),  # the breve dropped
        "mine": ("мои соседи эвакуированы", None)})
    with Store(path) as store:
        assert store.migrated_from == before
        assert found(store, "мой") == ["my"]
        assert found(store, "мои") == ["mine"]
