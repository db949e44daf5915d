"""Small leftovers of session 13 in the app: in a new project (no model version yet) the
advice of what to do about it was said in every task box of the detail panel."""

from __future__ import annotations

from window_helpers import open_window

from crisisdesk.core.project import Project
from crisisdesk.gui.task_box import TaskBox, no_prediction_parts
from crisisdesk.gui.wrapping import WrappingLabel


def _shown(box: TaskBox) -> str:
    """The text the box shows (its labels), not its tooltips or accessible names."""
    return " ".join(label.text() for label in box.findChildren(WrappingLabel))


def test_the_advice_of_a_new_project_is_said_once_not_in_every_task_box(
        qtbot, demo_like_project: Project) -> None:
    """Three task boxes, each with "Predict starts the shipped head or zero-shot where
    it can, Retrain trains one" under its classes: one advice, read three times. It is
    said once, in the first box that has it; every box keeps its reason in its title
    and the whole sentence in its tooltip and accessible name."""
    window = open_window(qtbot, demo_like_project)
    boxes = window.detail.task_boxes
    advices = [no_prediction_parts(box.view)[1] for box in boxes]
    assert len(boxes) > 1 and len(set(advices)) == 1 and advices[0]  # one advice for all
    advice = advices[0]
    assert [advice in _shown(box) for box in boxes] == [True] + [False] * (len(boxes) - 1)
    for box in boxes:
        reason = no_prediction_parts(box.view)[0]
        assert reason in _shown(box)
        why = box.view.no_prediction
        assert box.findChildren(WrappingLabel)[0].toolTip() == why
        assert why in box.accessibleName()
