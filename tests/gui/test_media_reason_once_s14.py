"""Why an item's image is not shown is said in one place: its row (session 14).

``ItemDetail`` carried ``media_reason`` besides ``detail.row.media_reason``, the same
reason read twice for the same item (two SELECTs of ``media.reason``, two fields to keep
in step); the detail panel read the detail's copy only when the row's status was not
"ok", where the row's copy holds the same. The row's copy is the one kept.
"""

from __future__ import annotations

from pathlib import Path

from crisisdesk.core.project import Project
from crisisdesk.core.review import item_detail
from crisisdesk.gui.detail_panel import DetailPanel
from crisisdesk.gui.worker import Background

REASON = "file not found under the images folder"


def _project(tmp_path: Path) -> tuple[Project, int, int]:
    """A project with one item whose image is missing (with a reason) and one text-only
    item; returns it and the two item ids."""
    project = Project.open(tmp_path / "p", create=True)
    with project.open_store() as store:
        store.ensure_source("s", "csv", "s.csv")
        post = store.insert_post("s", "1", text="the photo went missing")
        missing = store.add_media_item(post, "s", "1", 0, path=None,
                                       declared_path="gone/photo.jpg", status="missing",
                                       reason=REASON)
        post = store.insert_post("s", "2", text="only words here")
        text_only = store.add_text_item(post, "s", "2")
    return project, missing, text_only


def test_the_item_detail_says_why_its_image_is_missing_once(tmp_path: Path) -> None:
    project, missing, text_only = _project(tmp_path)
    with project.open_store() as store:
        detail = item_detail(store, missing)
        assert detail.row.media_status == "missing"
        assert detail.row.media_reason == REASON
        assert item_detail(store, text_only).row.media_reason is None


def test_the_detail_panel_names_the_reason_of_a_missing_image(qtbot, tmp_path: Path) -> None:
    project, missing, _ = _project(tmp_path)
    background = Background()
    panel = DetailPanel(project, background)
    qtbot.addWidget(panel)
    try:
        panel.show_item(missing)
        qtbot.waitUntil(lambda: panel.detail is not None)
        assert "gone/photo.jpg" in panel.image.message
        assert f"({REASON})" in panel.image.message
    finally:
        background.shutdown()
