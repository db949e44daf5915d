"""The item list says why a row's image is not shown: its tooltip gives the reason the
store kept at import ("unreadable" and "missing" on the thumbnail tile gave no reason;
only the detail pane had it), read with the row's page, never per hover or per paint."""

from __future__ import annotations

from pathlib import Path

from import_helpers import make_image, run_import, write_csv
from PySide6.QtCore import Qt
from window_helpers import open_window

from crisisdesk.core.project import Project
from crisisdesk.gui.item_model import ROW_ROLE


def _posts(tmp_path: Path) -> Project:
    """A good photo, one damaged at import, one not found at import, a text-only post."""
    src = tmp_path / "src"
    make_image(src / "good.jpg", seed=1)
    (src / "bad.jpg").write_bytes(b"no jpeg here")
    write_csv(src / "posts.csv", ["id", "text", "image"], [
        ["good", "roof gone", "good.jpg"], ["bad", "water everywhere", "bad.jpg"],
        ["gone", "road cut", "nothere.jpg"], ["words", "no picture here", ""]])
    project = Project.open(tmp_path / "p", create=True)
    run_import(project, [src / "posts.csv"])
    return project


def _stored_reasons(project: Project) -> dict[str, str | None]:
    with project.open_store() as store:
        return {post: reason for post, reason in store.conn.execute(
            "SELECT p.post_id, m.reason FROM items i JOIN posts p ON p.id = i.post"
            " LEFT JOIN media m ON m.id = i.media")}


def _tooltips(window) -> dict[str, str]:
    model = window.model
    tips = {}
    for n in range(model.total):
        index = model.index(n)
        row = model.data(index, ROW_ROLE)
        tips[row.text] = model.data(index, Qt.ItemDataRole.ToolTipRole)
    return tips


def test_a_row_whose_image_is_not_shown_says_why_in_its_tooltip(
        qtbot, tmp_path: Path, monkeypatch) -> None:
    project = _posts(tmp_path)
    reasons = _stored_reasons(project)
    assert reasons["bad"] and reasons["gone"]  # what the import kept, to be shown
    window = open_window(qtbot, project)
    qtbot.waitUntil(lambda: all(window.model.data(window.model.index(n), ROW_ROLE)
                                for n in range(window.model.total)))

    # Asked once the page is loaded: no store is opened for a tooltip.
    def no_store(*_args, **_kwargs):
        raise AssertionError("a tooltip opened the store")

    monkeypatch.setattr(Project, "open_store", no_store)
    tips = _tooltips(window)
    assert reasons["bad"] in tips["water everywhere"]
    assert "Image unreadable" in tips["water everywhere"]
    assert reasons["gone"] in tips["road cut"]
    assert "Image missing" in tips["road cut"]
    assert "Image" not in tips["roof gone"] and "Image" not in tips["no picture here"]


def test_a_file_damaged_since_the_import_says_so_in_its_tooltip(qtbot, tmp_path: Path
                                                                 ) -> None:
    """Imported fine, then overwritten: the tile says "unreadable" once its thumbnail
    failed, and the tooltip names the file and what may have happened to it."""
    project = _posts(tmp_path)
    (tmp_path / "src" / "good.jpg").write_bytes(b"damaged since the import")
    window = open_window(qtbot, project)
    window.items.viewport().update()
    qtbot.waitUntil(lambda: "could not be read" in _tooltips(window).get("roof gone", ""))
    assert str(tmp_path / "src" / "good.jpg") in _tooltips(window)["roof gone"]
