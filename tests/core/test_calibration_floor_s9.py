"""Temperature scaling on a validation slice with no mistakes (a retrain after a few
labels): the fit runs to its floor, and every confidence became 1.0, leaving the
"needs review, least confident first" queue with no order."""

from __future__ import annotations

from test_retrain import FAST, _project  # tests/core/ is on sys.path (pytest)

from crisisdesk.core.fusion.metrics import T_MIN
from crisisdesk.core.fusion.training import TrainJob


def test_a_perfectly_separated_validation_slice_keeps_temperature_one_and_says_so(
        tmp_path) -> None:
    project = _project(tmp_path, n=24)  # well separated classes: a 2-3 item slice, all right
    job = TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                   recipe=FAST)
    list(job.run())
    seed = job.report.seeds[0]
    assert seed["temperature"] == 1.0 and seed["temperature"] > T_MIN
    assert "no mistakes" in seed["calibration_note"]
    with project.open_store() as store:
        version = store.active_model_version("damage")
    assert version["config"]["temperature"] == 1.0


def test_crisisdesk_train_prints_why_the_head_was_not_calibrated(tmp_path, capsys) -> None:
    from crisisdesk.cli import main

    project = _project(tmp_path, n=24)
    assert main(["train", str(project.root), "--task", "damage", "--text-encoder",
                 "txt-enc"]) == 0
    assert "not calibrated: the" in capsys.readouterr().out
