"""Behaviours of ``crisisdesk doctor`` that no test held (found by planting bugs in a
copy, session 18): HF_HUB_OFFLINE spelt "true" read as offline, as the hub reads it; a
folder the user may not write named as a problem; a probe that printed its answer but
then failed not taken at its word, one that failed named by its error; the JSON
report's exit code; the order of the lines and the 4-bit line's fix when the GPU is
seen but cannot be opened; a machine's further GPUs counted; the torch build named, and
the fix for no GPU that fits it (a driver, a CUDA torch, a Mac's GPU). The probes are
faked here: no child process imports torch. (test_doctor's end-to-end run starts
``python -m crisisdesk`` without PYTHONPATH, so it never sees a planted copy.)"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from crisisdesk.core import doctor
from crisisdesk.core.doctor import OK, PROBLEM, WARNING, Check, ProbeCheck


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "on"])
def test_hf_hub_offline_spelt_as_the_hub_reads_it_is_offline(
        value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # huggingface_hub takes 1 / true / yes / on, any case: a warning for "true" sent the
    # analyst to unset a setting that works.
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert doctor.check_offline().status == OK


def test_hf_hub_offline_unset_or_off_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    check = doctor.check_offline()
    assert check.status == WARNING and "'0'" in check.summary and check.fix


def test_a_settings_folder_the_user_may_not_write_is_a_problem(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder that is there but not writable (owned by root after a sudo run). As
    root every folder is writable, so the permission check is answered for it here."""
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(locked / "crisisdesk"))
    monkeypatch.setenv("CRISISDESK_DATA_DIR", str(tmp_path / "data"))
    real_access = os.access

    def access(path: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        if Path(path) == locked and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    checks = {c.name: c for c in doctor.check_folders()}
    assert checks["settings"].status == PROBLEM
    assert str(locked / "crisisdesk") in checks["settings"].summary
    assert checks["data"].status == OK


def test_a_probe_that_answers_then_fails_is_not_taken_at_its_word() -> None:
    # A child that printed its JSON and then died (a driver crashing at exit): its
    # answer is not trusted, and the exit status is what the line says.
    probe = doctor.Probe("import sys; print('{\"gpus\": []}'); sys.exit(3)")
    assert probe.result() is None
    assert probe.error == "exit status 3"


def test_a_probe_that_fails_is_named_by_its_error_not_its_traceback_head() -> None:
    probe = doctor.Probe("import no_such_module_here")
    assert probe.result() is None
    assert "no_such_module_here" in probe.error and "Traceback" not in probe.error
    assert doctor.check_torch(None, probe.error).summary == (
        f"torch does not import: {probe.error}")


def test_the_json_report_carries_the_exit_code() -> None:
    problem = [Check("settings", PROBLEM, "x cannot be written", "fix it")]
    warning = [Check("gpu", WARNING, "no GPU", "a fix")]
    assert json.loads(doctor.report_json(problem))["exit_code"] == 1
    assert json.loads(doctor.report_json(warning))["exit_code"] == 0


def test_further_gpus_are_counted_on_the_gpu_line() -> None:
    gpu = {"name": "A100", "free_gb": 70.0, "total_gb": 80.0}
    info = {"torch": "2", "cuda_build": "12.8", "mps": False, "gpus": [gpu, dict(gpu)]}
    assert doctor.check_gpu(info).summary == "A100: 70.0 of 80.0 GB free (+1 more)"


def test_the_torch_line_says_which_build_it_is() -> None:
    # A CPU-only torch on a machine with an NVIDIA GPU is the usual "no GPU" cause.
    info = {"torch": "2.9.0", "cuda_build": "12.8", "mps": False, "gpus": []}
    assert doctor.check_torch(info, "").summary == "torch 2.9.0 (CUDA 12.8 build)"
    info["cuda_build"] = None
    assert doctor.check_torch(info, "").summary == "torch 2.9.0 (CPU-only build)"


def test_no_gpu_is_fixed_by_the_driver_or_by_a_cuda_torch_as_the_build_says() -> None:
    cuda = doctor.check_gpu({"torch": "2", "cuda_build": "12.8", "mps": False, "gpus": []})
    assert "NVIDIA driver" in cuda.fix and "--index-url" not in cuda.fix
    cpu = doctor.check_gpu({"torch": "2", "cuda_build": None, "mps": False, "gpus": []})
    assert "CUDA build of torch" in cpu.fix and "NVIDIA driver" not in cpu.fix


def test_an_apple_gpu_is_named_and_said_unused() -> None:
    mps = doctor.check_gpu({"torch": "2", "cuda_build": None, "mps": True, "gpus": []})
    assert mps.status == WARNING and "MPS" in mps.summary and "CPU" in mps.summary
    assert "CUDA build" not in mps.fix


class _FakeProbe:
    """A probe answered from ``ANSWERS`` by its code, with no child process."""

    ANSWERS: dict[str, tuple[dict[str, Any] | None, str]] = {}

    def __init__(self, code: str, env: object = None, in_frozen_app: bool = True) -> None:
        self.answer, self.error = self.ANSWERS[code]

    def result(self) -> dict[str, Any] | None:
        return self.answer


def test_a_gpu_seen_but_busy_sends_the_4bit_line_to_the_gpu_line_in_report_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run_checks itself (not only its parts): the GPU CUDA lists cannot be opened, so
    the 4-bit failure is the GPU's, not a bitsandbytes to reinstall; the probed lines
    follow the python line and the caller's own probe comes with them."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("CRISISDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    busy = {"torch": "2.9", "cuda_build": "12.8", "mps": False,
            "gpus": [{"name": "RTX A4000", "error": "CUDA error: busy"}]}
    _FakeProbe.ANSWERS = {doctor.TORCH_PROBE: (busy, ""),
                          doctor.BNB_PROBE: (None, "RuntimeError: busy"),
                          "extra": ({"fine": True}, "")}
    monkeypatch.setattr(doctor, "Probe", _FakeProbe)
    extra = ProbeCheck("extra", "extra", lambda info, error: Check("extra", OK, str(info)))
    checks = doctor.run_checks(extra=[extra])
    names = [c.name for c in checks]
    assert names[:6] == ["python", "torch", "gpu", "4-bit", "extra", "offline"], names
    by_name = {c.name: c for c in checks}
    assert by_name["gpu"].status == WARNING and "cannot be used" in by_name["gpu"].summary
    assert "gpu line" in by_name["4-bit"].fix and "pip install" not in by_name["4-bit"].fix
