"""Leftovers of the plain-torch BERT (crisisdesk.core.encoders.bert): a tokenizer.json
whose pipeline is not BERT's usual one (another normalizer or pre-tokenizer, other
WordPiece settings) gives the tokens and vectors of the installed transformers, which
rebuilds or keeps such a pipeline depending on its version; and a config.json whose
hidden_act is not a name is an EncoderError naming the file and the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_bert_plain_s14 import (
    _assert_same_vectors,
    _reference,
    tiny_bert,  # noqa: F401 - the fixture, used by name
)
from test_bert_review_s14 import _edit_json

from crisisdesk.core.encoders.base import EncoderError
from crisisdesk.core.encoders.text import TextEncoder


def _set(key: str, value: object):
    return lambda data: data.update({key: value})


def _set_in(section: str, key: str, value: object):
    return lambda data: data[section].update({key: value})


#: tokenizer.json edits a tokenizer saved by other tools than transformers' BertTokenizer
#: may carry: transformers 5.x replaces each with BertTokenizer's own part, 4.x keeps it.
TOKENIZER_VARIANTS = {
    "sequence-normalizer": _set("normalizer", {"type": "Sequence", "normalizers": [
        {"type": "NFD"}, {"type": "Lowercase"}, {"type": "StripAccents"}]}),
    "no-normalizer": _set("normalizer", None),
    "no-text-cleaning": _set_in("normalizer", "clean_text", False),
    "whitespace-pre-tokenizer": _set("pre_tokenizer", {"type": "Whitespace"}),
    "short-wordpiece-words": _set_in("model", "max_input_chars_per_word", 6),
}


@pytest.mark.parametrize("variant", sorted(TOKENIZER_VARIANTS))
def test_a_tokenizer_json_other_than_berts_gives_the_transformers_vectors(
        tiny_bert: Path, tmp_path: Path, variant: str) -> None:  # noqa: F811
    folder = shutil.copytree(tiny_bert, tmp_path / variant)
    _edit_json(folder / "tokenizer.json", TOKENIZER_VARIANTS[variant])
    encoder = TextEncoder.load("tiny", folder, device="cpu")
    _assert_same_vectors(encoder, _reference(encoder, folder))


@pytest.mark.parametrize("act", [["gelu"], {"gelu": True}, None, 3])
def test_a_hidden_act_that_is_not_a_name_is_an_error_naming_the_file(
        tiny_bert: Path, tmp_path: Path, act: object) -> None:  # noqa: F811
    folder = shutil.copytree(tiny_bert, tmp_path / "bad-act")
    _edit_json(folder / "config.json", _set("hidden_act", act))
    with pytest.raises(EncoderError, match=r"config\.json.*hidden_act"):
        TextEncoder.load("tiny", folder, device="cpu")
