"""The project store: schema, WAL, migrations, posts/items and the label journal."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from old_schema import as_schema

from crisisdesk.core.project import Project, ProjectError
from crisisdesk.core.store import SCHEMA_VERSION, LabelChange, Store


def _post_with_items(store: Store, post_id: str = "100", images: int = 0) -> list[int]:
    store.ensure_source("src", "csv", "/data/src.csv")
    post = store.insert_post("src", post_id, text=f"text of {post_id}", author="@someone")
    if images == 0:
        return [store.add_text_item(post, "src", post_id)]
    return [store.add_media_item(post, "src", post_id, n, path=None,
                                 declared_path=f"img{n}.jpg", status="missing")
            for n in range(images)]


def test_project_folder_layout_and_pragmas(project: Project) -> None:
    for name in ("models", "exports", "cache"):
        assert (project.root / name).is_dir()
    with project.open_store() as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.meta("schema_version") == str(SCHEMA_VERSION)


def test_foreign_keys_are_enforced(project: Project) -> None:
    with project.open_store() as store, pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("INSERT INTO items (uid, post, n) VALUES ('x:1:0', 999, 0)")


def test_open_refuses_non_project_and_non_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="not a crisisdesk project"):
        Project.open(tmp_path / "nothing")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ProjectError, match="other files"):
        Project.open(tmp_path / "busy", create=True)


def test_newer_schema_is_refused(project: Project) -> None:
    with project.open_store() as store:
        store.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(RuntimeError, match="newer crisisdesk"):
        project.open_store()


def test_migrations_run_forward_from_an_older_version(project: Project, monkeypatch) -> None:
    from crisisdesk.core.store import schema

    ran = []

    def next_version(db) -> None:
        ran.append(True)
        db.execute("ALTER TABLE posts ADD COLUMN note TEXT")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, next_version])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    with Store(project.db_path) as store:
        assert store.migrated_from == SCHEMA_VERSION
        assert store.meta("schema_version") == str(SCHEMA_VERSION + 1)
        assert "note" in store.db["posts"].columns_dict
    with Store(project.db_path) as store:
        assert store.migrated_from == SCHEMA_VERSION + 1
    assert ran == [True]


def test_a_version_1_project_is_migrated_and_keeps_its_data(tmp_path: Path,
                                                            monkeypatch) -> None:

    path = tmp_path / "old.sqlite"
    with monkeypatch.context() as patch:  # a project as the first release wrote it
        as_schema(patch, 1)
        with Store(path) as old:
            (item,) = _post_with_items(old)
            old.add_labels([LabelChange(item, "damage", "mild_damage")], annotator="ana")
            job = old.start_job("import", {})
            assert "result" not in old.db["jobs"].columns_dict
    with Store(path) as store:
        assert store.migrated_from == 1
        assert store.meta("schema_version") == str(SCHEMA_VERSION)
        assert store.current_label(item, "damage").label == "mild_damage"
        store.finish_job(job, "done", result={"posts": 1})
        assert store.job(job)["result"] == '{"posts": 1}'


def test_two_connections_opening_an_old_project_at_once_migrate_it_once(
        tmp_path: Path, monkeypatch) -> None:
    """The app's threads (or the app and a CLI command) may open a project that needs a
    migration at the same moment: the one that waited for the write lock must find the
    migration done, not run it again (duplicate column, table exists)."""
    from crisisdesk.core.store import schema

    path = tmp_path / "old.sqlite"
    with monkeypatch.context() as patch:
        as_schema(patch, 1)
        Store(path).close()
    read_version = schema.schema_version
    looks: list[int] = []
    others: list[int] = []

    def version_then_another_connection_migrates(db) -> int:
        version = read_version(db)
        looks.append(version)
        if len(looks) == 1:  # the first look: another connection migrates right after it
            with Store(path) as other:
                others.append(other.migrated_from)
        return version

    monkeypatch.setattr(schema, "schema_version", version_then_another_connection_migrates)
    with Store(path) as store:
        assert others == [1]
        assert store.migrated_from == 1
        assert store.meta("schema_version") == str(SCHEMA_VERSION)
        assert "result" in store.db["jobs"].columns_dict


def test_item_ids_follow_the_identity_table(project: Project) -> None:
    with project.open_store() as store:
        items = _post_with_items(store, "555", images=3)
        uids = [store.item_uid_of(i) for i in items]
        assert uids == ["src:555:0", "src:555:1", "src:555:2"]
        assert store.resolve_item("src:555:2").id == items[2]
        assert store.resolve_item("555_1").id == items[1]
        with pytest.raises(LookupError, match="no item"):
            store.resolve_item("555_9")


def test_short_item_id_ambiguous_across_sources(project: Project) -> None:
    with project.open_store() as store:
        _post_with_items(store, "7")
        store.ensure_source("other", "csv", "/data/other.csv")
        post = store.insert_post("other", "7", text="same id, other source")
        store.add_text_item(post, "other", "7")
        with pytest.raises(LookupError, match="ambiguous"):
            store.resolve_item("7_0")


def test_text_only_item_takes_the_first_image_later(project: Project) -> None:
    with project.open_store() as store:
        (item,) = _post_with_items(store, "9")
        store.add_labels([LabelChange(item, "damage", "mild_damage")], annotator="ana")
        post = store.find_post("src", "9")
        assert post is not None
        again = store.add_media_item(post.id, "src", "9", 0, path=None,
                                     declared_path="late.jpg", status="missing")
        assert again == item  # same item: its label stays with it
        assert store.current_label(item, "damage").label == "mild_damage"


def test_split_belongs_to_item_and_task(project: Project) -> None:
    with project.open_store() as store:
        (item,) = _post_with_items(store)
        assert store.set_split(item, "informative", "train")
        assert store.set_split(item, "damage", "dev")
        assert not store.set_split(item, "informative", "dev")  # first split stays
        assert store.counts()["splits"] == {"damage": {"dev": 1}, "informative": {"train": 1}}


def test_journal_is_append_only_and_current_label_is_latest(project: Project) -> None:
    with project.open_store() as store:
        (item,) = _post_with_items(store)
        store.add_labels([LabelChange(item, "damage", "severe_damage")], annotator="import",
                         source="import")
        store.add_labels([LabelChange(item, "damage", "mild_damage")], annotator="ana")
        current = store.current_label(item, "damage")
        assert (current.label, current.source, current.annotator) == ("mild_damage", "human",
                                                                      "ana")
        rows = store.journal(item, "damage")
        assert [r["label"] for r in rows] == ["severe_damage", "mild_damage"]
        # Giving the same label again adds nothing.
        assert store.add_labels([LabelChange(item, "damage", "mild_damage")],
                                annotator="ana") is None
        assert len(store.journal(item)) == 2


def test_undo_restores_the_replaced_label_with_its_source(project: Project) -> None:
    with project.open_store() as store:
        (item,) = _post_with_items(store)
        store.add_labels([LabelChange(item, "damage", "severe_damage")], annotator="src",
                         source="import")
        store.add_labels([LabelChange(item, "damage", "mild_damage")], annotator="ana")
        assert store.undo("ana") == [LabelChange(item, "damage", "severe_damage")]
        current = store.current_label(item, "damage")
        assert (current.label, current.source) == ("severe_damage", "import")
        assert store.redo("ana") == [LabelChange(item, "damage", "mild_damage")]
        current = store.current_label(item, "damage")
        assert (current.label, current.source) == ("mild_damage", "human")
        # Nothing more to redo; undo of the first human label leaves the import label.
        assert store.redo("ana") == []
        store.undo("ana")
        assert store.undo("ana") == []
        assert store.current_label(item, "damage").label == "severe_damage"
        # Every step is a journal row: import, set, undo, redo, undo.
        assert [r["kind"] for r in store.journal(item, "damage")] == [
            "set", "set", "undo", "redo", "undo"]


def test_undo_of_a_first_label_leaves_the_item_unlabelled(project: Project) -> None:
    with project.open_store() as store:
        (item,) = _post_with_items(store)
        store.add_labels([LabelChange(item, "informative", "informative")], annotator="ana")
        store.undo("ana")
        assert store.current_label(item, "informative") is None
        assert store.counts()["labels"] == {}


def test_undo_and_redo_walk_a_history_of_batches(project: Project) -> None:
    with project.open_store() as store:
        items = _post_with_items(store, images=3)
        store.add_labels([LabelChange(i, "damage", "mild_damage") for i in items],
                         annotator="ana")
        store.add_labels([LabelChange(items[0], "damage", "severe_damage")], annotator="ana")
        # Another annotator's work is not on ana's stack.
        store.add_labels([LabelChange(items[2], "damage", "little_or_no_damage")],
                         annotator="ben")

        def labels() -> list[str | None]:
            return [getattr(store.current_label(i, "damage"), "label", None) for i in items]

        assert labels() == ["severe_damage", "mild_damage", "little_or_no_damage"]
        store.undo("ana")
        assert labels() == ["mild_damage", "mild_damage", "little_or_no_damage"]
        # The whole batch of three at once, except what ben changed since.
        store.undo("ana")
        assert labels() == [None, None, "little_or_no_damage"]
        store.redo("ana")
        assert labels() == ["mild_damage", "mild_damage", "little_or_no_damage"]
        # A new label drops the redo stack.
        store.undo("ana")
        store.add_labels([LabelChange(items[1], "damage", "severe_damage")], annotator="ana")
        assert store.redo("ana") == []
        assert labels() == [None, "severe_damage", "little_or_no_damage"]


def test_undo_history_survives_reopening(project: Project) -> None:
    with project.open_store() as store:
        (item,) = _post_with_items(store)
        store.add_labels([LabelChange(item, "damage", "mild_damage")], annotator="ana")
        store.add_labels([LabelChange(item, "damage", "severe_damage")], annotator="ana")
    with project.open_store() as store:
        store.undo("ana")
        assert store.current_label(item, "damage").label == "mild_damage"


def test_a_failed_transaction_leaves_nothing(project: Project) -> None:
    with project.open_store() as store:
        store.ensure_source("src", "csv", "/x")
        with pytest.raises(RuntimeError), store.transaction():
            store.insert_post("src", "1", text="half")
            raise RuntimeError("crash in the middle")
        assert store.find_post("src", "1") is None
        # A nested failure rolls back only its own savepoint.
        with store.transaction():
            store.insert_post("src", "2", text="kept")
            with pytest.raises(RuntimeError), store.transaction():
                store.insert_post("src", "3", text="dropped")
                raise RuntimeError
        assert store.find_post("src", "2") is not None
        assert store.find_post("src", "3") is None


def test_labels_are_visible_to_another_connection_at_once(project: Project) -> None:
    with project.open_store() as writer, project.open_store() as reader:
        (item,) = _post_with_items(writer)
        writer.add_labels([LabelChange(item, "damage", "mild_damage")], annotator="ana")
        assert reader.current_label(item, "damage").label == "mild_damage"


def test_label_source_and_annotator_are_validated(project: Project) -> None:
    with project.open_store() as store:
        (item,) = _post_with_items(store)
        with pytest.raises(ValueError, match="label source"):
            store.add_labels([LabelChange(item, "damage", "mild_damage")], annotator="a",
                             source="robot")


def test_an_older_model_version_can_be_reactivated(tmp_path):
    from crisisdesk.core.project import Project

    project = Project.open(tmp_path / "p", create=True)
    with project.open_store() as store:
        first = store.add_model_version("damage", "one", "a")
        second = store.add_model_version("damage", "two", "b")
        other = store.add_model_version("informative", "three", "c")
        assert store.active_model_version("damage")["id"] == second
        store.activate_model_version(first)
        assert store.active_model_version("damage")["id"] == first
        assert [v["id"] for v in store.model_versions("damage")] == [second, first]
        assert store.active_model_version("informative")["id"] == other
        candidate = store.add_model_version("damage", "four", "d", active=False)
        assert store.active_model_version("damage")["id"] == first
        assert store.model_version(candidate)["active"] in (0, False)


def test_embedding_counts_and_lengths_read_an_index_not_the_vectors(tmp_path) -> None:
    """Asked at every training, prediction start and embed: without the index each read
    the whole embeddings table, vectors and all."""
    with Store(tmp_path / "p.sqlite") as store:
        for sql, params in (
                ("SELECT dim, COUNT(*) AS n FROM embeddings WHERE encoder = ? GROUP BY dim",
                 ["clip"]),
                ("SELECT encoder, kind, COUNT(*) AS n FROM embeddings"
                 " GROUP BY encoder, kind ORDER BY encoder, kind", []),
                ("SELECT 1 FROM embeddings WHERE kind = ? AND encoder = ? LIMIT 1",
                 ["text", "minilm"])):
            plan = " ".join(row[3] for row in store.conn.execute(
                f"EXPLAIN QUERY PLAN {sql}", params))
            assert "COVERING INDEX embeddings_encoder_kind_dim" in plan, (sql, plan)
