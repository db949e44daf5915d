"""Models brought to a locked-down laptop by hand: folders copied half-way or as links,
a text model without its tokenizer, names no job could use, and a settings folder on a
full disk. Each is refused when registered (naming the folder and what to do), and a
folder registered before that is reported, never loaded."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file
from test_hunt_models import _clip_folder, isolated  # noqa: F401 (autouse fixture)
from test_models import project_to_embed

from crisisdesk.cli import main
from crisisdesk.core.models import registry
from crisisdesk.core.models.registry import (
    ModelMissing,
    get_spec,
    install_state,
    locate,
    register,
)


def _minilm_without_tokenizer(folder: Path) -> Path:
    """MiniLM's config and weights copied, its tokenizer files not yet (a copy cut
    short): transformers then builds a tokenizer of special tokens alone."""
    shipped = locate(get_spec("minilm")).path
    folder.mkdir(parents=True)
    (folder / "config.json").write_bytes((shipped / "config.json").read_bytes())
    os.link(shipped / "model.safetensors", folder / "model.safetensors")
    return folder


def _registered_by_hand(name: str, folder: Path, kind: str) -> None:
    """A registration made before crisisdesk checked folders (or the folder damaged since)."""
    config = Path(os.environ["CRISISDESK_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "models.json").write_text(json.dumps({name: {"path": str(folder),
                                                           "kind": kind}}))


def test_a_text_model_without_its_tokenizer_is_refused_not_embedded_as_unk(
        tmp_path, capsys) -> None:
    """It registered, and every text was encoded as [CLS] [UNK]... [SEP]: one vector for
    all, stored under the model's name, with no error."""
    folder = _minilm_without_tokenizer(tmp_path / "usb stick" / "minilm copy")
    assert main(["models", "add", "field-text", str(folder)]) == 2
    err = capsys.readouterr().err
    assert str(folder) in err and "tokenizer" in err and "copy the whole" in err.lower()
    assert "field-text" not in registry.registered_paths()

    _registered_by_hand("field-text", folder, "text")
    with pytest.raises(ModelMissing, match="is incomplete: no tokenizer file"):
        locate(get_spec("field-text"))
    assert install_state(get_spec("field-text")).startswith("missing (registered at")
    project = project_to_embed(tmp_path)
    assert main(["embed", str(project.root), "--encoder", "field-text", "--kind", "text"]) == 2
    err = capsys.readouterr().err
    assert "incomplete: no tokenizer file" in err and "crisisdesk models add field-text" in err


def _captioner_folder(folder: Path, shards: int, present: int) -> Path:
    """A LLaVA folder as save_pretrained shards it, with ``present`` of its shards copied."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llava"}))
    (folder / "tokenizer.json").write_text("{}")
    (folder / "preprocessor_config.json").write_text("{}")
    names = [f"model-{i:05d}-of-{shards:05d}.safetensors" for i in range(1, shards + 1)]
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {f"layer{i}.weight": name for i, name in enumerate(names)}}))
    for name in names[:present]:
        save_file({"w": np.zeros(4, np.float32)}, str(folder / name))
    return folder


def test_a_sharded_folder_missing_shards_is_refused_and_never_listed_installed(
        tmp_path, capsys) -> None:
    half = _captioner_folder(tmp_path / "llava half", shards=3, present=1)
    assert main(["models", "add", "field-llava", str(half)]) == 2
    err = capsys.readouterr().err
    assert "2 of the 3 weight files" in err and "model-00002-of-00003.safetensors" in err
    _registered_by_hand("field-llava", half, "captioner")
    assert "incomplete" in install_state(get_spec("field-llava"))
    whole = _captioner_folder(tmp_path / "llava whole", shards=3, present=3)
    register("field-llava", whole)
    assert locate(get_spec("field-llava")).path == whole


def test_a_captioner_folder_without_its_processor_files_is_refused(tmp_path) -> None:
    folder = _captioner_folder(tmp_path / "llava", shards=1, present=1)
    (folder / "preprocessor_config.json").unlink()
    with pytest.raises(ValueError, match="no image processor file"):
        register("field-llava", folder)


def test_a_safetensors_file_cut_short_is_refused(tmp_path) -> None:
    folder = tmp_path / "clip copy"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text("{}")
    weights = folder / "open_clip_model.safetensors"
    save_file({"w": np.zeros(10_000, np.float32)}, str(weights))
    whole = weights.stat().st_size
    os.truncate(weights, whole // 2)
    with pytest.raises(ValueError, match=f"cut short \\({whole // 2:,} of {whole:,} bytes"):
        register("field-clip", folder)
    with pytest.raises(ValueError, match="cut short"):
        register("field-clip", weights, arch="ViT-B-32-quickgelu")


def test_a_hub_cache_folder_copied_as_links_is_named_as_links(tmp_path) -> None:
    """``cp -r`` of a snapshot folder copies its links to ../../blobs, not the files: the
    folder was refused as holding no open_clip_config.json (it does, as a link), or,
    with only the weights a link, registered and listed as installed."""
    snapshot = tmp_path / "usb" / "clip-b32"
    snapshot.mkdir(parents=True)
    for name in ("open_clip_config.json", "open_clip_model.safetensors"):
        (snapshot / name).symlink_to(Path("..") / ".." / "blobs" / name)
    with pytest.raises(ValueError) as caught:
        register("field-clip", snapshot)
    assert "are links to what was not copied" in str(caught.value)
    assert "cp -rL" in str(caught.value)
    (snapshot / "open_clip_config.json").unlink()
    (snapshot / "open_clip_config.json").write_text("{}")
    with pytest.raises(ValueError, match="open_clip_model.safetensors is a link"):
        register("field-clip", snapshot)


@pytest.mark.parametrize("name", ["", "  ", " field-clip", "field\nclip", "field\tclip",
                                  "open_clip:ViT-B-32/openai"])
def test_a_name_no_job_could_use_is_refused(tmp_path, capsys, name) -> None:
    """A blank name was registered as a blank row of models list; one with a line break
    broke the list; one starting with open_clip: is never looked up (the loader reads it
    as open_clip:ARCH/TAG and takes open_clip's own weights instead)."""
    folder = tmp_path / "clip"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text("{}")
    (folder / "open_clip_model.safetensors").write_bytes(b"w")
    assert main(["models", "add", name, str(folder)]) == 2
    err = capsys.readouterr().err
    assert ("needs a name" if not name.strip() else f"model name {name!r}") in err
    assert registry.registered_paths() == {}


def test_a_settings_folder_on_a_full_disk_is_said_not_a_traceback(
        tmp_path, monkeypatch, capsys) -> None:
    """``models add`` (and the app's "Add a model folder" and "local folder" buttons, which
    catch ValueError) ended in an OSError traceback when models.json could not be written."""
    folder = _clip_folder(tmp_path / "clip")
    monkeypatch.setattr(registry, "write_settings", disk_full)
    assert main(["models", "add", "field-clip", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "models.json cannot be written (No space left on device)" in err
    assert "field-clip was not registered" in err


def test_complete_text_and_captioner_folders_still_register(tmp_path) -> None:
    text = tmp_path / "bert"
    text.mkdir()
    (text / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (text / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    (text / "model.safetensors").write_bytes(b"w")  # no header to read: not judged
    register("field-text", text)
    assert locate(get_spec("field-text")).path == text


def disk_full(*_args, **_kwargs):
    """A settings write on a full disk (also used by the app's test of the same)."""
    raise OSError(errno.ENOSPC, "No space left on device")
