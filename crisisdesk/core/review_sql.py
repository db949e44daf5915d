"""The SQL of the review queues (crisisdesk/core/review.py): which table a queue reads,
its joins and conditions, its orders, and the search of captions and alt texts.

The queue definitions are written in review.py's docstring; this module turns them into
queries that walk an index where they can (see the migration ``_v4_review_queues``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crisisdesk.core.store import Store
from crisisdesk.core.store.captions import register_text_key
from crisisdesk.core.store.folding import fold

QUEUE_KINDS = ("all", "unlabelled", "needs_review", "model_disagrees",
               "modalities_disagree", "corrected", "predicted", "event")
TASK_KINDS = ("unlabelled", "needs_review", "model_disagrees", "modalities_disagree",
              "corrected", "predicted")


@dataclass
class Plan:
    """A queue as SQL pieces: the table it is read from, joins and conditions (with
    their parameters), the priority order, and its own prediction's confidence column.

    Queues over one model version's predictions read the prediction index itself
    (``predictions q``), so paging and counting walk one index with no item look-up.
    """

    base: str = "items i"
    id: str = "i.id"  # the item id column of ``base``
    joins: list[str] = field(default_factory=list)
    join_params: list[Any] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    where_params: list[Any] = field(default_factory=list)
    priority: str = "i.id DESC"
    confidence: str | None = None  # "q.confidence" when the queue reads its prediction
    nullable: bool = False  # whether that prediction may be absent (a LEFT JOIN)
    posts: bool = False  # whether the post must be joined (event, search, time sort)
    empty: bool = False  # the queue cannot hold anything (no model version yet)

    def join(self, sql: str, *params: Any) -> None:
        self.joins.append(sql)
        self.join_params.extend(params)

    def filter(self, sql: str, *params: Any) -> None:
        self.where.append(sql)
        self.where_params.extend(params)

    def over_predictions(self, alias: str, task: str, version: int) -> None:
        """Read the queue from one version's predictions of ``task``."""
        self.base, self.id = f"predictions {alias}", f"{alias}.item"
        self.filter(f"{alias}.task = ? AND {alias}.model_version = ?", task, version)


def active_versions(store: Store) -> dict[str, int]:
    """Task -> id of its active model version (the predictions the queues show)."""
    tasks = [r[0] for r in store.conn.execute("SELECT DISTINCT task FROM model_versions")]
    out = {}
    for task in tasks:
        version = store.active_model_version(task)
        if version is not None:
            out[task] = int(version["id"])
    return out


#: A version's variant as its stored config says (NULL for a damaged record).
_VARIANT = "CASE WHEN json_valid(config) THEN json_extract(config, '$.config.variant') END"
#: Each task's newest image_only and newest text_only version (task, variant, id): the
#: pair the "image vs text disagree" queue compares, once a task has both. One query for
#: modality_versions and for the versions review.queue_stamp watches.
NEWEST_MODALITY_VERSIONS = (
    f"SELECT task, {_VARIANT} AS variant, MAX(id) AS id FROM model_versions"
    f" WHERE {_VARIANT} IN ('image_only', 'text_only') GROUP BY task, {_VARIANT}")


def modality_versions(store: Store, task: str) -> tuple[int, int] | None:
    """(newest image_only version, newest text_only version) of ``task``, or None."""
    newest = dict(store.conn.execute(
        f"SELECT variant, id FROM ({NEWEST_MODALITY_VERSIONS}) WHERE task = ?", [task]))
    if len(newest) < 2:
        return None
    return int(newest["image_only"]), int(newest["text_only"])


def plan_queue(store: Store, queue: Any, actives: dict[str, int]) -> Plan:
    """The SQL pieces of ``queue`` (ValueError for an unknown or incomplete queue)."""
    kind, task = queue.kind, queue.task
    if kind not in QUEUE_KINDS:
        raise ValueError(f"unknown queue kind {kind!r}; one of {', '.join(QUEUE_KINDS)}")
    if kind in TASK_KINDS and not task:
        raise ValueError(f"the {kind} queue needs a task")
    if kind in ("predicted", "event") and queue.value is None:
        raise ValueError(f"the {kind} queue needs a value (the class or the event)")
    plan = Plan()
    version = actives.get(task) if task else None
    if kind in ("needs_review", "model_disagrees", "predicted"):
        if version is None:
            plan.empty = True
            return plan
        plan.over_predictions("q", task, version)  # type: ignore[arg-type]
        plan.confidence = "q.confidence"
    if kind == "unlabelled":
        plan.join("LEFT JOIN label_state s ON s.item = i.id AND s.task = ?", task)
        plan.filter("s.label IS NULL")
    elif kind == "needs_review":
        plan.join("LEFT JOIN label_state s ON s.item = q.item AND s.task = q.task")
        plan.filter("s.label IS NULL")
        plan.priority = "q.confidence ASC, q.item ASC"
    elif kind == "model_disagrees":
        plan.join("JOIN label_state s ON s.item = q.item AND s.task = q.task")
        plan.filter("s.label IS NOT NULL AND s.label != q.label")
        plan.priority = "q.confidence DESC, q.item DESC"
    elif kind == "predicted":
        plan.filter("q.label = ?", queue.value)
        plan.priority = "q.confidence DESC, q.item DESC"
    elif kind == "modalities_disagree":
        pair = modality_versions(store, task)  # type: ignore[arg-type]
        if pair is None:
            plan.empty = True
            return plan
        plan.over_predictions("qi", task, pair[0])  # type: ignore[arg-type]
        plan.join("JOIN predictions qt ON qt.item = qi.item AND qt.task = qi.task"
                  " AND qt.model_version = ?", pair[1])
        plan.filter("qi.label != qt.label")
        plan.priority = "qi.confidence DESC, qi.item DESC"  # the index order: no sort
    elif kind == "corrected":
        # Read from the human rows of label_state (an index range), not every item.
        plan.base, plan.id = "label_state s", "s.item"
        plan.join("LEFT JOIN predictions q ON q.item = s.item AND q.task = s.task"
                  " AND q.model_version = ?", version)
        plan.confidence, plan.nullable = "q.confidence", True
        plan.filter("s.task = ? AND s.source = 'human'", task)
        plan.filter(
            "s.label IS NOT NULL AND ("
            "(s.import_label IS NOT NULL AND s.import_label != s.label) OR"
            " (q.label IS NOT NULL AND q.label != s.label))")
        plan.priority = "s.journal_id DESC"
    elif kind == "event":
        plan.posts = True
        plan.filter("p.event = ?", queue.value)
    return plan


def _like(search: str) -> str:
    """A LIKE pattern matching the folded ``search`` anywhere in a folded text (the
    stored ``*_folded`` columns), its wildcards taken literally."""
    folded = fold(search) or ""
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _described_hits(store: Store, search: str) -> bool:
    """Fill the connection's temp table of items whose (unflagged) caption or whose
    image's alt text (the poster's own description) holds ``search``, both folded
    (crisisdesk/core/store/folding.py); False when none
    does. Matching captions first keeps the hash of the tweet text (the caption's key) to
    the few candidate items."""
    register_text_key(store.conn)
    store.conn.execute("CREATE TEMP TABLE IF NOT EXISTS review_hits (id INTEGER PRIMARY KEY)")
    store.conn.execute("DELETE FROM temp.review_hits")
    pattern = _like(search)
    # CROSS JOIN keeps SQLite's join order as written: left to choose, it scanned every
    # item and hashed every tweet (0.3 s at 100,000 items) to find a few captions.
    store.conn.execute(
        "INSERT OR IGNORE INTO temp.review_hits SELECT i.id FROM captions c"
        " CROSS JOIN media m ON m.sha256 = c.image_sha256"
        " CROSS JOIN items i ON i.media = m.id CROSS JOIN posts p ON p.id = i.post"
        " WHERE c.flag IS NULL AND c.caption_folded LIKE ? ESCAPE '\\'"
        " AND c.text_sha256 = text_key(p.text)", [pattern])
    store.conn.execute(
        "INSERT OR IGNORE INTO temp.review_hits SELECT i.id FROM media m"
        " CROSS JOIN items i ON i.media = m.id WHERE m.alt_text_folded LIKE ? ESCAPE '\\'",
        [pattern])
    return store.conn.execute("SELECT 1 FROM temp.review_hits LIMIT 1").fetchone() is not None


def queue_sql(store: Store, plan: Plan, search: str) -> tuple[str, list[Any]]:
    """``FROM ... WHERE ...`` of a planned queue, with the search applied (a substring
    of the folded post text, caption or alt text)."""
    joins, where = list(plan.joins), list(plan.where)
    params = [*plan.join_params, *plan.where_params]
    search = search.strip()
    if plan.posts or search:
        joins.insert(0, "JOIN posts p ON p.id = i.post")
        if plan.base != "items i":
            joins.insert(0, f"JOIN items i ON i.id = {plan.id}")
    if search:
        if _described_hits(store, search):
            where.append("(p.text_folded LIKE ? ESCAPE '\\' OR i.id IN (SELECT id FROM"
                         " temp.review_hits))")
        else:
            where.append("p.text_folded LIKE ? ESCAPE '\\'")
        params.append(_like(search))
    sql = " ".join([f"FROM {plan.base}", *joins])
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql, params


def order_by(plan: Plan, queue: Any, sort: str, actives: dict[str, int],
           confidence_task: str | None) -> str:
    """The ORDER BY of a queue in ``sort`` order (joins the prediction it sorts by)."""
    if sort == "time":
        plan.posts = True
        return "p.created_at DESC, p.id DESC, i.n ASC"
    if sort == "priority":
        return plan.priority.replace("i.id", plan.id)
    if plan.confidence is None:
        task = queue.task or confidence_task or next(iter(sorted(actives)), None)
        if task not in actives:
            return f"{plan.id} DESC"
        plan.join(f"LEFT JOIN predictions c ON c.item = {plan.id} AND c.task = ?"
                  " AND c.model_version = ?", task, actives[task])
        plan.confidence, plan.nullable = "c.confidence", True
    if plan.nullable:  # items without a prediction last
        return f"{plan.confidence} IS NULL, {plan.confidence} ASC, {plan.id} ASC"
    return f"{plan.confidence} ASC, {plan.id} ASC"
