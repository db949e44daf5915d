"""The detail panel's post text and caption line, as the panel shows them: plain, or
with each word coloured by its relevance when the overlay shows the item's explanation;
and, without a caption, why there is none."""

from __future__ import annotations

import html
from typing import Any

from crisisdesk.core.review import ItemDetail
from crisisdesk.gui import style
from crisisdesk.gui.overlay_draw import word_html


def post_texts(detail: ItemDetail, explanation: Any | None) -> tuple[bool, str, str]:
    """(whether the text is rich text, the text, the caption line's rich text) of
    ``detail``; ``explanation``: the overlay's, coloured word by word, or None."""
    if explanation is None:
        rich, text = False, detail.row.text or "(no text)"
        caption = html.escape(detail.caption or "")
    else:
        words, start = explanation.words, explanation.caption_start
        tweet_end = len(explanation.text) if start is None else start
        rich = True
        text = word_html(explanation.text, words, 0, tweet_end) or "(no text)"
        caption = word_html(explanation.text, words, start, len(explanation.text)) \
            if start is not None else html.escape(detail.caption or "")
    if not detail.caption:
        return rich, text, (f"<span style='color:{style.MUTED}'>"
                            f"{html.escape(no_caption_note(detail))}</span>")
    who = detail.captioner or "unknown captioner"
    model = getattr(detail, "caption_model", None)
    if model and not who.startswith(model):
        who += f" · model {model}"
    by = f"<br><span style='color:{style.MUTED}'>by {html.escape(who)}</span>"
    return rich, text, f"{caption}{by}"


def no_caption_note(detail: ItemDetail) -> str:
    """What the caption line says when the item's text holds no caption: the advice to
    caption only where captioning can help."""
    if detail.row.image_path is None:
        return "No image, so no caption"
    if detail.caption_flag:
        return (f"The caption was set aside ({detail.caption_flag}) and is not used; "
                "another captioner or prompt may do better")
    return "No caption yet (run the captioner from Jobs)"
