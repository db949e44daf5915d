"""Review queues: membership and order of each queue on a small hand-built project,
search over text and captions, sorts, paging (also deep pages from the cached order),
item_detail, and paging to the end of a 100,000-item project."""

from __future__ import annotations

import json

import pytest

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.review import (
    Queue,
    item_detail,
    queue_counts,
    queue_page,
    queue_size,
)
from crisisdesk.core.store import LabelChange, Prediction, Store

DAMAGE = ("severe_damage", "mild_damage", "little_or_no_damage")
S, M, L = DAMAGE
#: id: (text, event, created_at, image status or None)
POSTS = {
    1: ("Bridge collapsed on Main street", "quake", "2017-09-01T10:00", "ok"),
    2: ("Volunteers hand out WATER bottles", "flood", "2017-09-03T10:00", None),
    3: ("My cat sleeps all day", "flood", None, None),
    4: ("Roof torn off the house", "quake", "2017-09-02T10:00", "missing"),
    5: ("Shelter opened at the school", "flood", "2017-09-05T10:00", None),
    6: ("Cars under water downtown", "quake", "2017-09-04T10:00", "ok"),
    7: ("Power lines down 100% of the block", None, None, None),
}


def _probs(label: str, confidence: float) -> dict[str, float]:
    rest = (1 - confidence) / 2
    return {c: confidence if c == label else rest for c in DAMAGE}


def _predict(store: Store, version: int, preds: dict[int, tuple[str, float]]) -> None:
    store.add_predictions(version, [Prediction(i, "damage", _probs(*p))
                                    for i, p in preds.items()])


def _ids(rows: list[review.ItemRow]) -> list[int]:
    return [row.id for row in rows]


def _all(store: Store, queue: Queue, **kw) -> list[int]:
    return _ids(queue_page(store, queue, offset=0, limit=100, **kw))


@pytest.fixture
def store(project: Project) -> Store:
    """Seven items with labels, predictions of three damage versions and captions."""
    store = project.open_store()
    with store.transaction():
        store.ensure_source("src", "csv", "/src")
        for pid, (text, event, created, status) in POSTS.items():
            post = store.insert_post("src", str(pid), text=text, event=event,
                                     created_at=created)
            if status is None:
                store.add_text_item(post, "src", str(pid))
            else:
                store.add_media_item(post, "src", str(pid), 0, path=f"/img/{pid}.jpg",
                                     declared_path=f"{pid}.jpg", status=status,
                                     sha256=f"sha{pid}" if status == "ok" else None,
                                     reason="file not found" if status != "ok" else None)
    image = store.add_model_version("damage", "img", "x", active=False,
                                    config={"config": {"variant": "image_only"}})
    text = store.add_model_version("damage", "txt", "x", active=False,
                                   config={"config": {"variant": "text_only"}})
    active = store.add_model_version("damage", "fused", "x",
                                     config={"config": {"variant": "guided_diff"}})
    _predict(store, active, {1: (S, .9), 2: (L, .5), 3: (L, .4), 4: (M, .6), 5: (S, .7),
                             7: (M, .55)})
    _predict(store, image, {1: (S, .8), 4: (M, .9), 6: (S, .6)})
    _predict(store, text, {1: (S, .5), 4: (S, .5), 6: (L, .7)})
    store.add_labels([LabelChange(1, "damage", S), LabelChange(4, "damage", S),
                      LabelChange(5, "damage", L)], annotator="import", source="import")
    store.add_labels([LabelChange(5, "damage", M)], annotator="ana")  # a correction
    store.add_labels([LabelChange(2, "damage", L)], annotator="ana")  # agrees: no correction
    store.add_caption("sha1", POSTS[1][0], "capt", "v1", "a collapsed bridge over a river")
    store.add_caption("sha6", POSTS[6][0], "capt", "v1", "river", flag="degenerate: loop")
    yield store
    store.close()


def test_each_queue_holds_its_items_in_priority_order(store: Store) -> None:
    assert _all(store, Queue("all")) == [7, 6, 5, 4, 3, 2, 1]  # newest imported first
    assert _all(store, Queue("unlabelled", "damage")) == [7, 6, 3]
    # predicted and not labelled, least confident first; item 6 has no prediction
    assert _all(store, Queue("needs_review", "damage")) == [3, 7]
    # labelled, predicted otherwise; most confident prediction first
    assert _all(store, Queue("model_disagrees", "damage")) == [5, 4]
    # the newest image_only and text_only versions differ on 4 and 6 (image confidence .9, .6)
    assert _all(store, Queue("modalities_disagree", "damage")) == [4, 6]
    # 5: a human label against the imported one; 2: a human label equal to the prediction
    assert _all(store, Queue("corrected", "damage")) == [5]
    assert _all(store, Queue("predicted", "damage", S)) == [1, 5]
    assert _all(store, Queue("event", value="quake")) == [6, 4, 1]
    assert _all(store, Queue("unlabelled", "informative")) == [7, 6, 5, 4, 3, 2, 1]
    assert _all(store, Queue("needs_review", "informative")) == []  # no model version yet


def test_a_correction_moves_an_item_between_queues_at_once(store: Store) -> None:
    # The trigger-kept label_state follows the journal, undo included.
    store.add_labels([LabelChange(3, "damage", M)], annotator="ana")
    assert _all(store, Queue("needs_review", "damage")) == [7]
    assert _all(store, Queue("corrected", "damage")) == [3, 5]  # differs from prediction L
    store.undo("ana")
    assert _all(store, Queue("needs_review", "damage")) == [3, 7]
    assert _all(store, Queue("corrected", "damage")) == [5]


def test_modalities_queue_is_empty_without_both_versions(project: Project) -> None:
    with project.open_store() as store:
        store.add_model_version("damage", "txt", "x", config={"config": {"variant": "text_only"}})
        assert queue_size(store, Queue("modalities_disagree", "damage")) == 0
        assert _all(store, Queue("modalities_disagree", "damage")) == []


def test_search_matches_text_and_unflagged_captions_case_insensitively(store: Store) -> None:
    assert _all(store, Queue("all"), search="water") == [6, 2]
    assert queue_size(store, Queue("all"), "WATER") == 2
    assert _all(store, Queue("all"), search="river") == [1]  # caption of item 1; 6's is flagged
    assert _all(store, Queue("event", value="quake"), search="river") == [1]
    assert _all(store, Queue("all"), search="100%") == [7]  # wildcards taken literally
    assert _all(store, Queue("all"), search="1_0") == []
    assert _all(store, Queue("needs_review", "damage"), search="cat") == [3]


def test_search_finds_the_posters_alt_text(store: Store) -> None:
    """The poster's description of an image says what the tweet may not."""
    media = store.conn.execute("SELECT media FROM items WHERE id = 6").fetchone()[0]
    store.fill_alt_text(media, "A man wades through brown floodwater to a stranded car")
    assert _all(store, Queue("all"), search="stranded") == [6]
    assert _all(store, Queue("all"), search="STRANDED CAR") == [6]
    assert _all(store, Queue("event", value="flood"), search="stranded") == []  # 6: quake


def test_sorts_by_time_and_by_confidence(store: Store) -> None:
    assert _all(store, Queue("all"), sort="time") == [5, 6, 2, 4, 1, 7, 3]  # undated last
    assert _all(store, Queue("all"), sort="confidence", confidence_task="damage") == \
        [3, 2, 7, 4, 5, 1, 6]  # least confident first, no prediction last
    assert _all(store, Queue("predicted", "damage", S), sort="confidence") == [5, 1]
    assert _all(store, Queue("corrected", "damage"), sort="confidence") == [5]
    with pytest.raises(ValueError, match="sort"):
        queue_page(store, Queue("all"), offset=0, limit=5, sort="size")


def test_pages_are_slices_of_the_whole_order(store: Store, monkeypatch) -> None:
    whole = _all(store, Queue("all"), sort="time")
    pages = [_ids(queue_page(store, Queue("all"), offset=o, limit=3, sort="time"))
             for o in range(0, 9, 3)]
    assert pages == [whole[0:3], whole[3:6], whole[6:9]]
    # Deep pages come from the cached order; a change made since is seen.
    monkeypatch.setattr(review, "DIRECT_ROWS", 0)
    queue = Queue("unlabelled", "damage")
    assert _ids(queue_page(store, queue, offset=1, limit=5)) == [6, 3]
    store.add_labels([LabelChange(6, "damage", S)], annotator="ana")  # this connection
    assert _ids(queue_page(store, queue, offset=1, limit=5)) == [3]
    with Store(store.path) as other:  # another connection (another thread of the app)
        other.add_labels([LabelChange(7, "damage", S)], annotator="bob")
    assert _ids(queue_page(store, queue, offset=0, limit=5)) == [3]


def test_queue_counts_agree_with_queue_sizes(store: Store) -> None:
    counts = queue_counts(store, ("damage", "informative"))
    by_title = {c.title: c.count for c in counts}
    assert by_title["All items"] == 7
    assert by_title["Needs review (damage)"] == 2
    assert by_title["Image vs text disagree (damage)"] == 2
    assert by_title["Predicted: severe damage"] == 2
    assert by_title["Event: quake"] == 3 and by_title["Event: flood"] == 3
    assert by_title["Needs review (informative)"] == 0
    for count in counts:
        assert count.count == queue_size(store, count.queue), count.title


def test_item_detail_shows_text_image_caption_predictions_and_labels(store: Store) -> None:
    detail = item_detail(store, 1)
    assert detail.row.text == POSTS[1][0] and detail.row.image_path == "/img/1.jpg"
    assert detail.row.media_status == "ok" and detail.row.event == "quake"
    assert detail.caption == "a collapsed bridge over a river"
    assert detail.captioner == "capt (prompt v1)"
    damage = {t.task: t for t in detail.tasks}["damage"]
    assert damage.classes == DAMAGE
    assert damage.probabilities == pytest.approx(_probs(S, .9))
    assert damage.predicted == S and damage.model_version == "fused"
    assert (damage.label, damage.label_source, damage.annotator) == (S, "import", "import")
    assert detail.row.predicted["damage"] == (S, pytest.approx(.9))
    assert detail.row.labels == {"damage": S}
    informative = {t.task: t for t in detail.tasks}["informative"]
    assert informative.probabilities == {} and informative.predicted is None
    missing = item_detail(store, 4)
    assert missing.row.media_status == "missing" and missing.row.media_reason == "file not found"
    assert item_detail(store, 6).caption is None  # its only caption is flagged
    assert item_detail(store, 2).row.image_path is None
    with pytest.raises(KeyError):
        item_detail(store, 999)


def test_bad_queues_are_refused_with_a_message(store: Store) -> None:
    with pytest.raises(ValueError, match="needs a task"):
        queue_size(store, Queue("needs_review"))
    with pytest.raises(ValueError, match="unknown queue kind"):
        queue_size(store, Queue("favourites"))


def test_paging_to_the_end_of_100000_items(project: Project) -> None:
    n = 100_000
    with project.open_store() as store:
        conn = store.conn
        conn.execute("BEGIN")
        conn.execute("INSERT INTO sources VALUES ('big', 'csv', 'big', '', '')")
        conn.executemany("INSERT INTO posts (id, source, post_id, text, event, imported_at)"
                         " VALUES (?, 'big', ?, ?, 'e', '')",
                         ((i, str(i), f"post {i}") for i in range(1, n + 1)))
        conn.executemany("INSERT INTO items (id, uid, post, n) VALUES (?, ?, ?, 0)",
                         ((i, f"big:{i}:0", i) for i in range(1, n + 1)))
        version = conn.execute(
            "INSERT INTO model_versions (task, name, path, created_at, active)"
            " VALUES ('damage', 'v', 'x', '', 1)").lastrowid
        conn.executemany(
            "INSERT INTO predictions (item, task, model_version, label, confidence, probs,"
            " created_at) VALUES (?, 'damage', ?, ?, ?, ?, '')",
            ((i, version, S, (i * 7919 % n) / n, json.dumps({S: 1.0}))
             for i in range(1, n + 1)))
        conn.execute("INSERT INTO label_actions (id, annotator, source, kind, created_at)"
                     " VALUES (1, 'import', 'import', 'set', '')")
        conn.executemany("INSERT INTO labels (action, item, task, label, annotator, source,"
                         " created_at) VALUES (1, ?, 'damage', ?, 'import', 'import', '')",
                         ((i, S) for i in range(1, n + 1, 4)))
        conn.execute("COMMIT")
        queue = Queue("needs_review", "damage")
        size = queue_size(store, queue)
        assert size == n - n // 4
        seen, offset = [], 0
        while True:
            page = queue_page(store, queue, offset=offset, limit=1000)
            if not page:
                break
            seen += _ids(page)
            offset += len(page)
        assert len(seen) == size and len(set(seen)) == size
        assert all(i % 4 != 1 for i in seen)  # the labelled ones are not there
        confidence = [(i * 7919 % n) / n for i in seen]
        assert confidence == sorted(confidence)
        last = queue_page(store, Queue("all"), offset=n - 10, limit=50, sort="time")
        assert len(last) == 10
