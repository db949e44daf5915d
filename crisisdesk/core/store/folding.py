"""The fold that makes search find what analysts type, whatever its accents and case.

Search compares folded copies: the store keeps one of each post text, caption and alt
text (``posts.text_folded``, ``captions.caption_folded``, ``media.alt_text_folded``,
filled by triggers that call :func:`fold` in SQL, see the migration ``_v11_search_folding``)
and folds the typed search the same way, so a search stays a plain scan of stored text:
folding 300,000 texts in Python at each keystroke took about 0.8 s.

A change to :func:`fold` needs a migration that folds the stored copies again, or texts
stored before it would be compared in the old fold with searches in the new one.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from functools import lru_cache

#: The SQL name of :func:`fold` (the triggers call it; every Store connection has it).
FOLD_SQL = "crisisdesk_fold"


#: What the keyboard types for letters that do not decompose and for typographic marks
#: (applied after case folding, so lower case only).
_AS_TYPED = str.maketrans({
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŧ": "t", "æ": "ae", "œ": "oe",
    "þ": "th", "ð": "d",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2212": "-",
})

#: The scripts whose combining marks a search may leave out: accents on Latin, Greek and
#: Cyrillic letters ("cafe" finds "café"), the vowel points and hamza of Arabic and the
#: niqqud of Hebrew, which most posts do not write. In other scripts the marks are part
#: of the word: Thai tone marks ("ม้า", horse, is not "มา", come), the viramas, nuktas and
#: vowel signs of Devanagari, Bengali, Tamil, Sinhala and their kin ("பல்", tooth, is not
#: "பல", many), the Japanese voicing marks ("バス", bus, is not "ハス", lotus; kept, NFC puts
#: them back on their kana, so half-width "ﾊﾞｽ" folds to "バス"). Matched against the
#: Unicode name of the letter a mark sits on. One Cyrillic mark stays: the breve (below).
_ACCENTED_SCRIPTS = ("LATIN ", "GREEK ", "CYRILLIC ", "ARABIC ", "HEBREW ")

#: The one mark that stays on a Cyrillic letter: the breve makes letters of their own,
#: "й" (Russian, Ukrainian and most Cyrillic alphabets; "мой", my, is not "мои", mine)
#: and Belarusian "ў". Other marks on Cyrillic letters stay optional: a stress mark
#: ("за́мок") and the diaeresis of "ё", which Russian search folds to "е" by custom (most
#: texts write "е" for both).
_CYRILLIC_BREVE = "\u0306"

#: Drawn but not typed: the Arabic tatweel (letters stretched for emphasis) and the
#: emoji presentation selectors ("❤️" is "❤" drawn in colour).
_NOT_TYPED = frozenset("\u0640\ufe0e\ufe0f")


# How _typed treats a character (cached per character: the lookups cost more than the loop).
_MARK, _DROPPED, _LETTER_WITH_MARKS, _BASE_OF_ACCENTS, _KEPT, _BREVE, _CYRILLIC = range(7)


@lru_cache(maxsize=8192)
def _kind(c: str) -> int:
    """What ``c`` is to :func:`_typed`: a combining mark, a character nobody types, a
    letter whose marks are part of the word (a letter of a script not in
    :data:`_ACCENTED_SCRIPTS`), another base character (a mark on a Latin letter, a
    space, digit or symbol is an accent: NFKD writes a lone "´" as a space and an
    acute), a Cyrillic letter (which keeps a breve only, see :data:`_CYRILLIC_BREVE`)
    or a character kept that leaves the marks after it to the letter before it (a vowel
    sign with no combining class, between a letter and its tone mark)."""
    if c == _CYRILLIC_BREVE:
        return _BREVE
    if unicodedata.combining(c):
        return _MARK
    category = unicodedata.category(c)
    # Tag characters (U+E0020-E007F) spell the flags of England, Scotland and Wales.
    if c in _NOT_TYPED or (category == "Cf" and not "\U000e0020" <= c <= "\U000e007f"):
        return _DROPPED
    if category[0] == "M":
        return _KEPT
    if category[0] == "L":
        name = unicodedata.name(c, "")
        if name.startswith("CYRILLIC "):
            return _CYRILLIC
        if not name.startswith(_ACCENTED_SCRIPTS):
            return _LETTER_WITH_MARKS
    return _BASE_OF_ACCENTS


def _typed(decomposed: str) -> str:
    """``decomposed`` (NFKD) less what nobody types in a search: accent-like marks (see
    :data:`_ACCENTED_SCRIPTS`), invisible format characters (zero-width space and
    joiners, soft hyphen, direction marks, a BOM inside the text: pasted from web pages,
    written by Persian keyboards and around Latin words in right-to-left posts) and the
    tatweel."""
    kept = []
    base = _BASE_OF_ACCENTS  # a mark with no letter before it is dropped, as an accent
    for c in decomposed:
        kind = _kind(c)
        if kind == _MARK or kind == _BREVE:
            if base == _LETTER_WITH_MARKS or (kind == _BREVE and base == _CYRILLIC):
                kept.append(c)
        elif kind != _DROPPED:
            kept.append(c)
            if kind != _KEPT:
                base = kind
    return "".join(kept)


def fold(text: str | None) -> str | None:
    """``text`` with case and accents folded away, for substring search.

    Unicode compatibility decomposition (NFKD: "ﬁ" -> "fi", full-width "Ａ" -> "A",
    a no-break space -> a space), accents and vowel points dropped ("é" -> "e", "İ" -> "i",
    "ё" -> "е", "سَيْل" -> "سيل") while the marks that are part of a Thai, Indic or
    Japanese letter stay (see :data:`_ACCENTED_SCRIPTS`), and the breve of Cyrillic "й"
    and "ў" (see :data:`_CYRILLIC_BREVE`), full case folding ("ß" -> "ss", "Σ"/"ς" -> "σ"),
    the letters that do not decompose read as their base (Turkish dotless "ı", Polish
    "ł", Nordic "ø", "æ", "œ", "đ": "wroclaw" finds "Wrocław"), typographic quotes and
    dashes as the keyboard's (a phone's "don’t" found by "don't"), then NFC, so what is
    left (Hangul syllables) compares as it is written (Japanese voicing marks kept on
    their kana), invisible format characters and the Arabic tatweel dropped (see
    :func:`_typed`). Emoji and other punctuation stay as they are. None (no text) stays
    None: the function runs inside SQLite, where raising would fail the write.
    """
    if not isinstance(text, str):
        return None
    if text.isascii():  # most posts: the same result, without the normalisations' cost
        return text.lower()
    # Decompose before and after case folding: casefold can yield letters that
    # decompose further ("İ" -> "i" + U+0307).
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    bare = _typed(decomposed)
    return unicodedata.normalize("NFC", bare.translate(_AS_TYPED))


def register_fold(conn: sqlite3.Connection) -> None:
    """Make :func:`fold` callable in SQL on ``conn`` as ``crisisdesk_fold(text)``: the
    triggers that keep the folded copies call it, so every connection that writes texts
    needs it (a connection without it fails the write with "no such function")."""
    conn.create_function(FOLD_SQL, 1, fold, deterministic=True)
