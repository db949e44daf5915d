"""``crisisdesk doctor``: a model not installed and a machine without a GPU are warnings
with their fixes, and the command exits 0; a real problem (settings that cannot be
written, Qt that cannot open a window on a display) makes it exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crisisdesk.core import doctor
from crisisdesk.core.doctor import OK, PROBLEM, WARNING, Check
from crisisdesk.gui import qt_check


def _isolated_env(tmp_path: Path) -> dict[str, str]:
    """Settings, data and the Hugging Face cache in tmp_path; no GPU visible."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_CACHE", "PYTHONPATH")}
    env.update(CRISISDESK_CONFIG_DIR=str(tmp_path / "cfg"),
               CRISISDESK_DATA_DIR=str(tmp_path / "data"), HF_HOME=str(tmp_path / "hf"),
               CUDA_VISIBLE_DEVICES="", QT_QPA_PLATFORM="offscreen")
    return env


def test_doctor_reports_missing_model_and_gpu_as_warnings_and_exits_0(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "crisisdesk", "doctor", "--json"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env=_isolated_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["exit_code"] == 0
    assert [c["name"] for c in report["checks"] if c["status"] == PROBLEM] == []

    clip = checks["model clip-vit-b-32"]  # the Hugging Face cache is empty
    assert clip["status"] == WARNING and "not installed" in clip["summary"]
    assert "crisisdesk models download clip-vit-b-32" in clip["fix"]
    assert "crisisdesk models add clip-vit-b-32 PATH" in clip["fix"]
    assert clip["details"]["download_mb"] > 0

    gpu = checks["gpu"]
    assert gpu["status"] == WARNING and "no GPU" in gpu["summary"]
    assert "NVIDIA" in gpu["fix"]

    minilm = checks["model minilm"]  # shipped as a package: installed, with its size
    assert minilm["status"] == OK and minilm["details"]["size_mb"] > 10
    assert checks["torch"]["status"] == OK and checks["python"]["status"] == OK
    assert checks["qt"]["status"] == OK and checks["qt"]["details"]["platform"] == "offscreen"
    assert checks["4-bit"]["status"] in (OK, WARNING) and checks["4-bit"]["summary"]
    assert checks["settings"]["summary"] == str(tmp_path / "cfg")
    assert checks["hf cache"]["summary"] == str(tmp_path / "hf" / "hub")
    assert checks["offline"]["status"] == OK


def test_text_report_puts_each_fix_under_its_line() -> None:
    text = doctor.report_text([
        Check("gpu", WARNING, "no GPU", "install the driver"),
        Check("torch", OK, "torch 2.x", "never shown for ok lines"),
    ])
    lines = text.splitlines()
    assert lines[0].startswith("warning  gpu") and lines[1].strip() == "fix: install the driver"
    assert "never shown" not in text
    assert lines[-1] == "0 problem(s), 1 warning(s)"


def test_a_registered_model_is_reported_installed_with_its_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crisisdesk.core.models.registry import register

    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    checkpoint = tmp_path / "clip-b32.safetensors"
    checkpoint.write_bytes(b"\0" * 3_000_000)
    register("clip-vit-b-32", checkpoint)
    checks = {c.name: c for c in doctor.check_models()}
    assert checks["model clip-vit-b-32"].status == OK
    assert checks["model clip-vit-b-32"].details["size_mb"] == 3.0
    assert checks["model clip-vit-l-14"].status == WARNING


def test_settings_that_cannot_be_written_are_a_problem_and_exit_1(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", "utf-8")
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(blocker / "crisisdesk"))
    monkeypatch.setenv("CRISISDESK_DATA_DIR", str(tmp_path / "data"))
    checks = {c.name: c for c in doctor.check_folders()}
    assert checks["settings"].status == PROBLEM
    assert "CRISISDESK_CONFIG_DIR" in checks["settings"].fix
    assert checks["data"].status == OK
    assert doctor.exit_code(list(checks.values())) == 1
    assert doctor.exit_code([c for c in checks.values() if c.status != PROBLEM]) == 0


def test_qt_failing_on_a_display_is_a_problem_and_without_one_a_warning(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    # No library found missing (this machine's own may be): the general advice.
    monkeypatch.setattr(qt_check, "missing_x11_library", lambda: None)
    failed = qt_check.check_qt(None, "could not load the Qt platform plugin \"xcb\"")
    assert failed.status == PROBLEM and "libxcb-cursor0" in failed.fix
    monkeypatch.delenv("DISPLAY")
    headless = qt_check.check_qt(None, "could not connect to display")
    assert headless.status == WARNING and "offscreen" in headless.fix


def test_a_gpu_with_little_free_memory_is_a_warning() -> None:
    info = {"torch": "2", "cuda_build": "12.8", "mps": False,
            "gpus": [{"name": "Small GPU", "free_gb": 3.0, "total_gb": 4.0}]}
    assert doctor.check_gpu(info).status == WARNING
    info["gpus"][0].update(free_gb=20.0, total_gb=24.0)
    roomy = doctor.check_gpu(info)
    assert roomy.status == OK and "Small GPU: 20.0 of 24.0 GB free" == roomy.summary


def test_in_the_frozen_app_probes_run_in_process_except_qt(monkeypatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert doctor.Probe("import json; print(json.dumps({'a': 1}))").result() == {"a": 1}
    failing = doctor.Probe("import no_such_module_here")
    assert failing.result() is None and "no_such_module_here" in failing.error
    qt = doctor.Probe(qt_check.QT_PROBE, in_frozen_app=False)
    assert qt.result() is None and qt.process is None  # a missing plugin would abort us
    assert qt_check.check_qt(None, qt.error).status == OK


def test_the_doctor_names_the_x11_library_qt_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its fix listed libxcb-cursor0 and two others whatever was missing (on a machine
    lacking libxcb-icccm4 and libxcb-keysyms1 it named none of them)."""
    import ctypes

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    real = ctypes.CDLL

    def cdll(name, *args, **kwargs):
        if "qxcb" in str(name):
            raise OSError("libxcb-keysyms.so.1: cannot open shared object file: "
                          "No such file or directory")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    failed = qt_check.check_qt(None, "could not load the Qt platform plugin \"xcb\"")
    assert failed.status == PROBLEM
    assert "sudo apt install libxcb-keysyms1" in failed.fix
    assert "libxcb-keysyms.so.1" in failed.fix
