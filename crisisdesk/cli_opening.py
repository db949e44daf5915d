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
    an older PROJECT upgrades it: as the upgrade starts (on a terminal, each step of
    how many), then, once the command ends, that it was upgraded: the release that made
    it refuses it from now on. Said once: the next command finds it upgraded. Not opened
    here first: a command refused for its arguments leaves the project as it was."""
    project = getattr(args, "project", None)
    if not project:
        yield
        return
    from crisisdesk.core.launch import upgrade_note, upgrading_words
    from crisisdesk.core.store.schema import upgrades_heard

    rewrite = sys.stderr.isatty()
    open_line = [False]  # a terminal's step line not ended yet (an upgrade under way)

    def heard(done: int, total: int) -> None:
        # A log (not a terminal) gets the first line only: one a step is noise there.
        if rewrite or done == 0:
            words = upgrading_words(done, total, str(Path(project).expanduser().absolute()))
            if rewrite:  # the same line, rewritten; ended with the last step
                print(f"\rcrisisdesk: {words}...", end="\n" if done == total else "",
                      file=sys.stderr, flush=True)
                open_line[0] = done != total
            else:
                print(f"crisisdesk: {words}...", file=sys.stderr, flush=True)

    try:
        with upgrades_heard(heard):
            yield
    finally:
        if open_line[0]:
            # A step failed (or Ctrl-C): what is said next (the error) starts its own line.
            print(file=sys.stderr, flush=True)
        note = upgrade_note(project)
        if note is not None:
            print(f"crisisdesk: {note}", file=sys.stderr)
