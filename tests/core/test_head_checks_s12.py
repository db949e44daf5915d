"""A head is checked for what it is: a shipped head whose weights are damaged is repaired
by reinstalling crisisdesk (not by copying a project's model folder), and a head trained
for another task is refused even when that task's classes happen to be the same."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import pytest
import torch
from test_fusion_checkpoint import TinyConfig, TinyHead, build_tiny, sidecar_for

from crisisdesk.core.fusion import checkpoint
from crisisdesk.core.fusion.checkpoint import CheckpointError, load_head, save_head
from crisisdesk.core.fusion.starts import bundled_head_path
from crisisdesk.core.fusion.versions import check_classes
from crisisdesk.core.project import Project
from crisisdesk.core.schemes import builtin_schemes, scheme_from_json


def _refusal(path: Path, **kwargs) -> str:
    with pytest.raises(CheckpointError) as caught:
        load_head(path, **kwargs)
    return str(caught.value)


def test_damaged_shipped_weights_say_to_reinstall_crisisdesk(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The installed file cannot be spoilt here (it is shared): its sha256 is read as
    # another one, which is what a shipped file changed on disk looks like to load_head.
    monkeypatch.setattr(checkpoint, "file_sha256", lambda path: "0" * 64)
    with ExitStack() as stack:
        path = bundled_head_path("damage", stack)
        assert path is not None
        message = _refusal(path)
    assert "reinstall" in message and "pip install --force-reinstall crisisdesk" in message
    # Copying a project's models/ folder cannot repair a file of the package.
    assert "copy the model folder again" not in message, message


def test_damaged_project_weights_still_say_to_copy_the_model_folder(tmp_path: Path) -> None:
    torch.manual_seed(0)
    saved = save_head(tmp_path / "models", "damage-tiny", TinyHead(TinyConfig(n_classes=3)),
                      sidecar_for(TinyConfig(n_classes=3)))
    weights = saved.with_suffix(".safetensors")
    weights.write_bytes(weights.read_bytes()[:-8])
    message = _refusal(saved, build=build_tiny)
    assert "copy the model folder again" in message and "reinstall" not in message


@pytest.fixture
def severity(project: Project):
    """A store whose own task "severity" grades with exactly the damage task's classes."""
    store = project.open_store()
    store.add_scheme(scheme_from_json(
        {"task": "severity", "classes": list(builtin_schemes()["damage"].classes)},
        "severity.json"))
    yield store
    store.close()


def test_a_head_of_another_task_with_the_same_classes_is_refused(severity) -> None:
    classes = list(builtin_schemes()["damage"].classes)
    version = {"name": "damage-v3"}
    with pytest.raises(CheckpointError) as caught:
        check_classes(severity, "severity", version,
                      {"task": "damage", "classes": classes})
    message = str(caught.value)
    assert "damage-v3" in message and "damage" in message.replace("damage-v3", "")
    assert "severity" in message
    # Its own task's head, and an older sidecar that does not say its task, still pass.
    check_classes(severity, "severity", version, {"task": "severity", "classes": classes})
    check_classes(severity, "severity", version, {"classes": classes})


def test_the_shipped_heads_pass_their_own_tasks_checks(project: Project) -> None:
    with project.open_store() as store, ExitStack() as stack:
        for task in builtin_schemes():
            path = bundled_head_path(task, stack)
            assert path is not None
            sidecar = json.loads(path.read_text(encoding="utf-8"))
            check_classes(store, task, {"name": f"bundled-{task}"}, sidecar)
