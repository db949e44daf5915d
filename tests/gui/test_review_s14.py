"""Review of session 14's changes: the start-up preload's second part now imports
transformers and open_clip in a Background thread while the app is in use, so whatever
else imports them (a job, the overlay's explanation) must wait for it: two threads
importing transformers at once failed ("cannot import name 'AutoModel'")."""

from __future__ import annotations

import sys
import threading
import types
from pathlib import Path

from test_overlay import _image_item, _shown, explained_project  # noqa: F401 - fixture
from window_helpers import open_window

from crisisdesk.core.project import Project
from crisisdesk.gui import job_libraries


def test_a_job_waits_for_a_library_the_preload_is_still_importing(
        tmp_path: Path, monkeypatch) -> None:
    """A module is in sys.modules from the start of its import: a job that took that for
    "loaded" went on with a half-made library (transformers' lazy names missing)."""
    gate = types.ModuleType("review_s14_gate")
    gate.started, gate.go = threading.Event(), threading.Event()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "review_s14_gate", gate)
    (tmp_path / "review_s14_slow.py").write_text(
        "import review_s14_gate as gate\n"
        "gate.started.set()\n"
        "gate.go.wait(30)  # the library's code still running\n"
        "READY = True\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "review_s14_slow", raising=False)

    preload = threading.Thread(target=job_libraries.preload_job_modules,
                               args=(("review_s14_slow",),))
    preload.start()
    assert gate.started.wait(30)  # the preload is in the middle of the import
    seen: list[bool] = []
    returned = threading.Event()

    def job() -> None:
        job_libraries.import_for_job(("review_s14_slow",))
        seen.append(getattr(sys.modules["review_s14_slow"], "READY", False))
        returned.set()

    worker = threading.Thread(target=job)
    worker.start()
    returned.wait(1.0)  # a job that does not wait has returned by now
    gate.go.set()
    preload.join(30)
    worker.join(30)
    assert seen == [True], "the job went on with a library only half imported"
    sys.modules.pop("review_s14_slow", None)


def test_the_overlay_explains_only_once_the_preload_has_imported_its_libraries(
        qtbot, explained_project: Project, monkeypatch) -> None:  # noqa: F811
    """The explanation loads the version's CLIP (open_clip, which imports transformers)
    in a Background thread: while the preload imports them, it waits."""
    from crisisdesk.core.explain import item as explain

    real = explain.explain_item
    held: list[bool] = []

    def recorded(project, item_id, task, class_name=None, **kwargs):
        held.append(preloading.is_set())
        return real(project, item_id, task, class_name, **kwargs)

    monkeypatch.setattr(explain, "explain_item", recorded)
    preloading = threading.Event()
    window = open_window(qtbot, explained_project)
    _image_item(qtbot, window)
    with job_libraries._PRELOADING:  # the preload's second part importing open_clip
        preloading.set()
        window.detail.overlay.setChecked(True)
        qtbot.wait(800)  # an explanation that does not wait has started by now
        preloading.clear()
    _shown(qtbot, window)  # and once the preload is done, it is made
    assert held and not any(held), "explained while the preload was importing"


def _start_while_preloading(qtbot, project: Project, preloading: threading.Event,
                            action: str, made: list[bool]) -> None:
    """Open a window on ``project`` and start its job ``action`` (a WindowActions method)
    while a preload holds the import lock (``preloading`` set meanwhile); return once
    the job was made (``made`` holds an entry) and has ended."""
    window = open_window(qtbot, project)
    actions = window.actions_
    with job_libraries._PRELOADING:
        preloading.set()
        getattr(actions, action)()
        qtbot.wait(800)  # a job that does not wait has been made by now
        preloading.clear()
    qtbot.waitUntil(lambda: bool(made) and not actions.jobs.running(), timeout=60_000)


def test_predict_started_before_the_preloads_second_part_waits_for_its_imports(
        qtbot, explained_project: Project, monkeypatch) -> None:  # noqa: F811
    """A Predict started while the preload's first part ran passed the job's wait for
    it; the second part (transformers, open_clip) started next, and Predict loading a
    zero-shot version's CLIP imported them at the same time (here the tasks with no
    version yet: a zero-shot start over the project's images is theirs)."""
    from crisisdesk.core.fusion import predict
    from crisisdesk.gui import worker

    monkeypatch.setattr(worker, "wait_for_preload", lambda: None)  # passed before
    preloading = threading.Event()
    held: list[bool] = []
    real = predict.PredictJob

    def recorded(project, tasks=None):
        held.append(preloading.is_set())
        return real(project, tasks)

    monkeypatch.setattr(predict, "PredictJob", recorded)
    _start_while_preloading(qtbot, explained_project, preloading, "run_predict", held)
    assert not any(held), "Predict loaded models while the preload imported"


def test_predict_in_a_text_only_project_leaves_open_clip_out_the_overlay_does_not(
        tmp_path: Path) -> None:
    """A trained head reads stored embeddings: Predict loads no encoder of it (a text-only
    project's Predict importing open_clip would cost the memory the preload saves); its
    explanation loads them all."""
    from test_item_model import build_large_project

    project = build_large_project(tmp_path / "text-only", 5)
    sidecar = {"image_encoder": "clip-vit-b-32", "text_encoder": "minilm",
               "config": {"variant": "guided_diff"}}
    with project.open_store() as store:
        store.add_model_version("damage", "damage-1", str(tmp_path / "head"),
                                encoder="clip-vit-b-32", config=sidecar)
    assert job_libraries.version_modules(project, ["damage"], zero_shot_only=True) == ()
    assert "open_clip" in job_libraries.version_modules(project, ["damage"])
    assert job_libraries.version_modules(project, zero_shot_only=True) == ()


def test_retrain_started_before_the_preloads_second_part_waits_for_its_imports(
        qtbot, explained_project: Project, monkeypatch) -> None:  # noqa: F811
    """Retrain scores the holdout with each task's active version, a zero-shot start's
    CLIP loaded for it: as Predict, it waits for the preload importing open_clip."""
    from crisisdesk.core import retrain
    from crisisdesk.gui import worker

    monkeypatch.setattr(worker, "wait_for_preload", lambda: None)  # passed before
    preloading = threading.Event()
    held: list[bool] = []

    class Recorded:
        def __init__(self, project, prefer=None) -> None:
            held.append(preloading.is_set())
            self.report = None

        def run(self):
            raise RuntimeError("no training in this test")  # failed: no report opens

    monkeypatch.setattr(retrain, "RetrainJob", Recorded)
    _start_while_preloading(qtbot, explained_project, preloading, "run_retrain", held)
    assert not any(held), "Retrain loaded models while the preload imported"
