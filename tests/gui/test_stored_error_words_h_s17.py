"""A failed job's message in the job history says what the jobs panel said when it
failed (session 17 review): the history reads it back from the jobs table, where it is
kept as ``Type: message``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crisisdesk.core.jobs import tracked
from crisisdesk.core.progress import Progress
from crisisdesk.gui.advice import plain_error, stored_error


@pytest.mark.parametrize("error", [
    KeyError("unknown task 'dmg'; known tasks: damage, informative"),  # schemes.get
    KeyError("no item 5"),
    OSError(28, "No space left on device"),
    ValueError("Type: not a class name"),
])
def test_the_history_says_a_failed_jobs_message_as_the_jobs_panel_did(
        project, error: BaseException) -> None:
    def body() -> Iterator[Progress]:
        yield Progress(0, 1, "starting")
        raise error

    with pytest.raises(type(error)):
        list(tracked(project, "predict", {}, body()))
    with project.open_store() as store:
        kept = store.last_job("predict", "failed")
    assert kept is not None
    assert stored_error(kept["error"]) == plain_error(error)
