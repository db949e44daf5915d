"""Zero-shot start hunt: what an analyst meets with a new project's first predictions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_predict_starts import imported  # tests/core/ is on sys.path (pytest)
from tiny_clip import make_tiny_clip  # tests/ is on sys.path (conftest.py)

from crisisdesk.cli import main
from crisisdesk.core.fusion.evaluate import evaluate
from crisisdesk.core.fusion.predict import NoModel, PredictJob
from crisisdesk.core.project import Project

#: Real CrisisMMD tweets (damage dev split, links cut); two keep a photo, one is text-only.
TWEETS = [
    ("919946322177802241", "California wildfires: winds die down, helping containment "
     "efforts", "1.jpg", "severe_damage", "dev"),
    ("906842826457133056", "Trump Climate Change Denial: Nature Isn't wrong, Hurricane "
     "Irma &amp; Harvey", "2.jpg", "severe_damage", "dev"),
    ("906195501338558465", "Keep praying for Texas! These families have a long road "
     "ahead of them. #PrayforTexas", "", "severe_damage", "dev"),
]


@pytest.fixture
def zero_shot_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                      ) -> tuple[Project, Path]:
    """A project predicted by CLIP zero-shot (a tiny CLIP registered as ``tiny-clip``);
    returns it and the registered model folder."""
    imported(tmp_path, monkeypatch, ("id", "text", "image", "damage", "split"), TWEETS)
    tiny = make_tiny_clip(tmp_path / "models")
    assert main(["models", "add", "tiny-clip", str(tiny["folder"])]) == 0
    assert main(["embed", str(tmp_path / "p"), "--encoder", "tiny-clip"]) == 0
    assert main(["predict", str(tmp_path / "p"), "--task", "damage"]) == 0
    return Project.open(tmp_path / "p"), Path(tiny["folder"])


def test_zero_shot_clip_gone_is_said_not_a_traceback(
        zero_shot_project: tuple[Project, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """The CLIP model the active zero-shot version scores with was registered from a USB
    stick that is no longer mounted: predict and eval say which model and how to fix it
    (exit 2), as for a trained head whose checkpoint is gone, instead of a traceback."""
    project, folder = zero_shot_project
    with project.open_store() as store:  # a new item to predict, so predict needs CLIP
        store.conn.execute("DELETE FROM predictions")
        store.conn.commit()
    shutil.rmtree(folder)
    capsys.readouterr()
    assert main(["predict", str(project.root), "--task", "damage"]) == 2
    err = capsys.readouterr().err
    assert "zero-shot-tiny-clip-damage" in err
    assert "crisisdesk models add tiny-clip PATH" in err
    assert main(["eval", str(project.root), "--task", "damage"]) == 2
    assert "crisisdesk models add tiny-clip PATH" in capsys.readouterr().err
    # The core API says so with the exception front ends already handle.
    with project.open_store() as store, pytest.raises(NoModel, match="tiny-clip"):
        evaluate(store, "damage", "dev")
    job = PredictJob(project, ["damage"])
    with pytest.raises(NoModel, match="no longer exists"):
        list(job.run())
    assert "models add tiny-clip" in job.report.tasks["damage"]["error"]


def make_other_clip(folder: Path) -> Path:
    """Another tiny CLIP, of 16-d vectors (the fixture's makes 32-d ones), as a hub-style
    folder; open_clip's registry is left with the usual tiny architecture."""
    import copy

    import tiny_clip

    original = tiny_clip.TINY_CONFIG
    tiny_clip.TINY_CONFIG = {**copy.deepcopy(original), "embed_dim": 16}
    try:
        return Path(make_tiny_clip(folder)["folder"])
    finally:
        tiny_clip.TINY_CONFIG = original
        tiny_clip.register_tiny_arch()


def test_zero_shot_clip_now_another_model_is_said_not_a_traceback(
        zero_shot_project: tuple[Project, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """``models add`` pointed the zero-shot version's CLIP name at another model since
    (its vectors 16-d, the stored ones 32-d): predict and eval name the model and what
    to do (exit 2), as embed does, instead of a traceback about array shapes."""
    project, _ = zero_shot_project
    assert main(["models", "add", "tiny-clip", str(make_other_clip(tmp_path / "other"))]) == 0
    with project.open_store() as store:
        store.conn.execute("DELETE FROM predictions")
        store.conn.commit()
    capsys.readouterr()
    assert main(["predict", str(project.root), "--task", "damage"]) == 2
    err = capsys.readouterr().err
    assert "zero-shot-tiny-clip-damage" in err
    assert "16-d" in err and "dimension 32" in err
    assert "crisisdesk models add tiny-clip" in err
    assert main(["eval", str(project.root), "--task", "damage"]) == 2
    assert "crisisdesk models add tiny-clip" in capsys.readouterr().err
    with project.open_store() as store, pytest.raises(NoModel, match="another model"):
        evaluate(store, "damage", "dev")
