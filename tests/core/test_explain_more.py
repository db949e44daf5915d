"""Explanations that must agree with the predictions they explain: an image file gone
since it was embedded, an image-only version asked about an item without an image."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from test_explain import DAMAGE, _sidecar, explained_project, tiny  # noqa: F401 (fixtures)

from crisisdesk.cli import main
from crisisdesk.core.explain import explain_item
from crisisdesk.core.explain.vit import ExplainError
from crisisdesk.core.fusion.checkpoint import save_head
from crisisdesk.core.fusion.model import FusionConfig, FusionHead
from crisisdesk.core.project import Project


def _activate(project: Project, variant: str) -> None:
    """Register a tiny head of ``variant`` as the active damage version."""
    torch.manual_seed(1)
    head = FusionHead(FusionConfig(n_classes=len(DAMAGE), image_dim=32, text_dim=32,
                                   hidden=16, tokens=2, heads=2, dropout=0.0,
                                   variant=variant)).eval()
    sidecar = {**_sidecar(head), "classes": list(DAMAGE)}  # the task's: others are refused
    if variant == "image_only":
        sidecar["text_encoder"] = None
    path = save_head(project.folder("models"), f"damage-{variant}", head, sidecar)
    with project.open_store() as store:
        store.add_model_version("damage", f"damage-{variant}", str(path),
                                encoder="tiny-clip", config=sidecar)


def _predicted(project: Project) -> dict[int, dict[str, float]]:
    # 0: every item the head can see is predicted (an item it cannot see is no problem)
    assert main(["predict", str(project.root), "--task", "damage"]) == 0
    with project.open_store() as store:
        version = store.active_model_version("damage")
        return store.predictions_of(version["id"], [1, 2])


def test_an_image_file_gone_since_it_was_embedded_is_scored_as_predicted(
        explained_project: Project, capsys) -> None:  # noqa: F811
    # Predictions read the stored embedding; the explanation fed the head no image at
    # all, so its scores (and here its top class) were not the prediction's, and its
    # share said the item had no image.
    predicted = _predicted(explained_project)[1]
    picture = explained_project.root.parent / "src" / "1.png"
    kept = picture.with_name("kept.png")
    shutil.move(picture, kept)
    result = explain_item(explained_project, "1_0", "damage", device="cpu")
    assert result.probabilities == pytest.approx(predicted, abs=1e-4)
    assert result.class_name == max(predicted, key=predicted.__getitem__)
    assert result.image is None and result.share["basis"] != "no image for this item"
    assert any("stored embedding" in note for note in result.notes)
    # Not cached: with the file back, the heat map is there.
    shutil.move(kept, picture)
    again = explain_item(explained_project, "1_0", "damage", device="cpu")
    assert again.image is not None
    assert again.probabilities == pytest.approx(predicted, abs=1e-4)


def test_an_image_only_version_does_not_explain_an_item_without_an_image(
        explained_project: Project, capsys) -> None:  # noqa: F811
    # Prediction skips the item (the head cannot see it); the explanation used to show
    # the score of the head's "missing image" input as if it were the item's.
    _activate(explained_project, "image_only")
    predicted = _predicted(explained_project)
    assert set(predicted) == {1}
    with pytest.raises(ExplainError, match="damage-image_only needs an image and this item "
                                           "has no usable one"):
        explain_item(explained_project, "2_0", "damage", device="cpu")
    capsys.readouterr()
    assert main(["explain", str(explained_project.root), "2_0", "--task", "damage",
                 "--device", "cpu"]) == 2
    assert "nothing to explain" in capsys.readouterr().err
    # The item with an image is explained as predicted.
    result = explain_item(explained_project, "1_0", "damage", device="cpu")
    assert result.probabilities == pytest.approx(predicted[1], abs=1e-4)
    assert not any(Path(p).name.startswith("explain-") for p in
                   (explained_project.root / "exports").iterdir())
