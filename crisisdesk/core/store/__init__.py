"""The project store: the one place that knows the database schema and speaks SQL.

Everything else calls the typed methods of :class:`Store`.
"""

from __future__ import annotations

from crisisdesk.core.store.captions import (
    CaptionCounts,
    CaptionsMixin,
    CaptionTodo,
    NewCaption,
    StoredCaption,
)
from crisisdesk.core.store.db import store_time, utc_now
from crisisdesk.core.store.embeddings import EmbeddingsMixin, ImageToEmbed, ItemText, text_key
from crisisdesk.core.store.history import HistoryMixin, LabelEvent
from crisisdesk.core.store.labels import CurrentLabel, LabelChange, LabelsMixin
from crisisdesk.core.store.models import ModelsMixin, Prediction
from crisisdesk.core.store.posts import ItemRow, PostRow, PostsMixin, item_uid
from crisisdesk.core.store.queries import QueriesMixin
from crisisdesk.core.store.schema import LABEL_SOURCES, SCHEMA_VERSION
from crisisdesk.core.store.schemes import SchemesMixin


class Store(PostsMixin, HistoryMixin, LabelsMixin, SchemesMixin, ModelsMixin, EmbeddingsMixin,
            CaptionsMixin, QueriesMixin):
    """An open project database (one per thread)."""


__all__ = [
    "CaptionCounts", "CaptionTodo", "NewCaption", "StoredCaption",
    "CurrentLabel", "ImageToEmbed", "ItemRow", "ItemText", "LABEL_SOURCES", "LabelChange",
    "LabelEvent",
    "PostRow", "Prediction", "SCHEMA_VERSION", "Store",
    "item_uid", "store_time", "text_key", "utc_now",
]
