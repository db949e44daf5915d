"""Sensitive images: blurred until the analyst chooses to see them.

Analysts look at thousands of disaster images a day, some graphic; the tools of this
work blur such images until asked. Posts their poster or platform marked sensitive (see
``posts.sensitive``) are blurred in the item list and the detail panel while the
"Blur images marked sensitive" setting is on (the default); "Blur every image until I
click it" blurs every image. Blurring runs where the image is decoded: in a pool thread,
never on the UI thread. A saved change of those settings applies to the open lists and
panels at once (:class:`BlurWatch`).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage

from crisisdesk.gui.dialogs.settings_dialog import setting, settings_saved

#: Blurred images are made this small first: a strong blur keeps no detail worth more
#: pixels, and a small image blurs fast (the panel's 2048 px decode would not).
BLUR_SIDE = 96
#: The blur radius as a share of the image's longer side: strong enough that no face,
#: wound or body can be made out, while colours still tell a flood from a fire.
BLUR_SHARE = 0.1


def blur_image(image: QImage, side: int = BLUR_SIDE) -> QImage:
    """A strongly blurred copy of ``image``, at most ``side`` pixels a side (Pillow's
    Gaussian blur). Runs in a pool thread: QImage and Pillow are safe off the UI thread."""
    from PIL import Image, ImageFilter  # imported by the pool thread that first blurs

    if image.width() > side or image.height() > side:
        image = image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    width, height = rgba.width(), rgba.height()
    pil = Image.frombuffer("RGBA", (width, height), bytes(rgba.constBits()), "raw", "RGBA",
                           rgba.bytesPerLine(), 1)
    blurred = pil.filter(ImageFilter.GaussianBlur(max(width, height) * BLUR_SHARE))
    data = blurred.tobytes()
    # copy(): the QImage must own its pixels, not borrow the bytes object's.
    return QImage(data, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()


@dataclass(frozen=True)
class BlurRule:
    """Which images are shown blurred, from the two settings."""

    sensitive: bool = True  # posts marked sensitive
    every: bool = False  # every image, until clicked

    def hides(self, sensitive: bool | None) -> bool:
        """Whether an image of a post so marked is shown blurred."""
        return self.every or (self.sensitive and bool(sensitive))


def blur_rule() -> BlurRule:
    """The rule the settings give now."""
    return BlurRule(setting("blur_sensitive"), setting("blur_all"))


class BlurWatch(QObject):
    """The blur rule an item list or a detail panel paints by: ``rule``, read once (the
    list's ``data()`` runs for every painted row), and ``changed(before, after)`` when
    saved settings change it. A child of its owner: the connection ends with it."""

    changed = Signal(object, object)  # the BlurRule before, the BlurRule now

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.rule = blur_rule()
        settings_saved().saved.connect(self._saved)

    def _saved(self) -> None:
        rule = blur_rule()
        if rule != self.rule:
            before, self.rule = self.rule, rule
            self.changed.emit(before, rule)
