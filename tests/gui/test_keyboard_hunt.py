"""Bugs found working the app from the keyboard or with a screen reader: the help card
that let Tab through to the items under it, inputs a screen reader could not name, jobs
whose buttons all said "Cancel", a jobs panel the keys could not reach, charts that only
painted their figures."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QWidget
from window_helpers import current_labels, open_window, settle

from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs.charts import ConfusionGrid, F1Bars
from crisisdesk.gui.dialogs.export_dialog import ExportDialog
from crisisdesk.gui.dialogs.import_dialog import ImportDialog
from crisisdesk.gui.jobs_panel import JobsPanel


def _label_of(widget: QWidget) -> str:
    """What a screen reader announces as the widget's label: the labels Qt relates to it
    (a buddy label, else its group box title), else its accessible name."""
    iface = QAccessible.queryAccessibleInterface(widget)
    labels = [other.text(QAccessible.Text.Name)
              for other, _ in iface.relations(QAccessible.RelationFlag.Label)]
    return labels[0] if labels else iface.text(QAccessible.Text.Name)


def _active(qtbot, window: QWidget) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)


def _gated(gate: threading.Event) -> Iterator[Progress]:
    for i in range(100):
        yield Progress(i, 100, f"step {i}", "cpu")
        if gate.wait(10):
            return


# ---------------------------------------------------------------------- help overlay

def test_tab_closes_the_help_and_labels_nothing_under_it(qtbot, demo_like_project: Project
                                                         ) -> None:
    """The card says "press any key to close": Tab moved the focus to the detail panel
    behind it instead, the card stayed, and the next digit labelled the item it hid."""
    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    before = {task: current_labels(demo_like_project, task) for task in window.tasks}
    window.items.setFocus()
    qtbot.keyClick(window.items, Qt.Key.Key_F1)
    assert window.help.isVisible()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert not window.help.isVisible()
    assert QApplication.focusWidget() is window.items
    assert window.detail.focused_task == 0  # the Tab closed the card, nothing more
    # Shift+Tab closes it too; a digit given once it is closed labels the first task
    # (no Tab went through to the next one), and none given behind it.
    qtbot.keyClick(window.items, Qt.Key.Key_F1)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Backtab,
                   Qt.KeyboardModifier.ShiftModifier)
    assert not window.help.isVisible()
    qtbot.keyClick(window.items, Qt.Key.Key_F1)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_2)  # on the list: a label
    qtbot.keyClick(window.items, Qt.Key.Key_F1)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    settle(qtbot, window)
    after = {task: current_labels(demo_like_project, task) for task in window.tasks}
    changed = {task for task in after if after[task] != before[task]}
    assert changed == {window.tasks[0]}  # the 2 given on the list, to the first task


def test_the_help_card_has_a_name_and_its_text_for_a_screen_reader(
        qtbot, demo_like_project: Project) -> None:
    window = open_window(qtbot, demo_like_project)
    window.help.toggle()
    assert window.help.accessibleName() == "Keyboard shortcuts"
    description = window.help.accessibleDescription()
    assert "Ctrl+Z" in description and "undo your last label change" in description
    assert "<" not in description  # plain text, not the card's markup


# ---------------------------------------------------------------------- dialogs

def test_each_column_box_of_the_import_mapping_is_named_by_its_field(
        qtbot, demo_like_project: Project, tmp_path) -> None:
    """The twelve boxes were labelled by the group title only: a screen reader said
    "Columns (which column holds each field), (none)" for every one of them."""
    table = tmp_path / "posts.csv"
    table.write_text("tweet_id,tweet_text\n1,water rising\n", encoding="utf-8")
    dialog = ImportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    dialog.add_source(table)
    assert dialog.mapping_box.isVisibleTo(dialog)
    for name, combo in dialog.columns.items():
        label = next(w for w in dialog.mapping_box.findChildren(QLabel) if w.buddy() is combo)
        assert _label_of(combo) == label.text().replace("&", ""), name
    assert _label_of(dialog.sources) == "Sources"


def test_the_export_path_box_is_named(qtbot, demo_like_project: Project) -> None:
    """"Write to" sits beside a box and a button: its label named neither."""
    dialog = ExportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    assert _label_of(dialog.out) == "Write to"


def test_the_retrain_charts_tell_their_figures_to_a_screen_reader(qtbot) -> None:
    """The F1 bars and the confusion grids painted their numbers: nothing to read."""
    bars = F1Bars(["not_informative", "informative"], [0.5, 0.875], [0.25, 0.75])
    grid = ConfusionGrid("New version", ["not_informative", "informative"],
                         [[3, 1], [2, 14]])
    qtbot.addWidget(bars)
    qtbot.addWidget(grid)
    assert bars.accessibleName() == "F1 per class"
    assert "informative: new 87.5%, active 75.0%" in bars.accessibleDescription()
    assert grid.accessibleName() == "New version: confusion matrix"
    assert "true informative: 2 predicted not informative, 14 predicted informative" \
        in grid.accessibleDescription()


# ---------------------------------------------------------------------- jobs panel

def test_each_jobs_buttons_and_bar_say_which_job_they_are_for(qtbot) -> None:
    """Two jobs running: a screen reader heard "Cancel, button" twice, never which."""
    panel = JobsPanel()
    qtbot.addWidget(panel)
    gate = threading.Event()
    runners = [panel.run(title, lambda: _gated(gate))
               for title in ("Embed images (clip-vit-b-32)", "Caption images")]
    try:
        for runner, title in zip(runners, ("Embed images (clip-vit-b-32)",
                                           "Caption images"), strict=True):
            row = panel.row_of(runner)
            assert row.cancel.accessibleName() == f"Cancel {title}"
            assert row.retry.accessibleName() == f"Retry {title}"
            assert row.details.accessibleName() == f"Details of {title}"
            assert row.bar.accessibleName() == f"Progress of {title}"
    finally:
        for runner in runners:
            runner.cancel()
        gate.set()
        qtbot.waitUntil(lambda: not any(r.is_running() for r in runners), timeout=10_000)


def test_a_failed_jobs_message_can_be_reached_and_selected_from_the_keyboard(qtbot
                                                                           ) -> None:
    def broken() -> Iterator[Progress]:
        yield Progress(0, 1, "start", "cpu")
        raise RuntimeError("the disk is full: /data/cache cannot take 3 GB more")

    panel = JobsPanel()
    qtbot.addWidget(panel)
    runner = panel.run("Embed images", broken)
    qtbot.waitUntil(lambda: not runner.is_running())
    message = panel.row_of(runner).message
    assert message.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByKeyboard
    assert message.focusPolicy() & Qt.FocusPolicy.TabFocus


class _WindowsShown(QObject):
    """Records every widget shown as a window of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[QWidget] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if (event.type() == QEvent.Type.Show and isinstance(watched, QWidget)
                and watched.isWindow()):
            self.shown.append(watched)
        return False


def test_starting_a_job_leaves_the_keys_with_the_window(qtbot, demo_like_project: Project
                                                         ) -> None:
    """A new row showed its Cancel button before the button had a parent: for a moment
    it was a window of its own, which took the keyboard focus from the main window (on
    a desktop a small "Cancel" window flashed; the next J or 1 went nowhere)."""
    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    spy = _WindowsShown()
    QApplication.instance().installEventFilter(spy)
    gate = threading.Event()
    try:
        runner = window.actions_.jobs.run("Embed images", lambda: _gated(gate))
        qtbot.waitUntil(lambda: runner.last_progress is not None)
        qtbot.wait(50)  # the platform reports a change of focus window after the show
    finally:
        QApplication.instance().removeEventFilter(spy)
        runner.cancel()
        gate.set()
        qtbot.waitUntil(lambda: not runner.is_running(), timeout=10_000)
    assert spy.shown == []
    assert window.isActiveWindow()


def test_a_retrain_report_with_a_worse_version_flashes_no_window(qtbot, tmp_path) -> None:
    """The override box was shown before it had a parent: a window of its own for a
    moment, "Switch to the new version anyway" alone on the screen."""
    from test_retrain import _project

    from crisisdesk.core.retrain import RetrainReport, TaskRetrain
    from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

    scores = {"n": 5, "macro_f1": 0.5, "classes": ["yes", "no"],
              "confusion": [[4, 1], [0, 0]], "per_class": {"yes": {"f1": 0.5},
                                                          "no": {"f1": 0.0}}}
    entry = TaskRetrain("damage", holdout_split="test", holdout=5, candidate=7,
                        candidate_name="damage-v7", new=scores, active=3,
                        active_name="damage-v3", current=dict(scores, macro_f1=0.9),
                        recommend_switch=False)
    spy = _WindowsShown()
    QApplication.instance().installEventFilter(spy)
    try:
        dialog = RetrainDialog(_project(tmp_path, n=3), RetrainReport({"damage": entry}))
        qtbot.addWidget(dialog)
    finally:
        QApplication.instance().removeEventFilter(spy)
    assert spy.shown == []
    assert dialog.pages["damage"].override.isVisibleTo(dialog)


def test_the_jobs_panel_is_reached_from_the_keyboard(qtbot, demo_like_project: Project
                                                     ) -> None:
    """Tab in the list and the detail panel moves between tasks: the running job's
    Cancel could be reached only by Ctrl+F, then Shift+Tab twice."""
    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    jobs = window.actions_.jobs
    gate = threading.Event()
    runner = jobs.run("Embed images", lambda: _gated(gate))
    try:
        window.items.setFocus()
        qtbot.keyClick(window.items, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
        assert QApplication.focusWidget() is jobs.row_of(runner).cancel
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
        assert runner.cancel_requested
    finally:
        with qtbot.waitSignal(runner.finished, timeout=10_000):
            runner.cancel()
            gate.set()


def test_the_jobs_action_shows_a_closed_jobs_panel_at_the_failed_job(
        qtbot, demo_like_project: Project) -> None:
    def broken() -> Iterator[Progress]:
        yield Progress(0, 1, "start", "cpu")
        raise RuntimeError("no space left on device")

    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    jobs = window.actions_.jobs
    runner = jobs.run("Caption images", broken)
    qtbot.waitUntil(lambda: not runner.is_running())
    window.actions_.dock.close()
    _active(qtbot, window)
    window.items.setFocus()
    qtbot.keyClick(window.items, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
    assert window.actions_.dock.isVisible()
    assert QApplication.focusWidget() is jobs.row_of(runner).details


def test_combo_labels_helper_reads_buddies(qtbot) -> None:
    """The helper above reads what a screen reader reads: a buddy label names a box."""
    parent = QWidget()
    qtbot.addWidget(parent)
    combo = QComboBox(parent)
    QLabel("Event", parent).setBuddy(combo)
    assert _label_of(combo) == "Event"


def test_the_help_lists_the_jobs_shortcut(qtbot, demo_like_project) -> None:
    from crisisdesk.gui import keys as labelling_keys

    window = open_window(qtbot, demo_like_project)
    listed = dict(labelling_keys.SHORTCUTS)
    assert "Ctrl+J" in listed
    assert window.actions_.go_to_jobs.shortcut().toString() == "Ctrl+J"
