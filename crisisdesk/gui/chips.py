"""An item's chips (one per task: its label, else the model's prediction) in words: for
the list's tooltip, and for a screen reader, which cannot see the painted row.

Apart from the item list, which paints the chips, so that the item model (which the list
imports) can give the same words as the rows' accessible text.
"""

from __future__ import annotations

from crisisdesk.core.review import ItemRow
from crisisdesk.core.schemes import display_name

TASK_SHORT = {"informative": "inf", "humanitarian": "hum", "damage": "dmg"}


def chip_tasks(row: ItemRow, first: str | None) -> list[str]:
    """The tasks of ``row``'s chips, in their order (``first``'s first)."""
    return sorted(set(row.labels) | set(row.predicted),
                  key=lambda t: (t != first,
                                 list(TASK_SHORT).index(t) if t in TASK_SHORT else 99))


def _chip_words(row: ItemRow, task: str) -> str:
    """What ``task``'s chip of ``row`` says, in full words."""
    if task in row.labels:
        return f"labelled {display_name(row.labels[task])}"
    cls, conf = row.predicted[task]
    return f"predicted {display_name(cls)}, {conf:.0%} confident"


def chips_in_words(row: ItemRow) -> str:
    """What ``row``'s chips say, a task a line, and what their colours mean."""
    lines = [f"{task} ({TASK_SHORT.get(task, task[:4])}): {_chip_words(row, task)}"
             + (" ✓" if task in row.labels else "") for task in chip_tasks(row, None)]
    if lines:
        lines.append("Green with ✓: the item's label · grey: the model's prediction")
    return "\n".join(lines)


def row_in_words(row: ItemRow, *, blurred: bool = False) -> str:
    """What a screen reader says for ``row`` in the item list: its text, its image and
    its chips (the painted row shows them; the text alone was all it said)."""
    if row.image_path is None:
        image = "text only"
    elif row.media_status != "ok":
        image = f"image {row.media_status or 'missing'}"
    else:
        image = "image blurred, marked sensitive" if blurred else "image"
    chips = "; ".join(f"{task}: {_chip_words(row, task)}" for task in chip_tasks(row, None))
    text = " ".join(row.text.split()) or "(no text)"
    return f"{text}. {image.capitalize()}." + (f" {chips}." if chips else "")
