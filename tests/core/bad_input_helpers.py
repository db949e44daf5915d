"""Builders and look-ups shared by the bad-input tests."""


from __future__ import annotations

import csv
import random
import struct
import zlib
from pathlib import Path

from import_helpers import make_image  # shared with the import tests
from PIL import Image

from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.importers.records import Problem
from crisisdesk.core.project import Project
from crisisdesk.core.store import Store


def noise_jpeg_bytes(size: int = 128) -> bytes:
    """A real JPEG big enough that its first half holds only part of the scan."""
    from io import BytesIO

    rng = random.Random(7)
    img = Image.frombytes("RGB", (size, size), rng.randbytes(size * size * 3))
    buffer = BytesIO()
    img.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def crafted_png(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose header claims ``width`` x ``height`` pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b""))


def run_import(project: Project, paths: list[Path], **options) -> ImportJob:
    job = ImportJob(project, [Path(p) for p in paths], ImportOptions(**options))
    list(job.run())
    return job


def problems_for(job: ImportJob, file: Path | str) -> list[Problem]:
    return [p for p in job.report.problems if p.where.file == str(file)]


def post_row(store: Store, source: str, post_id: str) -> dict | None:
    row = store.conn.execute(
        "SELECT * FROM posts WHERE source = ? AND post_id = ?", [source, post_id]).fetchone()
    return dict(row) if row else None


def media_of(store: Store, source: str, post_id: str) -> list[dict]:
    return [dict(r) for r in store.conn.execute(
        "SELECT m.* FROM media m JOIN posts p ON p.id = m.post"
        " WHERE p.source = ? AND p.post_id = ? ORDER BY m.n", [source, post_id])]


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def add_good_post(folder: Path, stem: str = "good", seed: int = 1) -> None:
    make_image(folder / f"{stem}.jpg", seed)
    (folder / f"{stem}.txt").write_text(f"A good post called {stem}", "utf-8")


def assert_good_post(store: Store, source: str, post_id: str = "good") -> None:
    row = post_row(store, source, post_id)
    assert row is not None, f"good post {post_id} missing"
    (media,) = media_of(store, source, post_id)
    assert media["status"] == "ok"
    assert media["sha256"]


def files_outside(root: Path, skip: Path) -> set[Path]:
    return {p for p in root.rglob("*") if skip not in p.parents and p != skip}


