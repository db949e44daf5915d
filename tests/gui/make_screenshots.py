"""Make docs/screenshots/main_window.png and detail_panel.png on the demo project.

Run by hand (not a test): ``.venv/bin/python tests/gui/make_screenshots.py``. The demo is
built in a temporary data folder (about 15 s: MiniLM embeddings and bundled-head
predictions), then the window is shown offscreen at 1440x900 with the overlay on for
the first item, so the word highlights of the text-only head show.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="crisisdesk-shots-"))
    os.environ["CRISISDESK_DATA_DIR"] = str(scratch / "data")
    os.environ["CRISISDESK_CONFIG_DIR"] = str(scratch / "config")
    from PySide6.QtWidgets import QApplication

    from crisisdesk.core.demo import demo_project
    from crisisdesk.core.project import Project
    from crisisdesk.gui.main_window import MainWindow

    app = QApplication([])
    from crisisdesk.gui import style

    style.apply_light(app)  # as the app looks, on a dark desktop too
    window = MainWindow(Project.open(demo_project()), annotator="analyst")
    window.resize(1440, 900)
    window.show()

    def pump(until, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while not until() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    pump(lambda: window.detail.detail is not None and window.model.total > 0)
    window.items.setFocus()
    window.detail.overlay.setChecked(True)
    pump(lambda: not window.background.busy(), 120)
    pump(lambda: False, 1.0)  # thumbnails and the highlights land
    OUT.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(OUT / "main_window.png"))
    window.detail.grab().save(str(OUT / "detail_panel.png"))
    print(f"wrote {OUT / 'main_window.png'} and {OUT / 'detail_panel.png'}")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
