"""The app's log (session 17): a rotating file in the data folder an engineer can read
after a failure, written from any thread, with the exceptions nobody caught; a folder
that cannot be written said once, never stopping the app. And the GPU's name, taken once
off the UI thread.

Before: the app set up no logging (failed background calls logged to nowhere, an
unhandled exception went to a stderr a desktop launch does not show), and no GPU had a
name.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import pytest


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own data folder; the log stopped (and the hooks given back) after."""
    from crisisdesk.core import app_log

    monkeypatch.setenv("CRISISDESK_DATA_DIR", str(tmp_path / "data"))
    yield tmp_path / "data"
    app_log.stop_log()


def _log_text(folder: Path) -> str:
    return "\n".join(p.read_text("utf-8") for p in sorted(folder.glob("crisisdesk.log*")))


def test_the_log_is_a_file_in_the_data_folder_saying_the_start(data_dir: Path) -> None:
    from crisisdesk import __version__
    from crisisdesk.core import app_log

    path = app_log.start_log()
    assert path is not None and path.parent.parent == data_dir
    assert app_log.start_log() == path  # once per process
    app_log.flush_log()  # the writer thread writes the file
    text = path.read_text("utf-8")
    assert f"crisisdesk {__version__} started" in text
    assert f"Python {sys.version.split()[0]}" in text
    assert text.count("started") == 1


def test_the_log_rotates_so_it_never_grows_without_bound(data_dir: Path) -> None:
    from crisisdesk.core import app_log

    path = app_log.start_log()
    assert path is not None
    line = "x" * 1000
    log = logging.getLogger("crisisdesk.test")
    for _ in range(6 * app_log.MAX_BYTES // len(line)):
        log.info(line)
    app_log.flush_log()  # the writer thread writes the file
    files = sorted(path.parent.glob("crisisdesk.log*"))
    assert len(files) == app_log.BACKUPS + 1
    assert all(f.stat().st_size <= app_log.MAX_BYTES + 2 * len(line) for f in files)


def test_any_thread_may_write_to_the_log(data_dir: Path) -> None:
    from crisisdesk.core import app_log

    path = app_log.start_log()
    assert path is not None

    def write(n: int) -> None:
        for i in range(200):
            logging.getLogger("crisisdesk.test").info("thread %d line %d end", n, i)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    app_log.flush_log()  # the writer thread writes the file
    lines = [line for line in path.read_text("utf-8").splitlines() if "line" in line]
    assert len(lines) == 6 * 200
    assert all(line.endswith(" end") for line in lines)  # none cut into another


def test_unhandled_exceptions_are_logged_and_still_shown(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sys.excepthook (the UI thread, a Qt slot) and threading.excepthook (any other
    thread): logged with their traceback, then handed on as before."""
    from crisisdesk.core import app_log

    shown: list[str] = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, tb: shown.append(str(value)))
    monkeypatch.setattr(threading, "excepthook", lambda args: shown.append(str(args.exc_value)))
    path = app_log.start_log()
    assert path is not None
    try:
        raise ValueError("broke on the UI thread")
    except ValueError:
        sys.excepthook(*sys.exc_info())

    def fails() -> None:
        raise RuntimeError("broke in a thread")

    thread = threading.Thread(target=fails, name="reader")
    thread.start()
    thread.join()
    assert shown == ["broke on the UI thread", "broke in a thread"]
    app_log.flush_log()  # the writer thread writes the file
    text = path.read_text("utf-8")
    assert "ValueError: broke on the UI thread" in text
    assert "unhandled exception in thread reader" in text
    assert "RuntimeError: broke in a thread" in text
    assert 'in fails' in text  # the traceback, not just the message


def test_a_log_folder_that_cannot_be_made_is_said_once(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from crisisdesk.core import app_log

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    data_dir.write_text("a file where the data folder should be")
    assert app_log.start_log() is None  # no exception: the app goes on
    logging.getLogger("crisisdesk.test").info("goes nowhere")
    assert app_log.log_problem() and str(data_dir) in app_log.log_problem()
    assert capsys.readouterr().err.count("no log is kept") == 1


def test_a_full_disk_is_said_once_and_the_app_goes_on(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from crisisdesk.core import app_log

    path = app_log.start_log()
    assert path is not None

    class Full:
        def write(self, text: str) -> None:
            raise OSError(28, "No space left on device")

        def flush(self) -> None:
            pass

        def tell(self) -> int:
            return 0

        def seek(self, *args) -> int:
            return 0

    app_log.flush_log()  # the start's line written: the next ones meet the full disk
    app_log._handler.stream = Full()
    for i in range(3):
        logging.getLogger("crisisdesk.test").info("line %d", i)
    app_log.flush_log()  # the writer thread writes the file
    err = capsys.readouterr().err
    assert err.count("can no longer be written") == 1
    assert "No space left on device" in err
    assert "Traceback" not in err  # not logging's traceback for every line


# ------------------------------------------------------------------ the GPU's name


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """torch.cuda says there is one "NVIDIA RTX 4090"; the threads that asked, listed."""
    import torch

    from crisisdesk.core import gpu_names

    asked: list[int] = []

    def name(device=None) -> str:
        asked.append(threading.get_ident())
        return "NVIDIA RTX 4090"

    monkeypatch.setattr(torch.cuda, "get_device_name", name)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)  # a job used it
    gpu_names.forget_gpu_names()
    yield asked
    gpu_names.forget_gpu_names()


def test_a_gpu_name_is_asked_once_and_read_without_torch(fake_gpu: list[int]) -> None:
    from crisisdesk.core.gpu_names import gpu_name, learn_gpu_name

    assert gpu_name("cuda:0") == ""  # not learnt: reading never asks CUDA
    assert fake_gpu == []
    assert learn_gpu_name("cuda:0") == "NVIDIA RTX 4090"
    assert learn_gpu_name("cuda:0") == "NVIDIA RTX 4090"
    assert gpu_name("cuda:0") == "NVIDIA RTX 4090"
    assert len(fake_gpu) == 1  # asked once
    assert learn_gpu_name("cpu") == "" and len(fake_gpu) == 1


def test_a_gpu_that_cannot_say_its_name_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from crisisdesk.core import gpu_names

    def broken(device=None) -> str:
        raise RuntimeError("CUDA error: busy or unavailable")

    monkeypatch.setattr(torch.cuda, "get_device_name", broken)
    gpu_names.forget_gpu_names()
    try:
        assert gpu_names.learn_gpu_name("cuda:1") == ""
    finally:
        gpu_names.forget_gpu_names()


def test_the_log_names_torch_and_the_gpu(data_dir: Path, fake_gpu: list[int]) -> None:
    import torch

    from crisisdesk.core import app_log

    path = app_log.start_log()
    assert path is not None
    app_log.log_runtime()
    app_log.flush_log()  # the writer thread writes the file
    text = path.read_text("utf-8")
    assert f"torch {torch.__version__}" in text
    assert "GPU 0, NVIDIA RTX 4090" in text


def test_the_log_asks_no_gpu_name_of_cuda_not_set_up_yet(
        data_dir: Path, fake_gpu: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    # The name needs torch's lazy CUDA set-up: an app that runs no GPU job never pays it
    # (project open logs the devices before any job ran).
    import torch

    from crisisdesk.core import app_log

    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    path = app_log.start_log()
    assert path is not None
    app_log.log_runtime()
    app_log.flush_log()  # the writer thread writes the file
    text = path.read_text("utf-8")
    assert "jobs can run on GPU 0" in text and "RTX 4090" not in text
    assert fake_gpu == []  # never asked
