"""A job started while the window's start-up preload imports the job libraries waits for
it, in its own thread: transformers' lazy modules imported by two threads at once failed
("cannot import name 'AutoModel'"), a job started during the preload then failed."""

from __future__ import annotations

import importlib
import threading

import pytest

from crisisdesk.gui import job_libraries
from crisisdesk.gui.worker import JobRunner


def test_a_job_started_during_the_preload_begins_once_it_ends(
        qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    gate, importing = threading.Event(), threading.Event()
    real = importlib.import_module

    def slow_import(name: str, *args, **kwargs):
        if name == "held_module_for_the_test":
            importing.set()
            assert gate.wait(10)
            return None
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", slow_import)
    preload = threading.Thread(
        target=job_libraries.preload_job_modules, args=(("held_module_for_the_test",),))
    preload.start()
    assert importing.wait(10)
    order: list[str] = []

    def make_job():
        order.append("job began")
        return iter(())

    runner = JobRunner("fake", make_job)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.start()
        # The job's thread runs, yet the job has not begun: the preload holds the imports.
        qtbot.wait(200)
        order.append("preload ends")
        gate.set()
    preload.join(10)
    assert order == ["preload ends", "job began"]
