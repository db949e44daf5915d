"""A label action waiting in the labeller's write lane (see ``labelling.py``): its store
write, the words said about it, and what it gave to which items, to list it among the
labels not saved (``unsaved_labels.py``) if its write fails; and the step that gives the
labels not saved again once saving works (:func:`resave`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import NamedTuple

from crisisdesk.core.store import LabelChange, Store
from crisisdesk.core.store.times import utc_now
from crisisdesk.core.words import plural
from crisisdesk.core.bidi import shown_uid
from crisisdesk.gui.targets import Targets
from crisisdesk.gui.unsaved_labels import Unsaved, labels_in

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
    # Labels not saved that this step gives again: not listed again if it fails too.
    resaving: tuple[Unsaved, ...] = ()

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
                       self.reverting, predicted, utc_now())


def _size(targets: Targets) -> int:
    """How many items ``targets`` names (its ranges not read yet)."""
    return len(targets.rows) + sum(c for _, c in targets.ranges)


def _for(targets: Targets) -> str:
    """Which items a label is for, as the warning of one not saved names them: the
    item's id (the analyst has moved on since), else how many."""
    n = _size(targets)
    return f" for item {shown_uid(targets.rows[0].uid)}" if n == 1 and targets.rows else \
        f" for {plural(n, 'item')}"


def not_given(unsaved: Sequence[Unsaved]) -> list[Unsaved]:
    """What :func:`resave` cannot give of ``unsaved``, to stay listed: an undo or redo
    (pressed again, not replayed), and items of a selection whose ids were never known."""
    return [lost if lost.reverting else dataclasses.replace(lost, items=(), predicted=())
            for lost in unsaved if lost.reverting or lost.unread]


def resave(unsaved: Sequence[Unsaved], annotator: str, note: Callable[[str], None]
           ) -> Step:
    """The step giving ``unsaved`` again as one journal action (one undo step), all but
    :func:`not_given`. An item labelled for that task since its label failed
    keeps its newer label: it is skipped. ``note`` gets what was saved and skipped."""
    given: dict[tuple[str, str], tuple[str, str]] = {}  # (item, task): (class, failed at)
    no_class = 0  # accepted predictions whose class the list did not hold: none to give
    for lost in unsaved:
        for uid, cls in zip(lost.items, lost.classes(), strict=True):
            if cls:
                given[(uid, lost.task)] = (cls, lost.at)
            else:
                no_class += 1
    unknown = labels_in(not_given(unsaved))

    def write(store: Store) -> list[int]:
        changes, since = [], 0
        for (uid, task), (cls, at) in given.items():
            item = store.item_by_uid(uid)
            latest = store.latest_label_row(item.id, task) if item else None
            if item is None or (latest is not None and latest["created_at"] > at):
                since += 1  # labelled since (or the item removed): the newer label stands
                continue
            changes.append(LabelChange(item.id, task, cls))
        saved = changes if store.add_labels(changes, annotator=annotator) else []
        skipped = [f"{since} skipped: labelled again since" if since else "",
                   f"{no_class} skipped: their predicted class was not known" if no_class
                   else "",
                   f"{unknown} still listed: an undo, a redo or items of a selection "
                   "whose ids were not known, to give again by hand" if unknown else ""]
        note("; ".join(filter(None, [f"{plural(len(saved), 'label')} saved again "
                                     "(Ctrl+Z takes them back)", *skipped])))
        return [c.item for c in saved]

    return Step(write, "labels given again", "labels given while saving failed",
                resaving=tuple(unsaved))
