"""A text-model folder whose config.json holds a size no model can have (a negative
hidden_dim, a zero vocab_size, a layer count of -1), a number type torch does not know
("dtype": "float99") or whose tokenizer settings file is a JSON list gives an EncoderError
naming the file and the field in plain words, from the load, the embed job and the CLI.
Before, the DistilBERT (transformers) path raised torch's RuntimeError, a ZeroDivisionError
or an AttributeError from deep inside, naming neither, or built a model without layers.
An Embed with nothing to encode notes such a folder instead of ending silently."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from test_bert_plain_s14 import tiny_bert  # noqa: F401 - a fixture
from test_embed_job import _project
from test_text_model_errors_s15 import tiny_distilbert  # noqa: F401 - a fixture

from crisisdesk.cli import main
from crisisdesk.core.embed import EmbedJob
from crisisdesk.core.encoders.base import EncoderError
from crisisdesk.core.encoders.text import TextEncoder

NAME = "field-text"


def _edit(file: str, change: Callable[[object], object]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / file
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
    return edit


def _config(**changes: object) -> Callable[[Path], None]:
    return _edit("config.json", lambda data: {**data, **changes})  # type: ignore[dict-item]


def _written(file: str, text: str) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        (folder / file).write_text(text)
    return write


def _legacy_dtype(value: str) -> Callable[[Path], None]:
    """config.json as transformers 4.x saved it: torch_dtype, no dtype."""
    def change(data: dict) -> dict:
        data.pop("dtype", None)
        return {**data, "torch_dtype": value}
    return _edit("config.json", change)  # type: ignore[arg-type]


#: An edit of a DistilBERT folder -> (file, field, words the message must hold).
DISTILBERT = {
    "hidden_dim-negative": (_config(hidden_dim=-1), "config.json", "hidden_dim",
                            "must be a positive whole number, got -1"),
    "dim-zero": (_config(dim=0), "config.json", "dim", "got 0"),
    "n_heads-negative": (_config(n_heads=-1), "config.json", "n_heads", "got -1"),
    # Loaded before: range(-1) layers, the weights' layer 0 left over, vectors of the
    # embeddings alone.
    "n_layers-negative": (_config(n_layers=-1), "config.json", "n_layers", "got -1"),
    "vocab_size-zero": (_config(vocab_size=0), "config.json", "vocab_size", "got 0"),
    "vocab_size-a-fraction": (_config(vocab_size=2.5), "config.json", "vocab_size",
                              "got 2.5"),
    "max_position_embeddings-zero": (_config(max_position_embeddings=0), "config.json",
                                     "max_position_embeddings", "got 0"),
    "dtype-unknown": (_config(dtype="float99"), "config.json", "dtype", "'float99'"),
    "torch_dtype-unknown": (_legacy_dtype("float99"), "config.json", "torch_dtype",
                            "'float99'"),
    "tokenizer_config-a-list": (_edit("tokenizer_config.json", lambda _d: [1, 2]),
                                "tokenizer_config.json", "", "expected a JSON object"),
    "special_tokens_map-a-list": (_written("special_tokens_map.json", '["[CLS]"]'),
                                  "special_tokens_map.json", "", "expected a JSON object"),
}


def _broken(source: Path, root: Path, case: str, edit: Callable[[Path], None]) -> Path:
    folder = shutil.copytree(source, root / case)
    edit(folder)
    return folder


def _assert_names(message: str, folder: Path, file: str, field: str, words: str) -> None:
    assert message.startswith(f"{NAME}: "), message
    assert str(folder / file) in message, message
    if field:
        assert f"{file}: {field} " in message, message
    assert words in message, message
    assert "\n" not in message  # one line: a job row and the status bar show it whole


@pytest.mark.parametrize("case", sorted(DISTILBERT))
def test_an_unusable_field_of_a_transformers_folder_is_an_error_naming_it(
        tiny_distilbert: Path, tmp_path: Path, case: str) -> None:  # noqa: F811
    edit, file, field, words = DISTILBERT[case]
    folder = _broken(tiny_distilbert, tmp_path, case, edit)
    with pytest.raises(EncoderError) as caught:
        TextEncoder.load(NAME, folder, device="cpu")
    _assert_names(str(caught.value), folder, file, field, words)


def test_a_known_number_type_still_loads(tiny_distilbert: Path,  # noqa: F811
                                         tmp_path: Path) -> None:
    """The control: a legacy torch_dtype that torch knows is no error."""
    folder = _broken(tiny_distilbert, tmp_path, "legacy", _legacy_dtype("float32"))
    encoder = TextEncoder.load(NAME, folder, device="cpu")
    assert encoder.encode_texts(["flood"]).vectors.shape == (1, 32)


@pytest.mark.parametrize("change, field, words", [
    ({"hidden_size": -1}, "hidden_size", "must be a positive whole number, got -1"),
    ({"dtype": "float99"}, "dtype", "'float99'"),
])
def test_an_unusable_field_of_a_plain_bert_is_an_error_naming_it(
        tiny_bert: Path, tmp_path: Path, change: dict, field: str,  # noqa: F811
        words: str) -> None:
    folder = _broken(tiny_bert, tmp_path, field, _config(**change))
    with pytest.raises(EncoderError) as caught:
        TextEncoder.load(NAME, folder, device="cpu")
    _assert_names(str(caught.value), folder, "config.json", field, words)


def _registered(source: Path, root: Path, monkeypatch: pytest.MonkeyPatch,
                edit: Callable[[Path], None]) -> Path:
    """``source`` copied, registered as ``NAME`` (a text model), then broken by ``edit``."""
    from crisisdesk.core.models import registry

    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(root / "config"))
    folder = shutil.copytree(source, root / "models" / NAME)
    registry.register(NAME, folder, kind="text")
    edit(folder)
    return folder


def test_the_cli_embed_says_which_field_of_which_file(
        tiny_distilbert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = _registered(tiny_distilbert, tmp_path, monkeypatch, _config(hidden_dim=-1))
    project = _project(tmp_path, posts=2)
    code = main(["embed", str(project.root), "--encoder", NAME, "--kind", "text",
                 "--device", "cpu"])
    err = capsys.readouterr().err
    assert code != 0
    assert str(folder / "config.json") in err and "hidden_dim must be a positive" in err


def test_the_embed_job_fails_naming_the_field(
        tiny_distilbert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    folder = _registered(tiny_distilbert, tmp_path, monkeypatch, _config(n_heads=-1))
    job = EmbedJob(_project(tmp_path, posts=2), NAME, kinds=["text"], device="cpu")
    with pytest.raises(EncoderError, match=rf"{folder / 'config.json'}: n_heads must be"):
        list(job.run())


def test_an_embed_with_nothing_to_encode_notes_the_broken_folder(
        tiny_distilbert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    folder = _registered(tiny_distilbert, tmp_path, monkeypatch,
                         _edit("tokenizer_config.json", lambda _d: []))
    project = _project(tmp_path, posts=2)
    with project.open_store() as store:
        keys = [text.key for texts in store.item_text_slices() for text in texts]
        store.put_embeddings("text", NAME, keys, np.ones((len(keys), 32), np.float32))
    job = EmbedJob(project, NAME, kinds=["text"], device="cpu")
    steps = list(job.run())
    assert steps and steps[-1].total == 0  # nothing encoded, no model loaded: ends well
    summary = job.report.summary()
    assert "nothing to encode" in summary
    assert f"{folder / 'tokenizer_config.json'}: expected a JSON object" in summary
