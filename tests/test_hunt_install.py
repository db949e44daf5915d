"""The first start after the README's install command, where it can go wrong on a fresh
machine: a Linux desktop missing a library of Qt's X11 plugin (Qt would abort the
process with a core dump and advice to reinstall), and the headless smoke test of
packaging/README.md on a project that cannot be opened (it must end, not wait on a
message box nobody can close)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crisisdesk.cli import main as cli_main

MISSING = "libxcb-icccm.so.4: cannot open shared object file: No such file or directory"


@pytest.fixture()
def x11_without_icccm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An X11 session (DISPLAY set, no Wayland, no platform forced) where the X11
    plugin of Qt cannot load because a system library is missing."""
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CRISISDESK_DATA_DIR", str(tmp_path / "data"))

    def cdll(name, *args, **kwargs):
        if "qxcb" in str(name):
            raise OSError(MISSING)
        return real(name, *args, **kwargs)

    real = ctypes.CDLL
    monkeypatch.setattr(ctypes, "CDLL", cdll)


def test_a_missing_x11_library_is_named_and_exits_2_before_qt_starts(
        x11_without_icccm, monkeypatch, capsys) -> None:
    from crisisdesk.gui import app

    def qt_started() -> None:
        raise AssertionError("Qt was started: it aborts the process on this machine")

    monkeypatch.setattr(app, "make_application", qt_started)
    assert cli_main([]) == 2
    err = capsys.readouterr().err
    assert "crisisdesk: error:" in err and "libxcb-icccm.so.4" in err
    assert "sudo apt install libxcb-icccm4" in err


def test_no_x11_check_when_qt_uses_another_platform(x11_without_icccm, monkeypatch) -> None:
    from crisisdesk.gui import app

    assert app.window_problem() is not None
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert app.window_problem() is None
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert app.window_problem() is None


def test_smoke_test_on_a_project_that_cannot_open_exits_2(tmp_path: Path) -> None:
    """Headless, nobody closes the error box: the smoke test says why and exits 2."""
    damaged = tmp_path / "damaged"
    assert cli_main(["import", str(damaged), "--format", "csv",
                     str(_posts_csv(tmp_path))]) == 0
    (damaged / "project.sqlite").write_bytes(b"not a database, " * 400)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "CRISISDESK_SMOKE_TEST": "1",
           "CRISISDESK_CONFIG_DIR": str(tmp_path / "cfg"),
           "CRISISDESK_DATA_DIR": str(tmp_path / "data")}
    try:
        done = subprocess.run([sys.executable, "-m", "crisisdesk", "open", str(damaged)],
                              capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("the smoke test waited on its error box instead of exiting")
    assert done.returncode == 2, done.stderr
    assert f"crisisdesk: error: {damaged}" in done.stderr
    assert "smoke test" not in done.stdout


def _posts_csv(folder: Path) -> Path:
    path = folder / "posts.csv"
    path.write_text("id,text\n1,flooded road\n", encoding="utf-8")
    return path
