"""Settings an older release or a hand edit left in gui.ini: a switch written in words
the reader does not know must keep its default, not turn off. Blurring the images of
posts marked sensitive is on by default; a value such as "on" or one Qt cannot read
turned it off, and an analyst saw those images unblurred."""

from __future__ import annotations

import pytest

from crisisdesk.gui.dialogs.settings_dialog import DEFAULTS, SETTINGS_FILE, setting


@pytest.mark.parametrize("written, meant", [
    ("on", True), ("off", False), ("yes", True), ("0", False), ("false", False),
    ("sure", None), ("@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x13QVariant)", None),
])
def test_a_hand_written_switch_is_read_as_meant_or_keeps_its_default(
        user_folders, written: str, meant: bool | None) -> None:
    user_folders["config"].mkdir(parents=True, exist_ok=True)
    (user_folders["config"] / SETTINGS_FILE).write_text(
        f"[General]\nblur_sensitive={written}\nblur_all={written}\n", "utf-8")
    for key in ("blur_sensitive", "blur_all"):
        assert setting(key) is (DEFAULTS[key] if meant is None else meant)
