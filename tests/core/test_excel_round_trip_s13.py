"""A crisisdesk CSV export opened in Excel or LibreOffice, its labels fixed there and
saved, then imported back: what the spreadsheet did to the post ids (18-19 digit tweet
ids in scientific notation or cut to 15 digits, leading zeros dropped) must never file a
label under a new or another post without a word. The saves are simulated by hand."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from import_helpers import run_import

from crisisdesk.core.exporters import Exporter
from crisisdesk.core.importers import ImportJob
from crisisdesk.core.importers.sheet_checks import spreadsheet_form_of
from crisisdesk.core.project import Project

IDS = ("917791291823591424", "917791291823591425", "007")


@pytest.fixture
def exported(project: Project, tmp_path: Path) -> tuple[Project, list[dict[str, str]]]:
    """A project of three posts under source ``posts`` and its plain CSV export's rows."""
    source = tmp_path / "posts.csv"
    source.write_text("id,text,damage\n" + "".join(
        f"{i},post {i},mild_damage\n" for i in IDS), "utf-8")
    assert run_import(project, [source]).report.errors == 0
    out = tmp_path / "export.csv"
    with project.open_store() as store:
        Exporter(store, tasks=["damage"]).write(out, "csv")
    with out.open(encoding="utf-8", newline="") as handle:
        return project, list(csv.DictReader(handle))


def _excel(post_id: str) -> str:
    """What Excel shows, and saves, for an id cell read as a number (General format)."""
    if len(post_id) > 15:
        return f"{int(post_id):.5E}"
    return str(int(post_id))


def _cut(post_id: str) -> str:
    """A long id Excel kept as a number to 15 digits (a column widened, Number format)."""
    return post_id[:15] + "0" * (len(post_id) - 15) if len(post_id) > 15 else \
        str(int(post_id))


def _saved(rows: list[dict[str, str]], tmp_path: Path, form: Callable[[str], str]) -> Path:
    """The export with every label corrected to severe_damage and its post ids as
    ``form`` writes them, saved as a sheet."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "post_id": form(row["post_id"]), "damage": "severe_damage"})
    path = tmp_path / "corrected.csv"
    path.write_text(text.getvalue(), "utf-8-sig", newline="")
    return path


def _posts(project: Project) -> set[str]:
    """The post ids the project holds, of any source."""
    with project.open_store() as store:
        return {r["post_id"] for r in store.conn.execute("SELECT post_id FROM posts")}


@pytest.mark.parametrize("form", [_excel, _cut], ids=["scientific", "cut-to-15-digits"])
def test_mangled_ids_of_an_export_find_their_posts_by_item_id(
        exported: tuple[Project, list[dict[str, str]]], tmp_path: Path,
        form: Callable[[str], str]) -> None:
    project, rows = exported
    job = run_import(project, [_saved(rows, tmp_path, form)], source="posts")
    assert _posts(project) == set(IDS), "a mangled id was imported as a new post"
    with project.open_store() as store:
        for post_id in IDS:
            item = store.resolve_item(f"posts:{post_id}:0")
            assert store.current_label(item.id, "damage").label == "severe_damage"
    said = [p for p in job.report.problems if "spreadsheet" in p.message]
    assert len(said) == len(IDS)
    assert all("corrected.csv" in str(p.where) and "post_id" in p.message for p in said)


def test_an_export_row_whose_post_id_disagrees_with_its_item_id_is_refused(
        exported: tuple[Project, list[dict[str, str]]], tmp_path: Path) -> None:
    project, rows = exported
    swapped = {IDS[0]: IDS[1], IDS[1]: IDS[0], IDS[2]: IDS[2]}
    job = run_import(project, [_saved(rows, tmp_path, swapped.__getitem__)], source="posts")
    assert job.report.errors == 2
    with project.open_store() as store:
        for post_id in IDS[:2]:
            item = store.resolve_item(f"posts:{post_id}:0")
            assert store.current_label(item.id, "damage").label == "mild_damage"


def _sheet_import(project: Project, tmp_path: Path, text: str) -> ImportJob:
    """Import ``text`` as an analyst's own sheet, ``sheet.csv``."""
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(text, "utf-8")
    return run_import(project, [sheet])


def test_a_scientific_id_in_another_sheet_is_refused_naming_row_and_column(
        project: Project, tmp_path: Path) -> None:
    job = _sheet_import(project, tmp_path, "tweet_id;text\r\n9,17791E+17;a post\r\n"
                        "917791291823591424;another\r\n")
    assert _posts(project) == {"917791291823591424"}
    [error] = [p for p in job.report.problems if p.severity == "error"]
    assert "row 2" in str(error.where) and "sheet.csv" in str(error.where)
    assert "tweet_id" in error.message and "9,17791E+17" in error.message


def test_a_long_id_ending_in_zeros_past_15_digits_is_warned_about(
        project: Project, tmp_path: Path) -> None:
    job = _sheet_import(project, tmp_path,
                        "id,text\n917791291823591000,a post\n917791291823591424,another\n")
    [warning] = [p for p in job.report.problems if "15 digits" in p.message]
    assert "row 2" in str(warning.where) and warning.severity == "warning"


@pytest.mark.parametrize("post_id", IDS)
def test_spreadsheet_forms_are_recognised_and_plain_ids_are_not(post_id: str) -> None:
    assert spreadsheet_form_of(_excel(post_id), post_id) is (post_id != _excel(post_id))
    assert spreadsheet_form_of(post_id, post_id) is False
    assert spreadsheet_form_of("917791291823591999", IDS[0]) is False


def test_a_short_hexadecimal_id_is_not_taken_for_scientific_notation() -> None:
    from crisisdesk.core.importers.sheet_checks import checked_post_id

    post_id, said, _ = checked_post_id("5e3", "id", {"id": "5e3"}, export=False)
    assert post_id == "5e3" and said is None
