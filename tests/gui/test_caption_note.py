"""The caption line's note when an item's text holds no caption: advice that fits."""

from __future__ import annotations

from pathlib import Path

from import_helpers import make_image, run_import, write_csv

from crisisdesk.core.project import Project
from crisisdesk.core.review import item_detail
from crisisdesk.gui.post_texts import no_caption_note


def test_the_note_says_why_there_is_no_caption(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_image(src / "a.jpg", seed=1)
    make_image(src / "b.jpg", seed=2)
    write_csv(src / "posts.csv", ["id", "text", "image"], [
        ["flagged", "water everywhere", "a.jpg"], ["waiting", "roof gone", "b.jpg"],
        ["words", "no picture here", ""]])
    project = Project.open(tmp_path / "p", create=True)
    run_import(project, [src / "posts.csv"])
    with project.open_store() as store:
        ids = dict(store.conn.execute("SELECT p.post_id, i.id FROM items i"
                                      " JOIN posts p ON p.id = i.post"))
        (sha,) = store.conn.execute("SELECT m.sha256 FROM media m JOIN posts p ON"
                                    " p.id = m.post WHERE p.post_id = 'flagged'").fetchone()
        store.add_caption(sha, "water everywhere", "tiny", "v1", "...",
                          flag="degenerate: no words")
        notes = {post: no_caption_note(item_detail(store, item)) for post, item in ids.items()}
    # Captioning again with the same captioner gives the same: not "run the captioner".
    assert "set aside (degenerate: no words)" in notes["flagged"]
    assert notes["waiting"] == "No caption yet (run the captioner from Jobs)"
    assert notes["words"] == "No image, so no caption"
