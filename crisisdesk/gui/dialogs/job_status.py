"""The tooltip of a job dialog's status line (import, export, retrain report's Switch).

The line says why a job failed in the analyst's words; the traceback (Python's class
name, where it failed) is its tooltip, for an engineer. One function sets it as a job
starts and as it ends, so a job started again does not run under the last failure's
traceback.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from crisisdesk.gui.worker import JobRunner


def show_job_details(status: QLabel, runner: JobRunner | None) -> None:
    """Make ``status``'s tooltip the traceback of ``runner`` where it failed, else none
    (a runner just started, one that ended well or was cancelled)."""
    status.setToolTip(runner.details if runner is not None and runner.state == "failed"
                      else "")
