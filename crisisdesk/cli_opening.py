"""How a command of the ``crisisdesk`` CLI says that its open upgraded an older project
(:func:`upgrade_said`, around each command run by :func:`crisisdesk.cli.main`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def upgrade_said(args: argparse.Namespace) -> Iterator[None]:
    """Run the command saying on stderr (--json output stays clean) when its own open of
    an older PROJECT upgrades it: while the upgrade runs, once it has run a moment
    (:class:`~crisisdesk.core.upgrade_steps.DelayedSteps`; on a terminal, each step of
    how many), then, once the command ends, that it was upgraded: the release that made
    it refuses it from now on. Said once: the next command finds it upgraded. Not opened
    here first: a command refused for its arguments leaves the project as it was."""
    project = getattr(args, "project", None)
    if not project:
        yield
        return
    from crisisdesk.core.launch import upgrade_note, upgrading_words
    from crisisdesk.core.store.schema import upgrades_heard
    from crisisdesk.core.upgrade_steps import DelayedSteps

    rewrite = sys.stderr.isatty()
    open_line = [False]  # a terminal's step line not ended yet (an upgrade under way)
    logged = [False]  # a log's line said of the upgrade under way

    def heard(done: int, total: int) -> None:
        # Called by the first step said (the timer's thread) and each one after it.
        # A log (not a terminal) gets the first line only: one a step is noise there.
        if rewrite or not logged[0]:
            words = upgrading_words(done, total, str(Path(project).expanduser().absolute()))
            if rewrite:  # the same line, rewritten; ended with the last step
                print(f"\rcrisisdesk: {words}...", end="\n" if done == total else "",
                      file=sys.stderr, flush=True)
                open_line[0] = done != total
            else:
                print(f"crisisdesk: {words}...", file=sys.stderr, flush=True)
        logged[0] = done != total  # another upgrade (a retry) says its own first line

    try:
        with DelayedSteps(heard) as steps, upgrades_heard(steps):
            yield
    except KeyboardInterrupt:
        # Ctrl-C: the terminal's "^C" is on the step line, and the "interrupted" that
        # main says next begins with the newline that ends it (one more: a blank line).
        open_line[0] = False
        raise
    finally:
        if open_line[0]:
            # A step failed: what is said next (the error) starts its own line.
            print(file=sys.stderr, flush=True)
        note = upgrade_note(project)
        if note is not None:
            print(f"crisisdesk: {note}", file=sys.stderr)
