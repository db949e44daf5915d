"""Label schemes: the classes of each task and how source labels merge into them."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from crisisdesk.core.resources import read_json, resource


@dataclass(frozen=True)
class LabelScheme:
    """A task's classes in display order, plus merges of source labels into them."""

    task: str
    classes: tuple[str, ...]
    merges: dict[str, str] = field(default_factory=dict)
    description: str = ""

    def normalise(self, raw: str) -> str | None:
        """Map a label as written in a source to one of the classes, or None if unknown.

        Matching ignores case and surrounding blanks, and spaces count as underscores,
        because hand-made spreadsheets write "Severe damage" as often as "severe_damage".
        """
        key = raw.strip().lower().replace(" ", "_").replace("-", "_")
        if key in self.classes:
            return key
        return self.merges.get(key)


@cache
def builtin_schemes() -> dict[str, LabelScheme]:
    """The shipped schemes (informative, humanitarian, damage), by task name."""
    schemes = {}
    for entry in sorted(resource("label_schemes").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        data = read_json("label_schemes", entry.name)
        schemes[data["task"]] = LabelScheme(
            task=data["task"],
            classes=tuple(data["classes"]),
            merges=dict(data.get("merges", {})),
            description=data.get("description", ""),
        )
    return schemes


def scheme_for(task: str) -> LabelScheme:
    """The scheme of ``task``; raises KeyError naming the known tasks."""
    schemes = builtin_schemes()
    if task not in schemes:
        raise KeyError(f"unknown task {task!r}; known tasks: {', '.join(schemes)}")
    return schemes[task]


def display_name(name: str) -> str:
    """A class, task or event name as a person reads it: "little or no damage" for the
    stored ``little_or_no_damage`` (the store and files keep the stored name)."""
    return name.replace("_", " ")
