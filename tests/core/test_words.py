"""Counts in messages read right for one and for many."""

from __future__ import annotations

from crisisdesk.core.words import first_few, plural


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert plural(1, "item") == "1 item"
    assert plural(0, "item") == "0 items"
    assert plural(2, "label") == "2 labels"


def test_thousands_are_separated() -> None:
    assert plural(1234, "item") == "1,234 items"


def test_an_irregular_plural_or_a_verb_that_agrees_is_given() -> None:
    assert plural(1, "class", "classes") == "1 class"
    assert plural(3, "class", "classes") == "3 classes"
    assert plural(1, "text was", "texts were") == "1 text was"
    assert plural(2, "text was", "texts were") == "2 texts were"


def test_first_few_names_then_how_many_more() -> None:
    assert first_few(["a", "b"]) == "a, b"
    assert first_few([f"f{i}" for i in range(5)]) == "f0, f1, f2, f3, f4"
    assert first_few([f"f{i}" for i in range(8)]) == "f0, f1, f2, f3, f4 and 3 more"
    assert first_few(["a", "b", "c"], shown=1) == "a and 2 more"
