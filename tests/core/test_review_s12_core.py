"""Defects found by the session-12 review of the day's changes, in the core.

* The queues' stamp counts each write of a version's predictions (store.models
  PREDICTIONS_CHANGED). A predict chunk whose items the head could not see (none
  embedded yet: posts imported all day before Embed reaches them) wrote no prediction
  but moved the stamp all the same: every open list over predictions read its pages
  again, and a selection read before was refused ("the list changed"), with nothing
  changed.
"""

from __future__ import annotations

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue


def test_a_chunk_that_wrote_no_prediction_leaves_the_lists_over_predictions_as_read(
        proj: Project) -> None:
    with proj.open_store() as store:
        version = store.add_model_version("damage", "v", "/models/v",
                                          config={"config": {"variant": "guided_diff"}})
        queue = Queue("needs_review", "damage")
        read = review.list_stamp(store, queue, "priority")
        store.add_predictions(version, [])  # a chunk of items the head cannot see
        assert review.list_stamp(store, queue, "priority") == read
