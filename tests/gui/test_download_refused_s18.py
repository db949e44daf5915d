"""The app's "missing model: Download / Choose local folder" offer, as `crisisdesk models
download` since session 18: a model whose registration jobs refuse (its registered
folder gone, models.json unreadable) is not downloaded. Jobs never fall back from a
registration to the hub copy, so the download cost the model's size, said "installed in
...", and Retry failed as before. A model installed since the offer is not fetched again
(a folder chosen with "Choose local folder" wins over the hub copy: the download was
never used). The hub is faked as in tests/core/test_download_progress_s15.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from caption_fixtures import isolated_config  # noqa: F401 - a fixture, used by name
from test_download_progress_s15 import FakeHub
from test_download_row_s15 import _wanting_llava
from test_jobs_panel import _panel

from crisisdesk.core.models import registry
from crisisdesk.core.progress import Progress
from crisisdesk.core.settings import config_dir
from crisisdesk.gui.job_row import JobRow

pytestmark = pytest.mark.usefixtures("isolated_config")
LLAVA = "llava-1.5-7b"


def _llava_folder(tmp_path: Path) -> Path:
    """A folder that passes registration as a captioner (a config and weights)."""
    folder = tmp_path / "llava_copy"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"w")
    return folder


def _registered_where_nothing_is(tmp_path: Path, name: str = LLAVA) -> None:
    """``name`` registered at a folder since moved away (a USB drive not plugged in)."""
    settings = config_dir() / registry.REGISTERED
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({name: {"path": str(tmp_path / "usb" / name)}}), "utf-8")


def _registration_gone(tmp_path: Path) -> None:
    _registered_where_nothing_is(tmp_path)


def _registrations_spoilt(tmp_path: Path) -> None:
    registry.register(LLAVA, _llava_folder(tmp_path))
    (config_dir() / registry.REGISTERED).write_text("{ not json", "utf-8")


def _click_download(qtbot, panel, row: JobRow) -> JobRow:
    row.download.click()
    download = panel.rows[0]
    assert download.runner.title == f"Download {LLAVA}"
    with qtbot.waitSignal(download.runner.finished, timeout=10_000):
        pass
    return download


@pytest.mark.parametrize("refuse", [_registration_gone, _registrations_spoilt],
                         ids=["registered folder gone", "models.json unreadable"])
def test_a_refused_registration_is_not_downloaded(qtbot, monkeypatch, tmp_path,
                                                  refuse) -> None:
    panel = _panel(qtbot)
    row = _wanting_llava(qtbot, panel)  # offered while nothing was registered
    refuse(tmp_path)  # since: registered elsewhere, or the file spoilt by a hand edit
    hub = FakeHub(monkeypatch)
    download = _click_download(qtbot, panel, row)
    assert hub.fetched == []  # nothing fetched
    assert download.runner.state == "failed"
    shown = download.message.text()
    assert "installed in" not in shown, shown
    assert "Not downloaded" in shown, shown
    assert "no longer exists" in shown or "not valid JSON" in shown, shown
    # The download's own row offers no download that would be refused again.
    assert not download.download.isVisible()


def test_a_model_installed_since_the_offer_is_not_fetched_again(qtbot, monkeypatch,
                                                                tmp_path) -> None:
    panel = _panel(qtbot)
    row = _wanting_llava(qtbot, panel)
    folder = _llava_folder(tmp_path)
    registry.register(LLAVA, folder)  # "Choose local folder", or another window
    hub = FakeHub(monkeypatch)
    download = _click_download(qtbot, panel, row)
    assert hub.fetched == []
    assert download.runner.state == "done", download.runner.error
    shown = download.message.text()
    assert "already installed" in shown and str(folder) in shown, shown


def test_a_predict_refused_for_a_vanished_clip_offers_no_download(qtbot, tmp_path) -> None:
    """A zero-shot version's CLIP whose registered folder is gone fails Predict with
    NoModel carrying the registration's words: the row offered Download (it judged by
    the exception's class), which could not help."""
    from crisisdesk.core.fusion.predict import NoModel, _zero_shot_class_vectors

    spec = registry.get_spec("clip-vit-b-32")
    _registered_where_nothing_is(tmp_path, spec.name)

    def body() -> Iterator[Progress]:
        yield Progress(0, 5)
        _zero_shot_class_vectors(None, "informative", spec.name)  # type: ignore[arg-type]

    panel = _panel(qtbot)
    runner = panel.run("Predict", body)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        pass
    assert isinstance(runner.exception, NoModel)
    row = panel.row_of(runner)
    assert row.missing_model == spec.name
    assert row.local.isVisible() and not row.download.isVisible()
