"""``models add`` under a shipped model's name refuses a model whose vectors have another
length: a 32-d tiny CLIP registered as clip-vit-b-32 (512-d) was accepted, and embed
then stored its vectors as clip-vit-b-32's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_clip import make_tiny_clip

from crisisdesk.cli import main
from crisisdesk.core.models.registry import register
from crisisdesk.core.models.vector_length import vector_length


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))


def test_a_clip_of_another_vector_length_is_refused_under_a_shipped_name(tmp_path,
                                                                         capsys) -> None:
    tiny = make_tiny_clip(tmp_path / "tiny")
    assert vector_length(tiny["folder"], "clip") == vector_length(tiny["file"], "clip") == 32
    for path in (tiny["folder"], tiny["file"]):
        assert main(["models", "add", "clip-vit-b-32", str(path)]) == 2
        err = capsys.readouterr().err
        assert "32-d" in err and "512-d" in err and "under a name of its own" in err
    register("field-clip", tiny["folder"])  # its own name: fine


def test_a_text_model_of_another_width_is_refused_as_minilm(tmp_path) -> None:
    folder = tmp_path / "bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"hidden_size": 768}))
    (folder / "model.safetensors").write_bytes(b"weights")
    with pytest.raises(ValueError, match="768-d.*384-d"):
        register("minilm", folder)
    (folder / "config.json").write_text(json.dumps({"hidden_size": 384}))
    register("minilm", folder)


def test_a_length_that_cannot_be_told_refuses_nothing(tmp_path) -> None:
    odd = tmp_path / "odd.safetensors"
    odd.write_bytes(b"not a safetensors file")
    assert vector_length(odd, "clip") is None
    register("clip-vit-b-32", odd)
