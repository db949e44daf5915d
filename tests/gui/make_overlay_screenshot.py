"""Make docs/screenshots/overlay.png: the main window's detail panel with the overlay on.

Run by hand (not a test): ``.venv/bin/python tests/gui/make_overlay_screenshot.py``.
Nothing is downloaded: a tiny CLIP image tower and a fusion head are trained together
for a few seconds to spot a bright square in the top-left of what the model sees (as the
synthetic test in tests/core/test_explain.py does), so the map has something real to
show; the picture is wider than tall, so CLIP's centre crop leaves grey margins.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

TWEET = ("Bridge collapsed after the earthquake near the river, several houses destroyed "
         "and roads blocked #help #earthquake")
CAPTION = "A concrete bridge broken in the middle, debris on the river bank."
CLASSES = ["severe_damage", "mild_damage", "little_or_no_damage"]


def _picture(rng, bright: bool):
    import numpy as np

    pixels = rng.integers(60, 140, size=(32, 32, 3)).astype(np.uint8)
    if bright:
        y, x = rng.integers(0, 5, size=2)
        pixels[y:y + 12, x:x + 12] = 255
    return pixels


def train(folder: Path):
    """A tiny CLIP + head trained on the bright-square task; returns (hub folder, head)."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file
    from tiny_clip import make_tiny_clip

    from crisisdesk.core.encoders.clip import ClipEncoder
    from crisisdesk.core.encoders.clip_images import torch_from_hwc
    from crisisdesk.core.fusion.model import FusionConfig, FusionHead

    tiny = make_tiny_clip(folder)
    encoder = ClipEncoder.load("tiny-clip", arch=tiny["arch"], route="file",
                               source=tiny["file"], device="cpu")
    rng = np.random.default_rng(0)
    labels = torch.tensor([0 if i % 2 else 2 for i in range(128)])  # severe iff the square
    batch = encoder.model_input([torch_from_hwc(_picture(rng, label == 0))
                                 for label in labels.tolist()])
    text = torch.tensor(encoder.encode_texts(["a photo"]).vectors).repeat(len(labels), 1)
    torch.manual_seed(0)
    head = FusionHead(FusionConfig(n_classes=3, image_dim=32, text_dim=32, hidden=16,
                                   tokens=2, heads=2, dropout=0.0))
    visual = encoder.model.visual
    visual.requires_grad_(True)
    visual.train()
    head.train()
    optimiser = torch.optim.Adam([*head.parameters(), *visual.parameters()], lr=2e-3)
    present = torch.ones(len(labels), dtype=torch.bool)
    for _ in range(80):
        image = F.normalize(visual(batch), dim=-1)
        loss = F.cross_entropy(head(image, text, present, present), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    head.eval()
    state = {k: v.detach().clone().contiguous() for k, v in encoder.model.state_dict().items()}
    save_file(state, str(tiny["folder"] / "open_clip_model.safetensors"))
    print(f"trained: loss {loss.item():.3f}")
    return tiny["folder"], head


def scene(path: Path) -> None:
    """A 480x320 picture: soft noise, the bright square top-left of the central square."""
    import numpy as np
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(5)
    small = rng.integers(70, 150, size=(32, 48, 3)).astype(np.uint8)
    image = Image.fromarray(small).resize((480, 320), Image.Resampling.NEAREST)
    image = image.filter(ImageFilter.GaussianBlur(2))
    pixels = np.asarray(image).copy()
    pixels[30:150, 110:230] = 255  # inside the square CLIP sees (x 80..400)
    Image.fromarray(pixels).save(path)


def main(out: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from crisisdesk.core.fusion.checkpoint import save_head
    from crisisdesk.core.importers import ImportJob, ImportOptions
    from crisisdesk.core.models import registry
    from crisisdesk.core.project import Project
    from crisisdesk.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    from crisisdesk.gui import style

    style.apply_light(app)  # as the app looks, on a dark desktop too
    work = Path(tempfile.mkdtemp(prefix="overlay-shot-"))
    os.environ["CRISISDESK_CONFIG_DIR"] = str(work / "config")
    os.environ["CRISISDESK_DATA_DIR"] = str(work / "data")
    hub, head = train(work / "tiny")
    registry.register("tiny-clip", hub)
    src = work / "src"
    src.mkdir()
    scene(src / "bridge.png")
    with (src / "posts.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("id", "text", "image", "event"),
                                      ("1", TWEET, "bridge.png", "demo_earthquake")])
    project = Project.open(work / "project", create=True)
    list(ImportJob(project, [src / "posts.csv"], ImportOptions()).run())
    sidecar = {"config": head.config.to_dict(), "task": "damage", "classes": CLASSES,
               "image_encoder": "tiny-clip", "text_encoder": "tiny-clip", "image_dim": 32,
               "text_dim": 32, "text_source": "tweet", "training_data_hash": "synthetic",
               "metrics": {}, "temperature": 1.0}
    path = save_head(project.folder("models"), "damage-tiny", head, sidecar)
    with project.open_store() as store:
        sha = store.item_images([1])[1][0]
        store.add_caption(sha, TWEET, "llava-interleave-0.5b", "v1", CAPTION)
        store.add_model_version("damage", "damage-tiny", str(path), encoder="tiny-clip",
                                config=sidecar)
    # Predictions too, so the task box shows the score the overlay explains.
    from crisisdesk.core.embed import EmbedJob
    from crisisdesk.core.fusion.predict import PredictJob

    list(EmbedJob(project, "tiny-clip", kinds=["image", "text"], device="cpu").run())
    list(PredictJob(project, tasks=["damage"]).run())
    window = MainWindow(project, annotator="analyst")
    window.resize(1400, 900)
    window.show()

    def wait(condition, seconds: float = 120) -> None:
        import time

        deadline = time.monotonic() + seconds
        while not condition():
            app.processEvents()
            time.sleep(0.02)
            if time.monotonic() > deadline:
                raise TimeoutError("the window did not get there")

    wait(lambda: window.detail.detail is not None and window.detail.image.has_image())
    window.detail.overlay.setChecked(True)
    wait(lambda: window.detail.attention.current() is not None)
    wait(window.detail.image.has_overlay)
    for _ in range(20):
        app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    window.detail.grab().save(str(out))
    print(f"wrote {out}")
    window.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else
         HERE.parents[1] / "docs" / "screenshots" / "overlay.png")
