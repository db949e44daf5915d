"""The steps of the project store's schema, one function per version: each takes the
database from version N-1 to N (:mod:`crisisdesk.core.store.schema` lists them, knows the
version a store is at and runs the ones it lacks). Never edit a step that has shipped:
add a new one."""

from __future__ import annotations

import sqlite_utils

from crisisdesk.core.store.folding import FOLD_SQL


def _v1(db: sqlite_utils.Database) -> None:
    """The first schema: posts, media, items, splits, label journal, derived tables."""
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["sources"].create(
        {"name": str, "kind": str, "location": str, "first_imported": str, "last_imported": str},
        pk="name",
    )
    db["posts"].create(
        {
            "id": int, "source": str, "post_id": str, "platform": str, "author": str,
            "created_at": str, "text": str, "language": str, "url": str, "event": str,
            "imported_at": str,
        },
        pk="id", not_null=["source", "post_id", "text"],
        foreign_keys=[("source", "sources", "name")],
    )
    db["posts"].create_index(["source", "post_id"], unique=True)
    db["posts"].create_index(["event"])
    db["media"].create(
        {
            "id": int, "post": int, "n": int, "path": str, "declared_path": str,
            "sha256": str, "size": int, "width": int, "height": int,
            "status": str, "reason": str,
        },
        pk="id", not_null=["post", "n", "status"],
        foreign_keys=[("post", "posts", "id")],
    )
    db["media"].create_index(["post", "n"], unique=True)
    db["media"].create_index(["sha256"])
    db["items"].create(
        {"id": int, "uid": str, "post": int, "n": int, "media": int, "external_id": str},
        pk="id", not_null=["uid", "post", "n"],
        foreign_keys=[("post", "posts", "id"), ("media", "media", "id")],
    )
    db["items"].create_index(["uid"], unique=True)
    db["items"].create_index(["post", "n"], unique=True)
    db["items"].create_index(["external_id"])
    db["splits"].create(
        {"item": int, "task": str, "split": str},
        pk=("item", "task"), not_null=["split"],
        foreign_keys=[("item", "items", "id")],
    )
    # The label journal: rows are only ever appended. An action groups the rows given at
    # once (one key press on a selection, one import batch, one undo).
    db["label_actions"].create(
        {"id": int, "annotator": str, "source": str, "kind": str, "reverts": int,
         "created_at": str},
        pk="id", not_null=["annotator", "source", "kind", "created_at"],
        foreign_keys=[("reverts", "label_actions", "id")],
    )
    db["label_actions"].create_index(["annotator", "source", "id"])
    db["labels"].create(
        {
            "id": int, "action": int, "item": int, "task": str, "label": str,
            "annotator": str, "source": str, "created_at": str, "prev": int,
        },
        pk="id", not_null=["action", "item", "task", "annotator", "source", "created_at"],
        foreign_keys=[
            ("action", "label_actions", "id"), ("item", "items", "id"), ("prev", "labels", "id"),
        ],
    )
    db["labels"].create_index(["item", "task", "id"])
    db["labels"].create_index(["action"])
    # The current label of an (item, task) is its latest journal row; a NULL label there
    # means "unlabelled again" (an undone first label).
    db.create_view(
        "current_labels",
        """
        SELECT l.item, l.task, l.label, l.annotator, l.source, l.created_at, l.id AS journal_id
        FROM labels l
        JOIN (SELECT item, task, MAX(id) AS id FROM labels GROUP BY item, task) latest
          ON latest.id = l.id
        WHERE l.label IS NOT NULL
        """,
    )
    db["captions"].create(
        {"image_sha256": str, "text_sha256": str, "captioner": str, "prompt_version": str,
         "caption": str, "created_at": str},
        pk=("image_sha256", "text_sha256", "captioner", "prompt_version"),
    )
    db["embeddings"].create(
        {"kind": str, "key": str, "encoder": str, "dim": int, "dtype": str,
         "vector": bytes, "created_at": str},
        pk=("kind", "key", "encoder"),
    )
    db["model_versions"].create(
        {"id": int, "task": str, "name": str, "path": str, "encoder": str, "created_at": str,
         "active": int, "config": str, "metrics": str},
        pk="id", not_null=["task", "name", "path", "created_at"],
    )
    db["predictions"].create(
        {"item": int, "task": str, "model_version": int, "label": str, "confidence": float,
         "probs": str, "created_at": str},
        pk=("item", "task", "model_version"),
        foreign_keys=[("item", "items", "id"), ("model_version", "model_versions", "id")],
    )
    db["jobs"].create(
        {"id": int, "kind": str, "params": str, "state": str, "done": int, "total": int,
         "problems": int, "error": str, "started_at": str, "finished_at": str},
        pk="id", not_null=["kind", "state", "started_at"],
    )


def _v2(db: sqlite_utils.Database) -> None:
    """Jobs keep a JSON summary of what they did (counts, windowed texts, halvings)."""
    db.execute("ALTER TABLE jobs ADD COLUMN result TEXT")


def _v3(db: sqlite_utils.Database) -> None:
    """Captions keep a flag (NULL, "empty", "degenerate: ...": stored, never used as text)
    and a description of the model that wrote them; a caption is found by its captioner."""
    db.execute("ALTER TABLE captions ADD COLUMN flag TEXT")
    db.execute("ALTER TABLE captions ADD COLUMN model TEXT")
    db.execute("CREATE INDEX idx_captions_captioner ON captions (captioner, prompt_version)")


def _v4_review_queues(db: sqlite_utils.Database) -> None:
    """What the review queues need to stay fast at 100,000 items (crisisdesk/core/review.py).

    ``label_state`` holds each (item, task)'s latest journal row, kept by a trigger on
    the journal (which stays append-only and the source of truth): the current_labels
    view groups the whole journal, too slow to join per page. ``import_label`` keeps the
    latest imported label so the "corrected" queue can compare with it. Indexes serve
    the queue orders: confidence within a model version and task, per predicted class,
    and post time.
    """
    db.execute(
        "CREATE TABLE label_state (item INTEGER NOT NULL, task TEXT NOT NULL, label TEXT,"
        " source TEXT, annotator TEXT, created_at TEXT, journal_id INTEGER NOT NULL,"
        " import_label TEXT, PRIMARY KEY (item, task)) WITHOUT ROWID")
    db.execute(
        "INSERT INTO label_state SELECT l.item, l.task, l.label, l.source, l.annotator,"
        " l.created_at, l.id, (SELECT x.label FROM labels x WHERE x.item = l.item"
        "  AND x.task = l.task AND x.source = 'import' AND x.label IS NOT NULL"
        "  ORDER BY x.id DESC LIMIT 1)"
        " FROM labels l JOIN (SELECT item, task, MAX(id) AS id FROM labels"
        "  GROUP BY item, task) latest ON latest.id = l.id")
    db.execute(
        "CREATE TRIGGER label_state_on_label AFTER INSERT ON labels BEGIN"
        " INSERT INTO label_state (item, task, label, source, annotator, created_at,"
        "  journal_id, import_label)"
        " VALUES (NEW.item, NEW.task, NEW.label, NEW.source, NEW.annotator, NEW.created_at,"
        "  NEW.id, CASE WHEN NEW.source = 'import' THEN NEW.label END)"
        " ON CONFLICT (item, task) DO UPDATE SET label = excluded.label,"
        "  source = excluded.source, annotator = excluded.annotator,"
        "  created_at = excluded.created_at, journal_id = excluded.journal_id,"
        "  import_label = COALESCE(excluded.import_label, label_state.import_label)"
        "  WHERE excluded.journal_id > label_state.journal_id;"
        " END")
    db.execute("CREATE INDEX idx_label_state_task ON label_state (task, label)")
    db.execute("CREATE INDEX idx_label_state_source ON label_state (task, source, journal_id)")
    db.execute("CREATE INDEX idx_predictions_confidence"
               " ON predictions (model_version, task, confidence, item)")
    db.execute("CREATE INDEX idx_predictions_class"
               " ON predictions (model_version, task, label, confidence, item)")
    db.execute("CREATE INDEX idx_posts_created_at ON posts (created_at)")


def _v5_live_collection(db: sqlite_utils.Database) -> None:
    """What live collection needs (issue 8): links from reposts, quotes and replies to the
    original post (its platform id, so the link holds before the original is imported),
    the URL of media known only remotely, and how far each watched file has been read."""
    db.execute("ALTER TABLE posts ADD COLUMN original_post_id TEXT")
    db.execute("ALTER TABLE posts ADD COLUMN relation TEXT")
    db.execute("CREATE INDEX idx_posts_original ON posts (source, original_post_id)")
    db.execute("ALTER TABLE media ADD COLUMN url TEXT")
    db.execute("CREATE INDEX idx_media_url ON media (url)")
    db.execute("CREATE INDEX idx_media_status ON media (status, id)")
    # offset: the byte just after the last complete line read; line: its line number.
    db.execute(
        "CREATE TABLE watch_files (path TEXT PRIMARY KEY, source TEXT NOT NULL,"
        " format TEXT NOT NULL, offset INTEGER NOT NULL, line INTEGER NOT NULL,"
        " size INTEGER NOT NULL, mtime REAL NOT NULL, updated_at TEXT NOT NULL)")


def _v6_prediction_inputs(db: sqlite_utils.Database) -> None:
    """Each prediction keeps what it saw (its image's sha256 and text's key, where it had
    their embeddings), so a caption or an image embedded later makes it stale and the
    next predict redoes it. Rows from before have none: redone once."""
    db.execute("ALTER TABLE predictions ADD COLUMN inputs TEXT")


def _v7_sensitive_media(db: sqlite_utils.Database) -> None:
    """Whether the poster or the platform marked a post sensitive (1 or 0; NULL: the
    source does not say), so the app can blur its images, and the poster's own
    description of each image (alt text)."""
    db.execute("ALTER TABLE posts ADD COLUMN sensitive INTEGER CHECK (sensitive IN (0, 1))")
    db.execute("ALTER TABLE media ADD COLUMN alt_text TEXT")


def _v8_watch_anchor(db: sqlite_utils.Database) -> None:
    """A fingerprint of each watched file where its offset stands (its first bytes and
    those before the offset, hashed), kept with the offset, so a watch started again
    notices a file rewritten in place while none ran. Rows from before have none: a
    new watch trusts their offset once, as it used to."""
    db.execute("ALTER TABLE watch_files ADD COLUMN anchor TEXT")


def _v9_project_schemes(db: sqlite_utils.Database) -> None:
    """A project's own label schemes (issue 5), beside the shipped ones: stored in the
    project so they travel with it. ``classes`` and ``merges`` are JSON, in the shape of
    ``resources/label_schemes/*.json``."""
    db.execute(
        "CREATE TABLE label_schemes (task TEXT PRIMARY KEY, classes TEXT NOT NULL,"
        " merges TEXT NOT NULL, description TEXT NOT NULL, added_at TEXT NOT NULL)")


def _v10_post_times(db: sqlite_utils.Database) -> None:
    """Posts' times in the store's format (UTC ISO 8601): imports kept them as written,
    and sorting by time compared Twitter's "Fri Sep 01 ..." with "2017-09-01..." as
    text. A time that does not read stays as it is."""
    from crisisdesk.core.store.times import post_time

    rows = db.execute("SELECT id, created_at FROM posts WHERE created_at IS NOT NULL"
                      ).fetchall()
    changed = [(stored, pk) for pk, written in rows
               if (stored := post_time(written)) is not None and stored != written]
    db.conn.executemany("UPDATE posts SET created_at = ? WHERE id = ?", changed)


#: (table, text column, its folded copy) searched by the review queues.
FOLDED_COLUMNS = (("posts", "text", "text_folded"), ("captions", "caption", "caption_folded"),
                  ("media", "alt_text", "alt_text_folded"))


def _v11_search_folding(db: sqlite_utils.Database) -> None:
    """Search finds what analysts type whatever its accents and case ("huracan" finds
    "Huracán", "strasse" "STRASSE"): each searched text keeps a folded copy
    (crisisdesk/core/store/folding.py), filled here and kept in step by triggers, so no
    write path can forget it and a search stays a plain scan. The triggers call
    ``crisisdesk_fold()``, which every Store connection registers before migrating."""
    for table, column, folded in FOLDED_COLUMNS:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {folded} TEXT")
        db.execute(f"UPDATE {table} SET {folded} = {FOLD_SQL}({column})")
        set_folded = (f"UPDATE {table} SET {folded} = {FOLD_SQL}(NEW.{column})"
                      " WHERE rowid = NEW.rowid;")
        db.execute(f"CREATE TRIGGER {folded}_on_insert AFTER INSERT ON {table}"
                   f" BEGIN {set_folded} END")
        db.execute(f"CREATE TRIGGER {folded}_on_update AFTER UPDATE OF {column} ON {table}"
                   f" BEGIN {set_folded} END")


def _v12_lookups(db: sqlite_utils.Database) -> None:
    """How many embeddings each encoder has, of which kind and length, is asked at every
    training, prediction start and embed (choose the encoders, find the shipped head's
    texts, refuse another model under a known name): without an index each question
    read the whole table, vectors and all (600,000 embeddings: 0.3 s with a warm cache,
    far more from disk). Covered by this index, it reads the index alone."""
    db.execute("CREATE INDEX IF NOT EXISTS embeddings_encoder_kind_dim"
               " ON embeddings (encoder, kind, dim)")
    # The items showing an image: the search goes from the captions and alt texts that
    # match to their items (it scanned every item, hashing each tweet).
    db.execute("CREATE INDEX IF NOT EXISTS items_media ON items (media)")


def _v13_fold_invisibles(db: sqlite_utils.Database) -> None:
    """The fold dropped invisible characters (zero-width, direction marks, the tatweel)
    and kept Japanese voicing marks, or "Mé\u200bxico" hid from "mexico": refolded by v15
    (a refold rewrites every text not plain ASCII: 3.5 s per 100,000)."""


def _fold_again(db: sqlite_utils.Database) -> None:
    """Fold the stored copies of texts that are not plain ASCII again, after a change to
    the fold (crisisdesk/core/store/folding.py)."""
    for table, column, folded in FOLDED_COLUMNS:
        # GLOB: a text with a byte outside printable ASCII (tabs, newlines: harmless).
        db.execute(f"UPDATE {table} SET {folded} = {FOLD_SQL}({column})"
                   f" WHERE {column} GLOB '*[^ -~]*'")


def _v14_fold_script_marks(db: sqlite_utils.Database) -> None:
    """The fold kept the marks that are part of a letter (Thai tone marks, Devanagari's
    viramas...), or "มา" (come) found a stored "ม้า" (horse): refolded by v15."""


def _v15_fold_cyrillic_breve(db: sqlite_utils.Database) -> None:
    """The fold learned to keep the breve of Cyrillic "й" and "ў", letters of their own:
    folded again, or "мои" (mine) would find a stored "Мой" (my). Also v14's refold."""
    _fold_again(db)
