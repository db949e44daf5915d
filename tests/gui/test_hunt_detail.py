"""Detail panel and overlay hunt: the status line when the analyst comes back to an item
whose explanation is shown, and the rest found by exercising the panel."""

from __future__ import annotations

import threading

from test_main_window import go_to, open_window
from test_overlay import _image_item, _shown, explained_project  # noqa: F401 (fixture)

from crisisdesk.core.project import Project


def test_coming_back_to_the_shown_item_does_not_leave_computing_on(
        qtbot, explained_project: Project, monkeypatch) -> None:  # noqa: F811
    # Overlay on, item 1 explained; move to item 2 (computing) and back to item 1 before
    # item 2's explanation arrives: item 1's explanation was painted again, but the status
    # line kept "Computing the explanation…" and its busy bar for good (item 2's result
    # was dropped, nothing was left to compute, nobody reset the line).
    from crisisdesk.core.explain import item as explain

    real = explain.explain_item
    gate = threading.Event()
    calls: list[object] = []

    def slow_for_the_text_item(project, item_id, task, class_name=None, **kwargs):
        calls.append(item_id)
        if item_id == 2:
            gate.wait(30)  # the analyst goes back meanwhile
        return real(project, item_id, task, class_name, **kwargs)

    monkeypatch.setattr(explain, "explain_item", slow_for_the_text_item)
    window = open_window(qtbot, explained_project)
    _image_item(qtbot, window)
    detail, bar = window.detail, window.detail.overlay_bar
    detail.overlay.setChecked(True)
    first = _shown(qtbot, window)
    status = bar.status.text()
    assert "evidence for" in status and "Computing" not in status
    go_to(qtbot, window, lambda row: row.image_path is None)
    qtbot.waitUntil(lambda: calls[-1:] == [2])
    assert "Computing" in bar.status.text() and bar.share.image_share is None
    _image_item(qtbot, window)  # back to item 1: its explanation is shown at once
    assert detail.attention.current() is first
    gate.set()
    qtbot.waitUntil(lambda: not window.background.busy())
    assert calls == [1, 2]  # item 1 was not computed again
    assert detail.attention.current() is first and detail.image.has_overlay()
    assert "Computing" not in bar.status.text() and "evidence for" in bar.status.text()
    assert not bar.busy.isVisibleTo(bar)
    assert bar.share.image_share == first.share["image"]


def test_a_note_with_markup_characters_is_shown_as_written(
        qtbot, explained_project: Project, monkeypatch) -> None:  # noqa: F811
    # The status line is rich text: a note naming a file such as "<event>/a&b.jpg" lost
    # "<event>" (read as a tag) while an error message was escaped.
    from PySide6.QtGui import QTextDocument

    from crisisdesk.core.explain import item as explain

    real = explain.explain_item
    note = "image missing: file not found: /data/<event>/before&after.jpg"

    def with_a_note(project, item_id, task, class_name=None, **kwargs):
        result = real(project, item_id, task, class_name, **kwargs)
        result.notes.append(note)
        return result

    monkeypatch.setattr(explain, "explain_item", with_a_note)
    window = open_window(qtbot, explained_project)
    _image_item(qtbot, window)
    window.detail.overlay.setChecked(True)
    _shown(qtbot, window)
    shown = QTextDocument()
    shown.setHtml(window.detail.overlay_bar.status.text())
    assert note in shown.toPlainText()


def test_a_replaced_image_is_not_called_a_text_only_model(
        qtbot, explained_project: Project) -> None:  # noqa: F811
    # The image file changed since it was imported: the fusion head (which reads images)
    # gets no heat map, and the status line said "this model reads the text only".
    import numpy as np
    from PIL import Image

    picture = explained_project.root.parent / "src" / "1.png"
    Image.fromarray(np.full((48, 64, 3), 200, np.uint8)).save(picture)
    window = open_window(qtbot, explained_project)
    _image_item(qtbot, window)
    window.detail.overlay.setChecked(True)
    shown = _shown(qtbot, window)
    assert shown.image is None and shown.fusion["variant"] == "guided_diff"
    status = window.detail.overlay_bar.status.text()
    assert "changed since it was imported" in status
    assert "reads the text only" not in status
