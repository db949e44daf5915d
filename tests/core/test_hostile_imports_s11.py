"""Hostile input to session 11's importer changes: an export from a stranger whose
``source`` cells are no source name crisisdesk writes (half a surrogate pair, control
characters, a bidi override, a megabyte), a JSON Lines post id holding half a surrogate
pair, and a zip whose UTF-8 reading of an unflagged name gives another entry's name."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from import_helpers import make_image, run_import, sha256
from test_hunt_archives import patch_headers

from crisisdesk.core.project import Project


def _export_rows() -> list[dict]:
    """Three rows of crisisdesk's own export of two sources (teamA's posts 1 and 2,
    teamB's post 1), the columns an import tells such an export by."""
    return [{"item_id": f"{source}:{post}:0", "source": source, "post_id": post, "n": 0,
             "text": text, "image": None, "image_id": None}
            for source, post, text in (("teamA", "1", "Bridge down on Route 9"),
                                       ("teamA", "2", "Road open again"),
                                       ("teamB", "1", "Flooded basement in Elm St"))]


def _sources(project: Project) -> dict[str, set[str]]:
    """The stored posts' ids by source."""
    with project.open_store() as store:
        found: dict[str, set[str]] = {}
        for source, post in store.conn.execute("SELECT source, post_id FROM posts"):
            found.setdefault(source, set()).add(post)
        return found


@pytest.mark.parametrize("cell", ["team\ud800A", "team\nA", "team\x1b[31mA",
                                  "team\u202eA.exe", "team\x00A", "A" * 1_000_000],
                         ids=["half-surrogate", "newline", "escape", "rtl-override", "nul",
                              "megabyte"])
def test_an_export_source_cell_that_is_no_source_name_is_read_as_empty(
        proj: Project, tmp_path: Path, cell: str) -> None:
    # Taken as the row's source: half a surrogate pair ended the whole import in a
    # traceback; the rest became sources (and item ids) that garble every report line
    # and terminal showing them, or a megabyte in each of the item's ids.
    rows = _export_rows()
    rows[1]["source"] = cell
    export = tmp_path / "shared.jsonl"
    export.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")

    job = run_import(proj, [export])

    assert _sources(proj) == {"teamA": {"1"}, "teamB": {"1"}, "shared": {"2"}}
    warnings = [p for p in job.report.problems if p.severity == "warning"]
    assert [str(p.where) for p in warnings] == [f"{export} row 2"]
    assert "source" in warnings[0].message and len(warnings[0].message) < 400
    job.report.summary().encode("utf-8")  # printable: the CLI prints it


def test_an_export_of_one_source_with_a_garbled_source_cell_is_no_export_of_several(
        proj: Project, tmp_path: Path) -> None:
    # The garbled cell counted as a second source: the clean rows were filed under
    # teamA, where the same export without that row files them under its file's name.
    rows = _export_rows()[:2]
    rows[1]["source"] = "team\x1bA"
    export = tmp_path / "shared.jsonl"
    export.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")

    run_import(proj, [export])

    assert _sources(proj) == {"shared": {"1", "2"}}


def test_a_jsonl_post_id_with_half_a_surrogate_pair_does_not_end_the_import(
        proj: Project, tmp_path: Path) -> None:
    # The id went to SQLite as it was: UnicodeEncodeError, the whole import a traceback.
    posts = tmp_path / "posts.jsonl"
    posts.write_text(json.dumps({"id": "7\ud83d", "text": "emoji cut in two"}) + "\n"
                     + json.dumps({"id": "8", "text": "next post"}) + "\n", "utf-8")

    job = run_import(proj, [posts])

    assert _sources(proj) == {"posts": {"7\ufffd", "8"}}
    assert [str(p.where) for p in job.report.problems] == [f"{posts} row 1"]
    job.report.summary().encode("utf-8")


def test_a_zip_name_read_as_utf8_never_lands_on_another_entrys_file(
        proj: Project, tmp_path: Path) -> None:
    # img/Café.jpg written with the UTF-8 flag, and again without it (its raw bytes,
    # unpacked as img/Caf├⌐.jpg before such names were read as UTF-8): the second
    # replaced the first without a word, and the post naming it got the other photo.
    archive = tmp_path / "volunteer.zip"
    first, second = make_image(tmp_path / "a.jpg", 1), make_image(tmp_path / "b.jpg", 2)
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("posts.csv", "id,text,image\n1,Techo caído,img/Café.jpg\n")
        zf.write(first, "img/Café.jpg")
        zf.write(second, "img/Cafxx.jpg")  # renamed below, as Info-ZIP writes it
    patch_headers(archive, "img/Cafxx.jpg", new_name="img/Café.jpg".encode())

    job = run_import(proj, [archive])

    folder = proj.folder("media") / "volunteer" / "img"
    assert sha256(folder / "Café.jpg") == sha256(first)
    assert sha256(folder / "Caf├⌐.jpg") == sha256(second)
    assert [p.severity for p in job.report.problems] == ["warning"]
    assert "Caf├⌐.jpg" in str(job.report.problems[0])


def test_a_repeated_broken_id_is_reported_and_the_report_saved(tmp_path, capsys) -> None:
    """Half a surrogate pair quoted in a problem ("post id 7\\ud83d appears again") ended
    the command in a traceback after the import, and the report file was lost."""
    from crisisdesk.cli import main

    src = tmp_path / "broken.jsonl"
    src.write_text('{"id": "7\\ud83d", "text": "one"}\n{"id": "7\\ud83d", "text": "two"}\n'
                   '{"id": "8", "text": "fine"}\n', encoding="utf-8")
    project = tmp_path / "p"
    assert main(["import", str(project), str(src)]) == 1  # done, with problems
    assert "appears again" in capsys.readouterr().out
    (report,) = (project / "reports").glob("import-*.json")
    assert "appears again" in report.read_text(encoding="utf-8")
