"""What the core knows reaches the analyst: a task left out because its stored label
scheme is damaged is said by ``crisisdesk info`` and named as such (not "unknown task")
by the commands given it; eval of a lost checkpoint says what to do, as predict does;
and the predict job's notes on the texts its heads read travel with its progress, so a
front end that only drives the job (the app's jobs panel, a retrain's switch) has them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_caption_text_heads_s12 import _caption, tweet_head  # noqa: F401 - a fixture
from test_project_move import _project as _moved_project
from test_received_project_s12 import _add_stored_scheme
from test_training_job import FAST
from test_training_job import _project as _training_project

from crisisdesk.cli import main
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainJob, apply_retrain


def _first_item(project: Project) -> str:
    with project.open_store() as store:
        return store.conn.execute("SELECT uid FROM items ORDER BY id LIMIT 1").fetchone()[0]


# -- a task whose stored scheme was left out -----------------------------------------------

def test_info_says_which_stored_scheme_was_left_out_and_what_to_do(tmp_path: Path,
                                                                    capsys) -> None:
    project = _moved_project(tmp_path, n=60, train=False)
    _add_stored_scheme(project, "urgency", "{not json")
    assert main(["info", str(project.root)]) == 0
    out, err = capsys.readouterr()
    assert "posts:" in out  # the counts are still shown
    assert "'urgency'" in err and str(project.db_path) in err
    assert "crisisdesk schemes add" in err


def test_info_says_nothing_of_schemes_when_every_one_is_usable(tmp_path: Path,
                                                               capsys) -> None:
    project = _moved_project(tmp_path, n=60, train=False)
    assert main(["info", str(project.root)]) == 0
    assert "scheme" not in capsys.readouterr().err


@pytest.mark.parametrize("command", [
    ["train", "PROJECT", "--task", "urgency", "--text-encoder", "txt-enc"],
    ["label", "PROJECT", "ITEM", "--task", "urgency", "--label", "high"],
    ["predict", "PROJECT", "--task", "urgency"],
    ["eval", "PROJECT", "--task", "urgency"],
])
def test_a_left_out_task_is_named_with_the_reason_not_as_unknown(
        tmp_path: Path, capsys, command: list[str]) -> None:
    project = _moved_project(tmp_path, n=60)
    _add_stored_scheme(project, "urgency", "{not json")
    args = [{"PROJECT": str(project.root), "ITEM": _first_item(project)}.get(a, a)
            for a in command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "unknown task" not in err
    assert "'urgency'" in err and "cannot be used" in err
    assert "crisisdesk schemes add" in err


def test_a_task_the_project_never_had_is_still_unknown(tmp_path: Path, capsys) -> None:
    project = _moved_project(tmp_path, n=60, train=False)
    _add_stored_scheme(project, "urgency", "{not json")
    assert main(["label", str(project.root), _first_item(project), "--task", "needs",
                 "--label", "food"]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'needs'" in err and "informative" in err


# -- eval of an active version whose checkpoint is gone ----------------------------------

@pytest.mark.parametrize("spoil", ["gone", "damaged"])
def test_eval_of_a_lost_checkpoint_names_the_file_and_what_to_do(
        tmp_path: Path, capsys, spoil: str) -> None:
    project = _moved_project(tmp_path, n=60)
    with project.open_store() as store:
        head = Path(store.active_model_version("damage")["path"])
    weights = head.with_suffix(".safetensors")
    if spoil == "gone":
        weights.unlink()
    else:
        weights.write_bytes(b"not a safetensors file")
    assert main(["eval", str(project.root), "--task", "damage", "--split", "test"]) == 2
    err = capsys.readouterr().err
    assert str(weights) in err
    assert "active" in err and "crisisdesk versions" in err
    assert "crisisdesk train" in err


# -- the predict job's notes, with its progress ------------------------------------------

def _notes(steps: list[Progress]) -> list[str]:
    return [note for progress in steps for note in progress.notes]


def test_the_predict_jobs_texts_note_comes_with_its_progress(tweet_head: Project  # noqa: F811
                                                              ) -> None:
    job = PredictJob(tweet_head, ["damage"])
    steps = list(job.run())
    note = job.report.tasks["damage"]["texts_note"]
    assert note
    notes = _notes(steps)
    assert len(notes) == 1
    assert notes[0].startswith("damage: ") and note in notes[0]
    # A predict with nothing to say (nothing predicted again) has no note.
    assert _notes(list(PredictJob(tweet_head, ["damage"]).run())) == []


def test_a_retrain_switch_passes_on_its_predictions_texts_note(tmp_path: Path) -> None:
    project = _training_project(tmp_path, n=120)
    job = RetrainJob(project, ["damage"], text_encoder="txt-enc", recipe=FAST)
    list(job.run())
    # Captioned while the retrain report was open: the new head (trained on tweets)
    # reads captioned texts once switched.
    _caption(project, "llava-a", limit=60)
    notes = _notes(list(apply_retrain(project, job.report, override_tasks=["damage"])))
    assert len(notes) == 1 and notes[0].startswith("damage: ")
    assert "tweets alone" in notes[0]
