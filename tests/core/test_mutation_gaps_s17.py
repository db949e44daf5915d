"""Behaviours of session 17's core modules that no test held (found by planting bugs in a
copy): the app's log (other libraries' warnings in it, each GPU named as itself, Ctrl+C
and a thread's quiet exit not logged as failures, the hooks given back); a lockless job
record that ended or took its lock between the look and the write keeping its record,
the lock probe leaving nothing behind, the look writing nothing; a tokenizer.json that
starts with a blank line taken for the object it is, one with a BOM refused (the
library cannot read it); a retrain that did not finish having no report to open, an older
one's damaged report not called the last; a damaged checkpoint named once on one line;
a zero-shot version and a replaced shipped head made active again."""

from __future__ import annotations

import logging
import shutil
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_bert_plain_s14 import tiny_bert  # noqa: F401 - a fixture
from test_upgrades_s13 import predicted  # noqa: F401 - a fixture

from crisisdesk.core import app_log, gpu_names, job_locks
from crisisdesk.core.project import Project
from crisisdesk.core.store.times import store_time


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The app's log started in the test's own data folder; stopped after."""
    monkeypatch.setenv("CRISISDESK_DATA_DIR", str(tmp_path / "data"))
    path = app_log.start_log()
    assert path is not None
    yield path
    app_log.stop_log()


@pytest.mark.parametrize("passes_up", [False, True])
def test_other_librarys_warnings_reach_the_log_once(log: Path, passes_up: bool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # A model library's warning (transformers, torch) is often the only word on why a
    # load went wrong: the engineer reading the log needs it beside the app's lines.
    # Once imported, transformers passes none of its records up (its own handler), or
    # all of them where the CI variable is set (as on the CI machine): the warning is in
    # the log either way, once.
    from transformers.utils import logging as transformers_logging

    transformers_logging.get_logger("transformers.modeling_utils")  # its set-up done
    monkeypatch.setattr(logging.getLogger("transformers"), "propagate", passes_up)
    logging.getLogger("transformers.modeling_utils").warning("weights not initialised")
    app_log.flush_log()  # the writer thread writes the file
    assert log.read_text("utf-8").count("weights not initialised") == 1


def test_each_gpu_is_named_as_itself_in_the_log(log: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    names = {0: "NVIDIA RTX 4090", 1: "NVIDIA RTX A2000"}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)  # a job set CUDA up
    monkeypatch.setattr(torch.cuda, "get_device_name",
                        lambda device=None: names[torch.device(device).index])
    gpu_names.forget_gpu_names()
    try:
        app_log.log_runtime()
    finally:
        gpu_names.forget_gpu_names()
    app_log.flush_log()  # the writer thread writes the file
    text = log.read_text("utf-8")
    assert "GPU 0, NVIDIA RTX 4090; GPU 1, NVIDIA RTX A2000" in text


def test_ctrl_c_and_a_threads_quiet_exit_are_not_logged_as_failures(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[str] = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, tb: shown.append(kind.__name__))
    monkeypatch.setattr(threading, "excepthook",
                        lambda args: shown.append(args.exc_type.__name__))
    monkeypatch.setenv("CRISISDESK_DATA_DIR", str(tmp_path / "data"))
    path = app_log.start_log()
    assert path is not None
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            sys.excepthook(*sys.exc_info())
        thread = threading.Thread(target=sys.exit, name="leaves")
        thread.start()
        thread.join()
    finally:
        app_log.stop_log()
    assert shown == ["KeyboardInterrupt", "SystemExit"]  # still handed on
    text = path.read_text("utf-8")
    assert "unhandled exception" not in text and "ERROR" not in text


def test_stopping_the_log_gives_the_exception_hooks_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = sys.excepthook, threading.excepthook
    monkeypatch.setenv("CRISISDESK_DATA_DIR", str(tmp_path / "data"))
    assert app_log.start_log() is not None
    assert (sys.excepthook, threading.excepthook) != before
    app_log.stop_log()
    assert (sys.excepthook, threading.excepthook) == before


# ------------------------------------------------------------- running records, no lock


pytest_flock = pytest.mark.skipif(job_locks.fcntl is None, reason="no flock here")


def _old_running_job(root: Path) -> int:
    """A record saying running since two days before jobs took lock files, with none."""
    with Project.open(root, create=True).open_store() as store:
        job = store.start_job("caption", {})
        started = store_time((job_locks.LOCK_FILES_SINCE - timedelta(days=2)).isoformat())
        store.conn.execute("UPDATE jobs SET started_at = ? WHERE id = ?", [started, job])
    return job


@pytest_flock
@pytest.mark.parametrize("meanwhile", ["ended", "took its lock"])
def test_a_job_heard_from_after_the_look_is_not_marked_interrupted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, meanwhile: str) -> None:
    # The read-only look saw a running record without a lock file; before the write, its
    # job ended (its record says how) or took its lock (its program is alive, on a
    # computer whose clock is behind): the record is not rewritten as "interrupted".
    root = tmp_path / "project"
    job = _old_running_job(root)
    looked, probed = job_locks.running_jobs, job_locks._locks_work

    def look_then_end(db_path: Path, before: str) -> list[int]:
        seen = looked(db_path, before)
        with Project(root).open_store() as store:
            store.finish_job(job, "done")
        return seen

    def probe_then_lock(folder: Path) -> bool:
        works = probed(folder)  # after the look found no lock file
        (folder / f"{job}.lock").touch()
        return works

    if meanwhile == "ended":
        monkeypatch.setattr(job_locks, "running_jobs", look_then_end)
    else:
        monkeypatch.setattr(job_locks, "_locks_work", probe_then_lock)
    assert job_locks.mark_interrupted(root, root / "project.sqlite") == []
    with Project(root).open_store() as store:
        row = store.job(job)
    assert row is not None and row["error"] is None
    assert row["state"] == ("done" if meanwhile == "ended" else "running")


@pytest_flock
def test_a_lockless_record_marked_is_returned_and_the_probe_leaves_nothing(
        tmp_path: Path) -> None:
    root = tmp_path / "project"
    job = _old_running_job(root)
    assert job_locks.mark_interrupted(root, root / "project.sqlite") == [job]
    # The probe of whether locks work here is no lock file and no litter.
    assert list((root / job_locks.LOCKS).iterdir()) == []


def test_the_look_at_running_jobs_writes_nothing(tmp_path: Path) -> None:
    # Read-only, as opening a project looks each time: a store gone meanwhile (moved,
    # deleted) is not made again as an empty file, which the next open refuses.
    from crisisdesk.core.store.queries import running_jobs

    path = tmp_path / "project" / "project.sqlite"
    path.parent.mkdir()
    assert running_jobs(path, store_time(datetime.now(UTC).isoformat())) == []
    assert not path.exists()


@pytest.mark.parametrize("state", ["failed", "cancelled", "running"])
def test_a_retrain_that_did_not_finish_has_no_report_to_open(tmp_path: Path,
                                                             state: str) -> None:
    # Its record keeps what it compared before it stopped (tracked stores the result of
    # a failed job too): opened as a report, its Switch would act on half a comparison.
    from crisisdesk.core.retrain_saved import SavedReportError, saved_retrain

    project = Project.open(tmp_path / "project", create=True)
    with project.open_store() as store:
        job = store.start_job("retrain", {})
        if state != "running":
            store.finish_job(job, state, "RuntimeError: stopped", {"tasks": {}})
    with pytest.raises(SavedReportError, match=f"jobs row {job} is not a retrain that "
                       f"finished \\(retrain, {state}\\)"):
        saved_retrain(project, job)


@pytest.mark.parametrize("start", ["\n", "\r\n  "])
def test_a_tokenizer_json_after_blank_space_is_an_object(
        tiny_bert: Path, tmp_path: Path, start: str) -> None:  # noqa: F811
    # Written by a script that put a newline first: the tokenizer library reads it, so
    # the folder check must not refuse the folder for it.
    from tokenizers import Tokenizer

    from crisisdesk.core.encoders.text import check_folder

    folder = shutil.copytree(tiny_bert, tmp_path / "folder")
    path = folder / "tokenizer.json"
    path.write_text(start + path.read_text("utf-8"), "utf-8")
    Tokenizer.from_file(str(path))  # the library's own reading takes it
    check_folder("blank-start", folder)  # nothing raised


def test_a_tokenizer_json_with_a_bom_is_refused_by_the_folder_check(
        tiny_bert: Path, tmp_path: Path) -> None:  # noqa: F811
    from tokenizers import Tokenizer

    from crisisdesk.core.encoders.base import EncoderError
    from crisisdesk.core.encoders.text import check_folder

    folder = shutil.copytree(tiny_bert, tmp_path / "folder")
    path = folder / "tokenizer.json"
    path.write_text("\ufeff" + path.read_text("utf-8"), "utf-8")  # an editor's BOM
    with pytest.raises(Exception):  # noqa: B017 - whatever the library's error type
        Tokenizer.from_file(str(path))  # the load will refuse it
    with pytest.raises(EncoderError, match="tokenizer.json"):
        check_folder("bom-start", folder)


@pytest.mark.parametrize(("result", "why"), [
    ("{not json", "it is not JSON"), ('{"tasks": 5}', "tasks is missing")])
def test_an_older_retrains_damaged_report_is_not_called_the_last(
        tmp_path: Path, result: str, why: str) -> None:
    # Opened from the history, an earlier retrain's report that cannot be read is said
    # as that retrain's; "the last retrain's" would send the analyst to the newest one.
    from crisisdesk.core.retrain_saved import SavedReportError, saved_retrain

    project = Project.open(tmp_path / "project", create=True)
    with project.open_store() as store:
        older = store.start_job("retrain", {})
        store.finish_job(older, "done")
        store.conn.execute("UPDATE jobs SET result = ? WHERE id = ?", [result, older])
        store.finish_job(store.start_job("retrain", {}), "done", None, {"tasks": {}})
    with pytest.raises(SavedReportError) as caught:
        saved_retrain(project, older)
    said = str(caught.value)
    assert said.startswith(f"This retrain's report ({project.db_path}, jobs row {older})")
    assert why in said and "last" not in said


def test_a_shipped_head_a_later_release_replaced_names_the_version_to_use_instead(
        predicted: Project) -> None:  # noqa: F811 - the fixture imported above
    # A version a later release registered for its own shipped head (other weights), made
    # active again under this release: the refusal says which version holds this
    # installation's head, not the load's "predict again" (which fails the same way).
    from crisisdesk.core.fusion.starts import NoModel
    from crisisdesk.core.retrain_switch import reactivate_version

    with predicted.open_store() as store:
        older = store.active_model_version("damage")
        later = store.add_model_version(
            "damage", "damage-shipped-later", older["path"], encoder=older["encoder"],
            config={**older["config"], "weights_sha256": "0" * 64}, active=False)
        with pytest.raises(NoModel) as caught:
            reactivate_version(store, later)
        assert store.active_model_version("damage")["id"] == older["id"]
    said = str(caught.value)
    assert said.startswith("damage-shipped-later cannot be made active"), said
    assert f"version {older['id']} {older['name']} holds this release's head" in said, said


def test_a_damaged_checkpoint_is_said_naming_its_file_once_on_one_line(
        tmp_path: Path) -> None:
    # The jobs panel's one line: "its file <weights> is damaged: <why>", the file not
    # said twice (CheckpointError's words start with it), the shapes' list on one line.
    from crisisdesk.core.fusion.checkpoint import CheckpointError, checkpoint_paths
    from crisisdesk.core.retrain_switch import _damaged

    weights, sidecar = checkpoint_paths(tmp_path / "damage-v3")
    said = _damaged(str(weights), CheckpointError(
        f"{sidecar}: its config does not fit the weights:\n  head.weight [3, 8]\n"))
    assert said.startswith(f"its file {sidecar} is damaged: its config does not fit"), said
    assert said.count(str(sidecar)) == 1 and "\n" not in said and "head.weight [3, 8]" in said
    assert _damaged(str(weights), CheckpointError("out of memory")) == "out of memory"


def test_a_zero_shot_version_is_made_active_again_without_a_checkpoint(
        tmp_path: Path) -> None:
    # CLIP zero-shot scoring has no head files to load (checked when it predicts): the
    # versions window's "make active" must not refuse it as a damaged checkpoint.
    from crisisdesk.core.fusion.starts import ZERO_SHOT
    from crisisdesk.core.retrain_switch import reactivate_version
    from crisisdesk.core.schemes import scheme_for

    project = Project.open(tmp_path / "project", create=True)
    with project.open_store() as store:
        zero = store.add_model_version(
            "damage", "zero-shot-clip-damage", f"{ZERO_SHOT}clip", encoder="clip",
            config={"zero_shot": True, "encoder": "clip",
                    "classes": list(scheme_for("damage").classes)})
        other = store.add_model_version("damage", "damage-v2", str(tmp_path / "gone"))
        assert store.active_model_version("damage")["id"] == other
        reactivate_version(store, zero)
        assert store.active_model_version("damage")["id"] == zero
