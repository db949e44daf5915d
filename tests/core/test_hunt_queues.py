"""The review queues checked against a plain-Python recomputation from the store's own
tables (``expected_queue``, the oracle: no SQL beyond reading the tables whole), through
what changes them: labels, undo and redo, imports, predictions, a retrain switch,
captions and alt texts, a project's own task; the needs-review order (confidence ties,
items without a prediction); search with LIKE's special characters, quotes, emoji and
non-ASCII text, folded (accents, case, ß, Turkish ı); sorts by time and confidence; deep
pages read from the cached order."""

from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue, queue_counts, queue_page, queue_size
from crisisdesk.core.schemes import scheme_from_json
from crisisdesk.core.store import LabelChange, Prediction, Store, text_key

DAMAGE = ("severe_damage", "mild_damage", "little_or_no_damage")
SEVERITY = ("low", "medium", "high_risk")
SORTS = ("priority", "time", "confidence")


# --------------------------------------------------------------------------- the oracle
def _fold(text: str) -> str:
    """The fold review.py documents for its search: NFKD, full case folding, combining
    marks dropped, Turkish dotless ı as i, then NFC."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare.replace("ı", "i"))


def _tables(store: Store) -> dict[str, Any]:
    """The tables the queues are defined over, read whole."""
    conn = store.conn
    return {
        "items": {r["id"]: dict(r) for r in conn.execute(
            "SELECT i.id, i.n, i.post, p.text, p.event, p.created_at, m.sha256, m.alt_text"
            " FROM items i JOIN posts p ON p.id = i.post LEFT JOIN media m ON m.id = i.media")},
        "journal": [dict(r) for r in conn.execute(
            "SELECT id, item, task, label, source FROM labels ORDER BY id")],
        "versions": [dict(r) for r in conn.execute(
            "SELECT id, task, active, config FROM model_versions ORDER BY id")],
        "predictions": {(r["item"], r["task"], r["model_version"]): (r["label"],
                                                                     r["confidence"])
                        for r in conn.execute("SELECT * FROM predictions")},
        "captions": [dict(r) for r in conn.execute("SELECT * FROM captions")],
    }


def expected_queue(store: Store, queue: Queue, search: str = "", sort: str = "priority",
                   confidence_task: str | None = None) -> list[int]:
    """The item ids of ``queue`` in ``sort`` order, worked out in Python from the tables
    as review.py's docstring defines each queue."""
    t = _tables(store)
    items, preds = t["items"], t["predictions"]
    current: dict[tuple[int, str], dict] = {}
    imported: dict[tuple[int, str], str] = {}
    for row in t["journal"]:  # the latest row is the current label
        current[row["item"], row["task"]] = row
        if row["source"] == "import" and row["label"] is not None:
            imported[row["item"], row["task"]] = row["label"]
    active = {v["task"]: v["id"] for v in t["versions"] if v["active"]}  # newest wins
    modality: dict[str, dict[str, int]] = {}
    for v in t["versions"]:
        variant = (json.loads(v["config"] or "{}").get("config") or {}).get("variant")
        if variant in ("image_only", "text_only"):
            modality.setdefault(v["task"], {})[variant] = v["id"]  # newest wins

    def label(i: int, task: str) -> str | None:
        return (current.get((i, task)) or {}).get("label")

    def pred(i: int, task: str, version: int | None = None) -> tuple[str, float] | None:
        version = active.get(task) if version is None else version
        return preds.get((i, task, version))

    kind, task, value = queue.kind, queue.task, queue.value
    pair = modality.get(task or "", {})

    def holds(i: int) -> bool:
        lab = label(i, task) if task else None
        p = pred(i, task) if task else None
        if kind == "all":
            return True
        if kind == "unlabelled":
            return lab is None
        if kind == "needs_review":
            return p is not None and lab is None
        if kind == "model_disagrees":
            return p is not None and lab is not None and lab != p[0]
        if kind == "predicted":
            return p is not None and p[0] == value
        if kind == "event":
            return items[i]["event"] == value
        if kind == "corrected":
            row, imp = current.get((i, task)) or {}, imported.get((i, task))
            return lab is not None and row.get("source") == "human" and (
                (imp is not None and imp != lab) or (p is not None and p[0] != lab))
        if kind == "modalities_disagree":
            if len(pair) < 2:
                return False
            a, b = pred(i, task, pair["image_only"]), pred(i, task, pair["text_only"])
            return a is not None and b is not None and a[0] != b[0]
        raise ValueError(kind)

    members = [i for i in items if holds(i)]
    needle = _fold(search.strip())
    if needle:
        def found(i: int) -> bool:
            item = items[i]
            texts = [item["text"] or "", item["alt_text"] or ""]
            texts += [c["caption"] for c in t["captions"] if c["flag"] is None
                      and item["sha256"] and c["image_sha256"] == item["sha256"]
                      and c["text_sha256"] == text_key(item["text"])]
            return any(needle in _fold(text) for text in texts)
        members = [i for i in members if found(i)]
    if sort == "time":  # newest first, posts without a time last; post, then media order
        members.sort(key=lambda i: items[i]["n"])
        members.sort(key=lambda i: items[i]["post"], reverse=True)
        members.sort(key=lambda i: items[i]["created_at"] or "", reverse=True)
        members.sort(key=lambda i: items[i]["created_at"] is None)
        return members
    if sort == "confidence":  # least confident first, items without a prediction last
        by = task or confidence_task or next(iter(sorted(active)), None)
        if by not in active:
            return sorted(members, reverse=True)
        return sorted(members, key=lambda i: (pred(i, by) is None,
                                              (pred(i, by) or ("", 0.0))[1], i))
    if kind == "needs_review":
        return sorted(members, key=lambda i: (pred(i, task)[1], i))
    if kind in ("model_disagrees", "predicted"):
        return sorted(members, key=lambda i: (pred(i, task)[1], i), reverse=True)
    if kind == "modalities_disagree":
        return sorted(members, key=lambda i: (pred(i, task, pair["image_only"])[1], i),
                      reverse=True)
    if kind == "corrected":
        return sorted(members, key=lambda i: current[i, task]["id"], reverse=True)
    return sorted(members, reverse=True)  # newest imported first


def assert_queues_match(store: Store, searches: tuple[str, ...] = ("",)) -> None:
    """Every listed queue's count, size and rows, in each sort, are the oracle's."""
    counts = queue_counts(store)
    for count in counts:
        assert count.count == len(expected_queue(store, count.queue)), count.title
        for search in searches:
            expected_size = len(expected_queue(store, count.queue, search))
            assert queue_size(store, count.queue, search) == expected_size
            for sort in SORTS:
                got = [r.id for r in queue_page(store, count.queue, offset=0,
                                                limit=100_000, search=search, sort=sort)]
                want = expected_queue(store, count.queue, search, sort)
                if count.queue.kind == "corrected" and sort == "confidence" and \
                        count.queue.task not in review.active_versions(store):
                    got, want = sorted(got), sorted(want)  # no prediction to order by
                assert got == want, (count.title, search, sort)


# --------------------------------------------------------------------------- a project
@pytest.fixture
def store(tmp_path: Path) -> Store:
    """60 posts (text-only ones and two-image ones, with and without a time and an
    event), a project task "severity", and for damage and severity: image-only and
    text-only versions and two active ones in turn, predicting most items."""
    rng = random.Random(7)
    project = Project.open(tmp_path / "p", create=True)
    store = project.open_store()
    store.add_scheme(scheme_from_json({"task": "severity", "classes": list(SEVERITY)},
                                      "severity.json"))
    with store.transaction():
        store.ensure_source("src", "csv", "/src")
        for i in range(1, 61):
            post = store.insert_post(
                "src", str(i), text=f"post {i} {'flood' if i % 3 else 'FIRE'}",
                event=rng.choice(["quake", "flood", None]),
                created_at=rng.choice([None, f"2017-09-{1 + i % 9:02d}T10:00:00.000Z"]))
            if i % 2:
                store.add_text_item(post, "src", str(i))
                continue
            for n in (0, 1):
                store.add_media_item(post, "src", str(i), n, path=f"/img/{i}-{n}.jpg",
                                     declared_path=f"{i}-{n}.jpg", status="ok",
                                     sha256=f"sha{i}-{n}")
    items = [r[0] for r in store.conn.execute("SELECT id FROM items")]

    def predict(task: str, classes: tuple[str, ...], version: int, share: float) -> None:
        predictions = []
        for i in items:
            if rng.random() < share:
                weights = [rng.choice((1, 2, 3, 5)) for _ in classes]  # ties on purpose
                predictions.append(Prediction(i, task, {
                    c: w / sum(weights) for c, w in zip(classes, weights, strict=True)}))
        store.add_predictions(version, predictions)

    for task, classes in (("damage", DAMAGE), ("severity", SEVERITY)):
        for variant in ("image_only", "text_only"):
            version = store.add_model_version(task, variant, "x", active=False,
                                              config={"config": {"variant": variant}})
            predict(task, classes, version, .8)
        for name in ("first", "second"):
            version = store.add_model_version(task, name, "x",
                                              config={"config": {"variant": "guided"}})
            predict(task, classes, version, .8 if name == "first" else .5)
    store.rng = rng  # type: ignore[attr-defined]
    yield store
    store.close()


def test_every_queue_matches_the_oracle_through_a_days_work(store: Store) -> None:
    rng = store.rng  # type: ignore[attr-defined]
    items = [r[0] for r in store.conn.execute("SELECT id FROM items")]
    assert_queues_match(store, ("", "flood"))
    # Imported labels, then an analyst's corrections, a colleague's, undo and redo.
    store.add_labels([LabelChange(i, "damage", rng.choice(DAMAGE)) for i in items
                      if rng.random() < .4], annotator="import", source="import")
    assert_queues_match(store)
    store.add_labels([LabelChange(i, "damage", rng.choice(DAMAGE)) for i in items
                      if rng.random() < .3], annotator="ana")
    store.add_labels([LabelChange(i, "severity", rng.choice(SEVERITY)) for i in items
                      if rng.random() < .3], annotator="ana")
    store.add_labels([LabelChange(i, "damage", None) for i in items[:5]], annotator="bob")
    assert_queues_match(store)
    store.undo("ana")
    store.undo("ana")
    assert_queues_match(store)
    store.redo("ana")
    assert_queues_match(store)
    # A re-import that brings labels, a retrain switch back, new predictions, captions.
    store.add_labels([LabelChange(i, "damage", rng.choice(DAMAGE)) for i in items
                      if rng.random() < .1], annotator="import", source="import")
    first = next(v["id"] for v in store.model_versions("damage") if v["name"] == "first")
    store.activate_model_version(first)
    assert_queues_match(store)
    store.add_predictions(first, [Prediction(i, "damage", {DAMAGE[0]: .2, DAMAGE[1]: .2,
                                                           DAMAGE[2]: .6})
                                  for i in store.items_without_prediction("damage", first)])
    text = store.conn.execute("SELECT text FROM posts WHERE post_id = '2'").fetchone()[0]
    store.add_caption("sha2-0", text, "capt", "v1", "a FLOODED road")
    store.add_caption("sha2-1", text, "capt", "v1", "a fire truck", flag="degenerate: x")
    store.conn.execute("UPDATE media SET alt_text = 'Firemen at work' WHERE sha256 = 'sha4-1'")
    assert_queues_match(store, ("", "fire", "FLOODED"))


SEARCHES = ["100%", "snake_case", "it's", '"quoted"', "back\\slash", "🔥", "École",
            "école", "ecole", "ÉCOLE", "İstanbul", "istanbul", "ılık", "huracan", "HURACÁN",
            "strasse", "Straße", "ＦＩＲＥ", "%", "_", "\\", "''", "   ", "", " fire "]
TEXTS = ["100% sure", "snake_case word", "it's \"quoted\"", "back\\slash here",
         "fire 🔥 emoji", "ÉCOLE détruite", "école fermée", "İstanbul deprem",
         "istanbul flood", "ISTANBUL", "plain text", "50%_off", "a%b", "x_y", "it''s",
         "snakeXcase", "100 percent", "backslash", "Huracán María", "Straße gesperrt",
         "STRASSE", "Ilık hava", "e\u0301cole (decomposed)"]


@pytest.mark.parametrize("search", SEARCHES)
def test_search_takes_every_character_literally(tmp_path: Path, search: str) -> None:
    project = Project.open(tmp_path / "p", create=True)
    with project.open_store() as store:
        with store.transaction():
            store.ensure_source("src", "csv", "/src")
            for n, text in enumerate(TEXTS, 1):
                store.add_text_item(store.insert_post("src", str(n), text=text), "src",
                                    str(n))
        want = expected_queue(store, Queue("all"), search)
        assert [r.id for r in queue_page(store, Queue("all"), offset=0, limit=100,
                                         search=search)] == want
        assert queue_size(store, Queue("all"), search) == len(want)


def test_a_label_committed_while_a_deep_order_is_read_shows_on_the_next_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deep pages come from the queue's whole order, kept until the project changes; the
    change token was read after the order, so a label another connection committed in
    between (an order of 100,000 rows takes a while) counted as seen: the order from
    before it was served as current, the labelled item still in "Needs review", until
    some other change."""
    monkeypatch.setattr(review, "DIRECT_ROWS", 0)  # every page from the cached order
    project = Project.open(tmp_path / "p", create=True)
    queue = Queue("needs_review", "damage")
    with project.open_store() as store:
        with store.transaction():
            store.ensure_source("src", "csv", "/src")
            for i in range(1, 31):
                store.add_text_item(store.insert_post("src", str(i), text=f"post {i}"),
                                    "src", str(i))
        version = store.add_model_version("damage", "v", "x")
        store.add_predictions(version, [Prediction(i, "damage", {
            DAMAGE[0]: .5 + i / 100, DAMAGE[1]: .5 - i / 100, DAMAGE[2]: 0})
            for i in range(1, 31)])
    with project.open_store() as store, project.open_store() as colleague:
        tokens: list[str] = []

        def commit_at_the_second_token(sql: str) -> None:
            # The first token is the cache check; the second, the one kept with the order.
            if sql.startswith("PRAGMA data_version"):
                tokens.append(sql)
                if len(tokens) == 2:
                    colleague.add_labels([LabelChange(1, "damage", DAMAGE[1])],
                                         annotator="ana")

        store.conn.set_trace_callback(commit_at_the_second_token)
        queue_page(store, queue, offset=0, limit=5)
        store.conn.set_trace_callback(None)
        assert len(tokens) >= 2
        page = [r.id for r in queue_page(store, queue, offset=0, limit=5)]
        assert 1 not in page
        assert page == expected_queue(store, queue)[:5]
