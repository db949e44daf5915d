"""Session 10's changes reviewed by running them as an analyst would: model versions
(`crisisdesk versions`, `train --no-activate`) and predict's removal of the predictions
of versions nothing shows."""

from __future__ import annotations

import csv
from pathlib import Path

from test_training_job import _project  # tests/core/ is on sys.path (pytest)

from crisisdesk.cli import main
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.fusion.versions import summarise_versions
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import reactivate_version

TRAIN = ["--task", "damage", "--encoder", "img-enc", "--text-encoder", "txt-enc",
         "--head", "mlp", "--epochs", "2"]


def _count(project: Project, version: int) -> int:
    with project.open_store() as store:
        return store.conn.execute("SELECT COUNT(*) FROM predictions WHERE model_version"
                                  " = ?", [version]).fetchone()[0]


def test_a_version_made_active_while_predict_runs_keeps_its_predictions(
        tmp_path: Path) -> None:
    # Predict (after a retrain's switch to version 2) runs for minutes at 200,000 items;
    # the analyst meanwhile makes version 1, which still holds every prediction, active
    # again (the Model versions window, `crisisdesk versions --activate`). The job's
    # clean-up must not then remove the predictions of the version now active: the
    # queues would show nothing, with nothing said.
    project = _project(tmp_path, n=60)
    root = str(project.root)
    assert main(["train", root, *TRAIN, "--variant", "text_only"]) == 0
    assert main(["predict", root, "--task", "damage"]) == 0
    assert main(["train", root, *TRAIN, "--variant", "text_only"]) == 0  # active: 2
    assert _count(project, 1) == 60
    job = PredictJob(project, ["damage"]).run()
    for progress in job:
        if "predicted" in progress.message:
            break
    with project.open_store() as store:
        reactivate_version(store, 1)
    for _ in job:
        pass
    with project.open_store() as store:
        assert store.active_model_version("damage")["id"] == 1
    assert _count(project, 1) == 60


def test_the_listing_says_a_one_modality_version_reads_its_own_modality_only(
        tmp_path: Path) -> None:
    # Its sidecar names both encoders, but a text-only head reads no image (predict
    # neither waits for nor refreshes on image embeddings): "text_only on image X +
    # text Y" sent the analyst looking for image embeddings it never used.
    project = _project(tmp_path, n=60)
    root = str(project.root)
    assert main(["train", root, *TRAIN, "--variant", "text_only"]) == 0
    assert main(["train", root, *TRAIN, "--variant", "image_only"]) == 0
    with project.open_store() as store:
        image_only, text_only = summarise_versions(store, "damage")
    assert (text_only.image_encoder, text_only.text_encoder) == (None, "txt-enc")
    assert (image_only.image_encoder, image_only.text_encoder) == ("img-enc", None)


def test_activate_counts_only_the_items_an_image_only_version_can_predict(
        tmp_path: Path, capsys) -> None:
    # Two text-only posts: an image-only version can never predict them, so "2 items
    # have no prediction from it yet: run crisisdesk predict" sent the analyst to a
    # predict that predicted nothing, and said it again after.
    project = _project(tmp_path, n=60)
    extra = tmp_path / "extra.csv"
    with extra.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "text"], ["t1", "no photo"], ["t2", "none"]])
    list(ImportJob(project, [extra], ImportOptions(source="extra")).run())
    root = str(project.root)
    assert main(["train", root, *TRAIN, "--variant", "image_only"]) == 0
    assert main(["predict", root, "--task", "damage"]) == 0
    assert main(["train", root, *TRAIN, "--variant", "text_only"]) == 0
    capsys.readouterr()
    assert main(["versions", root, "--activate", "1"]) == 0
    out = capsys.readouterr().out
    assert "is active (was 2" in out and "no prediction from it yet" not in out


def test_predict_after_a_first_version_trained_without_activating_names_it(
        tmp_path: Path, capsys) -> None:
    # `train --no-activate` on a task with no version yet: predict said "no damage
    # model in this project yet ... or train one", of a project holding one.
    project = _project(tmp_path, n=60)
    root = str(project.root)
    assert main(["train", root, *TRAIN, "--no-activate"]) == 0
    capsys.readouterr()
    assert main(["predict", root, "--task", "damage"]) == 2
    err = capsys.readouterr().err
    assert "no damage model in this project yet" not in err
    assert "crisisdesk versions PROJECT --activate ID" in err and "none is active" in err


def test_a_media_url_with_a_port_that_is_no_number_fails_alone(
        tmp_path: Path, monkeypatch, capsys) -> None:
    # A stranger's post may carry any URL. The address check read the URL's port, and
    # "host:8x" raised ValueError out of the fetch: the whole `media fetch` stopped with
    # a traceback, where before it reported that medium and fetched the others.
    from fetch_helpers import PROXY_VARIABLES, import_urls, media

    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    project = Project.open(tmp_path / "p", create=True)
    import_urls(project, tmp_path, ["http://127.0.0.1:8x/a.jpg",
                                    "http://127.0.0.1:99999/b.jpg"])
    assert main(["media", "fetch", str(project.root), "--allow-network", "127.0.0.1"]) == 1
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8x/a.jpg: connection failed: InvalidURL" in out
    assert media(project, "t0")["status"] == media(project, "t1")["status"] == "remote"
