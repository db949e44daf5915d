"""The collector formats together: recognise one by content, parse a whole file, or make
the per-value parser the watched folder feeds line by line."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from crisisdesk.core.importers import bluesky, mastodon, twarc
from crisisdesk.core.importers.jsonsource import first_value
from crisisdesk.core.importers.records import Parsed

COLLECTOR_FORMATS = ("twarc", "mastodon", "bluesky")


class ValueParser(Protocol):
    """What each collector module's parser offers: records of one JSON value."""

    def feed(self, number: int, obj: Any) -> Iterator[Parsed]: ...


def classify(obj: Any) -> str | None:
    """The collector format a JSON value belongs to, or None."""
    for name, module in (("twarc", twarc), ("bluesky", bluesky), ("mastodon", mastodon)):
        if module.looks_like(obj):
            return name
    return None


def sniff_collector(path: Path) -> str | None:
    """The collector format of a file, told by its first JSON value; None otherwise."""
    if not path.is_file():
        return None
    return classify(first_value(path))


def parse_collector(path: Path, fmt: str, defaults: Mapping[str, str | None]
                    ) -> Iterator[Parsed]:
    """Records of a whole collector file."""
    if fmt == "twarc":
        return twarc.parse_twarc(path, defaults)
    if fmt == "mastodon":
        return mastodon.parse_mastodon(path, defaults)
    if fmt == "bluesky":
        return bluesky.parse_bluesky(path, defaults)
    raise ValueError(f"not a collector format: {fmt!r}")


def value_parser(fmt: str, file: str, defaults: Mapping[str, str | None]) -> ValueParser:
    """A parser fed one JSON value at a time (the watched folder's lines)."""
    makers = {"twarc": twarc.TwarcParser, "mastodon": mastodon.MastodonParser,
              "bluesky": bluesky.BlueskyParser}
    return makers[fmt](file, defaults)
