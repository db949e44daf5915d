"""The app's label writes beside other writers: a watch or import committing posts while
a label key's selection is being found again must not move the label onto other items."""

from __future__ import annotations

from pathlib import Path

from crisisdesk.core import review
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.gui.labelling import Targets


def _import(project: Project, csv: Path, ids: range) -> None:
    csv.write_text("id,text\n" + "".join(f"{i},report {i} from the field\n" for i in ids),
                   encoding="utf-8")
    for _ in ImportJob(project, [csv], ImportOptions(source="field")).run():
        pass


def test_a_selection_s_unread_rows_are_found_in_the_state_whose_size_was_checked(
        tmp_path: Path, monkeypatch) -> None:
    """A Shift-click selection of rows the list has not read is found again by offset,
    after checking that the queue still has the list's size. Posts a watch committed
    between that check and the reading of the rows (the newest first in "all") pushed
    the selected items down: the label went to the new posts, which the analyst never
    saw, and not to those selected. The check and the rows now read one state."""
    project = Project.open(tmp_path / "proj", create=True)
    _import(project, tmp_path / "first.csv", range(1, 6))
    queue = Queue("all")
    with project.open_store() as store:
        total = review.queue_size(store, queue)
        selected = [row.id for row in review.queue_page(store, queue, offset=0, limit=2)]
    size = review.queue_size

    def size_then_a_watch_commits(store, *args, **kwargs):  # noqa: ANN001, ANN202
        counted = size(store, *args, **kwargs)
        if not (tmp_path / "second.csv").exists():
            _import(project, tmp_path / "second.csv", range(6, 9))  # another process
        return counted

    monkeypatch.setattr(review, "queue_size", size_then_a_watch_commits)
    targets = Targets((), ((0, 2),), queue, total=total)
    with project.open_store() as store:
        found = targets.resolve(store)
    assert found == selected
