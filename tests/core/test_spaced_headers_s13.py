"""A spreadsheet's headers written with spaces ("Tweet ID", "Tweet Text") are the
columns they name: only "tweet_id" and "tweet_text" were looked for."""

from __future__ import annotations

from pathlib import Path

from crisisdesk.cli import main
from crisisdesk.core.importers.tabular import resolve_columns
from crisisdesk.core.project import Project


def test_spaced_and_hyphenated_headers_are_found() -> None:
    chosen = resolve_columns(["Tweet ID", "Tweet Text", "Image-File", "Created At"], {})
    assert chosen["id"] == "Tweet ID" and chosen["text"] == "Tweet Text"
    assert chosen["image"] == "Image-File" and chosen["created_at"] == "Created At"


def test_an_exact_name_still_wins_over_a_spaced_one() -> None:
    # "tweet_id" as written comes before "Tweet ID" made tweet_id.
    chosen = resolve_columns(["Tweet ID", "tweet_id", "text"], {})
    assert chosen["id"] == "tweet_id"


def test_a_sheet_with_spaced_headers_imports(tmp_path: Path) -> None:
    src = tmp_path / "sheet.csv"
    src.write_text("Tweet ID,Tweet Text\n1,bridge down\n2,road closed\n", encoding="utf-8")
    assert main(["import", str(tmp_path / "p"), str(src)]) == 0
    with Project.open(tmp_path / "p").open_store() as store:
        assert store.counts()["posts"] == 2
