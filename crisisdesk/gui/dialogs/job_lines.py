"""A job record of the project's jobs table in words: one line of Jobs > History…
(:mod:`crisisdesk.gui.dialogs.job_history`), what ran, when, for how long, how it ended
and its message; the texts of its cells, in the order of :data:`COLUMNS`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crisisdesk.core.job_locks import INTERRUPTED
from crisisdesk.core.words import plural
from crisisdesk.gui.advice import stored_error
from crisisdesk.gui.detail_header import shown_time
from crisisdesk.gui.dialogs.job_params import ran_on
from crisisdesk.gui.job_row import took_words

#: What each kind of job is called in the window (its menu action's name, where it has
#: one); a kind not listed is said as stored, its dashes made spaces.
KIND_WORDS = {
    "import": "Import", "import-watch": "Watch a folder",
    "import-embeddings": "Import of embeddings", "caption": "Caption images",
    "embed": "Embed images and texts", "predict": "Predict", "train": "Training",
    "retrain": "Retrain", "export": "Export", "media-fetch": "Fetch of images",
    "demo": "Demo project",
}
#: The history's columns, as :meth:`JobLine.cells` gives their texts.
COLUMNS = ("What", "Started", "Took", "Outcome", "Message")


@dataclass(frozen=True)
class JobLine:
    """One job record in words, as a line of the history shows it."""

    job: int  # its row in the jobs table
    what: str
    started: str
    took: str
    outcome: str  # done, failed, cancelled, interrupted or running
    message: str
    has_report: bool  # a finished retrain: its report can be opened again
    ran_on: str = ""  # what it ran on, from its params ("tasks damage, informative")

    def cells(self) -> tuple[str, str, str, str, str]:
        """The texts of its cells, in the order of :data:`COLUMNS`."""
        return (self.what, self.started, self.took, self.outcome, self.message)


def _moment(stored: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(stored or "")
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _first_up(text: str) -> str:
    """``text`` with its first letter a capital, the others as they are."""
    return text[:1].upper() + text[1:]


def job_line(row: dict[str, Any], now: datetime) -> JobLine:
    """``row`` of the jobs table (see ``Store.jobs_page``) in words; ``now``: the time a
    running job's time so far is counted to."""
    state, error = row["state"], row["error"] or ""
    outcome = "interrupted" if state == "failed" and error == INTERRUPTED else state
    started, ended = _moment(row["started_at"]), _moment(row["finished_at"])
    took = "–"  # an interrupted job's end is when an open noticed it: days, maybe
    if started is not None and outcome != "interrupted" and (
            ended is not None or state == "running"):
        seconds = max(0.0, ((ended or now) - started).total_seconds())
        took = took_words(seconds)  # "under a second", not "0:00"
        took += " so far" if state == "running" else ""
    done, total, problems = row["done"] or 0, row["total"] or 0, row["problems"] or 0
    counts = f"{done:,} of {total:,}" if total else f"{done:,}"
    counts += f" ({plural(problems, 'problem')})" if problems else ""
    message = {
        "done": f"Finished: {counts} done.",
        "running": f"{counts} done so far (or its program is running elsewhere).",
        "cancelled": f"Cancelled after {counts}; what was done is kept.",
        # Its first letter made a capital, not capitalize()d: "What" was made "what".
        "interrupted": _first_up(INTERRUPTED.removeprefix("Interrupted: ")),
    }.get(outcome) or (stored_error(error) if error else "Failed without a message.")
    kind = row["kind"]
    return JobLine(row["id"], KIND_WORDS.get(kind, kind.replace("-", " ").capitalize()),
                   shown_time(row["started_at"]), took, outcome, message,
                   kind == "retrain" and state == "done", ran_on(kind, row.get("params")))


__all__ = ["COLUMNS", "KIND_WORDS", "JobLine", "job_line"]
