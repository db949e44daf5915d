"""Review of session 13: search learned to ignore invisible format characters (zero-width
spaces, direction marks, soft hyphens, a BOM inside a text); labels, read from the same
kind of sheets, did not. A label cell copied from a web page or typed on a right-to-left
keyboard ("ضرر شديد" + a right-to-left mark) was refused as "not a class", though it
looks, and is, the class."""

from __future__ import annotations

import pytest

from crisisdesk.core.schemes import LabelScheme, builtin_schemes, scheme_from_json

ARABIC = {"task": "darar", "classes": ["ضرر شديد", "بدون ضرر"]}


@pytest.mark.parametrize("written", [
    "severe damage\u200b",    # a zero-width space after the label (a web page's)
    "\ufeffsevere_damage",    # a BOM left at a cell's start (files joined together)
    "severe\u00ad_damage",    # a soft hyphen
    "\u200esevere damage\u200e",  # left-to-right marks around a Latin label
])
def test_a_label_with_invisible_characters_is_its_class(written: str) -> None:
    assert builtin_schemes()["damage"].normalise(written) == "severe_damage"


def test_an_arabic_label_with_a_direction_mark_is_its_class() -> None:
    scheme = scheme_from_json(ARABIC, "darar.json")
    for written in ("ضرر شديد\u200f", "\u200fضرر شديد", "\u202bضرر شديد\u202c"):
        assert scheme.normalise(written) == "ضرر_شديد", ascii(written)


def test_a_class_name_is_stored_without_its_invisible_marks() -> None:
    """Stored with the mark, the class was unequal to the same word typed or imported
    without it, and an export's label cell carried an invisible character."""
    scheme = scheme_from_json({"task": "darar", "classes": ["ضرر شديد\u200f", "بدون ضرر"],
                               "merges": {"\u200fضرر كبير": "ضرر شديد"}}, "darar.json")
    assert scheme.classes[0] == "ضرر_شديد"
    assert scheme.normalise("ضرر كبير") == "ضرر_شديد"


def test_a_scheme_stored_with_a_mark_keeps_its_classes() -> None:
    """A project that stored a class with the mark before: its journal's labels stay
    that class, and the word written with or without the mark is read as it."""
    stored = LabelScheme("darar", ("ضرر_شديد\u200f", "بدون_ضرر"))
    for written in ("ضرر شديد", "ضرر شديد\u200f"):
        assert stored.normalise(written) == "ضرر_شديد\u200f", ascii(written)
    again = scheme_from_json({"task": "darar", "classes": ["ضرر شديد\u200f", "بدون ضرر"]},
                             "darar.json").spelled_as(stored, ["ضرر شديد\u200f", "بدون ضرر"])
    assert again.classes == stored.classes
