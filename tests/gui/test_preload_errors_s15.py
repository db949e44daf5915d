"""A registered text model whose folder broke after it was added (a config.json spoilt by
a hand edit, a half-copied tokenizer.json) does not stop the app's library imports: the
start-up preload still imports what the project's images need, the overlay its CLIP,
and only the job that loads the model fails, with a message naming the file. An Embed
with no text left to encode never loads it, so it ends well. A project without images
or versions imports nothing more for its tasks."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from test_item_model import build_large_project

from crisisdesk.core.encoders.base import EncoderError
from crisisdesk.core.project import Project
from crisisdesk.gui import job_libraries
from crisisdesk.gui.dialogs.settings_dialog import app_settings
from crisisdesk.gui.job_actions import JobActions

NAME = "field-text"


def _broken_text_model(root: Path) -> Path:
    """Register a text model folder as ``NAME``, then break its config.json."""
    from crisisdesk.core.models import registry

    folder = root / NAME
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(
        {"model_type": "bert", "architectures": ["BertModel"], "hidden_size": 8}))
    (folder / "tokenizer.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"\0" * 16)  # never read: the config fails
    registry.register(NAME, folder, kind="text")
    (folder / "config.json").write_text('{"model_type": "bert", ')  # cut short
    return folder


class _Jobs:
    """The jobs panel's stand-in: keeps each job's factory by title, runs none."""

    def __init__(self) -> None:
        self.made: dict[str, Any] = {}

    def run(self, title: str, make: Any, **_options: Any) -> None:
        self.made[title] = make


def _embed_factories(project: Project) -> dict[str, Any]:
    """The factories the window's Embed action hands the jobs panel (the texts' with
    ``NAME``), as its jobs' threads call them."""
    settings = app_settings()
    settings.setValue("text_encoder", NAME)
    settings.setValue("device", "cpu")
    settings.sync()
    actions, jobs = JobActions(), _Jobs()
    actions.window = SimpleNamespace(project=project)  # type: ignore[assignment]
    actions.jobs = jobs
    actions.run_embed()
    return jobs.made


def test_the_preload_goes_on_past_a_broken_text_model_folder(
        demo_like_project: Project, tmp_path: Path) -> None:
    _broken_text_model(tmp_path / "models")
    wanted = job_libraries.project_modules(demo_like_project, "clip-vit-b-32", NAME)
    assert "open_clip" in wanted
    assert set(job_libraries.CAPTION_MODULES) <= set(wanted)
    assert job_libraries.encoder_modules(NAME) == ()  # its embed job says what is wrong


def test_the_overlay_still_imports_the_clip_of_a_version_whose_text_model_broke(
        demo_like_project: Project, tmp_path: Path) -> None:
    _broken_text_model(tmp_path / "models")
    sidecar = {"image_encoder": "clip-vit-b-32", "text_encoder": NAME,
               "config": {"variant": "guided_diff"}}
    with demo_like_project.open_store() as store:
        store.add_model_version("damage", "damage-1", str(tmp_path / "head"),
                                encoder="clip-vit-b-32", config=sidecar)
    assert "open_clip" in job_libraries.version_modules(demo_like_project, ["damage"])


def test_the_text_embed_job_fails_naming_the_broken_file(qtbot, tmp_path: Path) -> None:
    folder = _broken_text_model(tmp_path / "models")
    project = build_large_project(tmp_path / "project", 4)
    made = _embed_factories(project)
    with pytest.raises(EncoderError, match=str(folder / "config.json")):
        list(made[f"Embed texts ({NAME})"]())


def test_an_embed_with_no_text_left_to_encode_ends_well_despite_the_broken_folder(
        qtbot, tmp_path: Path) -> None:
    _broken_text_model(tmp_path / "models")
    project = build_large_project(tmp_path / "project", 4)
    with project.open_store() as store:
        keys = [text.key for texts in store.item_text_slices() for text in texts]
        store.put_embeddings("text", NAME, keys, np.ones((len(keys), 8), np.float32))
    made = _embed_factories(project)
    steps = list(made[f"Embed texts ({NAME})"]())
    assert steps and steps[-1].total == 0  # nothing encoded, no model loaded


def test_a_project_without_images_or_versions_imports_nothing_for_its_tasks(
        tmp_path: Path) -> None:
    project = build_large_project(tmp_path / "project", 4)
    with project.open_store() as store:
        assert list(store.schemes()) and not store.has_images()
    assert job_libraries.version_modules(project) == ()
    assert job_libraries.version_modules(project, zero_shot_only=True) == ()
