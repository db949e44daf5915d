"""Messages the app shows about images not found name the import dialog's Images folder.

An export re-imported elsewhere, a sheet naming images by another computer's paths, and a
retrain refused because no labelled item has an image: each told the analyst in the window
to "give --images-root" (and to run `crisisdesk import ...`), an option of the command
line the app never shows. Each now names the dialog's Images folder too, and still the
option for the CLI's user.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bad_input_helpers import run_import
from test_foreign_sources_s10 import windows_sheet
from test_reimport_polish_s12 import _export, _photos  # a project of two photos
from test_retrain import FAST, _project  # a labelled project with embeddings

from crisisdesk.cli import main
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainJob


def _names_both(text: str) -> None:
    """``text`` names the import dialog's Images folder and the CLI's option."""
    assert "Images folder" in text and "--images-root" in text, text


def test_an_export_imported_without_its_images_names_the_images_folder(tmp_path: Path) -> None:
    out = _export(_photos(tmp_path), tmp_path / "labels.csv", "csv")
    shutil.move(tmp_path / "src", tmp_path / "elsewhere")  # the images stayed behind
    job = run_import(Project.open(tmp_path / "again", create=True), [out])
    said = [p.message for p in job.report.problems if "not found under" in p.message]
    assert len(said) == 1
    _names_both(said[0])


def test_an_image_on_another_computer_names_the_images_folder(proj, tmp_path) -> None:
    sheet = windows_sheet(tmp_path / "posts.csv")
    job = run_import(proj, [sheet])
    said = [p.message for p in job.report.problems if "another computer" in p.message]
    assert len(said) == 1
    _names_both(said[0])
    with proj.open_store() as store:  # the reason the detail panel shows with the image
        (reason,) = [r[0] for r in store.conn.execute("SELECT reason FROM media")]
    _names_both(reason)


def test_a_retrain_refused_for_want_of_images_says_what_to_do_in_the_app(
        tmp_path: Path, capsys) -> None:
    project = _project(tmp_path, n=60)
    with project.open_store() as store, store.transaction():
        store.conn.execute("UPDATE media SET status = 'missing'")
    job = RetrainJob(project, ["damage"], recipe=FAST, image_encoder="img-enc",
                     text_encoder="txt-enc")
    list(job.run())
    skipped = job.report.tasks["damage"].skipped  # the retrain report's words
    assert skipped is not None and "no labelled damage item has a usable image" in skipped
    _names_both(skipped)
    assert "Jobs > Embed images and texts" in skipped
    # The CLI's user still reads the commands.
    code = main(["train", str(project.root), "--task", "damage", "--encoder", "img-enc",
                 "--text-encoder", "txt-enc", "--epochs", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "--images-root" in err
    assert "crisisdesk embed PROJECT --encoder img-enc --kind image" in err


# -- the import dialog's other fields: Format, Source name ---------------------------------

def _said(job, words: str) -> str:
    """The one line of ``job``'s report holding ``words``."""
    said = [str(p) for p in job.report.problems if words in str(p)]
    assert len(said) == 1, job.report.summary()
    return said[0]


def test_a_file_of_no_known_format_names_the_dialogs_format_and_the_option(proj, tmp_path):
    notes = tmp_path / "posts.txt"
    notes.write_text("id,text\n1,hello\n", "utf-8")
    said = _said(run_import(proj, [notes]), "cannot tell the format")
    assert "Format" in said and "--format" in said, said


def test_a_source_name_used_for_another_file_names_the_dialogs_source_name(proj, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "posts.csv").write_text("id,text\n1,hello\n", "utf-8")
    run_import(proj, [tmp_path / "a" / "posts.csv"], source="feed")
    said = _said(run_import(proj, [tmp_path / "b" / "posts.csv"], source="feed"),
                 "was first used for")
    assert "Source name" in said and "--source" in said, said
