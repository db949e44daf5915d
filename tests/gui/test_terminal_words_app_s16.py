"""What the app says where the core names command-line options:

- a caption job that does not fit in the GPU's memory said "try --quant 4bit / a smaller
  captioner: --captioner X / --server URL / --device cpu" in its job row: the app has
  each of those as a setting (Settings: Quantization, Captioner, Caption server, Device);
- the detail panel's note in place of an image not downloaded, or missing, named
  ``crisisdesk media fetch`` / ``media relink`` as if they were the app's: the app has
  neither, so the note says they are commands to run in a terminal, with their arguments.
"""

from __future__ import annotations

import pytest

from crisisdesk.core.captions.base import CaptionError
from crisisdesk.gui.advice import media_note, plain_error

#: The core's message (captions.loading.check_gpu_memory) with every kind of advice.
NO_ROOM = CaptionError(
    "llava-1.5-7b needs ~16.0 GB of GPU memory without quantization, 7.0 GB free on "
    "cuda:0: try --quant 4bit (~5.5 GB) / a smaller captioner: --captioner "
    "llava-interleave-0.5b (~1.5 GB) / --server URL (a serving engine on another machine)"
    " / --device cpu (slow)")


def test_the_caption_memory_advice_names_the_settings() -> None:
    said = plain_error(NO_ROOM)
    assert "--" not in said, said
    assert "Quantization 4bit in Settings (~5.5 GB)" in said, said
    assert "Captioner llava-interleave-0.5b in Settings (~1.5 GB)" in said, said
    assert "a Caption server in Settings (a serving engine" in said, said
    assert "Device cpu in Settings (slow)" in said, said


@pytest.mark.parametrize("status, command", [
    ("remote", "in a terminal: crisisdesk media fetch PROJECT"),
    ("missing", "in a terminal: crisisdesk media relink PROJECT OLD_FOLDER NEW_FOLDER"),
])
def test_the_image_note_names_commands_as_a_terminals(status, command) -> None:
    note = media_note(status, "data_image/a.jpg", None)
    assert command in note, note
