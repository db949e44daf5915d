"""`crisisdesk train` runs its training on one CPU thread unless told otherwise: at
batch 32 a step is too small to share, and torch's default (one thread per core) made a
CrisisMMD text head take 1 min 33 s instead of 13.8 s on a busy 2-core machine."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_training_job import _project

from crisisdesk.cli import main
from crisisdesk.core.fusion import training


@pytest.fixture
def threads_seen(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """torch's CPU thread count at each epoch of the training (the fit's own steps)."""
    seen: list[int] = []
    real_iter_fit = training.iter_fit

    def counting(*args, **kwargs):
        steps = real_iter_fit(*args, **kwargs)
        try:
            while True:
                seen.append(torch.get_num_threads())
                yield next(steps)
        except StopIteration as stop:
            return stop.value

    monkeypatch.setattr(training, "iter_fit", counting)
    return seen


@pytest.fixture
def two_threads() -> None:
    """The process at two threads (torch's default on a 2-core machine), restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _train(tmp_path: Path, *options: str) -> None:
    project = _project(tmp_path, n=90)
    assert main(["train", str(project.root), "--task", "damage", "--text-encoder",
                 "txt-enc", "--epochs", "2", *options]) == 0


@pytest.mark.usefixtures("two_threads")
def test_training_runs_on_one_thread_and_gives_the_count_back(
        tmp_path: Path, threads_seen: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    _train(tmp_path)
    assert threads_seen and set(threads_seen) == {1}
    assert torch.get_num_threads() == 2  # the process's own count, back


@pytest.mark.usefixtures("two_threads")
def test_threads_option_sets_the_count(tmp_path: Path, threads_seen: list[int],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the option wins over it
    _train(tmp_path, "--threads", "2")
    assert threads_seen and set(threads_seen) == {2}


@pytest.mark.usefixtures("two_threads")
def test_an_analysts_omp_num_threads_is_left_to_torch(
        tmp_path: Path, threads_seen: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    _train(tmp_path)
    assert threads_seen and set(threads_seen) == {2}


def test_threads_must_be_a_positive_count(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(tmp_path / "p"), "--task", "damage", "--threads", "0"])
    assert exit_.value.code == 2
    assert "--threads" in capsys.readouterr().err
