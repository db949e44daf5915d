"""An upgrade's steps said only once it has run a moment (:data:`SAY_AFTER_S`).

The window or command that opens an older project says, as its upgrade runs, which step
of how many it is at (:func:`crisisdesk.core.launch.upgrading_words`): a big project's
upgrade takes seconds to minutes. Most take a fraction of a second, and "upgrading ...
step 1 of 5" flashed in the opening window, or printed on stderr just before the note
that the project was upgraded, was noise. As git's progress does, the steps are said
only once the upgrade has run :data:`SAY_AFTER_S`: from then on each one as it begins;
an upgrade over sooner is said by its note alone.

The wait runs on a timer of its own, not between steps: one step (a big project's post
times) can take the whole upgrade. :data:`later` starts it; a test puts its own in its
place to say when the time has come, rather than wait for a clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

from crisisdesk.core.store.schema import UpgradeListener

#: How long an upgrade runs (seconds) before its steps are said.
SAY_AFTER_S = 0.5

#: What stops a wait that :data:`later` started.
Cancel = Callable[[], None]


def _timer(seconds: float, call: Callable[[], None]) -> Cancel:
    """Call ``call`` in a thread of its own after ``seconds``; what cancels it."""
    timer = threading.Timer(seconds, call)
    timer.daemon = True  # a wait never keeps a command from ending
    timer.start()
    return timer.cancel


#: Starts a wait: (seconds, what to call once they have passed) -> what cancels it.
later: Callable[[float, Callable[[], None]], Cancel] = _timer


class DelayedSteps:
    """A listener of an upgrade's steps (for
    :func:`~crisisdesk.core.store.schema.upgrades_heard`) that passes them on to ``say``
    once the upgrade has run :data:`SAY_AFTER_S`: then the step it is at, and each step
    after it. Used as a context manager around the open: leaving it stops the wait, so
    an upgrade that failed or was interrupted is not said after its error."""

    def __init__(self, say: UpgradeListener) -> None:
        self._say = say
        # The timer's thread and the opening thread both say: one at a time, in order.
        # Re-entrant: a test's wait may be over at once, inside the step that began it.
        self._lock = threading.RLock()
        self._step = (0, 0)  # the step heard last: (done, total)
        self._wait: object | None = None  # the wait under way (its token), if any
        self._cancel: Cancel | None = None
        self._saying = False  # the time came: each step is said as it begins
        self._closed = False

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            self._step = (done, total)
            if self._saying:
                self._say(done, total)
            elif done < total and self._wait is None and not self._closed:
                token = self._wait = object()
                self._cancel = later(SAY_AFTER_S, lambda: self._due(token))
            if done >= total:
                # This upgrade is over; another (a retry, another store) waits its own.
                self._stop_wait()
                self._saying = False

    def _due(self, token: object) -> None:
        """The wait of ``token`` is over: say the step the upgrade is at, if it still runs."""
        with self._lock:
            if token is not self._wait or self._saying:
                return  # stopped meanwhile (the upgrade ended, or the block was left)
            self._saying = True
            self._say(*self._step)

    def _stop_wait(self) -> None:
        self._wait = None
        if self._cancel is not None:
            self._cancel()
            self._cancel = None

    def __enter__(self) -> DelayedSteps:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        with self._lock:
            self._closed = True
            self._stop_wait()


__all__ = ["SAY_AFTER_S", "DelayedSteps", "later"]
