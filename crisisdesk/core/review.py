"""Review queues and item views: what the app's item list and detail panel show.

A queue is an ordered view of items for review (glossary): all items, unlabelled, needs
review (lowest confidence first), model disagrees with the label, image and text models
disagree, corrected by a human, by predicted class, by event. Every function here is a
store query; the app runs them off the UI thread, a page at a time.

API contract (the GUI is written against it):

* ``queue_counts(store, tasks)`` -> the queues to list, with their counts;
* ``queue_size(store, queue, search)`` / ``queue_page(store, queue, offset=, limit=,
  search=, sort=)`` -> the rows of the item list, a page at a time;
* ``item_detail(store, item_id)`` -> everything the detail panel shows for one item.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crisisdesk.core.store import Store

#: Queue kinds, in the order the app lists them. Task-bound kinds need ``Queue.task``.
QUEUE_KINDS = ("all", "unlabelled", "needs_review", "model_disagrees",
               "modalities_disagree", "corrected", "predicted", "event")
#: Orders of the item list. "priority" is the queue's own order (e.g. least confident
#: first for needs_review, newest first otherwise).
SORTS = ("priority", "time", "confidence")


@dataclass(frozen=True)
class Queue:
    """Which items a queue holds: ``kind``, the ``task`` it is about (for task-bound
    kinds), and ``value``: the class for "predicted", the event name for "event"."""

    kind: str
    task: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class QueueCount:
    """A queue as the queue panel lists it."""

    queue: Queue
    title: str  # e.g. "Needs review (damage)", "Predicted: severe_damage", "Event: harvey"
    count: int


@dataclass(frozen=True)
class ItemRow:
    """One line of the item list."""

    id: int
    uid: str
    text: str
    event: str | None
    created_at: str | None
    image_path: str | None  # None for a text-only item
    media_status: str | None  # "ok", "missing", "unreadable" or None
    #: task -> (predicted class, calibrated confidence) from the task's active predictions
    predicted: dict[str, tuple[str, float]] = field(default_factory=dict)
    #: task -> current label (the journal's latest non-empty entry)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskView:
    """One task's prediction and label for an item (the detail panel's task rows)."""

    task: str
    classes: tuple[str, ...]  # the label scheme's classes, in order
    probabilities: dict[str, float]  # class -> probability; {} when no prediction yet
    predicted: str | None
    model_version: str | None  # the version's name ("bundled:damage", "zero-shot:...")
    label: str | None
    label_source: str | None  # "human", "import", "model"
    annotator: str | None


@dataclass(frozen=True)
class ItemDetail:
    """Everything the detail panel shows for one item."""

    row: ItemRow
    author: str | None
    url: str | None
    caption: str | None
    captioner: str | None  # "<captioner> (prompt <version>)" of the caption shown
    tasks: tuple[TaskView, ...]


def queue_counts(store: Store, tasks: tuple[str, ...]) -> list[QueueCount]:
    """Every queue worth listing, with its count (queues of each task in ``tasks``)."""
    raise NotImplementedError


def queue_size(store: Store, queue: Queue, search: str = "") -> int:
    """How many items ``queue`` holds whose text or caption contains ``search``."""
    raise NotImplementedError


def queue_page(store: Store, queue: Queue, *, offset: int, limit: int, search: str = "",
               sort: str = "priority") -> list[ItemRow]:
    """Rows ``offset`` .. ``offset + limit`` of ``queue`` in ``sort`` order."""
    raise NotImplementedError


def item_detail(store: Store, item_id: int) -> ItemDetail:
    """The detail panel's view of one item (KeyError when there is no such item)."""
    raise NotImplementedError
