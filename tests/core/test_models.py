"""The model registry: specs, registrations, the offline hub-cache look-up, and the
message a missing model gives (without any network attempt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisisdesk.cli import main
from crisisdesk.core.encoders.base import EncoderError
from crisisdesk.core.encoders.factory import load_encoder, resolve_device
from crisisdesk.core.models.registry import (
    ModelMissing,
    builtin_specs,
    get_spec,
    locate,
    register,
)
from crisisdesk.core.project import Project


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch) -> Path:
    """Empty settings folder and Hugging Face cache for each test."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return tmp_path



def test_shipped_specs_have_what_the_registry_promises() -> None:
    specs = builtin_specs()
    assert {"clip-vit-b-32", "clip-vit-l-14", "minilm"} <= set(specs)
    b32 = specs["clip-vit-b-32"]
    assert (b32.arch, b32.pretrained, b32.dim) == ("ViT-B-32-quickgelu", "openai", 512)
    for spec in specs.values():
        assert spec.kind in ("clip", "text", "captioner")
        assert spec.licence and spec.download_mb and spec.preprocessing and spec.hub_id


def test_missing_model_names_places_and_fixes_without_network(no_network, tmp_path) -> None:
    with pytest.raises(ModelMissing) as caught:
        load_encoder("clip-vit-b-32", "cpu")
    message = str(caught.value)
    assert "'clip-vit-b-32' is not installed" in message
    assert str(tmp_path / "config" / "models.json") in message
    assert str(tmp_path / "hf" / "hub") in message
    assert "timm/vit_base_patch32_clip_224.openai" in message
    assert "crisisdesk models download clip-vit-b-32" in message
    assert "crisisdesk models add clip-vit-b-32 PATH" in message
    assert no_network == []


def project_to_embed(tmp_path: Path) -> Project:
    """A project with one post: something to encode, so the embed needs its model (with
    nothing to encode it needs none, and notes a missing one)."""
    src = tmp_path / "posts.csv"
    src.write_text("id,text\n1,road closed\n", encoding="utf-8")
    assert main(["import", str(tmp_path / "p"), str(src)]) == 0
    return Project.open(tmp_path / "p")


def test_embed_command_with_a_missing_model_exits_2(no_network, tmp_path, capsys) -> None:
    project = project_to_embed(tmp_path)
    assert main(["embed", str(project.root), "--encoder", "clip-vit-l-14"]) == 2
    err = capsys.readouterr().err
    assert "'clip-vit-l-14' is not installed" in err
    assert "crisisdesk models download clip-vit-l-14" in err
    assert no_network == []


def test_a_model_in_the_hub_cache_is_found_offline(no_network, tmp_path) -> None:
    spec = get_spec("clip-vit-b-32")
    repo = tmp_path / "hf" / "hub" / "models--timm--vit_base_patch32_clip_224.openai"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"weights")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    location = locate(spec)
    assert location.route == "hub-cache"
    assert location.path == snapshot / "open_clip_model.safetensors"
    assert no_network == []


def test_registered_file_and_folder_win(tmp_path, capsys) -> None:
    checkpoint = tmp_path / "b32.safetensors"
    checkpoint.write_bytes(b"weights")
    assert main(["models", "add", "clip-vit-b-32", str(checkpoint)]) == 0
    assert locate(get_spec("clip-vit-b-32")).route == "file"
    folder = tmp_path / "my-clip"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text("{}")
    (folder / "open_clip_model.safetensors").write_bytes(b"weights")
    assert main(["models", "add", "field-clip", str(folder)]) == 0
    spec = get_spec("field-clip")
    assert spec.kind == "clip"
    assert locate(spec).path == folder
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "field-clip" in out and f"installed (file: {checkpoint})" in out


def test_registering_a_name_again_says_which_path_it_replaces(tmp_path, capsys) -> None:
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    for path in (first, second):
        path.write_bytes(b"weights")
    assert main(["models", "add", "clip-vit-b-32", str(first)]) == 0
    assert "replaces" not in capsys.readouterr().out
    assert main(["models", "add", "clip-vit-b-32", str(second)]) == 0
    out = capsys.readouterr().out
    assert f"registered clip-vit-b-32 -> {second}" in out
    assert f"replaces the earlier registration of clip-vit-b-32: {first}" in out


def test_registering_a_checkpoint_of_an_unknown_model_needs_its_arch(tmp_path) -> None:
    checkpoint = tmp_path / "x.safetensors"
    checkpoint.write_bytes(b"w")
    with pytest.raises(ValueError, match="--arch"):
        register("mystery", checkpoint)
    register("mystery", checkpoint, arch="ViT-B-16")
    assert get_spec("mystery").arch == "ViT-B-16"


def test_a_registered_path_that_vanished_is_said(tmp_path) -> None:
    checkpoint = tmp_path / "gone.safetensors"
    checkpoint.write_bytes(b"w")
    register("clip-vit-b-32", checkpoint)
    checkpoint.unlink()
    with pytest.raises(ModelMissing, match="no longer exists"):
        locate(get_spec("clip-vit-b-32"))


def test_minilm_is_installed_by_its_package() -> None:
    location = locate(get_spec("minilm"))
    assert location.route == "package"
    assert (location.path / "model.safetensors").is_file()


def test_unknown_model_and_bad_ad_hoc_names() -> None:
    with pytest.raises(EncoderError, match="unknown model 'nope'"):
        load_encoder("nope", "cpu")
    with pytest.raises(EncoderError, match="open_clip:ARCH/TAG"):
        load_encoder("open_clip:ViT-B-32", "cpu")


def test_cuda_asked_without_a_gpu_is_an_error_not_a_fallback(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(EncoderError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_download_goes_online_for_that_call_only(tmp_path, monkeypatch, capsys) -> None:
    """`models download` is the one explicit network step: the hub client is switched
    online for the call and offline again after it. Simulated: the hub's
    snapshot_download is replaced by a fake that records its arguments and returns an
    empty local folder, so nothing is fetched and no weights are loaded (the loading
    code is tested on tiny models built locally, in test_clip_encoder.py and
    test_caption_local.py)."""
    import huggingface_hub
    from huggingface_hub import constants

    seen = {}

    def fake_snapshot_download(repo_id, revision=None, allow_patterns=None, cache_dir=None):
        seen.update(repo=repo_id, offline=constants.HF_HUB_OFFLINE, patterns=allow_patterns)
        folder = Path(cache_dir) / "models--x" / "snapshots" / "b"
        folder.mkdir(parents=True)
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", lambda *a, **k: None)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert main(["models", "download", "clip-vit-l-14"]) == 0
    assert seen == {"repo": "timm/vit_large_patch14_clip_224.openai", "offline": False,
                    "patterns": ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]}
    assert constants.HF_HUB_OFFLINE is True
    assert "clip-vit-l-14 installed in" in capsys.readouterr().out


def test_a_failed_download_says_how_to_install_offline(monkeypatch, capsys) -> None:
    import huggingface_hub

    def unreachable(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", unreachable)
    assert main(["models", "download", "clip-vit-b-32"]) == 2
    err = capsys.readouterr().err
    assert "network is unreachable" in err
    assert "crisisdesk models add clip-vit-b-32 PATH" in err


def _vanished_minilm_folder(tmp_path: Path) -> Path:
    """A MiniLM folder registered as ``minilm`` and then deleted (a drive unmounted)."""
    folder = tmp_path / "usb" / "minilm"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    register("minilm", folder)
    (folder / "config.json").unlink()
    (folder / "model.safetensors").unlink()
    folder.rmdir()
    return folder


def test_a_vanished_registration_is_no_silent_fallback_to_the_shipped_copy(
        tmp_path, capsys) -> None:
    """The package's MiniLM may not be the registered weights: embeddings of both would
    mix under one encoder name. The job stops, naming the path and the fixes."""
    folder = _vanished_minilm_folder(tmp_path)
    with pytest.raises(ModelMissing) as caught:
        locate(get_spec("minilm"))
    message = str(caught.value)
    assert f"'minilm' is registered at {folder}, which no longer exists" in message
    assert "crisisdesk models add minilm PATH" in message
    assert str(tmp_path / "config" / "models.json") in message  # where to drop it
    project = project_to_embed(tmp_path)
    assert main(["embed", str(project.root), "--encoder", "minilm", "--kind", "text"]) == 2
    assert f"registered at {folder}, which no longer exists" in capsys.readouterr().err


def test_a_vanished_clip_registration_does_not_fall_back_to_the_hub_cache(tmp_path) -> None:
    snapshot = tmp_path / "hf" / "hub" / "models--timm--vit_base_patch32_clip_224.openai"
    (snapshot / "snapshots" / ("a" * 40)).mkdir(parents=True)
    (snapshot / "snapshots" / ("a" * 40) / "open_clip_model.safetensors").write_bytes(b"w")
    (snapshot / "refs").mkdir()
    (snapshot / "refs" / "main").write_text("a" * 40)
    checkpoint = tmp_path / "b32.safetensors"
    checkpoint.write_bytes(b"weights")
    register("clip-vit-b-32", checkpoint)
    checkpoint.unlink()
    with pytest.raises(ModelMissing, match=f"registered at {checkpoint}, which no longer"):
        load_encoder("clip-vit-b-32", "cpu")


def test_models_list_shows_a_vanished_registration_as_missing(tmp_path, capsys) -> None:
    folder = _vanished_minilm_folder(tmp_path)
    assert main(["models", "list"]) == 0
    minilm = next(line for line in capsys.readouterr().out.splitlines()
                  if line.startswith("minilm "))
    assert f"missing (registered at {folder}, which no longer exists)" in minilm


@pytest.mark.parametrize(("env", "want"), [
    ({"HF_HUB_CACHE": "/a/hub", "HF_HOME": "/b"}, "/a/hub"),
    ({"HUGGINGFACE_HUB_CACHE": "/old/hub", "HF_HOME": "/b"}, "/old/hub"),
    ({"HF_HOME": "/b", "XDG_CACHE_HOME": "/x"}, "/b/hub"),
    ({"XDG_CACHE_HOME": "/x"}, "/x/huggingface/hub"),  # common on clusters: was ignored
    ({}, "~/.cache/huggingface/hub"),
])
def test_the_hub_cache_is_where_huggingface_hub_puts_it(monkeypatch, env, want) -> None:
    """A model fetched with other Hugging Face tools is found where they put it."""
    from crisisdesk.core.models.registry import hub_cache_dir

    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert hub_cache_dir() == Path(want).expanduser()
