"""Counts and sizes in words, for the messages the CLI and the app print ("1 item",
"2 items", "a, b and 3 more", "10.0 KB"), names padded to a column of a terminal table,
and the words both front ends' users read for one setting."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def both_names(field: str, option: str) -> str:
    """An import setting as each front end names it: the import dialog's ``field``, the
    CLI's ``option``. A core message is read in the app (an import report, a retrain
    report) and on the terminal alike, and "--images-root" alone sent the app's user
    looking for an option the app never shows."""
    return f"the import dialog's {field}, the CLI's {option}"


#: The folder images are looked for under (the CLI's --images-root).
IMAGES_FOLDER = both_names("Images folder", "--images-root")


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun`` in the number it takes: "1 item", "0 items", "1,234 items".

    ``many`` is the plural where an added s is wrong ("class", "classes"), or where a
    verb agrees with the count too ("text was", "texts were").
    """
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


def file_size_text(n_bytes: int) -> str:
    """A file or a limit's size for a message, in the units the fetch limits are set in
    (--max-file-mb: a KB is 1024 bytes, an MB 1024 KB): "50.0 MB", "10.0 KB", "300
    bytes". Never "0.0 MB" for a size that is not 0: a limit of 10 KB read as none."""
    if n_bytes >= 1024 * 1024:
        return f"{n_bytes / (1024 * 1024):,.1f} MB"
    if n_bytes >= 1024:
        return f"{n_bytes / 1024:,.1f} KB"
    return plural(n_bytes, "byte")


def first_few(names: Sequence[str], shown: int = 5) -> str:
    """The first ``shown`` of ``names`` and how many more: "a, b, c and 4 more", so a
    message about many files stays one readable line."""
    listed = ", ".join(names[:shown])
    return f"{listed} and {len(names) - shown} more" if len(names) > shown else listed


def display_width(text: str) -> int:
    """The terminal cells ``text`` takes: two for a wide character (Japanese, Chinese,
    Korean, full-width forms), none for a combining mark or an invisible format
    character (a zero-width joiner), one for the rest. ``len`` counts characters, so
    a table padded by it lost its columns at the first class named in kanji."""
    return sum(0 if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf")
               else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
               for c in text)


def pad(text: str, width: int, align: str = "<") -> str:
    """``text`` padded with spaces to ``width`` terminal cells (``align`` "<" or ">"), as
    ``f"{text:{width}}"`` would pad ASCII; never cut when it is wider."""
    fill = " " * max(width - display_width(text), 0)
    return fill + text if align == ">" else text + fill
