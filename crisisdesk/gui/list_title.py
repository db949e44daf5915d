"""What the line above the item list and the empty list say: the queue, its count, the
search and the order; or why the list is empty and what to do."""

from __future__ import annotations

from crisisdesk.core.review import Queue
from crisisdesk.core.words import plural
from crisisdesk.gui.item_model import ItemModel


def list_title(model: ItemModel, queue_title: str, queue_count: int | None = None) -> str:
    """"Needs review (damage): 84 items matching “flood” · by damage confidence".

    ``queue_count``: the queue panel's count of the queue now. Items labelled out of the
    queue stay listed until a refresh, so the list counts more than the panel: the
    title says how many, else it contradicts the panel ("2,954" beside "2,952")."""
    found = f" matching “{model.search}”" if model.search else ""
    by = f" · by {model.confidence_task} confidence" \
        if model.confidence_task and model.sort == "confidence" else ""
    # Not with a search: the panel counts the whole queue, the list what matches.
    gone = model.total - queue_count if (queue_count is not None and not model.search
                                         and model.labelled_since_read) else 0
    kept = f" ({gone:,} labelled since opened, listed until F5)" if gone > 0 else ""
    return f"{queue_title}: {plural(model.total, 'item')}{kept}{found}{by}"


def empty_list_text(model: ItemModel, queue_title: str) -> str:
    """What the empty list says: why it is empty and what to do (read once the query's
    answer is in, so never while it still runs)."""
    if model.search:
        return f"No item matches “{model.search}”.\nClear the search to see them all."
    if model.queue == Queue("all"):
        return "This project has no posts yet.\nImport some: File › Import… (Ctrl+I)."
    return f"Nothing in “{queue_title}” now."
