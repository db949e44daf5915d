"""Counts in words, for the messages the CLI and the app print ("1 item", "2 items")."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun`` in the number it takes: "1 item", "0 items", "1,234 items".

    ``many`` is the plural where an added s is wrong ("class", "classes"), or where a
    verb agrees with the count too ("text was", "texts were").
    """
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"
