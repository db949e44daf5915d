"""Model management as a new analyst meets it: registering folders and files, a settings
file spoilt by hand, and a download against a hub that never answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crisisdesk.cli import main
from crisisdesk.core import doctor
from crisisdesk.core.models import hub_download, registry
from crisisdesk.core.models.registry import get_spec, locate, register


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty settings folder and Hugging Face cache for each test."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return tmp_path


def _clip_folder(folder: Path) -> Path:
    """A hub-style open_clip folder (config and a weights file; contents not read)."""
    folder.mkdir(parents=True)
    (folder / "open_clip_config.json").write_text("{}")
    (folder / "open_clip_model.safetensors").write_bytes(b"w")
    return folder


# --- a broken settings file -------------------------------------------------------------

def test_models_add_keeps_a_models_json_it_cannot_read(tmp_path: Path, capsys) -> None:
    settings = tmp_path / "config" / "models.json"
    settings.parent.mkdir()
    spoilt = '{"field-clip": {"path": "/media/usb/clip", "kind": "clip"},\n'  # cut short
    settings.write_text(spoilt)
    folder = _clip_folder(tmp_path / "other")
    assert main(["models", "add", "other", str(folder)]) == 2
    err = capsys.readouterr().err
    assert str(settings) in err and "line 2" in err
    assert settings.read_text() == spoilt  # the analyst's registrations are not lost


def test_a_models_json_it_cannot_read_stops_a_job_instead_of_using_another_copy(
        tmp_path: Path) -> None:
    """Read as "no registrations", a spoilt models.json let a model registered in it
    (minilm at a folder of the analyst's) fall through to the packaged copy: another
    model's embeddings filed under the same name."""
    settings = tmp_path / "config" / "models.json"
    settings.parent.mkdir()
    settings.write_text('{"minilm": {"path": "/media/usb/minilm", "kind": "text"},}')
    spec = get_spec("minilm")
    with pytest.raises(registry.RegistrationsUnreadable) as caught:
        locate(spec)
    assert str(settings) in str(caught.value) and "models add" in str(caught.value)
    assert registry.install_state(spec).startswith("unknown")
    assert settings.read_text().endswith("},}")  # left as it is


def test_doctor_reports_a_settings_file_it_cannot_read(tmp_path: Path) -> None:
    settings = tmp_path / "config" / "models.json"
    settings.parent.mkdir()
    settings.write_text('{"field-clip": {"path": "/x"},')
    checks = [c for c in doctor.check_settings_files() if c.status != doctor.OK]
    assert len(checks) == 1
    assert checks[0].status == doctor.WARNING and str(settings) in checks[0].summary
    assert "registered models" in checks[0].summary


def test_a_registration_without_a_path_is_skipped_not_a_crash(tmp_path: Path,
                                                               capsys) -> None:
    settings = tmp_path / "config" / "models.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"x": {"kind": "clip"}, "y": "here"}))
    assert main(["models", "list"]) == 0
    assert "clip-vit-b-32" in capsys.readouterr().out


# --- what a registration must hold --------------------------------------------------------

def test_a_folder_without_weights_is_refused(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "clip copy é"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text("{}")
    assert main(["models", "add", "field-clip", str(folder)]) == 2
    err = capsys.readouterr().err
    assert str(folder) in err and "weights" in err
    assert "field-clip" not in registry.registered_paths()


def test_an_empty_folder_does_not_shadow_the_shipped_minilm(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["models", "add", "minilm", str(empty)]) == 2
    assert "config.json" in capsys.readouterr().err
    assert locate(get_spec("minilm")).route == "package"


def test_a_kind_that_contradicts_the_shipped_model_is_refused(tmp_path: Path) -> None:
    folder = _clip_folder(tmp_path / "clip")
    with pytest.raises(ValueError, match="minilm is a text model"):
        register("minilm", folder, kind="clip")
    text = tmp_path / "text"
    text.mkdir()
    (text / "config.json").write_text("{}")
    (text / "model.safetensors").write_bytes(b"w")
    with pytest.raises(ValueError, match="open_clip_config.json"):
        register("clip-vit-b-32", text)  # a text model's folder under a CLIP name


def test_good_folders_and_files_still_register(tmp_path: Path) -> None:
    folder = _clip_folder(tmp_path / "my clip é")
    register("field-clip", folder)
    assert locate(get_spec("field-clip")).path == folder
    checkpoint = tmp_path / "b32.safetensors"
    checkpoint.write_bytes(b"w")
    register("clip-vit-b-32", checkpoint)
    assert locate(get_spec("clip-vit-b-32")).route == "file"


# --- a hub that never answers --------------------------------------------------------------

def test_download_from_a_hub_that_never_answers_stops_with_a_message(monkeypatch) -> None:
    """A hub behind a firewall that swallows packets: the connection is taken (here: a
    local socket that listens and never answers) and no reply ever comes. The download
    must stop with a message naming the address, not wait forever."""
    import socket

    import huggingface_hub
    from huggingface_hub import constants

    fetched = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda *a, **k: fetched.append(a) or "/nowhere")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setattr(constants, "ENDPOINT", endpoint)
        monkeypatch.setattr(hub_download, "HUB_TIMEOUT_S", 0.5)
        with pytest.raises(TimeoutError, match="did not answer") as caught:
            hub_download.download(get_spec("clip-vit-b-32"))
    assert endpoint in str(caught.value)
    assert fetched == []


# --- first run -----------------------------------------------------------------------------

def test_a_vanished_last_project_falls_back_to_the_demo_saying_so(
        tmp_path: Path, monkeypatch, caplog) -> None:
    import logging
    import shutil

    from crisisdesk.core import launch
    from crisisdesk.core.project import Project
    from crisisdesk.core.settings import remember_project

    demo = tmp_path / "data" / "demo"
    monkeypatch.setattr(launch, "demo_project", lambda data_dir=None: demo)  # build: test_demo
    gone = Project.open(tmp_path / "field project", create=True).root
    remember_project(gone)
    shutil.rmtree(gone)
    with caplog.at_level(logging.WARNING, logger="crisisdesk.core.launch"):
        assert launch.project_to_open(None) == demo
    assert str(gone) in caplog.text and "demo" in caplog.text


def test_a_demo_folder_left_without_its_database_is_built_again(tmp_path: Path) -> None:
    """The analyst deleted project.sqlite to reset the demo (or the first build was killed
    before it made one): the next start builds the demo there again, keeping the files
    in the folder, instead of refusing it as 'a folder with other files in it' forever."""
    from crisisdesk.core.demo import demo_project, demo_root, is_built

    data = tmp_path / "data"
    root = demo_root(data)
    for name in ("cache", "exports", "media", "models"):
        (root / name).mkdir(parents=True)
    (root / "exports" / "my-labels.csv").write_text("kept")
    assert demo_project(data) == root
    assert is_built(root)
    assert (root / "exports" / "my-labels.csv").read_text() == "kept"
