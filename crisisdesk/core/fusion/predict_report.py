"""What a predict job did, per task: the report the CLI prints and the jobs panel's last
line (split from predict.py, which holds the job)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crisisdesk.core.words import plural


@dataclass
class PredictReport:
    """Per task: the version used, items predicted, items it could not see (and, only
    when the job stopped part-way through it, ``not_reached``: its items left for the
    next run); and the same for the task's newest image-only and text-only versions
    (``modalities``), whose predictions the "image vs text disagree" queue compares."""

    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    modalities: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"tasks": self.tasks, "modalities": self.modalities}

    def outcome(self) -> str:
        """One line: "30 predictions written (damage 30)", or that there was nothing to
        predict; the image-only and text-only versions' predictions counted in."""
        made: dict[str, int] = {}
        for task, entry in self.tasks.items():
            made[task] = entry["predicted"] + sum(
                e["predicted"] for e in self.modalities.get(task, {}).values())
        skipped = sum(entry["skipped"] for entry in self.tasks.values())
        if not any(made.values()):
            return (f"no prediction written: {plural(skipped, 'item')} skipped" if skipped
                    else "nothing to predict: every item's prediction is up to date")
        return (f"{plural(sum(made.values()), 'prediction')} written ("
                + ", ".join(f"{task} {n}" for task, n in made.items() if n) + ")")

    def notes(self) -> tuple[str, ...]:
        """What the report says beside its figures, one line per task: the texts its
        active version read, when of another kind than it trained on."""
        return tuple(f"{task}: {entry['texts_note']}"
                     for task, entry in self.tasks.items() if entry.get("texts_note"))
