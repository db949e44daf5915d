"""The shapes the review queries return (re-exported by ``crisisdesk.core.review``):
which items a queue holds, a queue as the panel lists it, a row of the item list and
what the detail panel shows of one item. Kept apart so review.py holds the queries."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    # e.g. "Needs review (damage)", "Predicted: severe damage", "Event: hurricane harvey"
    # (names shown with spaces for underscores; the queue keeps the stored names)
    title: str
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
    #: the post was marked sensitive by its poster or platform (None: the source does not
    #: say); the app blurs its image until the analyst asks to see it
    sensitive: bool | None = None
    #: why the image is not shown when media_status is "missing" / "unreadable" (as
    #: imported), read with the row's page: the list's tooltip says it
    media_reason: str | None = None


@dataclass(frozen=True)
class TaskView:
    """One task's prediction and label for an item (the detail panel's task rows)."""

    task: str
    classes: tuple[str, ...]  # the label scheme's classes, in order
    probabilities: dict[str, float]  # class -> probability; {} when no prediction yet
    predicted: str | None
    model_version: str | None  # the version's name ("bundled-minilm-damage", ...)
    label: str | None
    label_source: str | None  # "human", "import", "model"
    annotator: str | None
    #: why there is no prediction ("no model version yet", "... reads images only and
    #: this item has no usable image ..."); None when there is one
    no_prediction: str | None = None


@dataclass(frozen=True)
class ItemDetail:
    """Everything the detail panel shows for one item (why its image is not shown is
    ``row.media_reason``, read with the row)."""

    row: ItemRow
    author: str | None
    url: str | None
    caption: str | None
    captioner: str | None  # "<captioner> (prompt <version>)" of the caption shown
    tasks: tuple[TaskView, ...]
    #: the model that wrote the caption shown ("llava-1.5-7b", "qwen2-vl via http://...")
    caption_model: str | None = None
    #: the poster's own description of the image (alt text), where the source had one
    alt_text: str | None = None
    #: why the newest caption is not used, when every caption of the item was flagged
    #: ("degenerate: ..."): captioning again with the same captioner gives no other
    caption_flag: str | None = None
