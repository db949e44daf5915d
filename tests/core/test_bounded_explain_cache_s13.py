"""The explanations kept on disk and in memory stay bounded over a long day.

The overlay caches one JSON file per (item, class, model version...) in
``<project>/cache/explain/``: browsing 100,000 items with the overlay on grew the folder
without end. And every model version explained in a session kept its head loaded until
the app closed. Both are bounded now, counted here (never timed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_explain import DAMAGE, _head, _sidecar, posts_with_a_picture, tiny  # noqa: F401

from crisisdesk.cli import main
from crisisdesk.core.explain import explain_item
from crisisdesk.core.explain import item as explain
from crisisdesk.core.explain.item import explainer_for, forget_loaded
from crisisdesk.core.fusion.checkpoint import save_head
from crisisdesk.core.project import Project

TWEET = "Bridge collapsed after the earthquake, several houses destroyed #help"


def add_head(project: Project, name: str, seed: int) -> dict:
    """A guided_diff head over tiny-clip registered (and made active) for damage."""
    head = _head(seed=seed, n_classes=len(DAMAGE))
    sidecar = {**_sidecar(head), "classes": list(DAMAGE)}
    path = save_head(project.folder("models"), name, head, sidecar)
    with project.open_store() as store:
        store.add_model_version("damage", name, str(path), encoder="tiny-clip",
                                config=sidecar)
        return store.active_model_version("damage")


@pytest.fixture
def project(tmp_path: Path, tiny: dict, monkeypatch) -> Iterator[Project]:  # noqa: F811
    """One image post embedded with tiny-clip and a damage head."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    forget_loaded()
    posts = posts_with_a_picture(tmp_path / "src", [("1", TWEET, "1.png")])
    assert main(["import", str(tmp_path / "p"), str(posts)]) == 0
    assert main(["models", "add", "tiny-clip", str(tiny["folder"])]) == 0
    assert main(["embed", str(tmp_path / "p"), "--encoder", "tiny-clip"]) == 0
    opened = Project.open(tmp_path / "p")
    add_head(opened, "damage-a", 0)
    yield opened
    forget_loaded()


def cached(project: Project) -> list[Path]:
    return sorted((project.root / "cache" / "explain").glob("[!.]*.json"))


def fill(folder: Path, names: list[str], age_s: float) -> list[Path]:
    """Cache files of earlier days (their content does not matter to the bound)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, name in enumerate(names):
        path = folder / name
        path.write_text("{}", "utf-8")
        stamp = path.stat().st_mtime - age_s + n  # the later in the list, the newer
        os.utime(path, (stamp, stamp))
        paths.append(path)
    return paths


def test_a_write_prunes_the_cache_to_its_bound_keeping_the_current_versions(
        project: Project, monkeypatch) -> None:
    monkeypatch.setattr(explain, "CACHE_FILES", 6, raising=False)
    with project.open_store() as store:
        current = store.active_model_version("damage")["id"]
    folder = project.root / "cache" / "explain"
    # Older than the others, yet the active version's: kept before newer stale ones.
    mine = fill(folder, [f"{current}-{n:040x}.json" for n in range(3)], 7200)
    stale = fill(folder, [f"{current + 50}-{n:040x}.json" for n in range(5)]
                 + [f"ab{n:038x}.json" for n in range(5)], 3600)  # older names
    temp = folder / ".another-writer.json.tmp"
    temp.write_text("{", "utf-8")  # a write in progress elsewhere is never touched
    explain_item(project, "1_0", "damage", device="cpu")
    left = cached(project)
    assert len(left) == 6
    assert set(mine) <= set(left)  # the current version's are kept first
    assert stale[-2:] == [p for p in stale if p in left]  # then the newest of the rest
    assert temp.exists()


def test_explaining_many_classes_keeps_the_cache_within_its_bound(
        project: Project, monkeypatch) -> None:
    monkeypatch.setattr(explain, "CACHE_FILES", 2, raising=False)
    monkeypatch.setattr(explain, "PRUNE_EVERY", 1, raising=False)
    for class_name in (*DAMAGE, *DAMAGE):
        explain_item(project, "1_0", "damage", class_name, device="cpu", use_cache=False)
        assert len(cached(project)) <= 2
    # The newest explanation is among those kept: it is served again without a model.
    again = explain_item(project, "1_0", "damage", DAMAGE[-1], device="cpu")
    assert again.class_name == DAMAGE[-1]


def test_the_loaded_heads_are_the_newest_few_model_versions(
        project: Project, monkeypatch) -> None:
    monkeypatch.setattr(explain, "MAX_EXPLAINERS", 2, raising=False)
    versions = [add_head(project, f"damage-{n}", n + 1) for n in range(4)]
    with project.open_store() as store:
        first = explainer_for(store, "damage", versions[0], "cpu")
        for version in versions[1:3]:
            explainer_for(store, "damage", version, "cpu")
        assert explainer_for(store, "damage", versions[2], "cpu") is \
            explainer_for(store, "damage", versions[2], "cpu")  # still kept, not reloaded
        explainer_for(store, "damage", versions[3], "cpu")
        assert len(explain._EXPLAINERS) <= 2
        # The first version's head was let go: asked again, it is loaded anew.
        assert explainer_for(store, "damage", versions[0], "cpu") is not first
