"""Review of the plain-torch BERT (crisisdesk.core.encoders.bert) against transformers:
folders whose tokenizer settings or weights differ from MiniLM's still give transformers'
vectors, and a config.json or weights file it cannot use is an EncoderError naming the
file, never a raw TypeError / ZeroDivisionError / RuntimeError."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_bert_plain_s14 import (
    _assert_same_vectors,
    _reference,
    _rewrite_weights,
    tiny_bert,  # noqa: F401 - the fixture, used by name
)

from crisisdesk.core.encoders.base import EncoderError
from crisisdesk.core.encoders.text import TextEncoder


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _cased_normalizer(data: dict) -> None:
    """tokenizer.json's normalizer saved cased, accents kept (as a cased BERT's is)."""
    data["normalizer"].update({"lowercase": False, "strip_accents": False})


def test_casing_left_out_of_tokenizer_config_is_read_as_transformers_reads_it(
        tiny_bert: Path, tmp_path: Path) -> None:  # noqa: F811
    """transformers' BertTokenizer takes do_lower_case / strip_accents /
    tokenize_chinese_chars from tokenizer_config.json with its own defaults (True, None,
    True) when a key is left out, whatever tokenizer.json's normalizer says."""
    folder = shutil.copytree(tiny_bert, tmp_path / "no-casing-keys")
    _edit_json(folder / "tokenizer.json", _cased_normalizer)
    _edit_json(folder / "tokenizer_config.json",
               lambda d: [d.pop(k, None) for k in ("do_lower_case", "strip_accents",
                                                   "tokenize_chinese_chars")])
    encoder = TextEncoder.load("tiny", folder, device="cpu")
    _assert_same_vectors(encoder, _reference(encoder, folder))


def test_a_tokenizer_class_other_than_bert_gives_transformers_tokens(
        tiny_bert: Path, tmp_path: Path) -> None:  # noqa: F811
    """A tokenizer_config.json naming a generic tokenizer class: transformers reads
    tokenizer.json as saved (no BertTokenizer casing override)."""
    folder = shutil.copytree(tiny_bert, tmp_path / "generic-tokenizer")
    _edit_json(folder / "tokenizer.json", _cased_normalizer)
    _edit_json(folder / "tokenizer_config.json",
               lambda d: d.update({"tokenizer_class": "PreTrainedTokenizerFast",
                                   "do_lower_case": True}))
    encoder = TextEncoder.load("tiny", folder, device="cpu")
    _assert_same_vectors(encoder, _reference(encoder, folder))


def test_a_bert_without_architectures_holding_a_task_head_gives_transformers_vectors(
        tmp_path: Path) -> None:
    """An older config.json names no architectures; its weights may be a BertForMaskedLM's
    ("bert." prefix, a "cls." head): transformers loads their BertModel part."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from test_bert_plain_s14 import _minilm_folder

    folder = tmp_path / "masked-lm"
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=30522, hidden_size=32,
                                       num_hidden_layers=2, num_attention_heads=4,
                                       intermediate_size=64, max_position_embeddings=40))
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=0.5)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(_minilm_folder())).save_pretrained(folder)
    _edit_json(folder / "config.json", lambda d: d.pop("architectures"))
    encoder = TextEncoder.load("tiny", folder, device="cpu")
    _assert_same_vectors(encoder, _reference(encoder, folder))


@pytest.mark.parametrize("change", [
    {"num_attention_heads": 0},
    {"vocab_size": None},
    {"hidden_size": "32"},
    {"num_hidden_layers": -1},
    {"layer_norm_eps": "small"},
])
def test_a_config_with_an_unusable_size_is_an_error_naming_it(
        tiny_bert: Path, tmp_path: Path, change: dict) -> None:  # noqa: F811
    folder = shutil.copytree(tiny_bert, tmp_path / "bad-config")
    _edit_json(folder / "config.json", lambda d: d.update(change))
    key = next(iter(change))
    with pytest.raises(EncoderError, match=rf"config\.json.*{key}"):
        TextEncoder.load("tiny", folder, device="cpu")


def test_a_weight_that_is_not_floating_point_is_an_error_naming_it(
        tiny_bert: Path, tmp_path: Path) -> None:  # noqa: F811
    folder = shutil.copytree(tiny_bert, tmp_path / "int-weight")
    _rewrite_weights(folder, lambda s: s.update(
        {"encoder.layer.0.output.dense.bias":
         s["encoder.layer.0.output.dense.bias"].long()}))
    with pytest.raises(EncoderError, match=r"model\.safetensors.*encoder\.layer\.0\.output"
                                           r"\.dense\.bias.*int64"):
        TextEncoder.load("tiny", folder, device="cpu")


@pytest.mark.parametrize("dtype_name", ["float16", "bfloat16"])
def test_half_precision_with_padding_gives_transformers_hidden_states(
        tiny_bert: Path, dtype_name: str) -> None:  # noqa: F811
    """On CUDA the model runs in float16: its padding mask must stay finite there (no
    NaN, no overflow), and its states match transformers' BertModel cast the same way.
    Checked on the CPU, where torch runs both half types."""
    import torch
    from transformers import AutoModel

    from crisisdesk.core.encoders.bert import load_bert

    dtype = getattr(torch, dtype_name)
    ours = load_bert("tiny", tiny_bert).to(dtype)
    theirs = AutoModel.from_pretrained(str(tiny_bert), local_files_only=True).eval().to(dtype)
    torch.manual_seed(0)
    ids = torch.randint(1000, 30000, (3, 40))
    mask = torch.ones_like(ids)
    mask[1, 20:] = 0
    mask[2, 3:] = 0  # mostly padding
    with torch.inference_mode():
        got = ours(ids, mask).last_hidden_state.float()
        want = theirs(input_ids=ids, attention_mask=mask,
                      token_type_ids=torch.zeros_like(ids)).last_hidden_state.float()
    real = mask.bool()
    assert torch.isfinite(got[real]).all()
    # A few float16 / bfloat16 steps of LayerNorm-scaled (about unit) values.
    assert (got[real] - want[real]).abs().max().item() < 5e-2
