"""The retrain report's Switch: what it would switch, and what it says after a switch.

Mixed into :class:`~crisisdesk.gui.dialogs.retrain_dialog.RetrainDialog` (which starts
the switch job, ``apply``): the button names the tasks it would switch, each tab's mark
says what Switch does for its task, and both are asked again off the UI thread when a
task's active version changes under the report (:meth:`Switching._recheck_switch`).
When the switch ends the status line says how, and the window hears which tasks switched.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from crisisdesk.core.words import plural
from crisisdesk.gui.detail_header import shown_time
from crisisdesk.gui.dialogs.job_status import show_job_details
from crisisdesk.gui.dialogs.retrain_headline import BAD

if TYPE_CHECKING:
    from collections.abc import Callable

    from PySide6.QtCore import SignalInstance
    from PySide6.QtWidgets import QLabel, QPushButton, QTabWidget

    from crisisdesk.core.project import Project
    from crisisdesk.core.retrain_saved import SavedRetrain
    from crisisdesk.gui.dialogs.retrain_page import TaskPage
    from crisisdesk.gui.worker import Background, JobRunner

SWITCH_NAMES = 40  # characters of task names the Switch button spells out


class Switching:
    """Switch's state and the tabs' marks (mixed into the retrain report, whose pages,
    tabs, buttons, status line, runner, background and ``switched`` signal it uses)."""

    project: Project
    saved: SavedRetrain | None
    pages: dict[str, TaskPage]
    tabs: QTabWidget
    switch: QPushButton
    keep: QPushButton
    status: QLabel
    made: QLabel
    runner: JobRunner | None
    armed: bool
    background: Background
    switched: SignalInstance
    refresh_versions: Callable[[], None]
    _show_error: Callable[[str], None]

    def _mark_tab(self, task: str) -> None:
        """The mark of ``task``'s tab ("damage ✓") and the same in words."""
        page = self.pages[task]
        entry, index = page.entry, list(self.pages).index(task)
        # A task Switch leaves (a report opened again) is not marked "switch
        # recommended": the analyst clicked Switch for it and was refused.
        recommended = entry.recommend_switch and page.left is None
        mark = "✓" if recommended else ("–" if entry.new is None or page.left else "✗")
        self.tabs.setTabText(index, f"{task} {mark}")
        # The mark in words: a screen reader read it as a character, and a new
        # analyst had to guess it.
        said = f"{task}: " + (
            "switch recommended" if recommended else
            f"Switch leaves it as it is ({page.left})" if page.left else
            "not compared" if entry.new is None else
            "keep the active version (the new one is worse)")
        self.tabs.setTabToolTip(index, said)
        self.tabs.tabBar().setAccessibleTabName(index, said)
        # Tab reaches it: it was a nameless "client"
        self.tabs.widget(index).setAccessibleName(said)

    def _sync_buttons(self) -> None:
        """Switch names the tasks it would switch and is enabled only when there are some;
        otherwise Keep is the default button (Enter must not look like it switches)."""
        if self.runner is not None and self.runner.state not in ("failed", "cancelled"):
            return  # switching or switched: _applied sets the buttons
        tasks = self.tasks_to_switch()
        self.switch.setEnabled(bool(tasks))
        # Alt+S is no accident, but it is a key: like Enter, it switches only once armed.
        mnemonic = "&" if self.armed else ""
        named = ", ".join(tasks)
        # Long task names, several of them, made the button (and so the report) wider
        # than a laptop's screen: past SWITCH_NAMES characters it counts them instead.
        shown = named if len(named) <= SWITCH_NAMES else plural(len(tasks), "task")
        self.switch.setText(f"{mnemonic}Switch {shown}" if tasks else f"{mnemonic}Switch")
        self.switch.setToolTip(f"Make the new versions active: {named}" if tasks else
                               self._nothing_to_switch())
        self.switch.setDefault(bool(tasks) and self.armed)
        self.keep.setDefault(not tasks and self.armed)

    def _recheck_switch(self, task: str) -> None:
        """Ask again, off the UI thread, what Switch would do for ``task`` (its active
        version just changed: from a versions list, or under a switch that was refused):
        the reasons worked out when the report opened went stale, and Switch was refused
        after the click, or stayed off though it would now switch. The tab's mark, the
        reason and Switch follow."""
        project, entry = self.project, self.pages[task].entry

        def ask() -> str | None:
            from crisisdesk.core import retrain_saved  # torch-using: load in the worker

            with project.open_store() as store:
                return retrain_saved.switch_leaves(store, entry)

        def show(why: str | None) -> None:
            self.pages[task].leave_as_is(why)
            if self.saved is not None:  # said above the tabs
                self.saved.leave.pop(task, None)
                self.saved.leave.update({task: why} if why else {})
                self.made.setText(reopened_text(self.saved))
            if why:
                self.status.setText(self.status.text() + " " + html.escape(
                    f"Switch now leaves {task} as it is: {why}.", quote=False))
            self._mark_tab(task)
            self._sync_buttons()

        self.background.call(ask, show, self._show_error, key=f"switch {task}")

    def active_changed(self, task: str) -> None:
        """``task``'s active version changed elsewhere (the Model versions window, another
        report): its versions list and what Switch would do for it are asked again."""
        if task in self.pages:
            self.refresh_versions()
            self._recheck_switch(task)

    def tasks_to_switch(self) -> list[str]:
        return [task for task, page in self.pages.items() if page.wants_switch()]

    def _nothing_to_switch(self) -> str:
        """Why Switch has nothing to switch: the tasks it leaves as they are (a report
        opened again: another version active since, the new one deleted), each with why,
        or else no new version recommended nor overridden."""
        left = [f"{task}: {page.left}" for task, page in self.pages.items() if page.left]
        if not left:
            return ("Nothing to switch: every new version is worse and none is "
                    "overridden. Keep the active versions, or tick an override.")
        worse = any(page.entry.candidate is not None and not page.left
                    for page in self.pages.values())
        return ("Nothing to switch. Switch leaves " + "; ".join(left) + "." +
                (" The other new versions are worse: tick an override to switch one."
                 if worse else ""))

    def _applied(self, state: str, value: object, tasks: list[str]) -> None:
        self.keep.setEnabled(True)
        show_job_details(self.status, self.runner)  # a failure's traceback, for an engineer
        if state == "done":
            self.status.setText(f"Switched: {', '.join(tasks)}. Predictions will refresh.")
            self.keep.setText("&Close")
            # Switch is disabled now: Enter goes to Close, not to a button that does nothing.
            self.switch.setDefault(False)
            self.keep.setDefault(True)
            self.switched.emit(tasks)
            self.refresh_versions()
        else:
            self.switch.setEnabled(True)
            # A cancel carries no message (None): it may have come after the activation,
            # so the versions lists (refreshed) say which version is active now.
            # Escaped: a message names files and classes ("<unk>"), not markup.
            why = f": {html.escape(str(value), quote=False)}" if state == "failed" else (
                "; the versions lists below show which version is active now")
            self.status.setText(f"<span style='color:{BAD}'>Switch {state}{why}</span>")
            self.refresh_versions()
            # Refused for a task another window switched meanwhile, but done for the
            # others: the window refreshes those tasks' predictions all the same.
            done = getattr(self.runner.exception if self.runner else None, "switched", None)
            if done:
                self.switched.emit(list(done))
            if done is not None:
                # A refusal (SwitchRefused): the active versions changed under the report.
                # Switch was lit again as it was, and a second click was refused the same
                # way: what it would do for each task is asked again.
                for task in tasks:
                    self._recheck_switch(task)


def reopened_text(saved: SavedRetrain) -> str:
    """What a report opened again says above its tabs: when it was made (it may be days
    old), and per task what changed since (a new version deleted or already active)."""
    said = [f"This is the report of the last retrain, made {shown_time(saved.made)}."
            if saved.newest else f"This is the report of an earlier retrain, made "
            f"{shown_time(saved.made)}; a newer retrain has finished since."]
    for task in saved.report.tasks:
        why = [why for why in (saved.notes.get(task), saved.leave.get(task)) if why]
        if why:
            said.append(f"{task}: {'; '.join(why)}.")
    return "\n".join(said)
