"""Reading text files of unknown encoding without losing the import."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path

# Manifests and sidecars bigger than this are refused: they are not posts.
MAX_TEXT_FILE_BYTES = 2 * 1024 * 1024 * 1024
MAX_SIDECAR_BYTES = 1024 * 1024
# A line with its end (CRLF, CR or LF, as a file opened with newline="" reads them), or
# the last line without one.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


class TextFileError(Exception):
    """A text file that cannot be read at all (missing, too large)."""


def decode_text(data: bytes) -> tuple[str, str | None]:
    """Decode bytes as UTF-8 (with or without BOM, or UTF-16 with BOM).

    Returns (text, warning). Lines that are not UTF-8 are read as Windows-1252 (what
    spreadsheets on Windows write), the others stay UTF-8, and the warning says where
    decoding first failed and on how many lines;
    UTF-16 that does not decode (a file cut short) keeps what it can, with a warning.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError as exc:
            # A copy cut short (odd byte count) or half an emoji: keep the rest of the file.
            line = data[:exc.start].decode("utf-16", errors="replace").count("\n") + 1
            return data.decode("utf-16", errors="replace"), (
                f"not valid UTF-16 ({exc.reason} at byte {exc.start}, line {line}); "
                "what could not be read is shown as \ufffd")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    # Line by line: a file of UTF-8 rows with a few pasted from a Windows spreadsheet
    # (two exports joined) keeps its UTF-8 rows; read whole as Windows-1252, every
    # Arabic text and emoji in it turned to mojibake, and a BOM into a header cell.
    lines: list[str] = []
    fallen: list[tuple[int, int]] = []  # (line, first byte that is not UTF-8)
    latin1 = False
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            lines.append(raw.decode("utf-8"))
            continue
        except UnicodeDecodeError as exc:
            fallen.append((number, raw[exc.start]))
        try:
            lines.append(raw.decode("cp1252"))
        except UnicodeDecodeError:  # cp1252 leaves five bytes undefined; latin-1 maps all
            lines.append(raw.decode("latin-1"))
            latin1 = True
    (first, byte), more = fallen[0], len(fallen) - 1
    others = f" and {more} more line{'s' if more > 1 else ''}" if more else ""
    return "\n".join(lines), (
        f"not valid UTF-8 (byte 0x{byte:02x} on line {first}{others}); "
        f"{'those lines' if more else 'that line'} read as "
        f"{'Latin-1' if latin1 else 'Windows-1252'}, check accented characters")


def read_text_file(path: Path, max_bytes: int = MAX_TEXT_FILE_BYTES) -> tuple[str, str | None]:
    """Read and decode a whole text file; raises TextFileError with a reason."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise TextFileError(
                f"file too large ({size / 1024 / 1024:.1f} MB; the limit is "
                f"{max_bytes / 1024 / 1024:.1f} MB)"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise TextFileError(f"cannot read file: {exc.strerror or exc}") from exc
    return decode_text(data)


def csv_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one at a time, with their ends, for a ``csv`` reader.

    ``io.StringIO(text, newline="")`` gives the same lines but copies the whole text at
    4 bytes a character first: 150 MB more for a 38 MB table of 200,000 posts."""
    return (match.group() for match in _LINE.finditer(text))
