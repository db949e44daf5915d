"""A project made by the previous release (schema 10), upgraded and worked on.

The upgrade itself: the exports and the undo stacks of a schema-10 project read the same
after the migrations to the folded search copies and the look-up indexes.

Two media look-ups that a working day runs once per row read every media row of a
status instead of the row's own (SQLite picks the index on ``media (status, id)`` over
the one the look-up names): a re-import (or the documented later import with
``--images-root`` that attaches missing images) and a media fetch grew with the square
of the project.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from old_schema import as_schema

from crisisdesk.core.exporters import Exporter
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange, Store


def vm_steps(conn: sqlite3.Connection, call: Callable[[], object]) -> int:
    """How many SQLite virtual-machine instructions ``call`` runs on ``conn``: a measure
    of the rows a query reads that does not depend on the machine's speed."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0  # 0: go on

    conn.set_progress_handler(count, 1)
    try:
        call()
    finally:
        conn.set_progress_handler(None, 0)
    return steps


def add_posts(store: Store, first: int, count: int, *, status: str,
              url: bool = False) -> None:
    """``count`` posts of one image each, the images in ``status`` (fetched from a URL
    where ``url``)."""
    with store.transaction():
        for n in range(first, first + count):
            post = store.insert_post("src", str(n), text=f"flood {n}")
            store.add_media_item(
                post, "src", str(n), 0, declared_path=f"img/{n}.jpg", status=status,
                path=f"/media/{n}.jpg" if status == "ok" else None,
                sha256=f"sha-{n}" if status == "ok" else None,
                url=f"https://example.org/{n}.jpg" if url else None)


def test_looking_up_a_posts_missing_images_reads_only_that_posts_media(
        tmp_path: Path) -> None:
    # A re-import asks this for every row of a post it has: with all the project's
    # images missing (CrisisMMD without --images-root), 30,000 rows took 116 s where
    # the first import took 7 s.
    with Store(tmp_path / "p.sqlite") as store:
        store.ensure_source("src", "csv", "/src")
        add_posts(store, 0, 10, status="missing")
        post = store.find_post("src", "5")
        assert post is not None
        assert store.missing_media_paths(post.id) == {"img/5.jpg"}
        few = vm_steps(store.conn, lambda: store.missing_media_paths(post.id))
        add_posts(store, 10, 2000, status="missing")
        many = vm_steps(store.conn, lambda: store.missing_media_paths(post.id))
        assert store.missing_media_paths(post.id) == {"img/5.jpg"}
    assert many < 2 * few


def test_looking_up_a_fetched_url_reads_only_that_urls_media(tmp_path: Path) -> None:
    # A media fetch asks this for every URL it is about to download: each question read
    # every image already fetched (30,000: 3.8 ms each, serial in the job's thread).
    with Store(tmp_path / "p.sqlite") as store:
        store.ensure_source("src", "csv", "/src")
        add_posts(store, 0, 10, status="ok", url=True)
        known = store.fetched_by_url("https://example.org/5.jpg")
        assert known is not None and known[0] == "/media/5.jpg"
        new = "https://example.org/new.jpg"
        few = vm_steps(store.conn, lambda: store.fetched_by_url(new))
        add_posts(store, 10, 2000, status="ok", url=True)
        many = vm_steps(store.conn, lambda: store.fetched_by_url(new))
        assert store.fetched_by_url(new) is None
    assert many < 2 * few


def test_an_upgraded_project_exports_the_same_and_keeps_its_undo_stacks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "proj"
    with monkeypatch.context() as patch:  # made and labelled by the previous release
        as_schema(patch, 10)
        project = Project.open(root, create=True)
        with project.open_store() as old:
            old.ensure_source("src", "csv", "/src")
            items = [old.insert_post("src", str(n), text=text, author=f"@a{n}")
                     for n, text in enumerate(["Huracán María", "=1+1 ÉCOLE", "plain"])]
            items = [old.add_media_item(post, "src", str(n), 0, path=None,
                                        declared_path=f"{n}.jpg", status="missing")
                     for n, post in enumerate(items)]
            old.add_labels([LabelChange(items[0], "informative", "informative")],
                           annotator="ana")
            old.add_labels([LabelChange(items[1], "damage", "severe_damage")],
                           annotator="ana")
            before = {fmt: Exporter(old, hash_authors=True).write(tmp_path / f"old.{fmt}", fmt)
                      for fmt in ("csv", "jsonl")}
    with Project.open(root).open_store() as store:
        assert store.migrated_from == 10
        for fmt, (path,) in before.items():
            (after,) = Exporter(store, hash_authors=True).write(tmp_path / f"new.{fmt}", fmt)
            assert after.read_bytes() == path.read_bytes()
        assert store.stack_sizes("ana") == (2, 0)
        store.undo("ana")
        assert store.current_label(items[1], "damage") is None
        store.redo("ana")
        current = store.current_label(items[1], "damage")
        assert current is not None and current.label == "severe_damage"
