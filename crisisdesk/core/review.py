"""Review queues and item views: what the app's item list and detail panel show.

A queue is an ordered view of items for review (glossary): all items, unlabelled, needs
review (lowest confidence first), model disagrees with the label, image and text models
disagree, corrected by a human, by predicted class, by event. Every function here is a
store query; the app runs them off the UI thread, a page at a time.

API contract (the GUI is written against it):

* ``queue_counts(store, tasks)`` -> the queues to list, with their counts (every task
  of the project's, its own included, when ``tasks`` is None);
* ``queue_size(store, queue, search)`` / ``queue_page(store, queue, offset=, limit=,
  search=, sort=)`` -> the rows of the item list, a page at a time;
* ``item_detail(store, item_id)`` -> everything the detail panel shows for one item;
* ``queue_stamp(store)`` -> what pages read together must share (see its docstring);
  ``list_stamp(store, queue, sort)``: the part of it that pages of one queue depend on.

What each queue holds ("prediction" = the one from the task's *active* model version,
"label" = the item's current label for the task), and its "priority" order:

* ``all``: every item; newest imported first.
* ``unlabelled``: no current label for the task; newest imported first.
* ``needs_review``: a prediction and no label yet (what a person has not looked at);
  least confident first (the calibrated top-class probability the prediction stored).
* ``model_disagrees``: a label and a prediction of another class; most confident
  prediction first (the likeliest label mistakes, or the model's worst errors).
* ``modalities_disagree``: the task's newest ``image_only`` and newest ``text_only``
  versions (active or not) both predicted the item and differ; most confident image
  prediction first. Empty while the task has no such pair of versions.
* ``corrected``: the label was given by a person and differs from the item's imported
  label or from the prediction; latest correction first.
* ``predicted``: the prediction is class ``Queue.value``; most confident first.
* ``event``: posts of event ``Queue.value``; newest imported first.

Sorts: "priority" (above), "time" (post time, newest first, posts without one last) and
"confidence" (least confident first, items without a prediction last; the queue's task,
or ``confidence_task`` for queues without one). Search is a substring of the post text,
the item's captions or its image's alt text, all folded like the typed search
(crisisdesk/core/store/folding.py): accents and case do not count ("huracan" finds
"HURACÁN", "strasse" "Straße", "istanbul" "İstanbul"), while punctuation, emoji and
``%``, ``_`` and ``\\`` are matched as typed.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any
from weakref import WeakKeyDictionary

from crisisdesk.core.fusion.versions import why_no_prediction
from crisisdesk.core.review_sql import (  # QUEUE_KINDS, TASK_KINDS: part of this API
    NEWEST_MODALITY_VERSIONS,
    QUEUE_KINDS,
    TASK_KINDS,
    active_versions,
    modality_versions,
    order_by,
    plan_queue,
    queue_sql,
)
from crisisdesk.core.review_types import (  # part of this API
    ItemDetail,
    ItemRow,
    Queue,
    QueueCount,
    TaskView,
)
from crisisdesk.core.schemes import display_name
from crisisdesk.core.store import Store
from crisisdesk.core.store.models import PREDICTIONS_CHANGED

#: Orders of the item list. "priority" is the queue's own order (e.g. least confident
#: first for needs_review, newest first otherwise).
SORTS = ("priority", "time", "confidence")
#: Pages within the first DIRECT_ROWS rows are read with LIMIT/OFFSET; deeper ones from
#: a cached id order (see queue_page). CACHED_ORDERS orders are kept per connection.
DIRECT_ROWS = 2000
CACHED_ORDERS = 8
CACHE_KB = 64 * 1024
#: Item ids per query when reading rows (under SQLite's host-parameter limit).
ROWS_PER_QUERY = 500
#: Store -> {(queue, search, sort, confidence_task): (change token, ids in order)}; the
#: ids as 8-byte integers: the item list keeps its connection, and with it up to
#: CACHED_ORDERS orders, for as long as its window is open (300,000 ids: 2.4 MB, not 11)
_ORDERS: WeakKeyDictionary[Store, dict[tuple, tuple[tuple[int, int], array[int]]]] = \
    WeakKeyDictionary()
__all__ = ["QUEUE_KINDS", "SORTS", "TASK_KINDS", "ItemDetail", "ItemRow", "Queue",
           "QueueCount", "TaskView", "active_versions", "item_detail", "modality_versions",
           "list_stamp", "queue_counts", "queue_ids", "queue_page", "queue_size",
           "queue_stamp", "reads_predictions"]
TITLES = {"unlabelled": "Unlabelled", "needs_review": "Needs review",
          "model_disagrees": "Model disagrees with label",
          "modalities_disagree": "Image vs text disagree", "corrected": "Corrected"}


def _tune(store: Store) -> None:
    """A page cache that holds a 100,000-item project's queue indexes (SQLite's default
    2 MB makes every join probe a read); once per connection."""
    if not getattr(store, "_review_tuned", False):
        store.conn.execute(f"PRAGMA cache_size = -{CACHE_KB}")
        store._review_tuned = True  # type: ignore[attr-defined]


def _token(store: Store) -> tuple[int, int]:
    """Changes since: ``data_version`` moves on other connections' commits,
    ``total_changes`` on this connection's own writes."""
    return (store.conn.execute("PRAGMA data_version").fetchone()[0], store.conn.total_changes)


#: The versions whose predictions the queues read: each task's active one, and its newest
#: image_only and text_only ones (modality_versions' pair, of "image vs text disagree").
_READ_VERSIONS = ("SELECT id FROM model_versions WHERE active = 1"
                  f" UNION SELECT id FROM ({NEWEST_MODALITY_VERSIONS})")


def queue_stamp(store: Store) -> tuple[int, int, str]:
    """(newest label journal row, newest item, the versions the queues read with how
    often their predictions were written, "id@count,..."): pages of a queue read under
    the same stamp line up, no label given, no post imported, no version switched and
    no prediction written in between. The item list reads it with each page to notice
    labels written by another window or process, whose change would shift the offsets
    of the pages it has not read yet, a version another process made active
    (``crisisdesk train``, ``versions --activate``), and predictions written by a
    predict job, here or in another process: a chunk reorders the queues over
    predictions, their size unchanged when it redoes stale ones. Cheap at any size:
    a few rows of ``model_versions`` and ``meta`` (store.models.PREDICTIONS_CHANGED)."""
    row = store.conn.execute(
        "SELECT (SELECT MAX(id) FROM labels), (SELECT MAX(id) FROM items),"
        " (SELECT group_concat(id || '@' || COALESCE((SELECT value FROM meta"
        f" WHERE key = ? || id), '0')) FROM ({_READ_VERSIONS} ORDER BY id))",
        [PREDICTIONS_CHANGED]).fetchone()
    return int(row[0] or 0), int(row[1] or 0), str(row[2] or "")


def reads_predictions(queue: Queue, sort: str) -> bool:
    """Whether ``queue`` in ``sort`` order depends on predictions (which items, in which
    order): what a predict run moves under a list, where the other queues stay put."""
    return sort == "confidence" or queue.kind in (
        "needs_review", "model_disagrees", "modalities_disagree", "corrected", "predicted")


def list_stamp(store: Store, queue: Queue, sort: str) -> tuple[int, int, str]:
    """What pages of ``queue`` in ``sort`` order read together must share: queue_stamp,
    less the predictions written where the queue does not depend on them (else a
    predict run made a list of "Unlabelled" read all its pages again at each chunk)."""
    stamp = queue_stamp(store)
    if reads_predictions(queue, sort):
        return stamp
    row = store.conn.execute("SELECT group_concat(id) FROM (SELECT id FROM model_versions"
                             " WHERE active = 1 ORDER BY id)").fetchone()
    return stamp[0], stamp[1], str(row[0] or "")


def queue_size(store: Store, queue: Queue, search: str = "") -> int:
    """How many items ``queue`` holds whose text or caption contains ``search``."""
    _tune(store)
    plan = plan_queue(store, queue, active_versions(store))
    if plan.empty:
        return 0
    sql, params = queue_sql(store, plan, search)
    return int(store.conn.execute(f"SELECT COUNT(*) {sql}", params).fetchone()[0])


def queue_page(store: Store, queue: Queue, *, offset: int, limit: int, search: str = "",
               sort: str = "priority", confidence_task: str | None = None) -> list[ItemRow]:
    """Rows ``offset`` .. ``offset + limit`` of ``queue`` in ``sort`` order.

    ``confidence_task`` names the task whose confidence the "confidence" sort uses for a
    queue without a task (default: the first task with an active model version).

    The first pages are read with LIMIT/OFFSET. Deeper pages come from the queue's whole
    id order, read once and kept for this connection until the project changes: SQLite
    walks every skipped row of an OFFSET, so scrolling to the end of 100,000 items page by
    page would otherwise cost a growing query per page.
    """
    actives = active_versions(store)
    return _rows(store, _ids(store, queue, offset, limit, search, sort, confidence_task,
                             actives), actives)


def queue_ids(store: Store, queue: Queue, *, offset: int, limit: int, search: str = "",
              sort: str = "priority", confidence_task: str | None = None) -> list[int]:
    """The ids of :func:`queue_page`'s rows, alone: what a label given to a selection
    needs (the rows of 100,000 selected items took 3.5 s and ~100 MB to build)."""
    return _ids(store, queue, offset, limit, search, sort, confidence_task,
                active_versions(store))


def _ids(store: Store, queue: Queue, offset: int, limit: int, search: str, sort: str,
         confidence_task: str | None, actives: dict[str, int]) -> list[int]:
    """queue_page's ids, given the active model versions ``actives``."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    if offset < 0 or limit < 0:
        raise ValueError("offset and limit must be >= 0")
    _tune(store)
    if limit == 0:
        return []
    key = (queue, search.strip(), sort, confidence_task)
    cache = _ORDERS.setdefault(store, {})
    before = _token(store)
    cached = cache.get(key)
    if cached is not None and cached[0] == before:
        return list(cached[1][offset:offset + limit])
    plan = plan_queue(store, queue, actives)
    if plan.empty:
        return []
    order = order_by(plan, queue, sort, actives, confidence_task)  # before _sql: it may join
    sql, params = queue_sql(store, plan, search)
    sql = f"SELECT {plan.id} {sql} ORDER BY {order}"
    if offset + limit <= DIRECT_ROWS:
        return [r[0] for r in store.conn.execute(f"{sql} LIMIT ? OFFSET ?",
                                                 [*params, limit, offset])]
    # The token is read before the order: a commit landing while the order is read
    # (100,000 rows take a while) then makes the next page read it again, where a token
    # read after it kept the order from before that commit as current.
    token = _token(store)
    ids = array("q", (r[0] for r in store.conn.execute(sql, params)))
    if len(cache) >= CACHED_ORDERS:
        cache.pop(next(iter(cache)))
    cache[key] = (token, ids)
    return list(ids[offset:offset + limit])


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _rows(store: Store, ids: list[int], actives: dict[str, int]) -> list[ItemRow]:
    """The item-list rows of ``ids`` (a page, or a whole selection), in that order."""
    if not ids:
        return []
    predicted: dict[int, dict[str, tuple[str, float]]] = {i: {} for i in ids}
    labels: dict[int, dict[str, str]] = {i: {} for i in ids}
    versions = list(actives.values())
    by_id = {}
    # In chunks: a selection resolved as one page can hold more ids than SQLite takes
    # host parameters in one statement (999 before 3.32, 32,766 since).
    for start in range(0, len(ids), ROWS_PER_QUERY):
        chunk = ids[start:start + ROWS_PER_QUERY]
        if versions:
            # "+model_version": looked up by item (the primary key). Left to choose,
            # SQLite walked the model_version index, every prediction of the active
            # versions for each page (70 ms a page, 90 an item shown, at 200,000 items).
            for row in store.conn.execute(
                    "SELECT item, task, label, confidence FROM predictions"
                    f" WHERE +model_version IN ({_marks(versions)})"
                    f" AND item IN ({_marks(chunk)})", [*versions, *chunk]):
                predicted[row["item"]][row["task"]] = (row["label"],
                                                       float(row["confidence"]))
        for row in store.conn.execute(
                "SELECT item, task, label FROM label_state"
                f" WHERE item IN ({_marks(chunk)}) AND label IS NOT NULL", chunk):
            labels[row["item"]][row["task"]] = row["label"]
        for row in store.conn.execute(
                "SELECT i.id, i.uid, p.text, p.event, p.created_at,"
                " COALESCE(m.path, m.declared_path) AS image, m.status, p.sensitive, m.reason"
                " FROM items i JOIN posts p ON p.id = i.post"
                " LEFT JOIN media m ON m.id = i.media"
                f" WHERE i.id IN ({_marks(chunk)})", chunk):
            by_id[row["id"]] = ItemRow(
                row["id"], row["uid"], row["text"] or "", row["event"], row["created_at"],
                row["image"], row["status"], predicted[row["id"]], labels[row["id"]],
                None if row["sensitive"] is None else bool(row["sensitive"]),
                row["reason"] if row["status"] != "ok" else None)
    return [by_id[i] for i in ids if i in by_id]


def queue_counts(store: Store, tasks: Sequence[str] | None = None) -> list[QueueCount]:
    """Every queue worth listing, with its count (queues of each task in ``tasks``;
    None: every task of the project, built-in and its own).

    Each task lists its five review queues and one "predicted" queue per class of its
    label scheme (count 0 where nothing is predicted yet); then one queue per event.
    The counts are read in one snapshot of the project.
    """
    _tune(store)
    # One read transaction: unlabelled and needs review are differences of counts read
    # by separate statements, and a watch or a colleague committing between them (a
    # whole panel takes seconds at 300,000 items) showed mixed states ("Unlabelled: -4").
    if store.conn.in_transaction:  # the caller's transaction is one state already
        return _counts(store, tasks)
    with store.snapshot():
        return _counts(store, tasks)


def _counts(store: Store, tasks: Sequence[str] | None) -> list[QueueCount]:
    """queue_counts' work, inside one transaction."""
    schemes = store.schemes()
    actives = active_versions(store)
    items = queue_size(store, Queue("all"))
    tasks = list(schemes) if tasks is None else tasks
    out = [QueueCount(Queue("all"), "All items", items)]
    for task in tasks:
        counts = _task_counts(store, task, actives.get(task), items)
        for kind, title in TITLES.items():
            queue = Queue(kind, task)
            count = counts[kind] if kind in counts else queue_size(store, queue)
            out.append(QueueCount(queue, f"{title} ({task})", count))
        by_class = _predicted_counts(store, task)
        classes = list(schemes[task].classes) if task in schemes else sorted(by_class)
        for cls in classes:
            out.append(QueueCount(Queue("predicted", task, cls),
                                  f"Predicted: {display_name(cls)}", by_class.get(cls, 0)))
    # The counts `crisisdesk info` gives too; listed by name (posts without an event
    # have no queue).
    events = store.event_counts()
    for event in sorted(e for e in events if e is not None):
        out.append(QueueCount(Queue("event", value=event),
                              f"Event: {display_name(event)}", events[event]))
    return out


def _task_counts(store: Store, task: str, version: int | None, items: int
                 ) -> dict[str, int]:
    """Unlabelled, needs-review and model-disagrees counts of a task (the same sets as
    queue_size's, counted together)."""
    labelled = store.conn.execute("SELECT COUNT(*) FROM label_state WHERE task = ?"
                                  " AND label IS NOT NULL", [task]).fetchone()[0]
    counts = {"unlabelled": items - int(labelled), "needs_review": 0, "model_disagrees": 0}
    if version is not None:
        # Needs review: the version's predictions (an index count) less those of labelled
        # items. The labelled ones are found from the task's labels (CROSS JOIN keeps that
        # order): joined the other way, every prediction probed its label (200 ms a
        # task at 200,000 items, after every label given).
        predicted = store.conn.execute(
            "SELECT COUNT(*) FROM predictions WHERE model_version = ? AND task = ?",
            [version, task]).fetchone()[0]
        row = store.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(s.label != q.label), 0) FROM label_state s"
            " CROSS JOIN predictions q ON q.item = s.item AND q.task = s.task"
            " AND q.model_version = ? WHERE s.task = ? AND s.label IS NOT NULL",
            [version, task]).fetchone()
        counts["needs_review"] = int(predicted) - int(row[0])
        counts["model_disagrees"] = int(row[1])
    return counts


def _predicted_counts(store: Store, task: str) -> dict[str, int]:
    """Class -> items the active version of ``task`` predicts it for (one index scan)."""
    version = store.active_model_version(task)
    if version is None:
        return {}
    return {r[0]: int(r[1]) for r in store.conn.execute(
        "SELECT label, COUNT(*) FROM predictions WHERE model_version = ? AND task = ?"
        " GROUP BY label", [version["id"], task])}


def item_detail(store: Store, item_id: int) -> ItemDetail:
    """The detail panel's view of one item (KeyError when there is no such item)."""
    actives = active_versions(store)
    rows = _rows(store, [item_id], actives)
    if not rows:
        raise KeyError(f"no item {item_id} in this project")
    post = store.conn.execute(
        "SELECT p.author, p.url, m.alt_text FROM items i"
        " JOIN posts p ON p.id = i.post"
        " LEFT JOIN media m ON m.id = i.media WHERE i.id = ?", [item_id]).fetchone()
    captions = store.item_captions(item_id)
    caption = next((c for c in captions if c.flag is None), None)
    schemes = store.schemes()
    tasks = list(schemes) + sorted(set(actives) - set(schemes))
    views = []
    for task in tasks:
        version = store.model_version(actives[task]) if task in actives else None
        probs: dict[str, float] = {}
        if version is not None:
            probs = store.predictions_of(version["id"], [item_id]).get(item_id, {})
        classes = schemes[task].classes if task in schemes else \
            tuple((version or {}).get("config", {}).get("classes") or probs)
        label = store.current_label(item_id, task)
        views.append(TaskView(
            task=task, classes=tuple(classes), probabilities=probs,
            predicted=max(probs, key=probs.__getitem__) if probs else None,
            model_version=version["name"] if version and probs else None,
            label=label.label if label else None,
            label_source=label.source if label else None,
            annotator=label.annotator if label else None,
            no_prediction=None if probs else why_no_prediction(store, task, version,
                                                               item_id)))
    return ItemDetail(
        row=rows[0], author=post["author"], url=post["url"],
        caption=caption.caption if caption else None,
        captioner=f"{caption.captioner} (prompt {caption.prompt_version})" if caption
        else None,
        tasks=tuple(views),
        caption_model=caption.model if caption else None, alt_text=post["alt_text"],
        caption_flag=captions[0].flag if captions and caption is None else None)
