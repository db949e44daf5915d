"""Desktop integration: the .desktop entry, AppStream metainfo and icon set are well
formed and shipped; ``crisisdesk install-desktop`` writes them under $XDG_DATA_HOME (no
root) with Exec pointing at this crisisdesk, and ``--uninstall`` takes them away."""

from __future__ import annotations

import configparser
import os
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from crisisdesk.cli import main
from crisisdesk.core.desktop_install import APP_ID, SIZES, desktop_entry, exec_quote
from crisisdesk.core.resources import resource

ROOT = Path(__file__).resolve().parents[2]
MASTERS = ROOT / "packaging" / "desktop"
SHIPPED = ROOT / "resources" / "icons"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _entry(text: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    parser.read_string(text)
    return parser["Desktop Entry"]


def test_desktop_files_are_well_formed_and_shipped_copies_match_the_masters() -> None:
    for name in ("crisisdesk.svg", f"{APP_ID}.desktop", f"{APP_ID}.metainfo.xml"):
        assert (SHIPPED / name).read_bytes() == (MASTERS / name).read_bytes(), \
            f"{name}: run packaging/render_icons.py"
    metainfo = ET.fromstring(resource("icons", f"{APP_ID}.metainfo.xml").read_bytes())
    assert metainfo.tag == "component" and metainfo.get("type") == "desktop-application"
    assert metainfo.findtext("id") == APP_ID
    assert metainfo.findtext("launchable") == f"{APP_ID}.desktop"
    assert metainfo.findtext("icon") == "crisisdesk"
    svg = ET.fromstring(resource("icons", "crisisdesk.svg").read_bytes())
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    entry = _entry(resource("icons", f"{APP_ID}.desktop").read_text("utf-8"))
    assert entry["Type"] == "Application" and entry["Icon"] == "crisisdesk"
    assert entry["Exec"] == "crisisdesk open %f" and entry["Categories"].endswith(";")
    for size in SIZES:
        assert _png_size(resource("icons", f"crisisdesk-{size}.png").read_bytes()) == \
            (size, size)


def test_install_desktop_writes_entry_icons_and_metainfo_under_xdg_data_home(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["install-desktop"]) == 0
    entry_file = tmp_path / "applications" / f"{APP_ID}.desktop"
    entry = _entry(entry_file.read_text("utf-8"))
    program = entry["Exec"].removesuffix(" open %f")
    assert Path(program.split()[0]).is_absolute() and Path(entry["TryExec"]).is_file()
    assert entry["Icon"] == "crisisdesk"
    assert (tmp_path / "metainfo" / f"{APP_ID}.metainfo.xml").read_bytes() == \
        resource("icons", f"{APP_ID}.metainfo.xml").read_bytes()
    icons = tmp_path / "icons" / "hicolor"
    assert (icons / "scalable" / "apps" / "crisisdesk.svg").is_file()
    for size in SIZES:
        png = icons / f"{size}x{size}" / "apps" / "crisisdesk.png"
        assert _png_size(png.read_bytes()) == (size, size)
    assert str(entry_file) in capsys.readouterr().out
    assert not list(tmp_path.rglob("*.tmp"))


def test_uninstall_removes_what_install_wrote(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["install-desktop"]) == 0
    written = {p for p in tmp_path.rglob("*") if p.is_file() and "crisisdesk" in p.name.lower()}
    assert len(written) == 3 + len(SIZES)
    capsys.readouterr()
    assert main(["install-desktop", "--uninstall"]) == 0
    assert not any(p.exists() for p in written)
    assert main(["install-desktop", "--uninstall"]) == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_exec_of_a_path_with_spaces_is_quoted() -> None:
    assert exec_quote("/usr/bin/crisisdesk") == "/usr/bin/crisisdesk"
    assert exec_quote("/home/ana/my apps/bin/crisisdesk") == \
        '"/home/ana/my apps/bin/crisisdesk"'
    assert exec_quote("/opt/$x/crisisdesk") == '"/opt/\\\\$x/crisisdesk"'
    entry = _entry(desktop_entry(["/opt/crisis desk/crisisdesk"]))
    assert entry["Exec"] == '"/opt/crisis desk/crisisdesk" open %f'
    assert entry["TryExec"] == "/opt/crisis desk/crisisdesk"


def test_the_app_window_uses_the_shipped_icon_set(qapp) -> None:
    from crisisdesk.gui.app import make_application, window_icon

    # The drawn fallback (gui/style.py) has no 48 or 256 px size: these come from the PNGs.
    assert sorted(s.width() for s in window_icon().availableSizes()) == list(SIZES)
    assert sorted(s.width() for s in make_application().windowIcon().availableSizes()) == \
        list(SIZES)


def test_smoke_test_start_quits_once_the_window_has_painted(tmp_path: Path) -> None:
    """CRISISDESK_SMOKE_TEST (used to check the frozen app) opens, paints, exits 0."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "CRISISDESK_SMOKE_TEST": "1",
           "CRISISDESK_CONFIG_DIR": str(tmp_path / "cfg"),
           "CRISISDESK_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "posts.csv").write_text("id,text\n1,flooded road\n", encoding="utf-8")
    project = tmp_path / "proj"
    assert main(["import", str(project), str(tmp_path / "posts.csv")]) == 0
    done = subprocess.run([sys.executable, "-m", "crisisdesk", "open", str(project)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "smoke test: 'proj" in done.stdout and "painted" in done.stdout
