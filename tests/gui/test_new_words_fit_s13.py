"""Session 13's new words on screen, at the main window's narrowest (a 1366 x 768 laptop
at 150 %, 911 px): the task box's reason for having no prediction, and the message the
demo window gives when the last project could not be opened (a failed upgrade's runs to
several hundred characters)."""

from __future__ import annotations

from test_launch_failures import demo_window
from window_helpers import open_window

from crisisdesk.core.project import Project
from crisisdesk.gui.main_window import MainWindow
from crisisdesk.gui.task_box import TaskBox
from crisisdesk.gui.wrapping import WrappingLabel


def _narrowest(qtbot, window: MainWindow) -> None:
    """``window`` at its narrowest and 472 px high, laid out."""
    window.resize(window.minimumSizeHint().width(), 472)
    qtbot.waitUntil(lambda: window.width() == window.minimumSizeHint().width())
    qtbot.waitUntil(lambda: window.detail.scroll.horizontalScrollBar().maximum() == 0)


def _lines(label: WrappingLabel) -> float:
    """How many lines ``label`` takes at its width."""
    return label.heightForWidth(label.width()) / label.fontMetrics().lineSpacing()


def _box_texts(box: TaskBox) -> str:
    return " ".join(label.text() for label in box.findChildren(WrappingLabel))


def test_a_task_box_title_without_a_prediction_stays_one_line_at_911_px(
        qtbot, demo_like_project: Project) -> None:
    """The reason and its advice ("no model version yet: Predict starts the shipped head
    or zero-shot where it can, Retrain trains one") took three lines of the title at
    911 px: on a 472 px high window the box showed its title and none of the classes the
    number keys give. The title says the reason; the advice is a muted line under the
    classes, and the whole sentence is the title's tooltip."""
    window = open_window(qtbot, demo_like_project)
    _narrowest(qtbot, window)
    boxes = window.detail.task_boxes
    assert boxes and all(box.view.no_prediction for box in boxes)  # no model version yet
    for n, box in enumerate(boxes):
        title = box.findChildren(WrappingLabel)[0]
        assert _lines(title) < 1.5, (box.view.task, title.text())
        why = box.view.no_prediction
        assert title.toolTip() == why
        # Every word of the reason is still shown in the box, and of its advice in the
        # box or one above it (an advice the boxes share is said once: session 14).
        shown = _box_texts(box)
        reason, _, advice = why.rpartition(": ")
        assert reason in shown, shown
        assert any(advice[1:] in _box_texts(above) for above in boxes[:n + 1]), shown
        assert why in box.accessibleName()


def _demo_instead(qtbot, monkeypatch, demo_like_project: Project, reason: str) -> MainWindow:
    """Launch the app with no project named, its last project refused for ``reason``:
    the demo's window (a stand-in for the demo)."""
    from crisisdesk.core import launch
    from crisisdesk.core.settings import remember_project

    gone = demo_like_project.root.parent / "harvey-2017-damage-assessment"
    remember_project(gone)

    def refused(path):
        raise launch.ProjectNotOpened(gone, reason)

    monkeypatch.setattr(launch, "check_project", refused)
    return demo_window(qtbot, monkeypatch, demo_like_project)


def test_a_failed_upgrades_message_is_read_whole_in_the_demo_window_at_911_px(
        qtbot, monkeypatch, demo_like_project: Project) -> None:
    """The demo opened in place of a last project whose upgrade failed said so in the
    status bar: one line of some 570 characters, cut mid-word at 1366 px ("...failed at
    step 11 (_add_prediction_versions): SQLite: database disk image is malforme") and
    gone after a minute; what the upgrade left and what to do were never seen. The
    message is a wrapped note at the top of the window, within its width, until closed;
    the status bar says nothing it cuts."""
    from crisisdesk.core.store.upgrades import FailedUpgrade

    reason = FailedUpgrade(9, 13, 11, "_add_prediction_versions").says(
        "SQLite: database disk image is malformed")
    window = _demo_instead(qtbot, monkeypatch, demo_like_project, reason)
    _narrowest(qtbot, window)
    status = window.statusBar()
    said = status.currentMessage()
    assert status.fontMetrics().horizontalAdvance(said) <= status.width(), said
    def shown() -> list[WrappingLabel]:
        return [label for label in window.findChildren(WrappingLabel)
                if reason in label.text() and label.isVisible()]

    # A note put into a shown window's layout is shown by a queued call: a moment later
    # (the window already at its narrowest, _narrowest's waits may run no event).
    qtbot.waitUntil(lambda: len(shown()) == 1)
    note = shown()[0]
    qtbot.waitUntil(lambda: note.height() >= note.heightForWidth(note.width()))
    assert "This is the demo" in note.text() and "crisisdesk open FOLDER" in note.text()
    assert note.width() <= window.width()
    assert note.height() >= note.heightForWidth(note.width())  # every line of it shows
