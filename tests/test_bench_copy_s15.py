"""A bench run from a copy of the repository (``git archive`` into a scratch folder, as a
before/after comparison makes) times the copy's crisisdesk, not the editable install's
working tree: ``python COPY/bench/x.py`` puts COPY/bench on sys.path, never COPY, and
the editable install's finder answers ``import crisisdesk`` with the working tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHES = sorted(p.name for p in (ROOT / "bench").glob("*.py"))
#: Appended to the copy's crisisdesk/__init__.py: each import of the copy's package (in
#: the bench's process or a child it starts) writes where it was imported from.
MARK = ('\nimport os as _os\nif _os.environ.get("BENCH_COPY_MARK"):\n'
        '    with open(_os.environ["BENCH_COPY_MARK"], "a") as _mark:\n'
        '        _mark.write(__file__ + "\\n")\n')


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package and the benches copied to a scratch folder, the package marked."""
    folder = tmp_path_factory.mktemp("repo-copy")
    ignore = shutil.ignore_patterns("__pycache__")
    for part in ("crisisdesk", "bench"):
        shutil.copytree(ROOT / part, folder / part, symlinks=True, ignore=ignore)
    init = folder / "crisisdesk" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + MARK, encoding="utf-8")
    return folder


def _run(copy: Path, cwd: Path, code: str, mark: Path) -> list[str]:
    """``code`` run by this interpreter in ``cwd`` (no PYTHONPATH), as a script in the
    copy's bench folder is (that folder first on sys.path); the copy's imports, which
    ``mark`` records."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(BENCH_COPY_MARK=str(mark), HF_HUB_OFFLINE="1", QT_QPA_PLATFORM="offscreen")
    prelude = f"import sys\nsys.path[0] = {str(copy / 'bench')!r}\n"
    done = subprocess.run([sys.executable, "-c", prelude + code], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return mark.read_text(encoding="utf-8").splitlines() if mark.exists() else []


@pytest.mark.parametrize("bench", BENCHES)
def test_a_bench_in_a_copy_imports_the_copys_crisisdesk(copy: Path, tmp_path: Path,
                                                        bench: str) -> None:
    """The bench's module run (not its main: no figures), then crisisdesk imported as
    its main would."""
    imported = _run(copy, tmp_path, (
        "import runpy\n"
        f"runpy.run_path({str(copy / 'bench' / bench)!r}, run_name='bench_module')\n"
        "import crisisdesk\n"), tmp_path / "imported.txt")
    assert imported == [str(copy / "crisisdesk" / "__init__.py")]


@pytest.mark.parametrize("started_in", ["scratch", "working tree"])
def test_the_import_bench_child_runs_the_copys_crisisdesk(copy: Path, tmp_path: Path,
                                                         started_in: str) -> None:
    """import_bench times ``python -m crisisdesk`` in a child process: that child imports
    the copy's package too, wherever the bench is started from (``-m`` puts the working
    folder first: started in the working tree, it took the tree's package)."""
    cwd = tmp_path if started_in == "scratch" else ROOT
    imported = _run(copy, cwd, (
        "import import_bench\n"
        f"print(import_bench.run_child(['info', {str(tmp_path / 'no-project')!r}]))\n"),
        tmp_path / "imported.txt")
    assert str(copy / "crisisdesk" / "__init__.py") in imported
    assert all(line.startswith(str(copy)) for line in imported)
