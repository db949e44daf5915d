"""A re-run of `crisisdesk embed --encoder minilm` (images and texts asked, the default)
on a project with images loads nothing: MiniLM never embeds images, so they are not
"left to encode" for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from crisisdesk.cli import main
from crisisdesk.core.encoders import factory


def test_a_text_encoders_rerun_over_images_never_loads_the_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    Image.new("RGB", (8, 8), "red").save(folder / "a.png")
    (folder / "posts.csv").write_text("id,text,image\n1,bridge down,a.png\n2,road closed,\n",
                                      encoding="utf-8")
    project = tmp_path / "p"
    assert main(["import", str(project), str(folder / "posts.csv")]) == 0
    assert main(["embed", str(project), "--encoder", "minilm", "--device", "cpu"]) == 0

    def no_loading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded with nothing it can encode")

    monkeypatch.setattr(factory, "load_encoder", no_loading)
    capsys.readouterr()
    assert main(["embed", str(project), "--encoder", "minilm", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert "nothing to encode" in captured.out + captured.err
