"""Search finds what analysts type, whatever its accents and case: the typed search and
the stored post texts, captions and alt texts are folded the same way (NFKD, combining
marks dropped, full case folding, Turkish ı as i), their folded copies kept in step by
every write and filled for a project made before them; LIKE's wildcards stay literal."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from old_schema import as_schema

from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue, queue_page, queue_size
from crisisdesk.core.store import Store
from crisisdesk.core.store import db as db_module
from crisisdesk.core.store.folding import fold

ALL = Queue("all")


def found(store: Store, search: str) -> list[str]:
    """The post ids the "all" queue holds for ``search`` (the size agreeing)."""
    rows = queue_page(store, ALL, offset=0, limit=1000, search=search)
    assert queue_size(store, ALL, search) == len(rows)
    ids = {r[0]: r[1] for r in store.conn.execute(
        "SELECT i.id, p.post_id FROM items i JOIN posts p ON p.id = i.post")}
    return sorted(ids[r.id] for r in rows)


def add_post(store: Store, post_id: str, text: str, *, alt_text: str | None = None,
             caption: str | None = None) -> None:
    """A post with one image (with ``alt_text`` and ``caption`` where given)."""
    post = store.insert_post("src", post_id, text=text)
    store.add_media_item(post, "src", post_id, 0, path=None, declared_path=f"{post_id}.jpg",
                         status="missing", sha256=f"sha-{post_id}", alt_text=alt_text)
    if caption is not None:
        store.add_caption(f"sha-{post_id}", text, "capt", "v1", caption)


@pytest.fixture
def store(tmp_path: Path):
    with Project.open(tmp_path / "p", create=True).open_store() as store:
        store.ensure_source("src", "csv", "/src")
        yield store


CASES = [  # (typed, stored, a text it must not find)
    ("huracan", "Huracán María toca tierra", "hurricane"),
    ("ecole", "L'École Jules Ferry détruite", "eco le"),
    ("école", "ÉCOLE FERMÉE", "ecol"),
    ("istanbul", "İstanbul'da deprem", "stanbul"),
    ("İSTANBUL", "istanbul flood", "ıstanbu"),
    ("ılık", "ILIK hava", "lik"),
    ("strasse", "Die Straße ist gesperrt", "strase"),
    ("STRAẞE", "Hauptstrasse 5", "strase"),
]


@pytest.mark.parametrize(("typed", "stored", "other"), CASES)
@pytest.mark.parametrize("where", ["text", "caption", "alt_text"])
def test_a_search_finds_the_text_whatever_its_accents_and_case(
        store: Store, typed: str, stored: str, other: str, where: str) -> None:
    plain = "a photo"
    add_post(store, "hit", stored if where == "text" else plain,
             caption=stored if where == "caption" else None,
             alt_text=stored if where == "alt_text" else None)
    add_post(store, "miss", other if where == "text" else plain,
             caption=other if where == "caption" else None,
             alt_text=other if where == "alt_text" else None)
    assert found(store, typed) == ["hit"]


@pytest.mark.parametrize(("typed", "hits"), [
    ("100%", ["1"]), ("snake_case", ["3"]), ("50%_", ["5"]), ("a\\b", ["6"]),
    ("🔥", ["7"]), ("ＦＩＲＥ", ["7"]),
])
def test_wildcards_stay_literal_and_emoji_and_width_are_kept(
        store: Store, typed: str, hits: list[str]) -> None:
    for n, text in enumerate(["100% sure", "1000 sure", "snake_case word", "snakeXcase",
                              "50%_off", "a\\b", "Fire 🔥 emoji"], 1):
        add_post(store, str(n), text)
    assert found(store, typed) == hits


def test_every_write_keeps_the_folded_copies_in_step(store: Store) -> None:
    add_post(store, "1", "Río crecido", caption="Un CAMIÓN volcado")
    media = store.items_of_post(store.find_post("src", "1").id)[0].media
    store.fill_alt_text(media, "Évacuation")
    assert found(store, "rio") == found(store, "camion") == found(store, "evacuation") == ["1"]
    # A caption of the same key replaced (INSERT OR REPLACE), a text written again.
    store.add_caption("sha-1", "Río crecido", "capt", "v1", "Una GRÚA")
    store.conn.execute("UPDATE posts SET text = 'Puente caído' WHERE post_id = '1'")
    store.add_caption("sha-1", "Puente caído", "capt", "v1", "Una GRÚA")
    assert found(store, "camion") == found(store, "rio") == []
    assert found(store, "grua") == found(store, "puente caido") == ["1"]
    rows = store.conn.execute(
        "SELECT p.text_folded, m.alt_text_folded FROM posts p JOIN media m ON m.post = p.id"
    ).fetchall()
    assert [tuple(r) for r in rows] == [("puente caido", "evacuation")]


def test_a_project_made_before_the_folded_copies_opens_and_searches_right(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.sqlite"
    with monkeypatch.context() as patch:  # a project as schema 10 (the last release) wrote it
        as_schema(patch, 10)
        with Store(path) as old:
            old.ensure_source("src", "csv", "/src")
            add_post(old, "1", "Huracán en Yucatán", caption="Un árbol caído")
            add_post(old, "2", "plain", alt_text="ŞİŞLİ köprüsü")
            add_post(old, "3", "Straße")
            assert "text_folded" not in old.db["posts"].columns_dict
    with Store(path) as store:
        assert store.migrated_from == 10
        assert found(store, "huracan") == found(store, "arbol") == ["1"]
        assert found(store, "sisli") == ["2"]
        assert found(store, "STRASSE") == ["3"]
        add_post(store, "4", "HURACÁN")  # and written after the migration
        assert found(store, "huracan") == ["1", "4"]


def test_writes_work_where_sqlite_does_not_trust_schema_functions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite built with SQLITE_TRUSTED_SCHEMA=0 refuses a function Python registers
    ("unsafe use of crisisdesk_fold()") in the triggers: every import would fail."""
    real_connect = sqlite3.connect

    def untrusting(*args, **kwargs):
        conn = real_connect(*args, **kwargs)
        conn.execute("PRAGMA trusted_schema=OFF")
        return conn

    monkeypatch.setattr(db_module.sqlite3, "connect", untrusting)
    with Store(tmp_path / "p.sqlite") as store:
        store.ensure_source("src", "csv", "/src")
        add_post(store, "1", "Huracán", alt_text="Árbol", caption="Grúa")
        assert found(store, "huracan") == found(store, "arbol") == found(store, "grua") == ["1"]


@pytest.mark.parametrize(("text", "folded"), [
    ("Huracán", "huracan"), ("ÉCOLE", "ecole"), ("e\u0301cole", "ecole"),
    ("İstanbul", "istanbul"), ("ılık", "ilik"), ("Straße", "strasse"), ("ΣΟΦΟΣ", "σοφοσ"),
    ("ﬁre", "fire"), ("ＦＩＲＥ", "fire"), ("a\u00a0b", "a b"), ("🔥 100%_\\", "🔥 100%_\\"),
    ("한국", "한국"), (None, None),
    ("Wrocław", "wroclaw"), ("Łódź", "lodz"), ("Ærø", "aero"), ("Đà Nẵng", "da nang"),
    ("don\u2019t", "don't"), ("\u201cHelp\u201d", '"help"'), ("2017\u20132018", "2017-2018"),
])
def test_the_fold(text: str | None, folded: str | None) -> None:
    assert fold(text) == folded


def test_a_search_goes_from_the_matching_captions_and_alt_texts_to_their_items(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Left to choose, SQLite scanned every item and hashed every tweet (0.3 s at
    100,000 items) to find a few captions: the search reads the captions and alt texts
    first, then their items through an index."""
    plans: list[str] = []
    real = store.conn

    class Watching:
        def __getattr__(self, name):
            return getattr(real, name)

        def execute(self, sql, params=()):
            if sql.startswith("INSERT OR IGNORE INTO temp.review_hits"):
                plans.append(" | ".join(row[3] for row in real.execute(
                    "EXPLAIN QUERY PLAN " + sql.removeprefix(
                        "INSERT OR IGNORE INTO temp.review_hits "), params)))
            return real.execute(sql, params)

    monkeypatch.setattr(store, "conn", Watching())
    queue_size(store, Queue("all"), "bridge")
    assert len(plans) == 2
    for plan in plans:
        assert "SCAN i" not in plan and "items_media" in plan, plan
