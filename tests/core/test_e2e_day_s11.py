"""Regressions found on an end-to-end day (import, embed, train, eval, predict, export,
re-import, watch, the app) on CrisisMMD after a day of changes: each test names what an
analyst hit."""

from __future__ import annotations

from pathlib import Path

from test_training_job import _project

from crisisdesk.cli import main
from crisisdesk.core.fusion.train import named_recipe


def test_train_without_encoders_on_a_fusion_project_uses_the_papers_recipe(
        tmp_path: Path, capsys) -> None:
    """``crisisdesk train`` with neither --encoder nor --text-encoder on a project with
    image and text embeddings trains the fusion head (guided_diff), whose default is the
    paper's recipe (SGD, patience 5), as a retrain's and README's. The recipe was picked
    for the variant of no encoders at all ("image_only": the text recipe, AdamW) before
    the project's encoders were looked up."""
    project = _project(tmp_path)
    code = main(["train", str(project.root), "--task", "damage", "--epochs", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    paper = named_recipe("paper")
    with project.open_store() as store:
        version = store.active_model_version("damage")
    assert version["config"]["config"]["variant"] == "guided_diff"
    recipe = version["config"]["recipe"]
    assert (recipe["optimizer"], recipe["patience"]) == (paper.optimizer, paper.patience)
    assert f"with {paper.optimizer} lr {paper.lr:g}" in out
