"""Import leftovers found by a walk-through with a real CrisisMMD split: a second import
of the same file said only "0 new posts, 0 new items", and a crisisdesk export imported
back into the project it came from doubled every post without a word."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import run_import

from crisisdesk.cli import main
from crisisdesk.core.exporters import Exporter
from crisisdesk.core.project import Project

SPLIT = ("event_name\ttweet_id\timage_id\ttweet_text\timage\tlabel\n"
         "flood\t100\t100_0\tRiver over the road\tdata_image/flood/100_0.jpg\tsevere_damage\n"
         "flood\t100\t100_1\tRiver over the road\tdata_image/flood/100_1.jpg\tsevere_damage\n"
         "flood\t200\t200_0\tShelter opens\tdata_image/flood/200_0.jpg\tlittle_or_no_damage\n")


def _split_file(tmp_path: Path) -> Path:
    """A CrisisMMD damage dev split of three rows (two tweets, one with two images)."""
    path = tmp_path / "task_damage_text_img_dev.tsv"
    path.write_text(SPLIT, "utf-8")
    return path


# ------------------------------------------------------------- 2. the same file again

def test_a_second_import_says_its_rows_are_already_in_the_project(tmp_path: Path) -> None:
    project = Project.open(tmp_path / "p", create=True)
    first = run_import(project, [_split_file(tmp_path)]).report
    assert "already in the project" not in first.summary()  # all of them were new
    again = run_import(project, [_split_file(tmp_path)]).report
    assert (again.posts_added, again.items_added, again.records) == (0, 0, 3)
    assert "3 rows already in the project" in again.summary().splitlines()[0]


def test_only_the_rows_that_added_nothing_are_counted(tmp_path: Path) -> None:
    project = Project.open(tmp_path / "p", create=True)
    table = tmp_path / "posts.csv"
    table.write_text("id,text\n1,Bridge down\n2,Road open\n", "utf-8")
    run_import(project, [table])
    table.write_text("id,text\n1,Bridge down\n2,Road open\n3,Power cut\n3,Power cut\n",
                     "utf-8")
    report = run_import(project, [table]).report
    # Row 3's repeat is of a post this import added, not one the project had.
    assert report.posts_added == 1
    assert "2 rows already in the project" in report.summary()


def test_the_cli_says_so_too(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    split = _split_file(tmp_path)
    assert main(["import", str(tmp_path / "p"), str(split)]) == 0
    capsys.readouterr()
    assert main(["import", str(tmp_path / "p"), str(split)]) == 0
    out = capsys.readouterr().out
    assert "0 new posts" in out and "3 rows already in the project" in out, out


# ------------------------------------- 3. an export imported back into its own project

def _exported(tmp_path: Path) -> tuple[Project, Path]:
    """A project of the CrisisMMD split, and its export ``all.csv``."""
    project = Project.open(tmp_path / "p", create=True)
    run_import(project, [_split_file(tmp_path)])
    out = tmp_path / "all.csv"
    with project.open_store() as store:
        Exporter(store).write(out, "csv")
    return project, out


def _doubling_warnings(report) -> list[str]:
    return [p.message for p in report.problems
            if p.severity == "warning" and "--source crisismmd" in p.message]


def test_an_export_imported_back_warns_that_its_posts_are_filed_again(
        tmp_path: Path) -> None:
    project, out = _exported(tmp_path)
    report = run_import(project, [out]).report
    assert report.posts_added == 2  # filed under "all", as documented
    [warning] = _doubling_warnings(report)
    # Names the source the rows say, how many posts, where they went, and what to do.
    assert "2 posts" in warning and "all" in warning
    assert "Source name" in warning, warning
    # Said first, before the problems of its rows, on the file as a whole.
    first = next(p for p in report.problems if p.severity == "warning")
    assert first.message == warning and first.where.file == str(out)
    assert first.where.row is None


def test_the_advised_source_adds_to_the_existing_posts_without_a_warning(
        tmp_path: Path) -> None:
    project, out = _exported(tmp_path)
    report = run_import(project, [out], source="crisismmd").report
    assert report.posts_added == 0 and not _doubling_warnings(report)


def test_an_export_into_another_project_says_nothing(tmp_path: Path) -> None:
    _, out = _exported(tmp_path)
    other = Project.open(tmp_path / "other", create=True)
    assert not _doubling_warnings(run_import(other, [out]).report)
