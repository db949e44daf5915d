"""Labelling: the labeller that commits each label (the keys are in ``keys.py``).

Every label is committed the moment it is given: the write runs in the window's
:class:`Background`, then ``labels_changed`` tells the list, the detail panel and the
queue counts to fetch again. Writes go through one lane, one at a time and in the order
given, so "2" quickly followed by "3" ends as 3, and an undo never overtakes the label it
undoes. A selection of items is labelled as one journal action, so one Ctrl+Z takes all
of it back.

A step of :data:`BIG_STEP` items or more says what it is doing while written ("Undoing
100,000 labels…") and how many changes wait behind it; keys pressed meanwhile wait their
turn, but a second undo or redo (see :meth:`Labeller._refused`).
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from PySide6.QtCore import QObject, Signal

from crisisdesk.core.project import Project, ProjectError
from crisisdesk.core.schemes import display_name
from crisisdesk.core.store import LabelChange, Prediction, Store
from crisisdesk.core.store.schema import StoreError
from crisisdesk.core.words import plural
from crisisdesk.gui.bidi import shown_uid
from crisisdesk.gui.save_warning import why_not_saved
from crisisdesk.gui.targets import ListChanged, Targets, selected_targets
from crisisdesk.gui.worker import Background

# Re-exported: the targets of a key were defined here before ``targets.py`` was split off.
__all__ = ["BIG_STEP", "Labeller", "ListChanged", "Step", "Targets", "selected_targets"]


Write = Callable[[Store], list[int]]  # a store write returning the items it touched
#: Items from which a step says what it is doing while it is written (and refuses a
#: second undo or redo meanwhile): a label on 100,000 items took ~2 s, its undo 5-10 s.
BIG_STEP = 1_000


class Step(NamedTuple):
    """A write waiting in the lane."""

    write: Write
    what: str  # what it did, for the status bar
    label: str  # what it does to which items, for a warning if not saved ("": undo, redo)
    doing: str = ""  # what it is doing, while written, where that takes a while
    reverting: bool = False  # an undo or redo


def _size(targets: Targets) -> int:
    """How many items ``targets`` names (its ranges not read yet)."""
    return len(targets.rows) + sum(c for _, c in targets.ranges)


def _for(targets: Targets) -> str:
    """Which items a label is for, as the warning of one not saved names them: the
    item's id (the analyst has moved on since), else how many."""
    n = _size(targets)
    return f" for item {shown_uid(targets.rows[0].uid)}" if n == 1 and targets.rows else \
        f" for {plural(n, 'item')}"


class Labeller(QObject):
    """Gives labels, undoes and redoes them, for one annotator, in order."""

    # The item ids whose labels changed (a list). Declared ``object``: a ``list`` signal
    # copies the list, item by item, for each listener (0.1 s at 100,000 items).
    labels_changed = Signal(object)
    message = Signal(str)  # a line for the status bar
    # What an undo or redo found it is taking back (a big step): sent from the write's
    # thread, received on the labeller's.
    _sized = Signal(str)
    failed = Signal(str)  # a write not done: which, why and what to do
    # A write the store could not take (a full or read-only drive, the store gone), as
    # ``failed`` says it: labels given next fail too. Not a write refused on its own (a
    # selection whose rows moved): the next label is saved.
    not_saved = Signal(str)
    # Why an undo or redo is refused now ("" once it is taken again): the menu's Undo and
    # Redo follow it, or they looked available while a key press was refused.
    reverting_refused = Signal(str)

    def __init__(self, project: Project, background: Background, annotator: str,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._project, self._background = project, background
        self.annotator = annotator
        self._lane: deque[Step] = deque()
        self._busy = False
        # Set once the lane's latest write has run: closing waits for that write alone,
        # not for the thumbnails, pages and explanations sharing the pool.
        self._written = threading.Event()
        self._written.set()
        # The write handed to the pool, and its claim: whoever takes the claim runs it,
        # the pool thread or, when the pool has not started it by closing time, flush().
        self._handed: Step | None = None
        self._claim = threading.Lock()
        # Set by an undo/redo write for the message after it; writes run one at a time.
        self._note: str | None = None
        # The step being written, and what it is doing where that takes a while ("" for
        # a quick one): the status line while it runs.
        self._current: Step | None = None
        self._doing = ""
        self._refusal = ""  # the latest reverting_refused sent
        self._sized.connect(self._on_sized)

    # ------------------------------------------------------------------ actions
    def give(self, targets: Targets, task: str, label: str) -> None:
        """Label every target ``label`` for ``task``: one journal action."""
        annotator = self.annotator

        def write(store: Store) -> list[int]:
            ids = targets.resolve(store)
            if store.add_labels([LabelChange(i, task, label) for i in ids],
                                annotator=annotator) is None:
                return []  # each had that class already: "no change", no undo step
            return ids

        n = _size(targets)
        # The class as the rest of the app shows it ("mild damage", not "mild_damage").
        given = f"{task}: {display_name(label)}"
        self._enqueue(Step(write, given + (f" for {n:,} items" if n > 1 else ""),
                           given + _for(targets),
                           f"labelling {n:,} items ({given})" if n >= BIG_STEP else ""))

    def accept(self, targets: Targets, task: str) -> None:
        """Make each target's predicted class of ``task`` its label: one journal action."""
        annotator = self.annotator

        def write(store: Store) -> list[int]:
            # The predictions as they are now (what the detail panel shows), not those the
            # list's rows held when read: a retrain switched in another window, or a
            # predict run, since then gave the list's class where the panel showed another.
            ids = targets.resolve(store)
            version = store.active_model_version(task)
            probs = store.predictions_of(version["id"], ids) if version else {}
            predicted = {i: Prediction(i, task, p).label for i, p in probs.items() if p}
            if not predicted:  # "prediction accepted: no change" read as if one was there
                self._note = f"{task}: no prediction to accept"
            if store.add_labels([LabelChange(i, task, predicted[i]) for i in ids
                                 if i in predicted], annotator=annotator) is None:
                return []  # the labels were the predictions already: no undo step
            return [i for i in ids if i in predicted]

        n = _size(targets)
        self._enqueue(Step(write, f"{task}: prediction accepted",
                           f"{task}: prediction accepted{_for(targets)}",
                           f"accepting the predictions of {n:,} items ({task})"
                           if n >= BIG_STEP else ""))

    def undo(self) -> None:
        """Undo the annotator's latest label action (from the journal)."""
        if not self._refused("Ctrl+Z", "undo"):
            self._enqueue(Step(self._reverting(undo=True), "undone", "", reverting=True))

    def redo(self) -> None:
        """Redo the annotator's latest undone action."""
        if not self._refused("Ctrl+Shift+Z", "redo"):
            self._enqueue(Step(self._reverting(undo=False), "redone", "", reverting=True))

    def _refused(self, key: str, word: str) -> bool:
        """Whether an undo or redo is refused, said in the status bar: while a big step is
        written, one undo or redo waits its turn, not a second. Pressed again because
        nothing seemed to happen, it took back the step before as well."""
        if not self._why_refused():
            return False
        # Short: the status bar cut a longer line off in a window under ~1100 px wide.
        self.message.emit(f"Still {self._doing}… {key} not taken (it would {word} one more "
                          "step): press it again when done.")
        return True

    def _why_refused(self) -> str:
        """What the big step being written is doing while an undo or redo is in the lane
        (a second one is refused), else ""."""
        if self._doing and any(
                s.reverting for s in (self._current, *self._lane) if s is not None):
            return self._doing
        return ""

    def _tell_refusal(self) -> None:
        """Send ``reverting_refused`` where whether an undo is refused has changed."""
        why = self._why_refused()
        if why != self._refusal:
            self._refusal = why
            self.reverting_refused.emit(why)

    def _reverting(self, *, undo: bool) -> Write:
        """The store write of an undo or redo. A step whose every label a colleague has
        changed since restores nothing yet is used up: the message says so, or "nothing
        undone" would hide that the next Ctrl+Z reaches the step before."""
        annotator, word = self.annotator, "undo" if undo else "redo"
        sized = self._sized.emit

        def write(store: Store) -> list[int]:
            reachable = store.next_step_size(annotator, undo=undo)
            if reachable is not None and reachable >= BIG_STEP:
                sized(f"{word}ing {plural(reachable, 'label')}")
            items = [c.item for c in (store.undo if undo else store.redo)(annotator)]
            # A step of no labels (an undo that restored nothing) is used up all the same.
            if reachable is not None and not items:
                self._note = (f"nothing to {word}: a colleague has changed those labels "
                              f"since; {word} again for the step before")
            return items

        return write

    def busy(self) -> bool:
        """Whether writes are still waiting or running."""
        return self._busy or bool(self._lane)

    def flush(self, timeout_ms: int = 10_000) -> None:
        """Commit every label still waiting, before the window closes: the write running
        ends first (so the order given is kept), then the lane's rest is written here, as
        the background is about to drop what was not started. Only for closing.

        A write handed to the pool but not started yet (every pool thread busy with
        thumbnails, an explanation, a preload) is taken back and written here first.

        Only the lane's own write is waited for (at most ``timeout_ms``), never the rest
        of the shared pool. If it has not ended by then, the rest is not written: written
        beside it, the labels would land out of order, and this (the UI) thread would sit
        in SQLite's busy wait behind it.
        """
        waiting = list(self._lane)
        self._lane.clear()
        handed, self._handed = self._handed, None
        self._busy, self._current, self._doing = False, None, ""
        if handed is not None and self._claim.acquire(blocking=False):
            waiting.insert(0, handed)  # not started: the pool's shutdown would drop it
            self._written.set()  # nothing of the lane runs in the pool any more
        elif not self._written.wait(timeout_ms / 1000):
            if waiting:
                lost = plural(len(waiting), "label change was", "label changes were")
                print(f"crisisdesk: {lost} not saved (given just before closing): the "
                      f"label write before them did not end within {timeout_ms / 1000:g} s",
                      file=sys.stderr, flush=True)
            return
        if not waiting:
            return
        try:
            with self._project.open_store() as store:
                for step in waiting:
                    # Each write on its own, as in the lane: one that cannot be done (a
                    # selection whose rows moved) must not drop the labels given after it.
                    try:
                        step.write(store)
                    except Exception as exc:  # noqa: BLE001 - say what was lost, go on
                        print(f"crisisdesk: a label given before closing ({step.what}) was "
                              f"not saved: {exc}", file=sys.stderr, flush=True)
        except Exception as exc:  # noqa: BLE001 - the window still closes; say what was lost
            print(f"crisisdesk: labels given before closing were not saved: {exc}",
                  file=sys.stderr, flush=True)

    # ------------------------------------------------------------------ the lane
    def _enqueue(self, step: Step) -> None:
        self._lane.append(step)
        if not self._busy:
            self._next()
        elif self._doing:
            self._show_doing()  # one more waiting
        self._tell_refusal()  # an undo behind a big label: a second one refused

    def _show_doing(self) -> None:
        """Say in the status bar what the big step being written is doing, and how many
        changes wait behind it."""
        waiting = len(self._lane)
        self.message.emit(self._doing[0].upper() + self._doing[1:] + "…" + (
            f" then {plural(waiting, 'more change')}, in the order given" if waiting else ""))

    def _on_sized(self, doing: str) -> None:
        """An undo or redo being written found it takes back a big step."""
        if self._current is not None and self._current.reverting:
            self._doing = doing
            self._show_doing()
            self._tell_refusal()

    def _next(self) -> None:
        self._current, self._doing = None, ""
        if not self._lane:
            self._busy = False
            self._tell_refusal()
            return
        self._busy = True
        step = self._current = self._lane.popleft()
        write, what, label = step.write, step.what, step.label
        project = self._project
        written = self._written = threading.Event()
        claim = self._claim = threading.Lock()
        self._handed = step
        self._doing = step.doing
        if self._doing:
            self._show_doing()
        self._tell_refusal()  # the big step landed, or another began

        def run() -> list[int] | str:
            if not claim.acquire(blocking=False):
                written.set()
                return []  # flush() took it back and wrote it, in order
            try:
                with project.open_store() as store:
                    return write(store)
            except (sqlite3.Error, ProjectError, StoreError) as exc:
                # Why, as the analyst can act on it (a full drive: free some space),
                # worked out here: it asks the drive and tries the store.
                return why_not_saved(project.root, exc)
            finally:
                written.set()

        def done(items: list[int] | str) -> None:
            if isinstance(items, str):
                failed(items, saving=True)
                return
            self._handed = None
            note, self._note = self._note, None
            # How many an undo or redo took back: a big one took a while.
            what_now = f"{what}: {plural(len(items), 'label')}" if step.reverting and len(
                items) > 1 else what
            self.message.emit(note or (what_now if items else f"nothing {what}"
                                       if step.reverting else f"{what}: no change"))
            if items:
                self.labels_changed.emit(items)
            self._next()

        def failed(error: str, saving: bool = False) -> None:
            self._handed = None
            said = (f"The label was not saved ({label}): {error}" if label
                    else f"Nothing was {what}: {error}")
            self.failed.emit(said)
            if saving:  # the store's failure, not this write's own (see not_saved)
                self.not_saved.emit(said)
            self._next()

        self._background.call(run, done, failed)
