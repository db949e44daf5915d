"""A project's label schemes: the shipped ones plus those the project added.

A project's own schemes live in its database (table ``label_schemes``), so they travel
with the project. They are read once per connection and kept until ``add_scheme``.
"""

from __future__ import annotations

import json
from typing import Any

from crisisdesk.core.schemes import LabelScheme, SchemeError, builtin_schemes, scheme_for
from crisisdesk.core.store.db import StoreBase, utc_now


class SchemesMixin(StoreBase):
    """The tasks of a project and their label schemes."""

    _schemes: dict[str, LabelScheme] | None = None
    _schemes_version: int | None = None
    _scheme_problems: list[str] = []  # noqa: RUF012 - replaced, never changed in place
    _left_out: dict[str, str] = {}  # noqa: RUF012 - task -> why (replaced as above)

    def schemes(self) -> dict[str, LabelScheme]:
        """The built-in schemes, then the project's own (in the order first added), by task.

        Kept until the database changes: SQLite's data_version moves when another
        connection commits, so a task another process added (``schemes add`` beside a
        watch or the app) is seen."""
        version = self._scalar("PRAGMA data_version")
        if version != self._schemes_version:
            self._schemes, self._schemes_version = None, version
        if self._schemes is None:
            schemes, problems, left_out = dict(builtin_schemes()), [], {}
            for row in self._all("SELECT task, classes, merges, description"
                                 " FROM label_schemes ORDER BY rowid"):
                if row["task"] in schemes:  # add_scheme refuses a built-in task
                    problems.append(
                        f"{self.path}: a stored label scheme redefines the built-in task "
                        f"{row['task']!r}; it is ignored (the shipped heads and prompts "
                        "are for the built-in classes)")
                    continue
                try:
                    scheme = _stored_scheme(row)
                except (ValueError, TypeError) as exc:  # TypeError: a number for JSON
                    # A received or restored project's damaged (or crafted) row: the
                    # other tasks stay usable, and scheme_problems() says what to do.
                    left_out[row["task"]] = (
                        f"{self.path}: the label scheme of task {row['task']!r} cannot be "
                        f"used ({exc}); the task is left out until its scheme is added "
                        "again: crisisdesk schemes add PROJECT FILE")
                    problems.append(left_out[row["task"]])
                    continue
                schemes[scheme.task] = scheme
            self._schemes, self._scheme_problems = schemes, problems
            self._left_out = left_out
        return dict(self._schemes)

    def scheme_problems(self) -> list[str]:
        """Why each of the project's stored schemes that :meth:`schemes` left out could
        not be used (a damaged or crafted row), naming the file and what to do."""
        self.schemes()
        return list(self._scheme_problems)

    def scheme(self, task: str) -> LabelScheme:
        """The scheme of ``task``; KeyError saying why for a task the project has but
        whose stored scheme was left out (damaged: "unknown task" sent the analyst
        looking for a typo), else naming the known tasks."""
        schemes = self.schemes()
        if task not in schemes and task in self._left_out:
            raise KeyError(self._left_out[task])
        return scheme_for(task, schemes)

    def project_schemes(self) -> dict[str, LabelScheme]:
        """The schemes this project added (not the built-in ones), by task."""
        builtin = builtin_schemes()
        return {task: s for task, s in self.schemes().items() if task not in builtin}

    def add_scheme(self, scheme: LabelScheme) -> bool:
        """Add a project scheme (checked by ``schemes.scheme_from_json``); return False
        when the project has it already, as it is.

        Raises SchemeError for a built-in task (the shipped heads and zero-shot prompts
        are for its classes), and for other classes of a task the journal has labels of
        (they would be of classes the scheme no longer has, or in another order than the
        trained heads'); a task whose stored scheme was left out (unreadable) may be
        added again only with classes covering the labels it has. Otherwise a changed
        scheme (its merges, its description, or the classes of a task without labels)
        replaces the old.
        """
        if scheme.task in builtin_schemes():
            raise SchemeError(f"task {scheme.task!r} is built in; a project cannot "
                              "redefine it (give the scheme another task name)")
        with self.transaction():
            self._schemes = None  # under the write lock: what another process added too
            old = self.schemes().get(scheme.task)
            if old == scheme:
                return False
            if old is None or old.classes != scheme.classes:
                # Counted in the journal even when the old scheme was left out (its row
                # unreadable): its labels must stay classes of the task.
                given = {row[0] for row in self._all(
                    "SELECT DISTINCT label FROM labels WHERE task = ?"
                    " AND label IS NOT NULL", [scheme.task])}
                missing = sorted(given - set(scheme.classes))
                if given and (old is not None or missing):
                    raise SchemeError(
                        f"task {scheme.task!r} has labels already: its scheme cannot "
                        "change (the journal would hold labels of classes no longer "
                        "there)" + (f"; not classes of the new scheme: "
                                    f"{', '.join(map(repr, missing))}" if missing else "")
                        + "; add the new scheme under another task name")
            # An upsert keeps the row (its rowid, the list order) and added_at: a task keeps
            # its place in the list when changed.
            self.conn.execute(
                "INSERT INTO label_schemes (task, classes, merges, description, added_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (task) DO UPDATE SET"
                " classes = excluded.classes, merges = excluded.merges,"
                " description = excluded.description",
                [scheme.task, json.dumps(list(scheme.classes)), json.dumps(scheme.merges),
                 scheme.description, utc_now()])
            self._schemes = None
        return True


def _stored_scheme(row: Any) -> LabelScheme:
    """A project's scheme as its row holds it, spellings kept (a scheme stored before
    today's label rules keeps them); ValueError for a row no crisisdesk wrote: unreadable
    JSON, fewer than 2 classes, a blank or repeated class, a merge into no class."""
    try:
        classes, merges = json.loads(row["classes"]), json.loads(row["merges"] or "{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"its classes or merges are not readable JSON: {exc}") from exc
    if not isinstance(classes, list) or len(classes) < 2 or not all(
            isinstance(c, str) and c.strip() for c in classes):
        raise ValueError("its classes are not a list of at least 2 class names")
    repeated = sorted({c for c in classes if classes.count(c) > 1})
    if repeated:
        raise ValueError(f"class {repeated[0]!r} is listed more than once")
    if not isinstance(merges, dict) or not all(
            isinstance(into, str) and into in classes for into in merges.values()):
        raise ValueError("its merges do not map source labels to its classes")
    return LabelScheme(row["task"], tuple(classes), merges, row["description"])
