"""Counts in words, for the messages the CLI and the app print ("1 item", "2 items",
"a, b and 3 more")."""

from __future__ import annotations

from collections.abc import Sequence


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun`` in the number it takes: "1 item", "0 items", "1,234 items".

    ``many`` is the plural where an added s is wrong ("class", "classes"), or where a
    verb agrees with the count too ("text was", "texts were").
    """
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


def first_few(names: Sequence[str], shown: int = 5) -> str:
    """The first ``shown`` of ``names`` and how many more: "a, b, c and 4 more", so a
    message about many files stays one readable line."""
    listed = ", ".join(names[:shown])
    return f"{listed} and {len(names) - shown} more" if len(names) > shown else listed
