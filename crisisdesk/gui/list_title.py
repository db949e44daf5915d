"""What the line above the item list and the empty list say: the queue, its count, the
search and the order; or why the list is empty and what to do."""

from __future__ import annotations

from crisisdesk.core.review import Queue
from crisisdesk.core.words import plural
from crisisdesk.gui.item_model import ItemModel


def list_title(model: ItemModel, queue_title: str) -> str:
    """"Needs review (damage): 84 items matching “flood” · by damage confidence"."""
    found = f" matching “{model.search}”" if model.search else ""
    by = f" · by {model.confidence_task} confidence" \
        if model.confidence_task and model.sort == "confidence" else ""
    return f"{queue_title}: {plural(model.total, 'item')}{found}{by}"


def empty_list_text(model: ItemModel, queue_title: str) -> str:
    """What the empty list says: why it is empty and what to do (read once the query's
    answer is in, so never while it still runs)."""
    if model.search:
        return f"No item matches “{model.search}”.\nClear the search to see them all."
    if model.queue == Queue("all"):
        return "This project has no posts yet.\nImport some: File › Import… (Ctrl+I)."
    return f"Nothing in “{queue_title}” now."
