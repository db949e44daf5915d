"""An explanation drawn as one PNG for reports (Pillow only, no Qt).

Layout: a title line (item, task, class and its probability, model version); the image
and the image with its heat map (colour map "inferno", margins the model never saw left
grey), with a colour legend; the item's text with each word on a background coloured by
its sign (green: for the class, red: against), the caption set off; a bar of the image vs
text share. A text-only explanation has no image row.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from pathlib import Path

import numpy as np

from crisisdesk.core.colours import colour_map
from crisisdesk.core.explain.result import Explanation
from crisisdesk.core.files import atomic_write

WIDTH = 960
PANEL = 420  # the longest side of each image panel
MARGIN = 16
#: Blur radius as a share of the picture's longest side, as the app's (gui/sensitive.py).
BLUR_SHARE = 0.1
#: What a part of a default PNG name keeps as it is: letters and digits of any script,
#: ``.`` and ``-`` (every other run of characters, ``:`` included, becomes ``_``).
_NOT_KEPT = re.compile(r"[^\w.-]+|_+")
#: Ids every file system keeps apart as written: lower-case ASCII, digits, ``.``, ``-``
#: and the ``:`` of item ids.
_PLAIN = re.compile(r"[a-z0-9.:-]+")
#: The most UTF-8 bytes of an item id or class kept in a name (a long URL-like id is
#: cut; a file name holds 255 bytes, fewer once macOS decomposes accents).
_PART_BYTES = 64


def _readable(part: str) -> str:
    """``part`` as a piece of a file name: see :data:`_NOT_KEPT`, cut to :data:`_PART_BYTES`."""
    text = _NOT_KEPT.sub("_", unicodedata.normalize("NFC", part)).strip("._")
    while len(text.encode("utf-8")) > _PART_BYTES:
        text = text[:-1]
    return text or "_"


def report_name(item: str, task: str, class_name: str | None = None) -> str:
    """The default file name of an item's explanation: ``explain-<item>-<task>.png``, with
    ``-<class>`` when a class was asked for.

    The id stays readable (accents and other scripts kept, composed). Where writing it
    as a file name lost something (another character made ``_``, a cut, upper-case
    letters or accents, which Windows and macOS compare loosely), a hash of the exact id
    and class follows it: two items never share a PNG, where ``café`` and ``cafè`` (or
    ``Photo`` and ``photo`` on a Mac) did and the second replaced the first.
    """
    parts = [item] + ([class_name] if class_name else [])
    readable = [_readable(part) for part in parts]
    name = f"explain-{readable[0]}-{task}" + (f"-{readable[1]}" if class_name else "")
    # Plain parts map one to one (":" -> "_", which they do not hold): no hash needed.
    if not all(_PLAIN.fullmatch(part) and shown == part.replace(":", "_")
               for part, shown in zip(parts, readable)):
        exact = "\n".join(parts).encode("utf-8", "surrogatepass")
        name += "-" + hashlib.sha256(exact).hexdigest()[:8]
    return name + ".png"


#: System fonts that draw accented Latin, Greek, Cyrillic, Arabic and Hebrew (Pillow
#: finds a bare name in the system's font folders), broadest first. Pillow's built-in
#: font has unaccented Latin only: ``café`` or an Arabic tweet came out as boxes.
FONT_NAMES = ("Arial Unicode.ttf", "segoeui.ttf", "DejaVuSans.ttf", "NotoSans-Regular.ttf",
              "arial.ttf", "Arial.ttf")


@functools.lru_cache(maxsize=8)
def _font(size: int):
    """The report's font at ``size`` pixels: the first of :data:`FONT_NAMES` found (kept:
    a failed name costs a walk through the font folders), else Pillow's own."""
    from PIL import ImageFont

    for name in FONT_NAMES:
        try:
            return ImageFont.truetype(name, size)
        except (OSError, ImportError):  # not on this system; Pillow without FreeType
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _word_colour(relevance: float) -> tuple[int, int, int]:
    strength = min(1.0, abs(relevance))
    base = (46, 160, 67) if relevance > 0 else (215, 58, 73)
    return tuple(int(255 - (255 - c) * strength * 0.8) for c in base)  # type: ignore[return-value]


def _image_rows(explanation: Explanation, image_path: Path, opacity: float,
                blur: bool = False):
    """(plain image, image with overlay, legend) as Pillow images; ``blur``: the picture
    strongly blurred under the heat map (a post marked sensitive)."""
    from PIL import Image, ImageDraw, ImageFilter

    from crisisdesk.core.imaging import open_image, upright_rgb

    assert explanation.image is not None
    with open_image(image_path) as opened:
        # As the encoders see it: upright, and 16-bit greyscale scaled (not clipped white).
        picture = upright_rgb(opened)
    scale = PANEL / max(picture.size)  # small pictures are enlarged too: a report reads
    picture = picture.resize((max(1, round(picture.width * scale)),
                              max(1, round(picture.height * scale))), Image.Resampling.BICUBIC)
    if blur:  # as the app blurs it (gui/sensitive.py): shapes stay, details go
        picture = picture.filter(ImageFilter.GaussianBlur(max(picture.size) * BLUR_SHARE))
    heat = explanation.image.upsample(picture.width, picture.height)
    colours = colour_map(heat).astype(np.float64)
    base = np.asarray(picture, dtype=np.float64)
    unseen = np.isnan(heat)[..., None]
    mixed = np.where(unseen, base * 0.35 + 128 * 0.65,
                     base * (1 - opacity) + colours * opacity)
    overlay = Image.fromarray(mixed.astype(np.uint8))
    legend = Image.new("RGB", (PANEL, 34), "white")
    ramp = colour_map(np.tile(np.linspace(0, 1, PANEL - 80)[None, :], (12, 1)))
    legend.paste(Image.fromarray(ramp), (40, 2))
    draw = ImageDraw.Draw(legend)
    font = _font(12)
    draw.text((4, 2), "low", fill="black", font=font)
    draw.text((PANEL - 36, 2), "high", fill="black", font=font)
    draw.text((40, 17), "patch relevance (grey: cropped away, not seen)", fill="black",
              font=font)
    return picture, overlay, legend


def _fitting(text: str, room: float, measure, font) -> int:
    """How many leading characters of ``text`` fit in ``room`` pixels (at least one, so
    that a line always moves on)."""
    low, high = 1, len(text)
    while low < high:  # the longest prefix that fits: widths grow with the prefix
        middle = (low + high + 1) // 2
        if measure.textlength(text[:middle], font=font) <= room:
            low = middle
        else:
            high = middle - 1
    return low


def _layout_words(explanation: Explanation, font, width: int) -> list[list[tuple]]:
    """Lines of (text, colour or None, is caption label) laid out to ``width`` pixels.

    Lines break between words; a word wider than a line (a URL) is broken across lines,
    its pieces coloured as the word, else it ran off the report's right edge."""
    from PIL import Image, ImageDraw

    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines: list[list[tuple]] = [[("tweet:", None, True)]]
    x = measure.textlength("tweet: ", font=font)
    for word in explanation.words:
        if word.part == "caption" and not any(t == "caption:" for line in lines
                                              for t, _, _ in line):
            lines.append([("caption:", None, True)])
            x = measure.textlength("caption: ", font=font)
        colour = _word_colour(word.relevance) if word.tokens else None
        size = measure.textlength(word.text + " ", font=font)
        if x + size > width and len(lines[-1]) > 1:
            lines.append([])
            x = 0
        text = word.text
        while measure.textlength(text, font=font) > width - x:
            if x > 0 and (width - x) < width / 4:  # a sliver left: start a new line
                lines.append([])
                x = 0
                continue
            cut = _fitting(text, width - x, measure, font)
            lines[-1].append((text[:cut], colour, False))
            lines.append([])
            text, x = text[cut:], 0
        lines[-1].append((text, colour, False))
        x += measure.textlength(text + " ", font=font)
    return lines


#: The report's file formats by the suffix of its name (any case).
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def report_format(out: Path) -> str:
    """The Pillow format ``out``'s suffix names; ValueError naming the file and the
    suffixes known for any other (PNG bytes under a .jpg name, which some viewers and
    upload forms refuse, were written before)."""
    kind = FORMATS.get(Path(out).suffix.lower())
    if kind is None:
        raise ValueError(f"{out}: a report is written as PNG or JPEG, so its name ends "
                         "in .png, .jpg or .jpeg")
    return kind


def render_png(explanation: Explanation, out: Path, image_path: Path | None = None,
               opacity: float = 0.55, blur: bool | None = None) -> Path:
    """Draw ``explanation`` into ``out`` (a PNG, or JPEG for a .jpg or .jpeg name: see
    :func:`report_format`; written atomically); return ``out``.

    ``blur`` (default: whether the post is marked sensitive) blurs the picture: a report
    travels further than the app's screen, which blurs such pictures until asked."""
    if blur is None:
        blur = explanation.sensitive
    report_format(out)  # refused before any drawing
    from PIL import Image, ImageDraw

    title_font, font = _font(16), _font(15)
    parts = None
    if explanation.image is not None and image_path is not None:
        parts = _image_rows(explanation, image_path, opacity, blur)
    lines = _layout_words(explanation, font, WIDTH - 2 * MARGIN)
    line_height = 24
    image_height = (max(parts[0].height, parts[1].height) + parts[2].height + MARGIN) \
        if parts else 0
    height = MARGIN + 28 + image_height + len(lines) * line_height + 70 + MARGIN
    canvas = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(canvas)
    probability = explanation.probabilities.get(explanation.class_name, 0.0)
    draw.text((MARGIN, MARGIN), f"{explanation.item}  {explanation.task}: "
              f"{explanation.class_name} ({probability:.0%})  model "
              f"{explanation.model_version}"
              + ("  (picture blurred: post marked sensitive)" if blur and parts else ""),
              fill="black", font=title_font)
    y = MARGIN + 28
    if parts:
        picture, overlay, legend = parts
        canvas.paste(picture, (MARGIN, y))
        canvas.paste(overlay, (WIDTH // 2, y))
        y += max(picture.height, overlay.height) + 4
        canvas.paste(legend, (WIDTH // 2, y))
        y += legend.height + MARGIN - 4
    for line in lines:
        x = MARGIN
        for text, colour, label in line:
            size = draw.textlength(text + " ", font=font)
            if colour is not None:
                draw.rectangle((x - 1, y - 1, x + draw.textlength(text, font=font) + 1,
                                y + line_height - 5), fill=colour)
            draw.text((x, y), text, fill=(90, 90, 90) if label else "black", font=font)
            x += size
        y += line_height
    y += 8
    share = float(explanation.share.get("image", 0.0))
    bar = WIDTH - 2 * MARGIN
    draw.rectangle((MARGIN, y, MARGIN + int(bar * share), y + 16), fill=(70, 110, 190))
    draw.rectangle((MARGIN + int(bar * share), y, MARGIN + bar, y + 16), fill=(230, 160, 60))
    draw.text((MARGIN, y + 20), f"image {share:.0%} | text {1 - share:.0%}  "
              f"({explanation.share.get('basis', '')});  words: green for the class, "
              "red against", fill="black", font=_font(12))
    out = Path(out)
    kind = report_format(out)
    with atomic_write(out, binary=True) as handle:
        canvas.save(handle, format=kind, **({"quality": 92} if kind == "JPEG" else {}))
    return out
