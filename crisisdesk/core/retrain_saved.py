"""A retrain's report, read back from the project so that it can be opened again.

A retrain's report (:class:`~crisisdesk.core.retrain.RetrainReport`) is kept with the
project already: the job record of each retrain stores it as its JSON result
(``jobs.tracked``), in ``project.sqlite``, written in the transaction that ends the job.
:func:`last_retrain` reads the newest finished one back (:func:`saved_retrain` any
finished one, by its jobs row: the job history's), checks every field (a damaged or
hand-edited record gives a :class:`SavedReportError` naming the row and field, not a
traceback in the report window), and says, per task, what changed since: a new version
that was deleted, one that is active now, another version made active since (Switch
leaves those tasks as they are). Its Switch still goes through ``apply_retrain``, which
refuses a task whose active version changed after the comparison.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainJob, RetrainReport, TaskRetrain
from crisisdesk.core.retrain_switch import load_refusal, missing_checkpoint_file
from crisisdesk.core.store import Store

AGAIN = "Run Retrain again for a new report."


class SavedReportError(ValueError):
    """No retrain report to open again, or one that cannot be read (the message says
    which and what to do)."""


@dataclass
class SavedRetrain:
    """A finished retrain's report, when it was made, and what changed since."""

    report: RetrainReport
    made: str  # when the retrain ended, as the store keeps times (UTC, ISO 8601)
    job: int  # its row in the jobs table
    newest: bool = True  # no retrain finished after it (its report is "the last")
    # Tasks Switch now leaves as they are, and why: the new version was deleted, or it
    # is the active one already (switched: a second Switch would only predict again), or
    # another version became active since (apply_retrain would refuse: ActiveChanged).
    leave: dict[str, str] = field(default_factory=dict)
    # What else changed, per task: the version it was compared with was deleted.
    notes: dict[str, str] = field(default_factory=dict)


def last_retrain(project: Project) -> SavedRetrain:
    """The newest retrain that finished (done) in ``project``, its report rebuilt; a
    SavedReportError when there is none or its record cannot be read."""
    return saved_retrain(project)


def saved_retrain(project: Project, job: int | None = None) -> SavedRetrain:
    """The report of the retrain in jobs row ``job`` (None: the newest that finished),
    rebuilt, with what changed since; a SavedReportError when there is none, the row is
    no finished retrain, or its record cannot be read."""
    with project.open_store() as store:
        last = store.last_job(RetrainJob.kind)
        row = last if job is None else store.job(job)
        what = "The last retrain's report" if job is None else "This retrain's report"
        if row is None and job is None:
            raise SavedReportError("No retrain has finished in this project yet: run "
                                   "Retrain, and its report can be opened again here.")
        if row is None or row["kind"] != RetrainJob.kind or row["state"] != "done":
            said = ("is not in this project" if row is None else
                    f"is not a retrain that finished ({row['kind']}, {row['state']})")
            raise SavedReportError(f"{project.db_path}, jobs row {job} {said}: it has no "
                                   "report to open.")
        where = f"{project.db_path}, jobs row {row['id']}"
        try:
            data = json.loads(row["result"] or "null")
        except (ValueError, TypeError) as exc:
            raise SavedReportError(f"{what} ({where}) cannot be read: it is not JSON "
                                   f"({exc}). {AGAIN}") from exc
        report = report_from_dict(data, where, what)
        saved = SavedRetrain(report, str(row["finished_at"] or row["started_at"]), row["id"],
                             newest=last is not None and last["id"] == row["id"])
        for task, entry in report.tasks.items():
            _now(store, saved, task, entry)
    return saved


def report_from_dict(data: Any, where: str,
                     what: str = "The last retrain's report") -> RetrainReport:
    """A RetrainReport from its ``as_dict`` form, every field checked; a SavedReportError
    naming ``what`` (whose report), ``where`` and the field otherwise."""
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), dict):
        raise _bad(what, where, "tasks", "is missing")
    report = RetrainReport()
    for task, entry in data["tasks"].items():
        if not isinstance(entry, dict) or entry.get("task") != task:
            raise _bad(what, where, f"tasks.{task}", "is not a task's comparison")
        values = {}
        for spec in fields(TaskRetrain):
            if spec.name not in entry:
                continue  # a field added since: its default (an older report lacks it)
            value, check = entry[spec.name], CHECKS[str(spec.type)]
            if not check(value):
                raise _bad(what, where, f"tasks.{task}.{spec.name}", f"holds {value!r:.60}")
            values[spec.name] = value
        for name in ("new", "current"):
            if values.get(name) is not None and (why := _figures_wrong(values[name])):
                raise _bad(what, where, f"tasks.{task}.{name}", why)
        report.tasks[task] = TaskRetrain(**values)
    return report


def _bad(what: str, where: str, name: str, why: str) -> SavedReportError:
    return SavedReportError(f"{what} ({where}) cannot be read: {name} {why}. {AGAIN}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, float)


#: A check per TaskRetrain field type (as its annotation reads): a field of a new type
#: fails the report's round trip in the tests until it has one.
CHECKS = {
    "str": lambda v: isinstance(v, str),
    "str | None": lambda v: v is None or isinstance(v, str),
    "int": _is_int,
    "int | None": lambda v: v is None or _is_int(v),
    "bool": lambda v: isinstance(v, bool),
    "dict[str, int]": lambda v: isinstance(v, dict) and all(
        isinstance(k, str) and _is_int(n) for k, n in v.items()),
    "dict[str, Any] | None": lambda v: v is None or isinstance(v, dict),
}


def _figures_wrong(figures: dict[str, Any]) -> str | None:
    """What the report's charts cannot draw in a version's figures, or None."""
    classes = figures.get("classes")
    if not isinstance(classes, list) or not classes or not all(
            isinstance(c, str) for c in classes):
        return "has no list of classes"
    if not _is_number(figures.get("macro_f1")):
        return "has no macro F1"
    per_class = figures.get("per_class")
    if not isinstance(per_class, dict) or not all(
            isinstance(per_class.get(c), dict) and _is_number(per_class[c].get("f1"))
            for c in classes):
        return "lacks an F1 for each class"
    confusion = figures.get("confusion")
    k = len(classes)
    if not isinstance(confusion, list) or len(confusion) != k or not all(
            isinstance(row, list) and len(row) == k and all(_is_int(n) and n >= 0
                                                            for n in row)
            for row in confusion):
        return f"has no confusion matrix of {k} rows of {k} counts"
    if "n" in figures and not _is_int(figures["n"]):
        return "has no count of items scored"
    return None


def _now(store: Store, saved: SavedRetrain, task: str, entry: TaskRetrain) -> None:
    """Note in ``saved`` what changed for ``task`` since the report was made."""
    if entry.active is not None and store.model_version(entry.active) is None:
        saved.notes[task] = (f"{entry.active_name}, the version it was compared with, no "
                             "longer exists in this project")
    why = switch_leaves(store, entry)
    if why is not None:
        saved.leave[task] = why


def switch_leaves(store: Store, entry: TaskRetrain) -> str | None:
    """Why Switch would leave ``entry``'s task as it is now, or None when it may switch
    it: the new version was deleted, is the active one already, its files do not load
    (damaged: apply_retrain would refuse), or another version became active since the
    comparison (apply_retrain would refuse: ActiveChanged). The report asks again after
    a version is made active from its versions list, and after a refused Switch. Loads
    the new version's head: run it off the UI thread."""
    if entry.candidate is None:
        return None
    version = store.model_version(entry.candidate)
    if version is None:
        return (f"its new version {entry.candidate_name} no longer exists in "
                "this project: it cannot be made active")
    if (missing := missing_checkpoint_file(version["path"])) is not None:
        return (f"its new version {entry.candidate_name} was deleted ({missing} "
                "is gone): it cannot be made active")
    if version["active"]:
        return f"{entry.candidate_name} is the active version already"
    if (damaged := load_refusal(store, version)) is not None:
        # Before ActiveChanged's advice, which would have it made active: it cannot be.
        return (f"its new version {entry.candidate_name} cannot be made active, as "
                f"{damaged}: run Retrain again for a new version")
    if (now := store.active_model_version(entry.task)) is not None and now["id"] != entry.active:
        # As apply_retrain's check (ActiveChanged): said before the click it would refuse.
        return (
            f"the active version is now {now['name']}, made active after this retrain "
            f"compared {entry.candidate_name} with {entry.active_name or 'no version'}: "
            f"run Retrain again to compare with it, or make {entry.candidate_name} active "
            "from the task's versions list")
    return None
