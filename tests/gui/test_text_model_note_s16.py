"""A text model whose folder broke since it was added (a config.json cut short by a
half-finished copy) is said once when the app starts, in the note on the settings it
cannot use, naming the setting, the folder's file and what Embed does; before, nothing
said it until an Embed with texts to encode failed on it (an Embed with nothing to
encode ended "done" without a word). The check reads the folder off the UI thread."""

from __future__ import annotations

import threading

from test_app_jobs import _settings
from test_preload_errors_s15 import NAME, _broken_text_model
from test_unusable_settings_s13 import _notices, _start

from crisisdesk.core.encoders import text
from crisisdesk.core.project import Project


def test_a_broken_text_model_folder_is_said_at_start(
        qtbot, demo_like_project: Project, tmp_path, monkeypatch) -> None:
    folder = _broken_text_model(tmp_path / "models")
    _settings(device="cpu", quantization="none", text_encoder=NAME)
    checked_in: list[int] = []
    check = text.check_folder

    def spied(name, where):
        checked_in.append(threading.get_ident())
        return check(name, where)

    monkeypatch.setattr(text, "check_folder", spied)
    window = _start(qtbot, demo_like_project, monkeypatch)
    qtbot.waitUntil(lambda: len(_notices(window)) == 1, timeout=10_000)
    said = _notices(window)[0].label.text()
    assert f"text_encoder = '{NAME}'" in said
    assert str(folder / "config.json") in said
    assert "Embed stops on it" in said
    assert checked_in and threading.get_ident() not in checked_in  # off the UI thread
