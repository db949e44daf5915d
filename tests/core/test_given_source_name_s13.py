"""A source name given by hand (``--source``, the watch's ``--source``, the import
dialog's Source name) is checked as an export's ``source`` cell is, before anything
is written.

It was used as given: ``--source a:b`` filed post ``1`` as item ``a:b:1:0``, which is
also source ``a``'s post ``b:1`` (that post was then refused with "UNIQUE constraint
failed: items.uid"), and a control or bidi character went into every item id.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crisisdesk.cli import USAGE, main
from crisisdesk.core.importers import ImportOptions
from crisisdesk.core.importers.naming import given_name_problem
from crisisdesk.core.project import Project

#: (name, what the message must quote of it): an item id separator, a control
#: character, a bidi override and a bidi isolate.
REFUSED = [("a:b", "':'"), ("flood\treport", "U+0009"),
           ("flood\u202ereport", "U+202E"), ("\u2067فيضان", "U+2067")]


def _table(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "posts.csv"
    path.write_text("id,text\n1,bridge down\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "char"), REFUSED)
def test_the_cli_refuses_a_source_name_that_breaks_item_ids_before_writing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, char: str) -> None:
    table = _table(tmp_path / "in")
    project = tmp_path / "new"
    assert main(["import", str(project), str(table), "--source", name]) == USAGE
    err = capsys.readouterr().err
    assert "--source" in err and char in err, err
    assert not project.exists()  # no project made for a refused import


@pytest.mark.parametrize(("name", "char"), REFUSED[:2])
def test_the_cli_refuses_it_for_a_watch_and_an_existing_project_unchanged(
        proj: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        name: str, char: str) -> None:
    table = _table(tmp_path / "in")
    for extra in ([], ["--watch"]):
        assert main(["import", str(proj.root), str(table.parent if extra else table),
                     "--source", name, *extra]) == USAGE
        err = capsys.readouterr().err
        assert "--source" in err and char in err, err
    with proj.open_store() as store:
        assert store.conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 0
        assert store.conn.execute("SELECT COUNT(*) FROM sources").fetchone()[0] == 0


@pytest.mark.parametrize(("name", "char"), REFUSED)
def test_import_options_refuse_it_in_the_core(name: str, char: str) -> None:
    """A notebook's ImportJob or WatchJob gets the same answer, not broken item ids."""
    with pytest.raises(ValueError, match=re.escape(char.strip("'"))):
        ImportOptions(source=name)


def test_names_of_any_script_and_spaces_are_still_taken(proj: Project, tmp_path: Path,
                                                         capsys) -> None:
    for name in ("فيضان", "flood report", "Türkiye-2023.v2"):
        assert given_name_problem(name) is None
    table = _table(tmp_path / "in")
    assert main(["import", str(proj.root), str(table), "--source", "فيضان"]) == 0
    with proj.open_store() as store:
        assert [r[0] for r in store.conn.execute("SELECT uid FROM items")] == ["فيضان:1:0"]
