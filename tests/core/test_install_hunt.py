"""Installation checks found by hand: the doctor's model lines say what ``models list``
says (a registered folder gone, a models.json it cannot read) instead of "not installed,
N MB to download"; a GPU that CUDA lists but cannot open is the gpu line's finding, not
a torch that does not import; ``install-desktop`` refreshes the desktop's caches but
never creates one; the heads script names a folder without CrisisMMD files."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from crisisdesk.cli import main
from crisisdesk.core import doctor
from crisisdesk.core.doctor import OK, PROBLEM, WARNING

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A settings folder of the test's own, an empty hub cache."""
    folder = tmp_path / "cfg"
    folder.mkdir()
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(folder))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return folder


def test_a_registered_folder_that_is_gone_is_reported_missing_not_to_download(
        config: Path) -> None:
    """The USB drive with the models not mounted: the doctor said "not installed (605 MB
    to download)" and "...; or or remove the entry" where models list says missing."""
    (config / "models.json").write_text(
        '{"clip-vit-b-32": {"path": "/media/usb/clip-vit-b-32", "kind": "clip"}}')
    checks = {c.name: c for c in doctor.check_models()}
    clip = checks["model clip-vit-b-32"]
    assert clip.status == WARNING
    assert clip.summary == ("missing (registered at /media/usb/clip-vit-b-32, which no "
                            "longer exists)")
    assert "to download" not in clip.summary and "or or" not in clip.fix
    assert "crisisdesk models add clip-vit-b-32 PATH" in clip.fix
    assert checks["model clip-vit-l-14"].summary.startswith("not installed (")


def test_an_unreadable_models_json_is_named_as_what_stops_every_model(
        config: Path) -> None:
    """Every look-up stops on it (registry.locate is strict), yet the doctor said the
    registrations were ignored and that the shipped MiniLM was not installed."""
    (config / "models.json").write_text('{"minilm": {"path": "/x"},')
    settings = [c for c in doctor.check_settings_files() if c.name == "settings models.json"]
    assert len(settings) == 1 and "ignored" not in settings[0].summary
    assert "no model can be found until it is fixed" in settings[0].summary
    checks = {c.name: c for c in doctor.check_models()}
    minilm = checks["model minilm"]
    assert minilm.status == PROBLEM  # the demo cannot be built: exit status 1
    assert minilm.summary == "unknown: models.json cannot be read"
    assert "not installed" not in minilm.summary and "settings models.json" in minilm.fix
    assert checks["model clip-vit-b-32"].summary == "unknown: models.json cannot be read"


def test_a_gpu_cuda_lists_but_cannot_open_is_a_gpu_warning_not_a_torch_problem(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A GPU full or held by another program (exclusive compute mode): opening it fails.
    The doctor said "torch does not import", advised reinstalling torch and exited 1."""
    import torch

    def busy(*args, **kwargs):
        raise RuntimeError("CUDA error: CUDA-capable device(s) is/are busy or unavailable"
                           "\nCUDA kernel errors might be asynchronously reported")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=None: "RTX A4000")
    monkeypatch.setattr(torch.cuda, "mem_get_info", busy)
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # the probe runs in-process
    probe = doctor.Probe(doctor.TORCH_PROBE)
    info = probe.result()
    assert info is not None, probe.error
    torch_line = doctor.check_torch(info, probe.error)
    assert torch_line.status == OK and torch.__version__ in torch_line.summary
    gpu = doctor.check_gpu(info)
    assert gpu.status == WARNING
    assert gpu.summary == ("RTX A4000 is seen but cannot be used: CUDA error: "
                           "CUDA-capable device(s) is/are busy or unavailable")
    assert "--device cpu" in gpu.fix
    four_bit = doctor.check_bitsandbytes(None, "RuntimeError: busy", True, gpu_usable=False)
    assert "gpu line" in four_bit.fix and "pip install" not in four_bit.fix
    assert doctor.exit_code([torch_line, gpu, four_bit]) == 0


def _fake_tool(folder: Path, name: str, log: Path) -> None:
    """An executable ``name`` in ``folder`` that logs its arguments and, like the real
    gtk-update-icon-cache, writes the cache into the folder it is given last."""
    script = folder / name
    script.write_text("#!/bin/sh\n"
                      f'echo "{name} $*" >> "{log}"\n'
                      'for last; do :; done\n'
                      'case "$last" in *hicolor) : > "$last/icon-theme.cache";; esac\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="Linux desktops only")
def test_install_desktop_creates_no_icon_cache_and_uninstall_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """gtk-update-icon-cache -f -t created ~/.local/share/icons/hicolor/icon-theme.cache:
    left by --uninstall, and once stale it hides icons other apps install later."""
    tools, log = tmp_path / "bin", tmp_path / "tools.log"
    tools.mkdir()
    for name in ("gtk-update-icon-cache", "update-desktop-database"):
        _fake_tool(tools, name, log)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ.get('PATH', '')}")
    home = tmp_path / "share"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    other = home / "icons" / "hicolor" / "48x48" / "apps" / "otherapp.png"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"another application's icon")

    assert main(["install-desktop"]) == 0
    assert not (home / "icons" / "hicolor" / "icon-theme.cache").exists()
    assert not (home / "applications" / "mimeinfo.cache").exists()
    assert main(["install-desktop", "--uninstall"]) == 0
    assert [p for p in home.rglob("*") if p.is_file()] == [other]
    assert not log.exists()  # no cache was there to refresh

    # A cache the desktop already keeps is refreshed, or it would hide crisisdesk's icon.
    (home / "icons" / "hicolor" / "icon-theme.cache").write_bytes(b"old")
    assert main(["install-desktop"]) == 0
    assert log.read_text().split() == ["gtk-update-icon-cache", "-f", "-t",
                                       str(home / "icons" / "hicolor")]
    capsys.readouterr()


def test_the_heads_script_names_a_folder_without_crisismmd_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """A mistyped folder ran on to a traceback: "this project has no text embeddings"."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "train_bundled_heads", ROOT / "packaging" / "train_bundled_heads.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with pytest.raises(SystemExit) as done:
        script.main([str(tmp_path / "settingA"), "--out", str(tmp_path / "heads")])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'settingA'}: no task_*_text_img_*.tsv files" in err
    assert not (tmp_path / "heads").exists()
