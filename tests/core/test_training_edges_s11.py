"""Training and retraining at the edges: a cancel heard within an epoch (an epoch of
200,000 items takes about a minute on two cores), and the label distributions analysts
really make (one class, labels read while others are being given, items not embedded)."""

from __future__ import annotations

import pytest
import torch
from test_fusion_train import learnable, small_config
from test_retrain import FAST, _project

from crisisdesk.cli import main
from crisisdesk.core.fusion import training
from crisisdesk.core.fusion.train import (
    EpochLog,
    Recipe,
    StepLog,
    TrainingCancelled,
    fit,
    iter_fit,
)
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.retrain import RetrainJob
from crisisdesk.core.store import LabelChange

FUSION = {"image_encoder": "img-enc", "text_encoder": "txt-enc"}
#: 200 items in batches of 32: 7 steps an epoch.
RECIPE = Recipe(optimizer="sgd", lr=1e-2, batch_size=32, max_epochs=3, patience=3, seed=5)


def _logs(fitting) -> tuple[list, object]:
    """Every log ``fitting`` yields, and what it returns."""
    logs = []
    while True:
        try:
            logs.append(next(fitting))
        except StopIteration as stop:
            return logs, stop.value


def test_a_tick_reports_between_steps_and_trains_the_same_weights() -> None:
    train, val = learnable(200, 0), learnable(100, 1)
    logs, result = _logs(iter_fit(small_config(), RECIPE, train, val, tick=0))
    steps = [(log.epoch, log.step) for log in logs if isinstance(log, StepLog)]
    # tick 0: a report after every step but an epoch's last (its EpochLog follows).
    assert steps == [(epoch, step) for epoch in (1, 2, 3) for step in range(1, 7)]
    assert all(log.steps == 7 for log in logs if isinstance(log, StepLog))
    reference = fit(small_config(), RECIPE, train, val)
    # The seeded run is the same with or without the reports: logs, epoch and weights.
    epochs = [log for log in logs if isinstance(log, EpochLog)]
    assert [(e.train_loss, e.val_loss, e.val_macro_f1) for e in epochs] == \
        [(e.train_loss, e.val_loss, e.val_macro_f1) for e in reference.history]
    assert result.best_epoch == reference.best_epoch
    mine, theirs = result.model.state_dict(), reference.model.state_dict()
    assert all(torch.equal(mine[name], theirs[name]) for name in mine)


def test_a_cancel_within_an_epoch_stops_after_that_step_with_the_best_epoch_so_far() -> None:
    train, val = learnable(200, 0), learnable(100, 1)
    fitting = iter_fit(small_config(), RECIPE, train, val, tick=0)
    log = next(fitting)
    while not (isinstance(log, StepLog) and log.epoch == 2 and log.step == 3):
        log = next(fitting)
    with pytest.raises(StopIteration) as stop:
        fitting.send(False)
    result = stop.value.value
    assert result.cancelled and result.epochs_run == 1 and result.best_epoch == 1
    # The weights of epoch 1, not those three steps into epoch 2.
    one_epoch = fit(small_config(), Recipe(**{**RECIPE.__dict__, "max_epochs": 1}),
                    train, val).model.state_dict()
    assert all(torch.equal(v, one_epoch[k]) for k, v in result.model.state_dict().items())


def test_a_cancel_before_the_first_epoch_ends_says_there_is_nothing_to_keep() -> None:
    fitting = iter_fit(small_config(), RECIPE, learnable(200, 0), learnable(100, 1), tick=0)
    assert next(fitting) == StepLog(1, 1, 7)
    with pytest.raises(TrainingCancelled, match="after 1 of 7 steps, before any epoch"):
        fitting.send(False)


def test_a_training_job_reports_and_is_cancelled_within_an_epoch(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: the job yielded once an epoch, so the app's Cancel (and closing the window,
    # which waits 10 s) waited for the epoch to end: about a minute at 200,000 items.
    monkeypatch.setattr(training, "TICK", 0)
    project = _project(tmp_path, n=120)
    run = TrainJob(project, "damage", recipe=FAST, **FUSION).run()
    first = next(run)
    assert first.message.endswith("epoch 1, step 1 of 3") and first.done == 0
    run.close()
    with project.open_store() as store:
        assert store.model_versions("damage") == []
        (state,) = store.conn.execute("SELECT state FROM jobs WHERE kind = 'train'").fetchone()
    assert state == "cancelled"


def test_a_seeded_training_job_gives_the_same_figures_with_reports_between_steps(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path, n=120)
    figures = []
    for tick in (None, 0):
        monkeypatch.setattr(training, "TICK", tick)
        job = TrainJob(project, "damage", recipe=FAST, seeds=2, activate=False, **FUSION)
        list(job.run())
        figures.append(job.report.seeds)
    assert figures[0] == figures[1]


def test_training_items_of_one_class_are_refused_naming_the_task_and_the_others(
        tmp_path, capsys) -> None:
    # Before: the head learnt to answer severe_damage for every item, scored "macro F1
    # 100%" on a holdout of severe_damage alone, and became the active version.
    project = _project(tmp_path, n=60)
    with project.open_store() as store:
        store.add_labels([LabelChange(item, "damage", "severe_damage")
                          for item, _, _ in store.labelled_items("damage")], annotator="ana")
    code = main(["train", str(project.root), "--task", "damage", "--encoder", "img-enc",
                 "--text-encoder", "txt-enc", "--epochs", "2"])
    assert code == 2
    err = capsys.readouterr().err
    assert "damage: all 42 labelled items to train on are severe_damage" in err
    assert "at least two classes" in err and "mild_damage, little_or_no_damage" in err
    with project.open_store() as store:
        assert store.model_versions("damage") == []


def test_a_retrain_skips_a_task_whose_other_classes_are_only_in_the_holdout(tmp_path) -> None:
    project = _project(tmp_path, n=90)
    with project.open_store() as store, store.transaction():
        for k, (item, label, _) in enumerate(store.labelled_items("damage")):
            store.set_split(item, "damage", "train" if label == "severe_damage"
                            else "test" if k % 2 else "dev")
    job = RetrainJob(project, ["damage"], recipe=FAST, **FUSION)
    list(job.run())
    entry = job.report.tasks["damage"]
    assert entry.candidate is None
    # Said once after "damage: " in the progress line and the report, not "damage: damage:".
    assert entry.skipped.startswith("all ")
    assert "are severe_damage (the " in entry.skipped and "all in dev or test" in entry.skipped


def test_a_retrain_of_a_task_labelled_with_one_class_names_it(tmp_path) -> None:
    project = _project(tmp_path, n=60)
    with project.open_store() as store:
        store.add_labels([LabelChange(item, "damage", "severe_damage")
                          for item, _, _ in store.labelled_items("damage")], annotator="ana")
    job = RetrainJob(project, ["damage"], recipe=FAST, **FUSION)
    list(job.run())
    skipped = job.report.tasks["damage"].skipped
    assert "labels (all severe_damage); a retrain needs at least 20 labels of two" in skipped


def test_a_retrain_uses_the_labels_read_at_its_start_and_says_how_many(tmp_path) -> None:
    # Labels given while a retrain runs (an analyst goes on labelling) are not trained
    # on; the report says how many labels the candidate used, by split.
    project = _project(tmp_path, n=130, labelled=100)
    job = RetrainJob(project, ["damage"], recipe=FAST, **FUSION)
    steps = job.run()
    next(steps)  # the training has read its labels
    with project.open_store() as store:
        labelled = {item for item, _, _ in store.labelled_items("damage")}
        new = [item for (item,) in store.conn.execute("SELECT id FROM items")
               if item not in labelled]
        store.add_labels([LabelChange(item, "damage", "mild_damage") for item in new],
                         annotator="ana")
    last = list(steps)[-1]
    entry = job.report.tasks["damage"]
    assert entry.candidate is not None and len(new) == 30
    # The new labels (no split: they would train) are in none of the splits; the test
    # holdout the versions are compared on is the rest of the 100.
    assert set(entry.sizes) == {"train", "validation", "dev"}
    used = sum(entry.sizes.values())
    assert used + entry.holdout == 100 and entry.holdout_split == "test"
    # The count, then the verdict ("; switch recommended" or why the active one stays).
    assert (f"({used} labels used: train {entry.sizes['train']}, validation "
            f"{entry.sizes['validation']}, dev {entry.sizes['dev']}); " in last.message)
