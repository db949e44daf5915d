"""Fixtures for the local captioner tests: the tiny LLaVA folder (built once per session),
the model loaded from it, and image files to caption."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_llava import make_tiny_llava  # tests/ is on sys.path (rootdir conftest)


@pytest.fixture(scope="session")
def tiny_llava_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny LLaVA model folder, as ``save_pretrained`` writes a real one."""
    return make_tiny_llava(tmp_path_factory.mktemp("tiny-llava"))


@pytest.fixture(scope="session")
def tiny_llava_fp32(tiny_llava_dir: Path):
    """(model, processor) loaded from the folder in fp32 on the CPU, shared by tests that
    wrap them in their own LocalCaptioner."""
    from transformers import AutoProcessor

    from crisisdesk.core.captions.loading import load_model

    model = load_model(tiny_llava_dir, device="cpu", quant="none")
    return model, AutoProcessor.from_pretrained(str(tiny_llava_dir))


@pytest.fixture
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty per-user settings and Hugging Face cache: nothing registered, nothing cached."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return tmp_path / "config"


def write_images(folder: Path, n: int) -> list[Path]:
    """``n`` JPEG photos of different sizes and colours; the first is stored sideways
    with an EXIF orientation tag, as phone photos often are."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        image = Image.new("RGB", (40 + 13 * i, 30 + 7 * i), (30 * i % 256, 90, 200 - 20 * i))
        path = folder / f"photo{i}.jpg"
        if i == 0:
            exif = Image.Exif()
            exif[0x0112] = 6  # rotate 90 degrees clockwise on display
            image.save(path, exif=exif)
        else:
            image.save(path)
        paths.append(path)
    return paths
