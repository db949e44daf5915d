"""Jobs run from the main window's own actions: while an embed job and a retrain run, no
model call, store query or job step runs on the GUI thread; captions are made from the
Jobs menu and shown in the detail panel with their model; a missing captioner offers
the download."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import Qt
from test_dialogs import _trainable_project
from test_main_window import go_to, open_window

from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs.settings_dialog import app_settings
from crisisdesk.gui.main_window import MainWindow


def _settings(**values: object) -> None:
    store = app_settings()
    for key, value in values.items():
        store.setValue(key, value)
    store.sync()


class _Calls:
    """Threads seen per kind of work: "model", "query", "item query", "step"."""

    def __init__(self) -> None:
        self.threads: dict[str, list[int]] = {}
        self.lock = threading.Lock()

    def note(self, what: str) -> None:
        with self.lock:
            self.threads.setdefault(what, []).append(threading.get_ident())

    def on(self, thread: int) -> dict[str, int]:
        """How many calls of each kind ran on ``thread``."""
        return {what: seen.count(thread) for what, seen in self.threads.items()
                if thread in seen}


CALLS = _Calls()


class _RecordingConnection(sqlite3.Connection):
    """A connection noting the thread of every statement, and which touch the items."""

    def execute(self, sql, *args, **kwargs):  # type: ignore[override]
        self._note(sql)
        return super().execute(sql, *args, **kwargs)

    def executemany(self, sql, *args, **kwargs):  # type: ignore[override]
        self._note(sql)
        return super().executemany(sql, *args, **kwargs)

    def cursor(self, *args, **kwargs):  # type: ignore[override]
        CALLS.note("query")
        return super().cursor(*args, **kwargs)

    @staticmethod
    def _note(sql: str) -> None:
        CALLS.note("query")
        if " items " in f" {sql} " or "JOIN items" in sql or "FROM items" in sql:
            CALLS.note("item query")


def _record_everything(monkeypatch) -> None:
    """Patch sqlite3.connect, the encoders, the fusion head and the jobs' ``tracked``."""
    import crisisdesk.core.embed as embed
    import crisisdesk.core.fusion.predict as predict
    import crisisdesk.core.fusion.training as training
    import crisisdesk.core.retrain as retrain
    from crisisdesk.core.encoders.clip import ClipEncoder
    from crisisdesk.core.encoders.text import TextEncoder
    from crisisdesk.core.fusion.model import FusionHead

    CALLS.threads.clear()
    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        CALLS.note("query")
        kwargs["factory"] = _RecordingConnection
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    for cls, name in ((ClipEncoder, "encode_images"), (ClipEncoder, "encode_texts"),
                      (TextEncoder, "encode_texts"), (FusionHead, "forward")):
        def recorded(self, *args, _real=getattr(cls, name), _what=f"model {name}",
                     **kwargs):
            CALLS.note(_what)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, recorded)
    for module in (embed, retrain, training, predict):
        def tracked(project, kind, params, body, *args, _real=module.tracked, **kwargs):
            def steps() -> Iterator[Progress]:
                try:
                    for progress in body:
                        CALLS.note(f"step {kind}")
                        yield progress
                finally:
                    body.close()

            return _real(project, kind, params, steps(), *args, **kwargs)

        monkeypatch.setattr(module, "tracked", tracked)


def _browse_and_label_until(qtbot, window: MainWindow, done) -> int:
    """Move through the items, label, undo and redo until ``done()``; return the keys."""
    keys = (Qt.Key.Key_J, Qt.Key.Key_J, Qt.Key.Key_1, Qt.Key.Key_K, Qt.Key.Key_2)
    pressed = 0
    while not done():
        qtbot.keyClick(window.items, keys[pressed % len(keys)])
        pressed += 1
        if pressed % 7 == 0:
            qtbot.keyClick(window.items, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        qtbot.wait(40)
        assert pressed < 3000, "the jobs did not end"
    return pressed


def test_no_model_call_store_query_or_job_step_runs_on_the_gui_thread_during_jobs(
        qtbot, tmp_path: Path, monkeypatch) -> None:
    from tiny_clip import make_tiny_clip

    from crisisdesk.core.models import registry

    project = _trainable_project(tmp_path, n=60)
    tiny = make_tiny_clip(tmp_path / "models")
    registry.register("tiny", tiny["folder"])
    _settings(image_encoder="tiny", text_encoder="minilm", device="cpu")
    _record_everything(monkeypatch)
    gui = threading.get_ident()
    window = open_window(qtbot, project)
    actions, jobs = window.actions_, window.actions_.jobs

    # The embed action starts two jobs (images with tiny, texts with MiniLM).
    actions.embed.trigger()
    embeds = [row.runner for row in jobs.rows]
    assert len(embeds) == 2
    _browse_and_label_until(qtbot, window, lambda: not any(r.is_running() for r in embeds))
    assert [r.state for r in embeds] == ["done", "done"], [r.error for r in embeds]

    actions.retrain.trigger()
    retrain = jobs.rows[0].runner
    assert retrain.title == "Retrain"
    _browse_and_label_until(qtbot, window, lambda: not retrain.is_running())
    assert retrain.state == "done", retrain.details
    qtbot.waitUntil(lambda: not window.background.busy() and not window.labeller.busy())

    on_gui = CALLS.on(gui)  # before this test's own queries below, made on this thread
    seen = {what: len(threads) for what, threads in CALLS.threads.items()}
    # The recording saw the work: both encoders, the fusion head, item queries, steps.
    for what in ("model encode_images", "model encode_texts", "model forward",
                 "item query", "step embed", "step retrain", "step train"):
        assert seen.get(what), f"nothing recorded for {what}: {seen}"
    assert on_gui == {}
    with project.open_store() as store:
        assert store.embedding_counts()["tiny"] == {"image": 60}
        assert store.embedding_counts()["minilm"] == {"text": 60}


class _Captioner:
    """A stand-in captioner: the caption names the tweet (see test_caption_job)."""

    device = "cpu"
    description = "fake-vlm-0.1b"

    def __init__(self, name: str) -> None:
        self.name = name
        self.threads: list[int] = []

    def caption(self, requests, prompt):
        from crisisdesk.core.captions.base import CaptionResult

        self.threads.append(threading.get_ident())
        return [CaptionResult(r.key, f"a photo posted with the words: {r.tweet_text}")
                for r in requests]


def test_caption_images_runs_from_the_jobs_menu_and_the_detail_shows_it(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    from crisisdesk.core.captions import factory

    made: list[_Captioner] = []
    asked: list[dict] = []

    def load_captioner(name=None, **options):
        asked.append({"name": name, **options})
        made.append(_Captioner(name or "default"))
        return made[-1]

    monkeypatch.setattr(factory, "load_captioner", load_captioner)
    _settings(captioner="fake", quantization="8bit", device="cpu")
    window = open_window(qtbot, demo_like_project)
    jobs = window.actions_.jobs
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Jobs")
    assert window.actions_.caption in menu.actions()
    with qtbot.waitSignal(jobs.job_finished, timeout=30_000) as finished:
        window.actions_.caption.trigger()
    assert finished.args[1] == "done", jobs.rows[0].runner.details
    assert asked == [{"name": "fake", "quant": "8bit", "device": "cpu",
                      "max_new_tokens": 128}]
    assert made[0].threads and threading.get_ident() not in made[0].threads
    row = jobs.rows[0]
    assert "Caption images" in row.runner.title and "captions" in row.figures.text()

    go_to(qtbot, window, lambda r: r.image_path is not None)
    detail = window.detail
    qtbot.waitUntil(lambda: detail.detail is not None and detail.detail.caption is not None)
    shown = detail.caption.text()
    assert f"a photo posted with the words: {detail.detail.row.text}"[:40] in shown
    assert "by fake (prompt" in shown and "model fake-vlm-0.1b" in shown


def test_captions_from_a_server_use_the_url_and_model_of_the_settings(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    from crisisdesk.core.captions import job as caption_job

    seen: list[object] = []
    real = caption_job.CaptionJob.__init__

    def init(self, project, captioner=None, **kwargs):
        seen.append(captioner)
        real(self, project, captioner, **kwargs)

    monkeypatch.setattr(caption_job.CaptionJob, "__init__", init)
    monkeypatch.setattr("crisisdesk.core.captions.server.ServerCaptioner.caption",
                        lambda self, requests, prompt: _Captioner("x").caption(requests,
                                                                               prompt))
    _settings(caption_server="http://vlm.example:8000/v1", caption_server_model="qwen-vl")
    window = open_window(qtbot, demo_like_project)
    with qtbot.waitSignal(window.actions_.jobs.job_finished, timeout=30_000) as finished:
        window.actions_.caption.trigger()
    assert finished.args == ["Caption images (qwen-vl via http://vlm.example:8000/v1)",
                             "done"]
    (captioner,) = seen
    assert type(captioner).__name__ == "ServerCaptioner"
    assert captioner.model == "qwen-vl" and captioner.device == "http://vlm.example:8000/v1"
    with demo_like_project.open_store() as store:
        assert store.caption_rows("server:qwen-vl", caption_job.load_prompt().version)


def test_a_missing_captioner_offers_the_download(qtbot, demo_like_project: Project,
                                                 tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_hub"))
    _settings(captioner="llava-interleave-0.5b", device="cpu")
    window = open_window(qtbot, demo_like_project)
    jobs = window.actions_.jobs
    with qtbot.waitSignal(jobs.job_finished, timeout=60_000) as finished:
        window.actions_.caption.trigger()
    assert finished.args[1] == "failed"
    row = jobs.rows[0]
    assert row.missing_model == "llava-interleave-0.5b", row.runner.error
    assert row.download.isVisible() and row.local.isVisible()
    assert "not installed" in row.message.text()


def test_the_job_libraries_are_preloaded_off_the_gui_thread_after_the_first_page(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    from crisisdesk.gui import window_actions

    ran_in: list[int] = []

    def preload() -> dict[str, float]:
        ran_in.append(threading.get_ident())
        return {"torch": 0.5}

    monkeypatch.setattr(window_actions, "preload_job_modules", preload)
    window = MainWindow(demo_like_project, annotator="tester", preload=True)  # as the app
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.model.row_at(0) is not None)
    qtbot.waitUntil(lambda: window.actions_.preloaded is not None)
    assert window.actions_.preloaded == {"torch": 0.5}
    assert len(ran_in) == 1 and ran_in[0] != threading.get_ident()
    window.sort.setCurrentIndex(1)  # a new list loads: no second preload
    qtbot.waitUntil(lambda: window.model.sort == window.sort.itemData(1)
                    and window.model.row_at(0) is not None and not window.background.busy())
    assert len(ran_in) == 1

    quiet = MainWindow(demo_like_project, annotator="tester")  # the default: no preload
    qtbot.addWidget(quiet)
    quiet.show()
    qtbot.waitUntil(lambda: quiet.model.total > 0 and not quiet.background.busy())
    assert quiet.actions_.preloaded is None and len(ran_in) == 1


def test_compute_threads_leave_a_core_but_never_override_the_analyst(monkeypatch) -> None:
    from crisisdesk.gui import job_libraries as window_actions

    monkeypatch.setattr(window_actions.os, "cpu_count", lambda: 8)
    for name in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "RAYON_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the analyst's own choice
    window_actions.leave_a_core_to_the_ui()
    assert os.environ["OMP_NUM_THREADS"] == "3"
    monkeypatch.delenv("OMP_NUM_THREADS")
    window_actions.leave_a_core_to_the_ui()
    assert os.environ["OMP_NUM_THREADS"] == "7"
    assert "OMP_WAIT_POLICY" not in os.environ  # sleeping threads slow training 2.3x
    assert os.environ["RAYON_NUM_THREADS"] == "7"


def test_retrain_prefers_the_encoders_of_the_settings(qtbot, demo_like_project: Project,
                                                      monkeypatch) -> None:
    """Retrain trains on the Settings' encoders where the project holds their embeddings
    (read at the run, as Embed reads them), not only on the most used ones."""
    from crisisdesk.core import retrain

    seen: list[object] = []

    def init(self, project, tasks=None, **kwargs):
        seen.append(kwargs.get("prefer"))
        raise RuntimeError("stop here: only the encoders asked for are checked")

    monkeypatch.setattr(retrain.RetrainJob, "__init__", init)
    _settings(image_encoder="clip-vit-l-14", text_encoder="my-text-model")
    window = open_window(qtbot, demo_like_project)
    with qtbot.waitSignal(window.actions_.jobs.job_finished, timeout=30_000) as finished:
        window.actions_.retrain.trigger()
    assert finished.args[1] == "failed"
    assert seen == [("clip-vit-l-14", "my-text-model")]


def test_a_caption_servers_password_is_not_shown_in_the_jobs_title(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    monkeypatch.setattr("crisisdesk.core.captions.server.ServerCaptioner.caption",
                        lambda self, requests, prompt: _Captioner("x").caption(requests,
                                                                               prompt))
    _settings(caption_server="http://ana:s3cret@vlm.example:8000/v1",
              caption_server_model="qwen-vl")
    window = open_window(qtbot, demo_like_project)
    with qtbot.waitSignal(window.actions_.jobs.job_finished, timeout=30_000) as finished:
        window.actions_.caption.trigger()
    title = finished.args[0]
    assert "s3cret" not in title and "ana:***@vlm.example" in title
