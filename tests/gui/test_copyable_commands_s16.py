"""The terminal commands the detail panel gives for an image it cannot show name the open
project's folder: "crisisdesk media fetch PROJECT" / "... relink PROJECT OLD_FOLDER
NEW_FOLDER" left the analyst to work out what PROJECT was, and a folder with a space in
its name had to be quoted for the shell as well. The placeholder stays where no project
is known."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from PySide6.QtCore import Qt

from import_helpers import build_posts_folder, run_import
from test_main_window import go_to
from window_helpers import open_window

from crisisdesk.core.project import Project
from crisisdesk.gui.advice import media_note
from crisisdesk.gui.detail_image import not_shown

FOLDER = Path("/data/floods 2024/harvey")  # a space: the shell needs it quoted


def _command(note: str, start: str) -> list[str]:
    """The words of the command in ``note`` that begins with ``start``, as a shell reads
    them."""
    line = next(line for line in note.splitlines() if start in line)
    return shlex.split(line[line.index(start):].rstrip(")"))


def test_a_remote_images_note_names_the_projects_folder() -> None:
    note = media_note("remote", "https://pbs.example/a.jpg", None, project=FOLDER)
    assert _command(note, "crisisdesk media fetch") == [
        "crisisdesk", "media", "fetch", str(FOLDER)], note


def test_a_missing_images_note_names_the_projects_folder() -> None:
    note = media_note("missing", "data_image/a.jpg", "file not found", project=FOLDER)
    assert _command(note, "crisisdesk media relink") == [
        "crisisdesk", "media", "relink", str(FOLDER), "OLD_FOLDER", "NEW_FOLDER"], note


def test_an_image_gone_since_the_import_names_the_projects_folder() -> None:
    note = not_shown("/photos/a.jpg", True, project=FOLDER)
    assert _command(note, "crisisdesk media relink") == [
        "crisisdesk", "media", "relink", str(FOLDER), "OLD_FOLDER", "NEW_FOLDER"], note


def test_no_project_known_keeps_the_placeholder() -> None:
    assert "crisisdesk media fetch PROJECT" in media_note("remote", "https://x/a.jpg", None)
    assert "relink PROJECT OLD_FOLDER" in not_shown("/photos/a.jpg", True)


def _add_a_missing_image(project: Project) -> None:
    """A post whose image was missing at the import."""
    with project.open_store() as store:
        store.ensure_source("s", "csv", "s.csv")
        post = store.insert_post("s", "lost", text="the photo went missing")
        store.add_media_item(post, "s", "lost", 0, path=None,
                             declared_path="gone.jpg", status="missing")


def test_the_detail_panel_gives_the_open_projects_folder(qtbot, tmp_path: Path) -> None:
    project = Project.open(tmp_path / "flood photos", create=True)
    source = build_posts_folder(tmp_path / "posts")
    run_import(project, [source])
    _add_a_missing_image(project)
    window = open_window(qtbot, project)
    go_to(qtbot, window, lambda row: row.media_status == "missing")
    qtbot.waitUntil(lambda: "relink" in window.detail.image.message)
    words = _command(window.detail.image.message, "crisisdesk media relink")
    assert words[3] == str(project.root), window.detail.image.message

    # An image there at the import, its folder moved since.
    shutil.rmtree(source)
    go_to(qtbot, window, lambda row: row.media_status == "ok")
    qtbot.waitUntil(lambda: "not found" in window.detail.image.message, timeout=10_000)
    words = _command(window.detail.image.message, "crisisdesk media relink")
    assert words[3] == str(project.root), window.detail.image.message


def test_the_item_lists_tooltip_gives_the_open_projects_folder(qtbot, tmp_path: Path
                                                                ) -> None:
    # The list row's tooltip says why its tile has no picture, with the same commands.
    project = Project.open(tmp_path / "flood photos", create=True)
    _add_a_missing_image(project)
    window = open_window(qtbot, project)
    model = window.model
    qtbot.waitUntil(lambda: model.row_at(0) is not None)
    tip = model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert _command(tip, "crisisdesk media relink")[3] == str(project.root), tip
