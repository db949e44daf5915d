"""Upgrading crisisdesk under an analyst's projects: a release whose shipped heads
changed must not make predictions under the version an older head registered (that
version's predictions would then come from two different heads, its figures from the
old one), and two first starts at once must not pull the demo's files from under each
other."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from crisisdesk.cli import main
from crisisdesk.core import demo
from crisisdesk.core.files import file_sha256
from crisisdesk.core.fusion import starts
from crisisdesk.core.fusion.predict import NoModel, PredictJob, load_version
from crisisdesk.core.project import Project
from crisisdesk.core.resources import resource

TWEETS = [
    ("1", "Bridge collapsed after the earthquake, several houses destroyed"),
    ("2", "Volunteers collecting water and food donations for flood victims"),
    ("3", "Roof torn off the school by the storm, walls cracked"),
]


@pytest.fixture
def predicted(tmp_path: Path, monkeypatch) -> Project:
    """A project of three tweets, their texts embedded with MiniLM and predicted by the
    heads shipped with this release."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    source = tmp_path / "posts.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("id", "text"), *TWEETS])
    root = tmp_path / "p"
    assert main(["import", str(root), str(source)]) == 0
    assert main(["embed", str(root), "--encoder", "minilm", "--kind", "text"]) == 0
    project = Project.open(root)
    list(PredictJob(project, ["damage"]).run())
    return project


def next_release_heads(folder: Path, task: str) -> str:
    """The shipped heads as a later release might ship them: ``task``'s retrained (other
    weights, a sidecar saying so). Returns the new head's weights_sha256."""
    shutil.copytree(Path(str(resource("heads"))), folder)
    weights = folder / f"{task}.safetensors"
    state = load_file(str(weights))
    torch.manual_seed(0)
    save_file({key: value + torch.randn_like(value) for key, value in state.items()},
              str(weights))
    sidecar_path = folder / f"{task}.json"
    sidecar = json.loads(sidecar_path.read_text("utf-8"))
    sidecar["weights_sha256"] = file_sha256(weights)
    sidecar["created_at"] = "2027-03-01T00:00:00+00:00"
    sidecar_path.write_text(json.dumps(sidecar), "utf-8")
    return sidecar["weights_sha256"]


def test_a_shipped_head_changed_by_an_upgrade_predicts_as_a_version_of_its_own(
        predicted: Project, tmp_path: Path, monkeypatch) -> None:
    with predicted.open_store() as store:
        before = store.active_model_version("damage")
        old = store.predictions_of(before["id"], [1, 2, 3])
    assert before["path"] == "bundled:damage" and len(old) == 3

    new_sha = next_release_heads(tmp_path / "heads", "damage")
    installed = resource

    def upgraded(*parts: str):
        return (tmp_path / "heads").joinpath(*parts[1:]) if parts[0] == "heads" \
            else installed(*parts)

    monkeypatch.setattr(starts, "resource", upgraded)
    job = PredictJob(predicted, ["damage"])
    list(job.run())

    with predicted.open_store() as store:
        after = store.active_model_version("damage")
        new = store.predictions_of(after["id"], [1, 2, 3])
        kept_old = store.predictions_of(before["id"], [1, 2, 3])
    # The new head is a version of its own, its figures its own, and it predicted every
    # item; what the old version predicted stays the old head's.
    assert after["id"] != before["id"]
    assert after["config"]["weights_sha256"] == new_sha
    assert job.report.tasks["damage"]["predicted"] == 3 and len(new) == 3
    assert new != old
    assert all(kept_old[item] == old[item] for item in kept_old)
    # The old version cannot make more predictions with the new head's weights.
    with pytest.raises(NoModel, match="shipped head"):
        load_version(before)


def test_two_first_starts_at_once_keep_the_demo_files_the_first_imports_from(
        tmp_path: Path, monkeypatch) -> None:
    """Two windows launched together on a first run both copy the demo's files: the
    start that finishes copying second must not delete the first's copy, which the
    first is importing from by then, to put its own in its place."""
    data = tmp_path / "data"
    first, second = demo.DemoJob(data), demo.DemoJob(data)
    project = Project.open(first.root, create=True)
    copy = shutil.copytree
    calls: list[Path] = []
    held: list[int] = []

    def copying(source, target, *args, **kwargs):
        if Path(target).parent == project.root / "media":  # not a subfolder's copy
            calls.append(Path(target))
        if len(calls) == 1 and not held:
            # While the second start copies, the first finishes its copy and starts
            # importing from it.
            dest = first._copy_sources(project)
            held.append((dest / "README.md").stat().st_ino)
        return copy(source, target, *args, **kwargs)

    monkeypatch.setattr(demo.shutil, "copytree", copying)
    dest = second._copy_sources(project)
    assert len(calls) == 2 and held
    assert (dest / "README.md").stat().st_ino == held[0]  # the first's copy, still there
    assert sorted(p.name for p in dest.parent.iterdir()) == ["demo"]  # no copy left over
