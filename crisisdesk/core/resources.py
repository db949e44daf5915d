"""Access to the data files shipped inside the package (``crisisdesk.resources``)."""

from __future__ import annotations

import json
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any


def resource(*parts: str) -> Traversable:
    """Return the shipped resource at ``parts`` (e.g. ``resource("label_schemes")``)."""
    node = resources.files("crisisdesk.resources")
    for part in parts:
        node = node.joinpath(part)
    return node


def read_json(*parts: str) -> Any:
    """Parse a shipped JSON resource."""
    return json.loads(resource(*parts).read_text(encoding="utf-8"))


def is_shipped(path: Path) -> bool:
    """Whether ``path`` is a file of the installed package's resources (a shipped head):
    damage to one is repaired by reinstalling crisisdesk, not by copying a project."""
    root = resource()
    # A zipped install has no folder to compare with (as_file extracts to a temp copy).
    return isinstance(root, Path) and Path(path).resolve().is_relative_to(root.resolve())
