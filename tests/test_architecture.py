"""Rules of the code base's shape that no single feature test would notice breaking.

* The core imports without Qt: every ``crisisdesk.core`` module loads with PySide6
  blocked, and none of them pulls in ``crisisdesk.gui``.
* Every package folder under ``crisisdesk/`` is listed in pyproject.toml (packages are
  listed by hand there, so a new one would silently be left out of the wheel).
* Shipped data is found through ``importlib.resources``.
* Model files are loaded with ``torch.load(..., weights_only=True)`` only.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "crisisdesk"

IMPORT_CORE_WITHOUT_QT = r"""
import importlib, json, pkgutil, sys
sys.modules["PySide6"] = None  # any "import PySide6..." now raises ImportError

import crisisdesk.core
failures = []
names = ["crisisdesk.core"]
for info in pkgutil.walk_packages(crisisdesk.core.__path__, "crisisdesk.core.",
                                  onerror=lambda name: failures.append([name, "walk"])):
    names.append(info.name)
for name in names:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failures.append([name, f"{type(exc).__name__}: {exc}"])
print(json.dumps({
    "modules": names,
    "failures": failures,
    "gui": sorted(m for m in sys.modules if m.split(".")[:2] == ["crisisdesk", "gui"]),
    "qt": sorted(m for m in sys.modules
                 if m.split(".")[0] == "PySide6" and sys.modules[m] is not None),
}))
"""


def test_core_imports_without_qt_and_without_gui() -> None:
    done = subprocess.run([sys.executable, "-c", IMPORT_CORE_WITHOUT_QT], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failures"] == []
    assert result["gui"] == []
    assert result["qt"] == []
    # The walk found the core's modules (so the test is not passing on an empty list).
    expected = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                for p in (PACKAGE / "core").rglob("*.py")}
    assert expected <= set(result["modules"])


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts)
             for init in PACKAGE.rglob("__init__.py") if "__pycache__" not in init.parts}
    assert "crisisdesk" in found and "crisisdesk.core" in found
    assert sorted(found - listed) == [], "add these packages to [tool.setuptools] packages"
    # And every listed package has a folder (its own, or one mapped by package-dir).
    package_dir = setuptools.get("package-dir", {})
    for name in listed:
        folder = ROOT / package_dir[name] if name in package_dir else ROOT.joinpath(
            *name.split("."))
        assert (folder / "__init__.py").is_file(), f"{name}: no package at {folder}"


def test_resources_are_reachable_through_importlib_resources() -> None:
    node = importlib.resources.files("crisisdesk.resources").joinpath(
        "label_schemes/informative.json")
    assert node.is_file()
    data = json.loads(node.read_text(encoding="utf-8"))
    assert data["task"] == "informative"
    assert data["classes"] == ["informative", "not_informative"]


def test_code_does_not_locate_data_through_file_paths() -> None:
    """Shipped data is read with importlib.resources, never relative to ``__file__``."""
    offenders = [f"{path.relative_to(ROOT)}:{number}"
                 for path in sorted(PACKAGE.rglob("*.py"))
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if "__file__" in line]
    assert offenders == []


TORCH_LOAD = re.compile(r"\btorch\s*\.\s*load\s*\(")


def unsafe_torch_loads(source: str) -> list[str]:
    """The ``torch.load(...)`` calls in ``source`` that do not pass ``weights_only=True``."""
    bad = []
    for match in TORCH_LOAD.finditer(source):
        depth, end = 1, match.end()
        while depth and end < len(source):
            depth += {"(": 1, ")": -1}.get(source[end], 0)
            end += 1
        call = source[match.start():end]
        if not re.search(r"\bweights_only\s*=\s*True\b", call):
            line = source.count("\n", 0, match.start()) + 1
            bad.append(f"line {line}: {' '.join(call.split())}")
    return bad


@pytest.mark.parametrize(("source", "unsafe"), [
    ("state = torch.load(path, map_location='cpu', weights_only=True)", 0),
    ("state = torch.load(\n    path,\n    weights_only=True,\n)", 0),
    ("state = torch.load(path)", 1),
    ("state = torch.load(open(p, 'rb'), map_location=dev)", 1),
    ("state = torch.load(path, weights_only=False)", 1),
    ("a = torch.load(x, weights_only=True); b = torch.load(y)", 1),
], ids=["safe", "safe-multiline", "bare", "nested-parens", "weights_only-false", "two-calls"])
def test_unsafe_torch_load_finder(source: str, unsafe: int) -> None:
    assert len(unsafe_torch_loads(source)) == unsafe


def test_torch_load_always_uses_weights_only() -> None:
    offenders = {str(path.relative_to(ROOT)): bad
                 for path in sorted(PACKAGE.rglob("*.py"))
                 if (bad := unsafe_torch_loads(path.read_text(encoding="utf-8")))}
    assert offenders == {}, "pass weights_only=True to torch.load (pickle runs code)"


def test_test_modules_have_names_of_their_own() -> None:
    """pytest imports test modules by their base name (no __init__.py in tests/): two of
    one name in tests/core and tests/gui stop the whole suite at collection."""
    from collections import Counter

    tests = Path(__file__).resolve().parent
    names = Counter(path.name for path in tests.rglob("test_*.py"))
    assert [name for name, n in names.items() if n > 1] == []
