"""A text-model folder the app cannot load is refused where it is registered.

``crisisdesk models add`` (and the app's Settings, through the same ``register``) took a
folder whose config.json holds a size no model can have: registered, it showed as
installed, and the app's start-up note and every Embed then said it could not load.
It is refused naming the file and the field, and nothing is registered.

The folder check (``check_folder``, run by registration, the load, an Embed with nothing
to encode and the app's start-up note) also missed a tokenizer.json that is not a JSON
object and a type_vocab_size no BERT can have (0, negative, not a whole number): both
are found now, while a type_vocab_size of 0 stays fine for the models built without
token types (DeBERTa, GTE).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_bert_plain_s14 import tiny_bert  # noqa: F401 - a fixture

from crisisdesk.cli import main
from crisisdesk.core.encoders.base import EncoderError
from crisisdesk.core.encoders.text import check_folder
from crisisdesk.core.models import registry

NAME = "checked-text"


def _copy(source: Path, root: Path, **config: object) -> Path:
    """``source`` copied under ``root``, its config.json given ``config``'s values."""
    folder = shutil.copytree(source, root / "folder")
    path = folder / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **config}))
    return folder


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


def test_models_add_refuses_a_folder_whose_config_the_app_refuses(
        tiny_bert: Path, tmp_path: Path, settings: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = _copy(tiny_bert, tmp_path, hidden_size=-1)
    code = main(["models", "add", NAME, str(folder), "--kind", "text"])
    err = capsys.readouterr().err
    assert code != 0
    assert f"{folder / 'config.json'}: hidden_size must be a positive whole number" in err
    assert f"{NAME} was not registered" in err, err
    assert NAME not in registry.registered_paths()


def test_a_folder_registered_before_stays_when_a_broken_one_is_refused(
        tiny_bert: Path, tmp_path: Path, settings: Path) -> None:  # noqa: F811
    good = shutil.copytree(tiny_bert, tmp_path / "good")
    registry.register(NAME, good, kind="text")
    broken = _copy(tiny_bert, tmp_path, num_attention_heads=0)
    with pytest.raises(ValueError, match="num_attention_heads must be a positive"):
        registry.register(NAME, broken, kind="text")
    assert registry.registered_paths()[NAME]["path"] == str(good)


def test_models_add_still_registers_a_good_folder(
        tiny_bert: Path, tmp_path: Path, settings: Path) -> None:  # noqa: F811
    folder = shutil.copytree(tiny_bert, tmp_path / "good")
    assert main(["models", "add", NAME, str(folder), "--kind", "text"]) == 0
    assert registry.registered_paths()[NAME]["path"] == str(folder)


@pytest.mark.parametrize("text", ['["[CLS]", "[SEP]"]', '"a tokenizer"', "3"])
def test_a_tokenizer_json_that_is_not_an_object_is_found_by_the_folder_check(
        tiny_bert: Path, tmp_path: Path, settings: Path, text: str) -> None:  # noqa: F811
    folder = shutil.copytree(tiny_bert, tmp_path / "folder")
    (folder / "tokenizer.json").write_text(text)
    with pytest.raises(EncoderError) as caught:
        check_folder(NAME, folder)
    said = str(caught.value)
    assert said.startswith(f"{NAME}: {folder / 'tokenizer.json'}: "), said
    assert "expected a JSON object" in said, said
    with pytest.raises(ValueError, match="tokenizer.json: expected a JSON object"):
        registry.register(NAME, folder, kind="text")


@pytest.mark.parametrize("value", [0, -1, 2.5, "2", True, None])
def test_a_bad_type_vocab_size_is_found_by_the_folder_check(
        tiny_bert: Path, tmp_path: Path, value: object) -> None:  # noqa: F811
    folder = _copy(tiny_bert, tmp_path, type_vocab_size=value)
    with pytest.raises(EncoderError) as caught:
        check_folder(NAME, folder)
    said = str(caught.value)
    assert f"{folder / 'config.json'}: type_vocab_size " in said, said
    assert f"got {value!r}" in said, said


@pytest.mark.parametrize("model_type", ["deberta-v2", "deberta", "gte"])
def test_no_token_types_is_fine_where_the_model_is_built_without_them(
        tmp_path: Path, model_type: str) -> None:
    """DeBERTa-v3's config says type_vocab_size 0: its model has no token types."""
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": model_type, "type_vocab_size": 0, "hidden_size": 32}))
    check_folder(NAME, tmp_path)  # nothing raised
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": model_type, "type_vocab_size": -1, "hidden_size": 32}))
    with pytest.raises(EncoderError, match="type_vocab_size .*got -1"):
        check_folder(NAME, tmp_path)

