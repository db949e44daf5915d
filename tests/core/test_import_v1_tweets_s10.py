"""A plain JSONL of hydrated (Twitter v1) tweets: each field read as a post field."""

from __future__ import annotations

import json

from crisisdesk.cli import main
from crisisdesk.core.project import Project


def test_a_hydrated_v1_tweets_user_object_gives_its_handle_as_the_author(tmp_path) -> None:
    # A plain JSONL of hydrated (v1) tweets: the reader took the "user" object as the
    # author and stored "{'screen_name': 'pr_news', ...}".
    source = tmp_path / "hydrated.jsonl"
    source.write_text(json.dumps({
        "id_str": "910535353454", "full_text": "Flooding on Main St",
        "created_at": "Wed Sep 20 14:03:01 +0000 2017",
        "user": {"id_str": "42", "screen_name": "pr_news", "name": "PR News"}}) + "\n",
        encoding="utf-8")
    assert main(["import", str(tmp_path / "p"), str(source)]) == 0
    with Project.open(tmp_path / "p").open_store() as store:
        (author,) = [r[0] for r in store.conn.execute("SELECT author FROM posts")]
    assert author == "pr_news"
