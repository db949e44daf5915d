"""Render the app icon's PNGs from packaging/desktop/crisisdesk.svg and copy the desktop
files into resources/icons/, where the wheel and the app find them.

packaging/desktop/ holds the masters (the SVG, the .desktop entry, the AppStream
metainfo); resources/icons/ holds what ships: the same three files and the PNGs at the
hicolor sizes. Run it after editing a master (tests/core/test_desktop_install.py checks
the copies agree):

    .venv/bin/python packaging/render_icons.py
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MASTERS = ROOT / "packaging" / "desktop"
SHIPPED = ROOT / "resources" / "icons"
SIZES = (16, 32, 48, 64, 128, 256)
COPIED = ("crisisdesk.svg", "org.crisisdesk.CrisisDesk.desktop",
          "org.crisisdesk.CrisisDesk.metainfo.xml")


def render(svg: Path, out: Path, size: int) -> None:
    """Render ``svg`` as a ``size`` x ``size`` PNG with a transparent background."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    tmp = out.with_name(f".{out.name}.tmp.png")
    if not image.save(str(tmp), "PNG"):
        raise SystemExit(f"could not write {tmp}")
    os.replace(tmp, out)  # never a half-written icon


def main() -> int:
    """Render every size and copy the masters; print what was written."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    SHIPPED.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        out = SHIPPED / f"crisisdesk-{size}.png"
        render(MASTERS / "crisisdesk.svg", out, size)
        print(f"wrote {out.relative_to(ROOT)}")
    for name in COPIED:
        shutil.copyfile(MASTERS / name, SHIPPED / name)
        print(f"copied {name} to {SHIPPED.relative_to(ROOT)}")
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
