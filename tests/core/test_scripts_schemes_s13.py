"""A project's own label scheme with class names in other scripts: a Turkish capital
"İ" lower-cased by Python is "i" plus a combining dot above, which drew a stray dot
("i̇htiyaç") and refused the label "ihtiyaç" an analyst types or a sheet holds."""

from __future__ import annotations

from crisisdesk.core.schemes import LabelScheme, scheme_from_json

TURKISH = {"task": "ihtiyac", "classes": ["İhtiyaç", "Hasar yok", "ضرر شديد", "被害あり"],
           "merges": {"İHTİYAÇ VAR": "İhtiyaç"}}


def test_a_turkish_capital_i_is_stored_as_the_i_typed() -> None:
    scheme = scheme_from_json(TURKISH, "s.json")
    assert scheme.classes[0] == "ihtiyaç"
    assert all("\u0307" not in c for c in [*scheme.classes, *scheme.merges])
    for written in ("ihtiyaç", "İhtiyaç", "İHTİYAÇ", "İHTİYAÇ VAR", "ihtiyaç var"):
        assert scheme.normalise(written) == "ihtiyaç", written
    assert scheme.normalise("ضرر شديد") == "ضرر_شديد"
    assert scheme.normalise("被害あり") == "被害あり"


def test_a_scheme_stored_with_the_dot_keeps_its_classes() -> None:
    """A project that added the scheme before stored "i\u0307htiyaç": its journal's
    labels stay classes, the same file added again is the same scheme, and the label
    typed without the dot is read as that class."""
    stored = LabelScheme("ihtiyac", ("i\u0307htiyaç", "hasar_yok", "ضرر_شديد", "被害あり"),
                         {"i\u0307hti\u0307yaç_var": "i\u0307htiyaç"})
    for written in ("ihtiyaç", "İhtiyaç", "İHTİYAÇ VAR"):
        assert stored.normalise(written) == "i\u0307htiyaç", written
    again = scheme_from_json(TURKISH, "s.json").spelled_as(stored, TURKISH["classes"])
    assert again.classes == stored.classes
