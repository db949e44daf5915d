"""A label action waiting in the labeller's write lane (see ``labelling.py``): its store
write, the words said about it, and what it gave to which items, to list it among the
labels not saved (``unsaved_labels.py``) if its write fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from crisisdesk.core.store import Store
from crisisdesk.core.words import plural
from crisisdesk.gui.bidi import shown_uid
from crisisdesk.gui.targets import Targets
from crisisdesk.gui.unsaved_labels import Unsaved

Write = Callable[[Store], list[int]]  # a store write returning the items it touched


class Step(NamedTuple):
    """A write waiting in the lane."""

    write: Write
    what: str  # what it did, for the status bar
    label: str  # what it does to which items, for a warning if not saved ("": undo, redo)
    doing: str = ""  # what it is doing, while written, where that takes a while
    reverting: bool = False  # an undo or redo
    # The task, class ("": the prediction) and items of a label, to list it if not saved.
    task: str = ""
    given: str = ""
    targets: Targets | None = None

    def unsaved(self, why: str) -> Unsaved:
        """This step as a label not saved, ``why`` saying why."""
        targets = self.targets
        rows = targets.rows if targets else ()
        # Accepting the prediction: the class the list's row held (what the analyst saw;
        # read in memory, the store may be what failed), to list the label by name.
        predicted = () if self.given else tuple(
            r.predicted.get(self.task, ("", 0.0))[0] for r in rows)
        return Unsaved(self.what, why, self.task, self.given, tuple(r.uid for r in rows),
                       sum(c for _, c in targets.ranges) if targets else 0,
                       self.reverting, predicted)


def _size(targets: Targets) -> int:
    """How many items ``targets`` names (its ranges not read yet)."""
    return len(targets.rows) + sum(c for _, c in targets.ranges)


def _for(targets: Targets) -> str:
    """Which items a label is for, as the warning of one not saved names them: the
    item's id (the analyst has moved on since), else how many."""
    n = _size(targets)
    return f" for item {shown_uid(targets.rows[0].uid)}" if n == 1 and targets.rows else \
        f" for {plural(n, 'item')}"
