"""The detail panel's post text, caption line and alt text, as the panel shows them:
plain, or with each word coloured by its relevance when the overlay shows the item's
explanation; and, without a caption, why there is none."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt

from crisisdesk.core.review import ItemDetail
from crisisdesk.gui import style
from crisisdesk.gui.overlay_draw import word_html
from crisisdesk.gui.wrapping import WrappingLabel


def post_text_label(word_hovered: Callable[[str], None]) -> WrappingLabel:
    """A label for the post text or the caption; ``word_hovered`` gets the link of a
    highlighted word the mouse is over."""
    # A long word (a URL, a run of hashtags) wraps: it widened the scroll area below
    # and pushed the prediction bars out of view.
    label = WrappingLabel()
    # Links: the highlighted words are anchors, so hovering one shows its value.
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                  | Qt.TextInteractionFlag.LinksAccessibleByMouse)
    label.linkHovered.connect(word_hovered)
    return label


def alt_text_label() -> WrappingLabel:
    """The label of the poster's alt text, under the image (hidden until there is one)."""
    label = WrappingLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)  # the poster's words, as typed
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setContentsMargins(8, 0, 8, 0)
    label.setStyleSheet(f"color: {style.MUTED};")
    label.setVisible(False)
    return label


def show_alt_text(label: WrappingLabel, detail: ItemDetail) -> None:
    """Show ``detail``'s alt text in ``label``, or hide it when the post has none."""
    label.setText(f"Alt text (from the poster): {detail.alt_text}" if detail.alt_text else "")
    label.setVisible(bool(detail.alt_text))


def show_post_texts(text: WrappingLabel, caption: WrappingLabel, detail: ItemDetail,
                    explanation: Any | None) -> None:
    """Show ``detail``'s post text and caption line in the two labels (see
    :func:`post_texts`)."""
    rich, shown, caption_line = post_texts(detail, explanation)
    text.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    text.setText(shown)
    caption.setTextFormat(Qt.TextFormat.RichText)
    caption.setText(caption_line)


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
    # The caption job takes readable images only: "run the captioner" did nothing here.
    # What to do about the image is said where the image would be (advice.media_note).
    status = detail.row.media_status
    if status == "unreadable":
        return "No caption: the image could not be read"
    if status == "remote":
        return "No caption until the image is downloaded"
    if status != "ok":
        return "No caption: the image file was not found"
    return "No caption yet (run the captioner from Jobs)"
