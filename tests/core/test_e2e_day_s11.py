"""Regressions found on an end-to-end day (import, embed, train, eval, predict, export,
re-import, watch, the app) on CrisisMMD after a day of changes: each test names what an
analyst hit."""

from __future__ import annotations

from pathlib import Path

import pytest
from caption_fixtures import isolated_config  # noqa: F401 - a fixture, used by name
from test_training_job import _project

from crisisdesk.cli import main
from crisisdesk.core.fusion.train import named_recipe
from crisisdesk.core.project import Project


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


@pytest.mark.usefixtures("isolated_config")  # empty settings and model cache
def test_embedding_images_of_a_project_without_images_needs_no_model(tmp_path: Path) -> None:
    """A text collector's project: the app's Embed images job failed for want of the CLIP
    model it had nothing to give, and the Predict that follows Embed never came."""
    from crisisdesk.core.embed import EmbedJob
    from crisisdesk.core.models.registry import get_spec, is_installed

    assert is_installed(get_spec("clip-vit-b-32")) is None  # no model on this machine
    src = tmp_path / "posts.csv"
    src.write_text("id,text\n1,road closed\n2,bridge down\n", encoding="utf-8")
    assert main(["import", str(tmp_path / "p"), str(src)]) == 0
    job = EmbedJob(Project.open(tmp_path / "p"), "clip-vit-b-32", kinds=("image",))
    steps = list(job.run())
    assert "nothing to encode" in steps[-1].message


def test_a_short_id_two_sources_answer_to_is_ambiguous(tmp_path: Path, capsys) -> None:
    """A CrisisMMD image id (tweet 7, its first image) is also the <post id>_<n> of a
    watch's copy of tweet 7: `label P 7_0` labelled the CrisisMMD item without a word."""
    tsv = tmp_path / "task_damage_text_img_dev.tsv"
    tsv.write_text("event_name\ttweet_id\timage_id\ttweet_text\timage\tlabel\n"
                   "flood\t7\t7_0\tRiver over the bank\tdata_image/7_0.jpg\tsevere_damage\n",
                   encoding="utf-8")
    collected = tmp_path / "collected.csv"
    collected.write_text("id,text\n7,River over the bank\n", encoding="utf-8")
    project = str(tmp_path / "p")
    main(["import", project, str(tsv)])
    main(["import", project, str(collected)])
    capsys.readouterr()
    assert main(["label", project, "7_0", "--task", "damage",
                 "--label", "mild_damage"]) == 2
    err = capsys.readouterr().err
    assert "ambiguous" in err and "crisismmd:7:0" in err and "collected:7:0" in err


def test_a_watch_stopped_by_ctrl_c_says_stopped_not_cancelled(tmp_path: Path) -> None:
    """Ctrl-C is how a watch ends (exit 0): its summary began "Cancelled:"."""
    import signal
    import subprocess
    import sys

    from test_import_contract_s9 import WATCH_SCRIPT

    folder = tmp_path / "collected"
    folder.mkdir()
    (folder / "feed.jsonl").write_text('{"id": "1", "text": "flood"}\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", WATCH_SCRIPT, str(int(signal.SIGINT)),
                           str(tmp_path / "p"), str(folder)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert "Stopped: 1 new post" in done.stdout and "Cancelled" not in done.stdout


def test_a_crisismmd_export_of_several_tasks_to_a_file_name_is_refused(
        tmp_path: Path, capsys) -> None:
    """`export --format crisismmd P labels.jsonl` made a folder named labels.jsonl."""
    src = tmp_path / "posts.csv"
    src.write_text("id,text,damage,informative\n1,road closed,mild_damage,informative\n",
                   encoding="utf-8")
    project = str(tmp_path / "p")
    main(["import", project, str(src)])
    capsys.readouterr()
    out = tmp_path / "labels.jsonl"
    assert main(["export", project, str(out), "--format", "crisismmd"]) == 2
    assert "names a file" in capsys.readouterr().err
    assert not out.exists()
