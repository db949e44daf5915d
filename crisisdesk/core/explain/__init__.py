"""Explanations of predictions: image heat maps, word relevance, the fusion's share.

``explain_item(project, item_id, task, class_name=None)`` is the entry point (see
``item.py``); ``render.py`` draws one as a PNG for reports. docs/explain.md says how each
part is computed.
"""

from crisisdesk.core.explain.item import explain_item
from crisisdesk.core.explain.result import Explanation, ImageRelevance, WordRelevance
from crisisdesk.core.explain.vit import ExplainError

__all__ = ["ExplainError", "Explanation", "ImageRelevance", "WordRelevance", "explain_item"]
