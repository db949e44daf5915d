"""What the attention overlay draws: the heat map's pixels, the highlighted words, the
colour legend and the image-vs-text share bar.

``heat_rgba`` and ``word_html`` are plain functions (numpy and strings): the heat map is
coloured in the background thread that computed the explanation, so the UI thread only
wraps the finished pixels in a QImage.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from crisisdesk.core.colours import INFERNO, colour_map
from crisisdesk.gui import style

if TYPE_CHECKING:  # the explain package imports torch: never at the window's start
    from crisisdesk.core.explain.result import ImageRelevance, WordRelevance

#: The heat map is coloured at most this many pixels a side: it is smooth (bilinear over
#: a 7x7 to 16x16 patch grid), so the painter's scaling to the panel loses nothing.
HEAT_SIDE = 512
FOR = (22, 163, 74)  # green: the word pushes the class up
AGAINST = (220, 38, 38)  # red: the word pushes it down
IMAGE_COLOUR, TEXT_COLOUR = "#4f6fbf", "#e0a040"  # the share bar's two halves
UNSEEN = QColor(150, 150, 150, 190)  # margins CLIP cropped away: neutral, not "low"
def heat_rgba(relevance: ImageRelevance, max_side: int = HEAT_SIDE) -> np.ndarray:
    """The heat map as [H, W, 4] uint8 RGBA at the image's aspect ratio (inferno colours,
    fully opaque where the model looked; transparent in the margins it never saw, which
    the image view greys out itself)."""
    width, height = relevance.size
    scale = min(1.0, max_side / max(width, height, 1))
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    values = relevance.upsample(w, h)
    rgba = np.empty((h, w, 4), dtype=np.uint8)
    rgba[..., :3] = colour_map(values)
    rgba[..., 3] = np.where(np.isnan(values), 0, 255)
    return rgba


def rgba_image(rgba: np.ndarray) -> QImage:
    """A QImage owning a copy of ``rgba`` ([H, W, 4] uint8)."""
    data = np.ascontiguousarray(rgba)
    height, width = data.shape[:2]
    image = QImage(data.data, width, height, 4 * width, QImage.Format.Format_RGBA8888)
    return image.copy()  # the QImage above borrows numpy's buffer; the copy owns its own


def word_background(relevance: float) -> str:
    """The CSS background of a word: green for, red against, stronger with |relevance|."""
    strength = min(1.0, abs(relevance))
    r, g, b = FOR if relevance > 0 else AGAINST
    # Mixed with white, never fully saturated: black text stays readable on it.
    mix = 0.12 + 0.68 * strength if strength > 0.02 else 0.0
    return "#" + "".join(f"{int(255 - (255 - c) * mix):02x}" for c in (r, g, b))


def word_tooltip(word: WordRelevance, class_label: str) -> str:
    """What hovering a highlighted word says."""
    side = "for" if word.relevance > 0 else "against" if word.relevance < 0 else "neutral to"
    return (f"“{word.text}”: {word.relevance:+.2f} ({side} {class_label}; "
            f"raw {word.raw:+.3g}, {word.tokens} token{'s' if word.tokens != 1 else ''})")


def word_html(text: str, words: list[WordRelevance], start: int, end: int,
              first_index: int = 0) -> str:
    """``text[start:end]`` as rich text, each word of ``words`` inside that span on its
    coloured background and wrapped in a link ``w:<index in words>`` (hovering it shows
    the value); the characters between words are kept as they are."""
    out: list[str] = []
    at = start
    for index, word in enumerate(words):
        if word.start < start or word.end > end:
            continue
        out.append(html.escape(text[at:word.start]))
        colour = word_background(word.relevance)
        out.append(f"<a href='w:{index + first_index}' style='color:#111827; "
                   f"text-decoration:none'><span style='background-color:{colour}'>"
                   f"{html.escape(word.text)}</span></a>")
        at = word.end
    out.append(html.escape(text[at:end]))
    return "".join(out).replace("\n", "<br>")


class _BarAndWords(QWidget):
    """A painted strip: a bar 10 pixels high, 4 down, and a line of words under it.

    Its height follows the font it starts with: fixed at 30 pixels, a large font's words
    (150 %, as a user with large text has it) showed only their top half."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        # The bar's bottom (14), a 2-pixel gap, the words' line and 2 pixels under its
        # descenders: at least the 30 pixels the usual font had.
        self.setFixedHeight(max(30, 18 + self.fontMetrics().height()))


class Legend(_BarAndWords):
    """The heat map's colour ramp, "low" to "high", and the grey of unseen margins."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(220)
        self.setToolTip("Patch relevance for the class (gradient-weighted attention rollout;"
                        " each map is scaled so its strongest patch is 'high'). Grey: parts "
                        "of the image the model cropped away and never saw.")

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = painter.fontMetrics()
        unseen = "grey: not seen"
        low_w = metrics.horizontalAdvance("low ")
        right = self.width() - metrics.horizontalAdvance(unseen) - 22
        ramp = QRectF(low_w, 4, max(20, right - low_w - metrics.horizontalAdvance(" high")
                                    - 4), 10)
        gradient = QLinearGradient(ramp.topLeft(), ramp.topRight())
        for n, (r, g, b) in enumerate(INFERNO):
            gradient.setColorAt(n / (len(INFERNO) - 1), QColor(int(r), int(g), int(b)))
        painter.fillRect(ramp, gradient)
        painter.setPen(QColor(style.MUTED))
        text_y = int(ramp.bottom()) + metrics.ascent() + 2
        painter.drawText(0, int(ramp.bottom()), "low")
        painter.drawText(int(ramp.right()) + 4, int(ramp.bottom()), "high")
        painter.drawText(int(ramp.left()), text_y, "where the evidence lies")
        swatch = QRectF(right + 6, 4, 10, 10)
        painter.fillRect(swatch, UNSEEN)
        painter.drawText(int(swatch.right()) + 4, int(ramp.bottom()), unseen)


class ShareBar(_BarAndWords):
    """How much of the prediction came from the image and how much from the text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image_share: float | None = None
        self.setMinimumWidth(160)

    def set_share(self, share: dict | None) -> None:
        """Show ``{"image": x, "text": 1 - x, "basis": ...}`` (None: nothing)."""
        self.image_share = None if share is None else float(share.get("image", 0.0))
        basis = (share or {}).get("basis", "")
        self.setToolTip(f"Image vs text share of this prediction ({basis})" if share else "")
        # Painted only: a screen reader said nothing of it. The tooltip's and the
        # painted words.
        self.setAccessibleName("" if self.image_share is None else
                               f"Image vs text share of this prediction: "
                               f"{_share_words(self.image_share)}")
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        if self.image_share is None:
            return
        painter = QPainter(self)
        share = min(1.0, max(0.0, self.image_share))
        bar = QRectF(0, 4, self.width(), 10)
        split = bar.left() + bar.width() * share
        painter.fillRect(QRectF(bar.left(), bar.top(), split - bar.left(), bar.height()),
                         QColor(IMAGE_COLOUR))
        painter.fillRect(QRectF(split, bar.top(), bar.right() - split, bar.height()),
                         QColor(TEXT_COLOUR))
        painter.setPen(QColor(style.MUTED))
        metrics = painter.fontMetrics()
        y = int(bar.bottom()) + metrics.ascent() + 2
        image, text = _share_words(share).split(", ")
        painter.drawText(0, y, image)
        painter.drawText(self.width() - metrics.horizontalAdvance(text), y, text)


def _share_words(image_share: float) -> str:
    """"image 62%, text 38%": what the share bar says under its two colours."""
    share = min(1.0, max(0.0, image_share))
    return f"image {share:.0%}, text {1 - share:.0%}"


__all__ = ["HEAT_SIDE", "Legend", "ShareBar", "heat_rgba", "rgba_image", "word_html",
           "word_tooltip"]
