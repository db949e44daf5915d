"""Checking image files on import: identity (sha256), size, dimensions, decodability.

An image that cannot be used is not an error that stops an import: it is recorded with
status ``unreadable`` and a reason a person can act on.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, PngImagePlugin

from crisisdesk.core.files import file_sha256
from crisisdesk.core.words import file_size_text

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
)
# Defaults for ImageLimits. An import may lower them, or raise max_pixels up to Pillow's
# own process-wide refusal at 2 x Image.MAX_IMAGE_PIXELS (~179 MP), which we leave in
# place because it also guards every other place that opens an image.
MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_IMAGE_PIXELS = 100_000_000
# Pillow warns (not raises) between 1x and 2x its own limit; the limits above decide. Set
# once for the process: catch_warnings() around each decode is not thread-safe (images
# are checked in a pool), and another thread leaving its block let the warning through.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
# Never let Pillow decode a truncated file as if it were whole.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Pillow refuses a PNG whose one text or colour-profile chunk unpacks past 1 MB; Photoshop's
# XMP history and scanners' profiles pass that, in photos every other viewer opens (the
# app's thumbnails too). 16 MB (libpng allows 8) still bounds a zipped bomb, and Pillow's
# 64 MB cap on all of a file's text stays.
PNG_METADATA_CHUNK = 16 * 1024 * 1024
PngImagePlugin.MAX_TEXT_CHUNK = max(PngImagePlugin.MAX_TEXT_CHUNK, PNG_METADATA_CHUNK)
#: The formats Pillow may read for crisisdesk: what posts carry (the JPEG reader also
#: gives a phone's MPO). Not every format Pillow knows: its EPS reader runs Ghostscript
#: on the file, and media come from strangers.
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")


def open_image(path: Path | str) -> Image.Image:
    """``Image.open`` limited to IMAGE_FORMATS (UnidentifiedImageError for the rest)."""
    return Image.open(path, formats=IMAGE_FORMATS)


@dataclass(frozen=True)
class ImageLimits:
    """What an import accepts as an image."""

    max_bytes: int = MAX_IMAGE_BYTES
    max_pixels: int = MAX_IMAGE_PIXELS


@dataclass(frozen=True)
class ImageFacts:
    """What the store records about a media file."""

    status: str  # ok / missing / unreadable
    reason: str | None = None
    sha256: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None


def _too_large(pixels: int, size: int, limits: ImageLimits, dims: str = "") -> str:
    """Why a picture of ``pixels`` in a file of ``size`` bytes is not decoded; ``dims``:
    its ``"<w>x<h> = "`` where known."""
    kind = "decompression bomb? " if pixels > 1000 * max(size, 1) else ""
    return (f"{kind}image too large to decode: {dims}{pixels / 1e6:.0f} megapixels "
            f"(the limit is {limits.max_pixels / 1e6:.0f})")


def inspect_image(path: Path, limits: ImageLimits = ImageLimits()) -> ImageFacts:
    """Hash, measure and trial-decode ``path``; never raises for a bad file.

    The trial decode runs at reduced scale where the format allows it (JPEG draft mode),
    which still reads every byte, so truncation is caught at a fraction of the cost.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return ImageFacts("missing", f"file not found: {path}")
    except OSError as exc:
        return ImageFacts("unreadable", f"cannot read file: {exc.strerror or exc}")
    if size == 0:
        return ImageFacts("unreadable", "empty file (0 bytes)", size=0)
    if size > limits.max_bytes:
        return ImageFacts(
            "unreadable",
            f"file too large ({file_size_text(size)}; the limit is "
            f"{file_size_text(limits.max_bytes)})",
            size=size,
        )
    try:
        sha = file_sha256(path)
    except OSError as exc:
        return ImageFacts("unreadable", f"cannot read file: {exc.strerror or exc}", size=size)
    try:
        with open_image(path) as img:
            width, height = img.size
            pixels = width * height
            if pixels > limits.max_pixels:
                return ImageFacts("unreadable", _too_large(pixels, size, limits,
                                                           f"{width}x{height} = "),
                                  sha, size, width, height)
            if img.format == "JPEG":
                img.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            img.load()
    except Image.DecompressionBombError as exc:
        # Past Pillow's own process-wide refusal (~179 MP), before the check above: its
        # words named its limit, which the analyst never set. Say it as the check above.
        counted = re.search(r"\((\d+) pixels\)", str(exc))
        reason = (_too_large(int(counted[1]), size, limits) if counted
                  else f"decompression bomb refused: {exc}")
        return ImageFacts("unreadable", reason, sha, size)
    except (OSError, SyntaxError, ValueError, Image.UnidentifiedImageError) as exc:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, Image.UnidentifiedImageError):
            message = ("not an image crisisdesk reads (JPEG, PNG, GIF, WebP, BMP or TIFF), "
                       "or a corrupt header")
        elif "MAX_TEXT" in message:  # Pillow names its limit, not what the file holds
            message = (f"its metadata (PNG text or colour profile) unpacks to more than "
                       f"{file_size_text(PngImagePlugin.MAX_TEXT_CHUNK)} per chunk or "
                       f"{file_size_text(PngImagePlugin.MAX_TEXT_MEMORY)} in all: a zipped "
                       "bomb, or metadata to strip before importing")
        elif "truncated" in message.lower():  # "image file is truncated", "Truncated File Read"
            message = f"truncated or corrupt image data ({message})"
        return ImageFacts("unreadable", message, sha, size)
    except Exception as exc:  # noqa: BLE001 - a plug-in's odd error must not stop an import
        return ImageFacts("unreadable", f"cannot decode image: {type(exc).__name__}: {exc}",
                          sha, size)
    return ImageFacts("ok", None, sha, size, width, height)


#: Pillow modes of greyscale images deeper than 8 bits (16-bit PNG and TIFF open as I;16).
DEEP_GREY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
#: Pillow modes with an alpha channel ("RGBa" and "La": premultiplied).
ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


def upright_rgb(image: Image.Image) -> Image.Image:
    """A decoded Pillow image turned upright (EXIF orientation) and in 8-bit RGB: what
    the encoders and captioners look at.

    16-bit greyscale is scaled down to 8 bits first: Pillow's own ``convert("RGB")``
    clips its values at 255, which turns a 16-bit photo (values up to 65535) white.
    Transparent pixels are laid over white, as the app and browsers show them.
    """
    image = ImageOps.exif_transpose(image)
    if image.mode in DEEP_GREY_MODES:
        # Mode I is also how older Pillow opened 16-bit files: 16-bit range assumed.
        pixels = np.clip(np.asarray(image, dtype=np.int64), 0, 65535) // 257
        image = Image.fromarray(pixels.astype(np.uint8))  # 2-D uint8: mode L
    if image.mode in ALPHA_MODES or "transparency" in image.info:
        # convert("RGB") keeps the colour stored under a transparent pixel, mostly black:
        # a black logo or a screenshot of a dark tweet on a transparent background
        # became an all-black square for CLIP and the captioner.
        rgba = image.convert("RGBA")  # a palette's or tRNS's transparency too
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return image.convert("RGB")
