"""A day of captions in the app (session 13): the Caption images row says which images
got no caption, and the detail panel's caption line does not send the analyst to the
captioner for an image it will never caption (unreadable, or not found at import)."""

from __future__ import annotations

from pathlib import Path

from import_helpers import make_image, run_import, write_csv
from test_caption_job import FakeCaptioner
from test_jobs_panel import _panel
from test_notes_reach_gui_s12 import _run_to_end, _shown

from crisisdesk.core.captions.job import CaptionJob
from crisisdesk.core.project import Project
from crisisdesk.core.review import item_detail
from crisisdesk.gui.post_texts import no_caption_note


def _posts(tmp_path: Path) -> Project:
    """A good photo, one damaged at import, one not found at import, a text-only post."""
    src = tmp_path / "src"
    make_image(src / "good.jpg", seed=1)
    make_image(src / "later.jpg", seed=2)
    (src / "bad.jpg").write_bytes(b"no jpeg here")
    write_csv(src / "posts.csv", ["id", "text", "image"], [
        ["good", "roof gone", "good.jpg"], ["later", "bridge down", "later.jpg"],
        ["bad", "water everywhere", "bad.jpg"], ["gone", "road cut", "nothere.jpg"],
        ["words", "no picture here", ""]])
    project = Project.open(tmp_path / "p", create=True)
    run_import(project, [src / "posts.csv"])
    return project


def _notes(project: Project) -> dict[str, str]:
    with project.open_store() as store:
        ids = dict(store.conn.execute("SELECT p.post_id, i.id FROM items i"
                                      " JOIN posts p ON p.id = i.post"))
        return {post: no_caption_note(item_detail(store, item)) for post, item in ids.items()}


def test_the_caption_line_says_why_an_unreadable_or_lost_image_has_no_caption(
        tmp_path: Path) -> None:
    project = _posts(tmp_path)
    list(CaptionJob(project, FakeCaptioner(fail="bridge")).run())
    notes = _notes(project)
    # The captioner skips these: "run the captioner" would be advice that does nothing.
    assert "run the captioner" not in notes["bad"]
    assert "could not be read" in notes["bad"]
    assert "run the captioner" not in notes["gone"]
    assert "not found" in notes["gone"]
    assert notes["later"] == "No caption yet (run the captioner from Jobs)"  # retried
    assert notes["words"] == "No image, so no caption"


def test_the_caption_rows_end_names_the_images_that_got_no_caption(qtbot,
                                                                   tmp_path: Path) -> None:
    project = _posts(tmp_path)
    (tmp_path / "src" / "good.jpg").write_bytes(b"damaged since the import")
    panel = _panel(qtbot)
    row = _run_to_end(qtbot, panel, "Caption images (fake)",
                      lambda: CaptionJob(project, FakeCaptioner(fail="bridge")).run())
    shown = _shown(row.message)
    assert "good.jpg" in shown and "could not be read" in shown
    assert "later.jpg" in shown and "next run" in shown
