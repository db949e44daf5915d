"""A BERT text model in plain torch, and its tokenizer through the ``tokenizers`` library:
MiniLM (the default text encoder) loads without transformers.

Why: importing transformers' modelling code costs ~310 MB of memory and seconds of start
(``transformers.modeling_utils`` imports its loss modules, then image_utils, torchvision,
and torchvision imports ``torch._dynamo``: sympy, triton, inductor). Encoding text with a
BERT needs none of it. A folder that is not a plain BERT (DistilBERT, no tokenizer.json
or one of another pipeline, .bin weights, a model with a task head) keeps the
transformers path (:func:`plain_bert_folder` decides).

References: transformers' ``models/bert/modeling_bert.py`` (BertModel in eval mode:
dropout is the identity) and the original BERT paper (Devlin et al., 2019). Weights are
read by their transformers names from ``model.safetensors``, strictly: a tensor missing
or left over is an EncoderError naming it. Never a pickle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from crisisdesk.core.encoders.base import EncoderError
from crisisdesk.core.encoders.text import check_positive, read_json

WEIGHTS = "model.safetensors"
TOKENIZER = "tokenizer.json"
#: hidden_act names of config.json -> the function (transformers' ACT2FN for these).
ACTIVATIONS = {
    "gelu": F.gelu,
    "relu": F.relu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
}
#: The same functions applied in place (the same kernels: the same numbers), for a
#: forward without autograd. Why: the intermediate tensor is 4x the hidden width (batch
#: 32 of real tweets: ~20 MB, of 256-token windows: ~50 MB); a second one beside it was
#: most of a forward's peak memory (measured: 47 -> 38 MB at 100 tokens, 120 -> 96 at 256).
IN_PLACE_ACTIVATIONS = {
    "gelu": torch.ops.aten.gelu_,
    "relu": F.relu_,
    "gelu_new": lambda x: torch.ops.aten.gelu_(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: torch.ops.aten.gelu_(x, approximate="tanh"),
}
#: Tensors a BertModel file may hold that the encoder does not use: the position ids
#: buffer older transformers saved, the pooler (BertModel's [CLS] head; mean pooling
#: never reads it).
UNUSED = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")
#: tokenizer_config.json's tokenizer_class values that transformers reads as a BertTokenizer
#: (None: none given, transformers then goes by config.json's model_type bert).
BERT_TOKENIZER_CLASSES = (None, "BertTokenizer", "BertTokenizerFast")
#: tokenizer_config.json's settings of transformers' BertTokenizer, and its defaults for a
#: setting left out (the normalizer saved in tokenizer.json is not what transformers uses).
BERT_TOKENIZER_DEFAULTS = {"do_lower_case": True, "strip_accents": None,
                           "tokenize_chinese_chars": True}


def _json(path: Path) -> dict[str, Any]:
    """A JSON object file ({} when absent); a broken one is an EncoderError."""
    return read_json(path) or {}


def plain_bert_folder(folder: Path) -> bool:
    """Whether ``folder`` is a BERT this module loads: config.json of model_type bert (a
    bare BertModel, absolute positions, an activation it knows, no decoder), a
    tokenizer.json read as a BertTokenizer and a model.safetensors. Anything else goes
    through transformers."""
    config = _json(folder / "config.json")
    # No architectures (an older config.json) may be a BertForMaskedLM's or
    # BertForPreTraining's weights ("bert." prefix, a head): transformers strips them.
    architectures = config.get("architectures")
    act = config.get("hidden_act", "gelu")
    return (config.get("model_type") == "bert"
            and architectures == ["BertModel"]
            # Another tokenizer class (PreTrainedTokenizerFast...) reads tokenizer.json as
            # saved, without BertTokenizer's casing settings: transformers builds it.
            and _json(folder / "tokenizer_config.json").get("tokenizer_class")
            in BERT_TOKENIZER_CLASSES
            and config.get("position_embedding_type", "absolute") == "absolute"
            # A hidden_act that is no name (a list, null) no library runs: kept here, so
            # that BertConfig.read says so naming the file (transformers' TypeError, or
            # its dataclass validation error, names neither file nor folder).
            and (not isinstance(act, str) or act in ACTIVATIONS)
            and not config.get("is_decoder") and not config.get("add_cross_attention")
            and (folder / TOKENIZER).is_file() and (folder / WEIGHTS).is_file()
            and _bert_pipeline(folder / TOKENIZER))


def _bert_pipeline(path: Path) -> bool:
    """Whether tokenizer.json ``path`` holds the pipeline transformers' BertTokenizer
    builds (a BertNormalizer that cleans text, the BertPreTokenizer, WordPiece with "##"
    and its 100-character words). transformers 5.x rebuilds any other file that way,
    4.x keeps it as saved: such a folder goes through the transformers installed, so its
    vectors are that library's whatever its version."""
    saved = _json(path)

    def part(key: str) -> dict[str, Any]:
        value = saved.get(key)
        return value if isinstance(value, dict) else {}

    normalizer, model = part("normalizer"), part("model")
    return (normalizer.get("type") == "BertNormalizer"
            and normalizer.get("clean_text", True) is True
            and part("pre_tokenizer").get("type") == "BertPreTokenizer"
            and model.get("type") == "WordPiece"
            and model.get("continuing_subword_prefix", "##") == "##"
            and model.get("max_input_chars_per_word", 100) == 100)


@dataclass(frozen=True)
class BertConfig:
    """The sizes of a BERT, from its config.json (transformers' names and defaults)."""

    vocab_size: int
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @classmethod
    def read(cls, path: Path) -> BertConfig:
        """The config of ``path`` (config.json); a missing or bad size is an EncoderError."""
        data = _json(path)
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if "vocab_size" not in known:
            raise EncoderError(f"{path}: no vocab_size")
        for key, value in known.items():
            # Checked here: a null, string or zero size fails later in torch with a
            # TypeError or ZeroDivisionError that names neither the file nor the key.
            if key == "hidden_act":
                if not isinstance(value, str) or value not in ACTIVATIONS:
                    raise EncoderError(f"{path}: hidden_act is {value!r}, expected one of "
                                       f"{', '.join(ACTIVATIONS)}")
                continue
            check_positive(path, key, value, whole=key != "layer_norm_eps")
        config = cls(**known)
        if config.hidden_size % config.num_attention_heads:
            raise EncoderError(f"{path}: hidden_size {config.hidden_size} is not a "
                               f"multiple of num_attention_heads "
                               f"{config.num_attention_heads}")
        return config


@dataclass
class BertOutput:
    """What a forward pass gives: the last layer's hidden states [batch, length, width]
    (the name transformers' models use, so TextEncoder reads either alike)."""

    last_hidden_state: Tensor


class _Linear(nn.Linear):
    """nn.Linear left uninitialised: load_bert assigns every weight from the file.
    Why: the random init wrote the whole model (MiniLM: ~90 MB) at once only to throw it
    away, while the file's tensors are mapped and become resident only as they are used;
    memory never written costs nothing (torch.empty)."""

    def reset_parameters(self) -> None:
        pass


class _Embedding(nn.Embedding):
    """nn.Embedding left uninitialised, as :class:`_Linear` (and for the same reason)."""

    def reset_parameters(self) -> None:
        pass


class _Embeddings(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = _Embedding(c.vocab_size, c.hidden_size)
        self.position_embeddings = _Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = _Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, ids: Tensor, token_types: Tensor) -> Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        summed = (self.word_embeddings(ids) + self.token_type_embeddings(token_types)
                  + self.position_embeddings(positions)[None])
        return self.LayerNorm(summed)


class _SelfAttention(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.heads = c.num_attention_heads
        self.query = _Linear(c.hidden_size, c.hidden_size)
        self.key = _Linear(c.hidden_size, c.hidden_size)
        self.value = _Linear(c.hidden_size, c.hidden_size)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        batch, length, width = x.shape

        def split(t: Tensor) -> Tensor:  # [batch, heads, length, head width]
            return t.view(batch, length, self.heads, width // self.heads).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        # mask: [batch, 1, 1, length], True where a key is a real token (not padding).
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                             scale=1 / math.sqrt(width // self.heads))
        return out.transpose(1, 2).reshape(batch, length, width)


class _AddNorm(nn.Module):
    """A projection, the residual added, then LayerNorm (BERT's post-LayerNorm)."""

    def __init__(self, c: BertConfig, width_in: int) -> None:
        super().__init__()
        self.dense = _Linear(width_in, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x: Tensor, residual: Tensor) -> Tensor:
        # Added into the projection's fresh output (no third tensor of this size); the
        # projection's backward needs neither, so autograd allows it.
        return self.LayerNorm(self.dense(x).add_(residual))


class _Attention(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.self = _SelfAttention(c)
        self.output = _AddNorm(c, c.hidden_size)


class _Intermediate(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.dense = _Linear(c.hidden_size, c.intermediate_size)
        self.act = ACTIVATIONS[c.hidden_act]
        self.act_in_place = IN_PLACE_ACTIVATIONS[c.hidden_act]

    def forward(self, x: Tensor) -> Tensor:
        hidden = self.dense(x)
        # With autograd (the word explanations) the activation's input is kept for its
        # gradient; without, it is overwritten: one buffer of this width, not two.
        return self.act(hidden) if hidden.requires_grad else self.act_in_place(hidden)


class _Layer(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.attention = _Attention(c)
        self.intermediate = _Intermediate(c)
        self.output = _AddNorm(c, c.intermediate_size)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        attended = self.attention.output(self.attention.self(x, mask), x)
        return self.output(self.intermediate(attended), attended)


class _Encoder(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(c) for _ in range(c.num_hidden_layers))


class BertModel(nn.Module):
    """transformers' BertModel in eval mode, up to the last hidden states (no pooler):
    its submodules carry transformers' names, so its safetensors load by name. Built
    with its matrices uninitialised: only :func:`load_bert` makes one, and fills it."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = _Embeddings(config)
        self.encoder = _Encoder(config)

    def forward(self, input_ids: Tensor, attention_mask: Tensor,
                token_type_ids: Tensor | None = None) -> BertOutput:
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.embeddings(input_ids, token_type_ids)
        mask = attention_mask.bool()[:, None, None, :]
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return BertOutput(x)


def load_bert(name: str, folder: Path) -> BertModel:
    """The BERT of ``folder`` (config.json + model.safetensors), on the CPU in the file's
    dtype, in eval mode. A tensor missing, left over or of another shape than the config
    says is an EncoderError naming it and the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config = BertConfig.read(folder / "config.json")
    path = folder / WEIGHTS
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise EncoderError(f"{name}: cannot read {path}: {exc}") from None
    for unused in UNUSED:
        state.pop(unused, None)
    # Built on the CPU with its matrices left unwritten (so not resident), then given the
    # file's tensors: load_file maps the file, and its pages are read in as the model
    # uses them. Built on the meta device instead, the init went through torch._refs,
    # which imports torch._dynamo (sympy, ~170 MB) that nothing else here needs.
    model = BertModel(config)
    expected = {key: tuple(p.shape) for key, p in model.state_dict().items()}
    missing = sorted(expected.keys() - state.keys())
    extra = sorted(state.keys() - expected.keys())
    if missing or extra:
        said = [f"missing {', '.join(missing[:5])}" if missing else "",
                f"not a BertModel tensor: {', '.join(extra[:5])}" if extra else ""]
        raise EncoderError(f"{name}: {path} does not match its config.json: "
                           + "; ".join(s for s in said if s))
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise EncoderError(f"{name}: {path}: {key} has shape {tuple(state[key].shape)}"
                               f", its config.json says {shape}")
        if not state[key].is_floating_point():  # load_state_dict's RuntimeError names no file
            raise EncoderError(f"{name}: {path}: {key} holds {state[key].dtype} numbers, "
                               "not floating-point weights")
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


class BertTokens:
    """A BERT's tokenizer.json through the ``tokenizers`` library, with the small part of
    transformers' tokenizer interface that TextEncoder and the word explanations call:
    ``tok(texts, add_special_tokens=False, return_offsets_mapping=...)`` -> input_ids
    (and offset_mapping), the [CLS]/[SEP]/[PAD] ids, model_input_names, model_max_length.
    """

    model_input_names = ("input_ids", "token_type_ids", "attention_mask")

    def __init__(self, name: str, folder: Path) -> None:
        from tokenizers import Tokenizer, normalizers

        path = folder / TOKENIZER
        try:
            self._tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # noqa: BLE001 - the Rust library raises plain Exception
            raise EncoderError(f"{name}: cannot read {path}: {exc}") from None
        # A tokenizer.json may pad or cut to a fixed length (MiniLM's: 128); windows are
        # cut by the encoder, never here.
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        settings = _json(folder / "tokenizer_config.json")
        if isinstance(self._tokenizer.normalizer, normalizers.BertNormalizer):
            # As transformers' BertTokenizer does (4.x and 5.x alike): tokenizer_config.
            # json's casing and accent settings, with its defaults for one left out, win
            # over the normalizer saved in tokenizer.json.
            said = {k: settings.get(k, default)
                    for k, default in BERT_TOKENIZER_DEFAULTS.items()}
            self._tokenizer.normalizer = normalizers.BertNormalizer(
                clean_text=self._tokenizer.normalizer.clean_text,
                handle_chinese_chars=said["tokenize_chinese_chars"],
                strip_accents=said["strip_accents"], lowercase=said["do_lower_case"])
        specials = _json(folder / "special_tokens_map.json")
        self.cls_token_id = self._special(settings, specials, "cls_token", "[CLS]")
        self.sep_token_id = self._special(settings, specials, "sep_token", "[SEP]")
        self.pad_token_id = self._special(settings, specials, "pad_token", "[PAD]")
        length = settings.get("model_max_length")
        #: None when tokenizer_config.json gives none (TextEncoder then caps at 512).
        self.model_max_length = length if isinstance(length, int) else None

    def _special(self, settings: dict[str, Any], specials: dict[str, Any], key: str,
                 default: str) -> int | None:
        token = settings.get(key) or specials.get(key) or default
        if isinstance(token, dict):  # {"content": "[CLS]", ...} in newer files
            token = token.get("content", default)
        return self._tokenizer.token_to_id(str(token))

    def __call__(self, texts: str | list[str], *, add_special_tokens: bool = True,
                 return_offsets_mapping: bool = False, **_ignored: Any) -> dict[str, Any]:
        """Token ids of ``texts`` (one text or a list), as transformers' tokenizer gives
        them; the other keyword arguments of its call are accepted and mean nothing
        here (no truncation, no padding, no attention mask)."""
        one = isinstance(texts, str)
        encoded = self._tokenizer.encode_batch([texts] if one else list(texts),
                                               add_special_tokens=add_special_tokens)
        out: dict[str, Any] = {"input_ids": [e.ids for e in encoded]}
        if return_offsets_mapping:
            out["offset_mapping"] = [e.offsets for e in encoded]
        return {k: v[0] for k, v in out.items()} if one else out
