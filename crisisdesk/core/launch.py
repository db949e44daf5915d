"""Which project the app opens at launch.

``crisisdesk open PROJECT`` opens that project; ``crisisdesk`` alone opens the last
project if it still exists, else the demo project (built in the user's data folder the
first time). The project opened is remembered for next time by the app.
"""

from __future__ import annotations

import logging
from pathlib import Path

from crisisdesk.core.demo import demo_project
from crisisdesk.core.project import Project, ProjectError
from crisisdesk.core.settings import last_project, remember_project

__all__ = ["ProjectError", "choose_project", "last_project", "project_to_open",
           "remember_project"]

logger = logging.getLogger(__name__)


def project_to_open(arg: str | None, *, data_dir: Path | None = None) -> Path:
    """The folder of the project to open (ProjectError naming ``arg`` when it is not a
    project). ``data_dir`` overrides where the demo is built (default: the user's)."""
    return choose_project(arg, data_dir=data_dir)[0]


def choose_project(arg: str | None, *, data_dir: Path | None = None
                   ) -> tuple[Path, Path | None]:
    """:func:`project_to_open`'s folder, and the last project when it could not be opened
    and the demo opens in its place (else None): the app says so in its window."""
    if arg:
        # Project.open raises ProjectError with the path and what is missing.
        return Project.open(Path(arg)).root, None
    last = last_project()
    if last is not None:
        try:
            return Project.open(last).root, None
        except ProjectError as exc:
            # Moved or deleted since: fall back to the demo, as on a first run, and say
            # why (with no handler set up, logging prints a warning on stderr), so the
            # analyst does not take the demo for their own project gone empty.
            logger.warning("the last project cannot be opened (%s); opening the demo "
                           "project instead", exc)
            return demo_project(data_dir), last
    return demo_project(data_dir), None
