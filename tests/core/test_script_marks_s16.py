"""Search in scripts whose marks are letters: in Thai, Devanagari, Tamil and the other
Indic and South-East Asian scripts the combining marks are tone marks, viramas and
nuktas, part of the word, not accents. Dropped by the fold, a search for one word found
others ("ม้า", horse, found every "มา", come). Accents on Latin, Greek and Cyrillic letters
and the optional vowel points of Arabic and Hebrew stay optional, and a project whose
copies were folded the old way is folded again when it opens."""

from __future__ import annotations

from pathlib import Path

import pytest
from old_schema import folded_the_old_way
from test_scripts_search_s13 import add_post
from test_search_folding import found

from crisisdesk.core.project import Project
from crisisdesk.core.store import Store, schema


@pytest.fixture
def store(tmp_path: Path):
    with Project.open(tmp_path / "p", create=True).open_store() as store:
        store.ensure_source("src", "csv", "/src")
        yield store


WORDS_WITH_MARKS = [  # (typed, the text it is about, a text it must not find)
    # Thai tone marks: water/flood is not "bring", horse is not "come".
    ("น้ำ", "น้ำท่วมหนักที่หาดใหญ่", "ทหารนำถุงทรายมาช่วย"),
    ("ม้า", "ม้าติดอยู่บนหลังคา", "รถมาช่วยแล้ว"),
    # Devanagari virama: "करम" (kindness) is not inside "कर्मचारी" (staff).
    ("करम", "खुदा का करम है", "बिजली कर्मचारी पहुँचे"),
    # Devanagari nukta: "ज़रा" (a little) is not "जरा" (old age).
    ("ज़रा", "ज़रा रुकिए, मदद आ रही है", "जरा अवस्था के लोग"),
    ("\u095bरा", "\u091c\u093cरा सा पानी", "जरा"),  # the nukta letter precomposed
    # Tamil pulli (virama): "பல்" (tooth) is not "பல" (many).
    ("பல்", "பல் மருத்துவ முகாம்", "பல வீடுகள் சேதம்"),
]


OPTIONAL_MARKS = [  # (typed, stored, a text it must not find): marks still optional
    ("cafe", "Cafe\u0301 cerrado", "cave"),  # a Latin accent typed as a combining mark
    ("lu lut", "Lũ lụt ở miền Trung", "lu lot"),  # Vietnamese is Latin
    ("ελλαδα", "Σεισμός στην Ελλάδα", "ελα δα"),
    ("елка", "Ёлка упала на дорогу", "ел ка"),
    ("سيل", "سَيْل جارف في الوادي", "سهل"),  # Arabic harakat
    ("مَلِك", "الملك يزور المنطقة", "ملعب"),
    ("שלום", "שָׁלוֹם לכולם", "שלם"),  # Hebrew niqqud
]


@pytest.mark.parametrize(("typed", "stored", "other"), WORDS_WITH_MARKS + OPTIONAL_MARKS)
def test_a_search_finds_its_word_whatever_the_optional_marks_and_no_other(
        store: Store, typed: str, stored: str, other: str) -> None:
    """Marks that are letters count (WORDS_WITH_MARKS); accents and vowel points do not
    (OPTIONAL_MARKS)."""
    add_post(store, "hit", stored)
    add_post(store, "miss", other)
    assert found(store, typed) == ["hit"]


def test_a_project_folded_with_marks_dropped_is_folded_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.sqlite"
    marks = folded_the_old_way(path, monkeypatch, schema._v14_fold_script_marks, {
        "horse": ("ม้าติดอยู่บนหลังคา", "มาติดอยบนหลังคา"),  # the tone mark dropped
        "come": ("รถมาช่วยแล้ว", None)})
    with Store(path) as store:
        assert store.migrated_from == marks
        assert found(store, "ม้า") == ["horse"]
        assert found(store, "มา") == ["come"]
