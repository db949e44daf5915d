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
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal

from crisisdesk.core.project import Project, ProjectError
from crisisdesk.core.schemes import display_name
from crisisdesk.core.store import LabelChange, Prediction, Store
from crisisdesk.core.store.schema import StoreError
from crisisdesk.core.words import plural
from crisisdesk.gui.label_step import Step, Write, _for, _size, not_given, resave
from crisisdesk.gui.save_warning import why_not_saved
from crisisdesk.gui.targets import ListChanged, Targets, selected_targets
from crisisdesk.gui.unsaved_labels import Unsaved
from crisisdesk.gui.worker import Background, describe_error

# Re-exported: the targets of a key were defined here before ``targets.py`` was split
# off, and the lane's step before ``label_step.py`` was.
__all__ = ["BIG_STEP", "Labeller", "ListChanged", "Step", "Targets", "selected_targets"]


#: Items from which a step says what it is doing while it is written (and refuses a
#: second undo or redo meanwhile): a label on 100,000 items took ~2 s, its undo 5-10 s.
BIG_STEP = 1_000


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
    unsaved_changed = Signal()  # :attr:`unsaved` lost some: given again, or dismissed

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
        #: The label actions not saved while the store failed, kept once it works again
        #: (till given again or dismissed), and those closing could not write: the
        #: window asks before it closes.
        self.unsaved: list[Unsaved] = []
        # Why the write in the pool failed, set there before ``_written``: a failure
        # whose report had not reached this thread by closing time is listed all the same.
        self._outcome: list[str] = []
        # Counts flush() calls: a write's report from before one is stale (flush() took
        # its lane over) and is dropped, as the window may stay open after it.
        self._flushes = 0
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
                           f"labelling {n:,} items ({given})" if n >= BIG_STEP else "",
                           task=task, given=label, targets=targets))

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
                           if n >= BIG_STEP else "", task=task, targets=targets))

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

    def save_unsaved(self) -> None:
        """Give the labels in :attr:`unsaved` again, as one undo step (see ``resave``)."""
        if self.unsaved and not any(s.resaving for s in (self._current, *self._lane) if s):
            self._enqueue(resave(self.unsaved, self.annotator,
                                 lambda note: setattr(self, "_note", note)))

    def forget_unsaved(self, which: Sequence[Unsaved] | None = None) -> None:
        """Forget the labels not saved (all; or ``which``, given again: what could not
        be given of them stays listed)."""
        gone = self.unsaved if which is None else which
        self.unsaved = ([] if which is None else not_given(which)) + [
            lost for lost in self.unsaved if all(lost is not g for g in gone)]
        self.unsaved_changed.emit()

    def busy(self) -> bool:
        """Whether writes are still waiting or running."""
        return self._busy or bool(self._lane)

    def flush(self, timeout_ms: int = 10_000) -> None:
        """Commit every label still waiting, before the window closes: the write running
        ends first (so the order given is kept), then the lane's rest is written here, as
        the background is about to drop what was not started. Only for closing; each
        label not saved is listed in :attr:`unsaved` (the window asks before closing).

        A write handed to the pool but not started yet (every pool thread busy with
        thumbnails, an explanation, a preload) is taken back and written here first.

        Only the lane's own write is waited for (at most ``timeout_ms``), never the rest
        of the shared pool. If it has not ended by then, the rest is not written: written
        beside it, the labels would land out of order, and this (the UI) thread would sit
        in SQLite's busy wait behind it.
        """
        self._flushes += 1  # the reports of the writes handed out so far are stale now
        waiting = list(self._lane)
        self._lane.clear()
        handed, self._handed = self._handed, None
        outcome = self._outcome
        self._busy, self._current, self._doing = False, None, ""
        self._tell_refusal()  # nothing written in the lane now: undo is taken again
        if handed is not None and self._claim.acquire(blocking=False):
            waiting.insert(0, handed)  # not started: the pool's shutdown would drop it
            self._written.set()  # nothing of the lane runs in the pool any more
        elif handed is not None and not self._written.wait(timeout_ms / 1000):
            late = f"a label write given before did not end within {timeout_ms / 1000:g} s"
            if handed is not None:  # it may yet end, saved or not: not known here
                self._lost(handed, f"its write had not ended {timeout_ms / 1000:g} s after "
                           "closing began: check whether it was saved", closing=True)
            for step in waiting:
                self._lost(step, late, closing=True)
            if waiting:
                lost = plural(len(waiting), "label change was", "label changes were")
                print(f"crisisdesk: {lost} not saved (given just before closing): {late}",
                      file=sys.stderr, flush=True)
            return
        elif handed is not None and outcome:  # failed in the pool; its report not come yet
            self._lost(handed, *outcome[0], closing=True)
        if waiting:
            self._write_here(waiting)

    def _write_here(self, waiting: list[Step]) -> None:
        """Write ``waiting`` on this thread, in order (closing: see :meth:`flush`)."""
        tried = 0  # the steps written, or said not saved
        try:
            with self._project.open_store() as store:
                for step in waiting:
                    tried += 1
                    # Each write on its own, as in the lane: one that cannot be done (a
                    # selection whose rows moved) must not drop the labels given after it.
                    try:
                        step.write(store)
                    except Exception as exc:  # noqa: BLE001 - say what was lost, go on
                        print(f"crisisdesk: a label given before closing ({step.what}) was "
                              f"not saved: {exc}", file=sys.stderr, flush=True)
                        self._lost(step, *self._why(exc), closing=True)
        except Exception as exc:  # noqa: BLE001 - the window still closes; say what was lost
            print(f"crisisdesk: labels given before closing were not saved: {exc}",
                  file=sys.stderr, flush=True)
            why = self._why(exc)
            for step in waiting[tried:]:  # the store did not open: none of them written
                self._lost(step, *why, closing=True)

    def _why(self, exc: BaseException) -> tuple[str, bool]:
        """Why a write failed with ``exc``, and whether the store failed (not the write
        alone: a selection whose rows moved), as :meth:`_lost` takes them."""
        if isinstance(exc, ListChanged):
            return str(exc), False
        if isinstance(exc, (sqlite3.Error, ProjectError, StoreError)):
            return why_not_saved(self._project.root, exc), True
        return describe_error(exc), False

    def _lost(self, step: Step, why: str, saving: bool = False, *,
              closing: bool = False) -> None:
        """Say that ``step`` was not saved, and ``why``. The store's failure
        (``saving``: labels given next fail too) shows the red bar; it, and any label
        lost while ``closing``, is listed in :attr:`unsaved` for the question at closing."""
        said = (f"The label was not saved ({step.label}): {why}" if step.label
                else f"Nothing was {step.what}: {why}")
        self.failed.emit(said)
        if (saving or closing) and not step.resaving:  # given again: listed already
            self.unsaved.append(step.unsaved(why))
        if saving:  # the store's failure, not this write's own (see not_saved)
            self.not_saved.emit(said)

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
        write, what = step.write, step.what
        project, flushes = self._project, self._flushes
        written = self._written = threading.Event()
        claim = self._claim = threading.Lock()
        outcome: list[tuple[str, bool]] = []
        self._handed, self._outcome = step, outcome
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
            except Exception as exc:
                # Why, as the analyst can act on it (a full drive: free some space),
                # worked out here: it asks the drive and tries the store. Kept before
                # ``written`` is set: flush() lists it if the report comes too late.
                outcome.append(self._why(exc))
                if outcome[0][1]:
                    return outcome[0][0]
                raise  # the write's own failure: said as the pool reports it
            finally:
                written.set()

        def done(items: list[int] | str) -> None:
            if flushes != self._flushes:
                return  # flush() took the lane over, and said what it lost
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
            if step.resaving:
                self.forget_unsaved(step.resaving)
            if items:
                self.labels_changed.emit(items)
            self._next()

        def failed(error: str, saving: bool = False) -> None:
            if flushes != self._flushes:
                return
            self._handed = None
            self._lost(step, error, saving)
            self._next()

        self._background.call(run, done, failed)
