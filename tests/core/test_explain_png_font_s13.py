"""The report PNG of ``crisisdesk explain`` draws the item's text in a font that has its
letters: Pillow's built-in font has Latin letters without accents only, so ``café``,
Greek, Cyrillic and Arabic tweets were drawn as rows of missing-glyph boxes, the words an
analyst reads for and against the class unreadable."""

from __future__ import annotations

import pytest
from PIL import ImageFont

from crisisdesk.core.explain import render

#: Letters of tweets crisisdesk imports: accented Latin, Greek, Cyrillic, Arabic.
LETTERS = ("é", "ñ", "Δ", "Ж", "ف")
#: A private-use code point no font draws: its bitmap is the font's missing-glyph box.
NO_GLYPH = "\U000F0000"
#: Fonts with these letters that Linux, Windows and macOS ship.
SYSTEM_FONTS = ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "segoeui.ttf", "arial.ttf",
                "Arial Unicode.ttf", "Arial.ttf")


def _has_font_for(letters: str) -> bool:
    """Whether this machine has one of the fonts the report may use for ``letters``."""
    for name in SYSTEM_FONTS:
        try:
            font = ImageFont.truetype(name, 15)
        except OSError:
            continue
        if all(bytes(font.getmask(c)) != bytes(font.getmask(NO_GLYPH)) for c in letters):
            return True
    return False


@pytest.mark.parametrize("letter", LETTERS)
def test_the_report_font_draws_the_letters_of_the_tweet(letter: str) -> None:
    if not _has_font_for(letter):
        pytest.skip(f"no font on this machine draws {letter!r}")
    font = render._font(15)
    assert bytes(font.getmask(letter)) != bytes(font.getmask(NO_GLYPH))
