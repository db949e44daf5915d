"""The detail panel's task box says why a task has no prediction (trust in predictions)."""

from __future__ import annotations

from crisisdesk.core.review import TaskView
from crisisdesk.gui.task_box import TaskBox
from crisisdesk.gui.wrapping import WrappingLabel


def test_a_task_box_without_a_prediction_says_why(qtbot) -> None:
    """"no prediction yet" was shown also where none will ever come; the box shows the
    reason the core gives, and a screen reader hears it."""
    why = ("zero-shot-clip-damage reads images only and this item has no usable image: "
           "it will never predict it")
    box = TaskBox(TaskView("damage", ("severe_damage", "mild_damage"), {}, None, None,
                           None, None, None, no_prediction=why))
    qtbot.addWidget(box)
    title = box.findChildren(WrappingLabel)[0]
    assert "zero-shot-clip-damage reads images only" in title.text()
    assert "no prediction yet" not in title.text()
    assert "will never predict it" in box.accessibleName()
    plain = TaskBox(TaskView("damage", ("severe_damage",), {}, None, None, None, None, None))
    qtbot.addWidget(plain)
    assert "no prediction yet" in plain.findChildren(WrappingLabel)[0].text()
