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

#: Marks that are part of the letter, not an accent: the Japanese voicing marks ("で" is
#: not "て" to a reader; dropped, "バス" (bus) found "ハス" (lotus)). Kept, NFC puts
#: them back on their kana, so half-width "ﾊﾞｽ" folds to "バス".
_KEPT_MARKS = frozenset("\u3099\u309a")

#: Drawn but not typed: the Arabic tatweel (letters stretched for emphasis) and the
#: emoji presentation selectors ("❤️" is "❤" drawn in colour).
_NOT_TYPED = frozenset("\u0640\ufe0e\ufe0f")


def _typed(c: str) -> bool:
    """Whether ``c`` stays in the fold: not an accent-like mark, not an invisible format
    character (zero-width space and joiners, soft hyphen, direction marks, a BOM inside
    the text: pasted from web pages, written by Persian keyboards and around Latin
    words in right-to-left posts, never typed in a search), not a tatweel."""
    if unicodedata.combining(c):
        return c in _KEPT_MARKS
    if c in _NOT_TYPED:
        return False
    # Tag characters (U+E0020-E007F) spell the flags of England, Scotland and Wales.
    return unicodedata.category(c) != "Cf" or "\U000e0020" <= c <= "\U000e007f"


def fold(text: str | None) -> str | None:
    """``text`` with case and accents folded away, for substring search.

    Unicode compatibility decomposition (NFKD: "ﬁ" -> "fi", full-width "Ａ" -> "A",
    a no-break space -> a space), combining marks dropped ("é" -> "e", "İ" -> "i"), full
    case folding ("ß" -> "ss", "Σ"/"ς" -> "σ"), the letters that do not decompose read
    as their base (Turkish dotless "ı", Polish "ł", Nordic "ø", "æ", "œ", "đ": "wroclaw"
    finds "Wrocław"), typographic quotes and dashes as the keyboard's (a phone's "don’t"
    found by "don't"), then NFC, so what is left (Hangul syllables) compares as it is
    written (Japanese voicing marks kept on their kana), invisible format characters
    and the Arabic tatweel dropped (see :func:`_typed`). Emoji and other punctuation
    stay as they are. None (no text) stays None:
    the function runs inside SQLite, where raising would fail the write.
    """
    if not isinstance(text, str):
        return None
    if text.isascii():  # most posts: the same result, without the normalisations' cost
        return text.lower()
    # Decompose before and after case folding: casefold can yield letters that
    # decompose further ("İ" -> "i" + U+0307).
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    bare = "".join(c for c in decomposed if _typed(c))
    return unicodedata.normalize("NFC", bare.translate(_AS_TYPED))


def register_fold(conn: sqlite3.Connection) -> None:
    """Make :func:`fold` callable in SQL on ``conn`` as ``crisisdesk_fold(text)``: the
    triggers that keep the folded copies call it, so every connection that writes texts
    needs it (a connection without it fails the write with "no such function")."""
    conn.create_function(FOLD_SQL, 1, fold, deterministic=True)
