"""A text-model folder that transformers loads (one that is not a plain BERT: here a
DistilBERT) with a broken or unusual file in it gives an EncoderError naming the folder
and the file, not the library's own exception: transformers 5.x validates config.json
(a field of the wrong type, a check across fields) with huggingface_hub's strict
dataclasses, whose errors are plain Exceptions naming neither; the tokenizers library
raises a bare Exception for a tokenizer.json it cannot read; safetensors its own error
for a truncated weights file. A bug in the code (a TypeError) still shows as itself."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from test_bert_plain_s14 import _minilm_folder

from crisisdesk.core.encoders.base import EncoderError
from crisisdesk.core.encoders.text import TextEncoder


@pytest.fixture(scope="module")
def tiny_distilbert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random DistilBERT saved by transformers, with MiniLM's tokenizer."""
    import torch
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertModel

    folder = tmp_path_factory.mktemp("tiny-distilbert")
    torch.manual_seed(0)
    DistilBertModel(DistilBertConfig(vocab_size=30522, dim=32, n_layers=1, n_heads=4,
                                     hidden_dim=64)).save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(_minilm_folder())).save_pretrained(folder)
    return folder


def _config(**changes: object) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / "config.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    return edit


def _tokenizer_model(kind: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / "tokenizer.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "model": {"type": kind}}))
    return edit


def _truncate(folder: Path) -> None:
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[:1000])


#: An edit of the folder -> the file the error must name, and what else it must say.
BROKEN = {
    "config-dim-null": (_config(dim=None), "config.json", "dim"),
    "config-layers-a-word": (_config(n_layers="six"), "config.json", "n_layers"),
    "config-dropout-a-word": (_config(dropout="x"), "config.json", "dropout"),
    # A check across fields (transformers' validate_* methods): a class validation error.
    "config-bad-layer-types": (_config(layer_types=["bogus"]), "config.json", "layer_types"),
    "config-unknown-model-type": (_config(model_type="nosuchmodel"), "config.json",
                                  "nosuchmodel"),
    "tokenizer-json-unreadable": (_tokenizer_model("NoSuchModel"), "tokenizer.json", ""),
    "weights-truncated": (_truncate, "model.safetensors", ""),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_file_of_a_transformers_folder_is_an_error_naming_it(
        tiny_distilbert: Path, tmp_path: Path, case: str) -> None:
    edit, file, detail = BROKEN[case]
    folder = shutil.copytree(tiny_distilbert, tmp_path / case)
    edit(folder)
    with pytest.raises(EncoderError) as caught:
        TextEncoder.load("field-text", folder, device="cpu")
    message = str(caught.value)
    assert message.startswith("field-text: ") and str(folder) in message
    assert re.search(rf"\b{re.escape(file)}\b", message), message
    assert detail in message
    assert "\n" not in message  # one line: a job row and the status bar show it whole


def test_the_unbroken_folder_loads(tiny_distilbert: Path) -> None:
    """The control: the folders above fail for their edit, not for the fixture."""
    encoder = TextEncoder.load("field-text", tiny_distilbert, device="cpu")
    assert encoder.encode_texts(["flood"]).vectors.shape == (1, 32)


def test_a_bug_while_loading_is_not_dressed_as_a_broken_folder(
        tiny_distilbert: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    def bug(*_args: object, **_kwargs: object) -> None:
        raise TypeError("a bug, not a bad file")

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", bug)
    with pytest.raises(TypeError, match="a bug, not a bad file"):
        TextEncoder.load("field-text", tiny_distilbert, device="cpu")
