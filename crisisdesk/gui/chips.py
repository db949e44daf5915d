"""An item's chips (one per task: its label, else the model's prediction): painted in
the item list's rows, and in words for the list's tooltip and for a screen reader, which
cannot see the painted row.

Apart from the item list, so that the item model (which the list imports) can give the
same words as the rows' accessible text.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen

from crisisdesk.core.review import ItemRow
from crisisdesk.core.schemes import display_name
from crisisdesk.gui import style

TASK_SHORT = {"informative": "inf", "humanitarian": "hum", "damage": "dmg"}
#: What the painted ✓ means, in the legend's words (the task box says it to a reader).
LABEL_MARK = "the item's label"


def chip_text(task: str, cls: str, confidence: float | None = None) -> str:
    """What ``task``'s chip shows: the task shortened, the class, then ✓ for a label
    or the ``confidence`` of a prediction."""
    mark = "✓" if confidence is None else f"{confidence:.0%}"
    return f"{TASK_SHORT.get(task, task[:4])}: {display_name(cls)} {mark}"


#: (a mark of the item list's rows, what it means), for the help (F1): the rows shorten
#: the tasks and tell a label from a prediction by colour, which only the row's tooltip
#: explained.
ROW_MARKS: tuple[tuple[str, str], ...] = (
    (chip_text("damage", "severe_damage"), "green chip with ✓: " + LABEL_MARK + " for a "
     "task (" + ", ".join(f"{short}: {task}" for task, short in TASK_SHORT.items()) + ")"),
    (chip_text("humanitarian", "affected_individuals", 0.76),
     "grey chip: no label yet, the model's prediction and how confident it is"),
    ("+2", "more tasks than fit in the row (its tooltip lists them all)"),
    ("text, missing, remote, unreadable", "in place of the picture: no image, not "
     "found, not downloaded yet, cannot be read"),
    ("sensitive", "on a blurred picture: the post is marked sensitive (Alt+S shows it)"),
)


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
        lines.append(f"Green with ✓: {LABEL_MARK} · grey: the model's prediction")
    return "\n".join(lines)


def row_in_words(row: ItemRow, *, blurred: bool = False, failed: bool = False) -> str:
    """What a screen reader says for ``row`` in the item list: its text, its image and
    its chips (the painted row shows them; the text alone was all it said); ``failed``:
    its thumbnail could not be decoded (the tile says "unreadable")."""
    if row.image_path is None:
        image = "text only"
    elif row.media_status != "ok":
        image = f"image {row.media_status or 'missing'}"
    elif failed:
        image = "image unreadable"
    else:
        image = "image blurred, marked sensitive" if blurred else "image"
    chips = "; ".join(f"{task}: {_chip_words(row, task)}" for task in chip_tasks(row, None))
    text = " ".join(row.text.split()) or "(no text)"
    return f"{text}. {image.capitalize()}." + (f" {chips}." if chips else "")


def _chip_font(font: QFont) -> QFont:
    """The chips' font: a little smaller than the row's."""
    small = QFont(font)
    small.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
    return small


def lay_out_chips(row: ItemRow, x: int, y: int, right: int, font: QFont,
                  first: str | None = None) -> tuple[list[tuple[QRect, str, bool]], int]:
    """The chips of ``row`` that fit from ``x`` to ``right`` at ``y`` in the row's
    ``font`` (each its place, its text and whether it is a label), and how many are left
    out, for the "+N" after them; ``first`` as for :func:`paint_chips`."""
    metrics = QFontMetrics(_chip_font(font))
    tasks = chip_tasks(row, first)
    chips: list[tuple[QRect, str, bool]] = []
    for n, task in enumerate(tasks):
        labelled = task in row.labels
        text = (chip_text(task, row.labels[task]) if labelled
                else chip_text(task, *row.predicted[task]))
        width = metrics.horizontalAdvance(text) + 10
        after = len(tasks) - n - 1  # chips after this one: room for their "+N" kept
        if x + width > right - (metrics.horizontalAdvance(f"+{after}") + 4 if after else 0):
            return chips, len(tasks) - n
        chips.append((QRect(x, y, width, metrics.height() + 2), text, labelled))
        x += width + 4
    return chips, 0


def left_out_in_words(left_out: int) -> str:
    """What the "+N" after a row's chips means (its tooltip says it: nothing did)."""
    return (f"+{left_out} after the chips: {left_out} more "
            f"{'task' if left_out == 1 else 'tasks'} that did not fit in the row "
            "(all are listed above)")


def paint_chips(painter: QPainter, row: ItemRow, x: int, y: int, right: int, font: QFont,
                first: str | None = None) -> None:
    """One chip per task from ``x`` to ``right`` at ``y``, the label or else the
    prediction; ``first``: the task the list is about, whose chip comes first (in "Needs
    review (damage)" a long humanitarian chip left no room for damage). Chips that do not
    fit are left out, a "+N" after the last one shown saying how many (they were dropped
    with no sign; the tooltip and the spoken row name them)."""
    small = _chip_font(font)
    painter.setFont(small)
    metrics = QFontMetrics(small)
    chips, left_out = lay_out_chips(row, x, y, right, font, first)
    for chip, text, labelled in chips:
        painter.setPen(QPen(QColor(style.HUMAN if labelled else style.MUTED)))
        painter.setBrush(QColor("#ecfdf3") if labelled else QColor("white"))
        painter.drawRoundedRect(chip, 4, 4)
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, text)
    if left_out:
        x = chips[-1][0].right() + 5 if chips else x
        painter.setPen(QColor(style.MUTED))
        painter.drawText(QRect(x, y, max(right - x, 0), metrics.height() + 2),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         f"+{left_out}")
