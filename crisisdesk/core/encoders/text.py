"""A transformers text encoder (BERT-like), with sentence-transformers' MiniLM recipe.

The recipe of ``sentence-transformers/all-MiniLM-L6-v2`` (its ``modules.json``:
Transformer -> Pooling -> Normalize; ``1_Pooling/config.json``: mean tokens only): the
last hidden states are averaged over the attention mask, then scaled to unit length.
It is reproduced here with plain transformers, so no sentence-transformers at run time.

A text longer than the context window (``sentence_bert_config.json``'s max_seq_length,
else the tokenizer's limit capped at 512) is not cut off: its content tokens are split
into overlapping windows, each window is encoded as its own ``[CLS] ... [SEP]``
sequence, and the window vectors are averaged back into one vector per text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crisisdesk.core.encoders.base import (
    Encoder,
    EncoderError,
    TextBatch,
    l2_normalise,
    pool_windows,
    token_windows,
)
from crisisdesk.core.models.completeness import TOKENIZER_FILES

MAX_WINDOW = 512
SBERT_CONFIG = "sentence_bert_config.json"


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None when there is none; a broken one is an EncoderError."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EncoderError(f"{path}: cannot read it ({exc})") from None
    if not isinstance(data, dict):
        raise EncoderError(f"{path}: expected a JSON object")
    return data


#: A tokenizer's settings files, beside its vocabulary's (TOKENIZER_FILES): those in a
#: folder are named when its tokenizer cannot be loaded.
TOKENIZER_SETTINGS = ("tokenizer_config.json", "special_tokens_map.json", "added_tokens.json")


#: config.json's sizes of a BERT-like model (BERT's names and DistilBERT's): transformers
#: builds a model of whatever number it is given, and a zero, negative or fractional one
#: failed deep in torch (RuntimeError "negative dimension", ZeroDivisionError, IndexError)
#: naming neither file nor field, or, for a layer count of -1, built a model with no
#: layers that gave wrong vectors without a word.
CONFIG_SIZES = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "max_position_embeddings",
                "dim", "hidden_dim", "n_layers", "n_heads")
#: config.json's names of the weights' number type (transformers 5.x writes dtype, 4.x
#: torch_dtype): transformers looks the word up in torch, and one torch lacks was an
#: AttributeError ("module 'torch' has no attribute 'float99'").
CONFIG_DTYPES = ("dtype", "torch_dtype")
#: Model types transformers builds without token-type embeddings when config.json's
#: type_vocab_size is 0 (DeBERTa-v3's and mDeBERTa's configs say 0); any other model
#: builds an embedding of 0 rows, and its first text failed deep in torch.
NO_TOKEN_TYPES = ("deberta", "deberta-v2", "gte")


def check_positive(path: Path, key: str, value: Any, *, whole: bool = True) -> None:
    """Raise an EncoderError naming ``path`` and ``key`` unless ``value`` is a positive
    whole number (``whole``) or a positive number; true/false is neither."""
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        raise EncoderError(f"{path}: {key} must be a positive "
                           f"{'whole number' if whole else 'number'}, got {value!r}")


def check_folder(name: str, folder: Path) -> None:
    """Raise the EncoderError loading text model ``folder`` would for its settings files,
    reading small JSON files alone (milliseconds): config.json missing or not an object,
    a size of :data:`CONFIG_SIZES` (or a type_vocab_size) that no model can have, a
    number type torch does not know, a tokenizer settings file or tokenizer.json that is
    not an object, a pooling other than mean. Registering a folder runs it too.
    The message starts with ``name`` and names the file and the field."""
    path = folder / "config.json"
    if not path.is_file():
        raise EncoderError(f"{name}: {folder} is not a transformers model folder "
                           "(no config.json in it)")
    try:
        config = read_json(path) or {}
        for key in CONFIG_SIZES:
            if key in config:
                check_positive(path, key, config[key])
        if "type_vocab_size" in config:
            _check_token_types(path, config)
        for key in CONFIG_DTYPES:
            value = config.get(key)
            if value is not None and not _torch_dtype_name(value):
                raise EncoderError(f"{path}: {key} must name a number type such as "
                                   f"float32, float16 or bfloat16, got {value!r}")
        for file in TOKENIZER_SETTINGS:  # transformers' AttributeError named none
            read_json(folder / file)
        _check_tokenizer_json(folder / "tokenizer.json")
        _check_pooling(folder)
    except EncoderError as exc:
        raise EncoderError(f"{name}: {exc}") from None


def _check_token_types(path: Path, config: dict[str, Any]) -> None:
    """Refuse config.json's type_vocab_size unless a whole number the model can be built
    with: positive, or 0 for a model of :data:`NO_TOKEN_TYPES`."""
    value = config["type_vocab_size"]
    if config.get("model_type") in NO_TOKEN_TYPES and type(value) is int and value == 0:
        return
    check_positive(path, "type_vocab_size", value)


def _check_tokenizer_json(path: Path) -> None:
    """Refuse a tokenizer.json that is not a JSON object (a list, a string, a number),
    from its first bytes: the file runs to megabytes (XLM-R's: 17 MB), too long to
    parse for a check that must take milliseconds. A file cut short or otherwise broken
    inside is said by the load."""
    try:
        with path.open("rb") as handle:
            start = handle.read(64).lstrip(b" \t\r\n")
    except FileNotFoundError:
        return  # another tokenizer file (vocab.txt...) may serve
    except OSError as exc:
        raise EncoderError(f"{path}: cannot read it ({exc})") from None
    if start.startswith(b"\xef\xbb\xbf"):  # an editor's: the tokenizers library refuses it
        raise EncoderError(f"{path}: starts with a byte order mark, which the tokenizer "
                           "library cannot read: save it as UTF-8 without one")
    if not start.startswith(b"{"):
        raise EncoderError(f"{path}: expected a JSON object")


#: The number types config.json files give, known without importing torch: an Embed with
#: nothing to encode checks the folder and must not pay torch's import (seconds) for it.
_COMMON_DTYPES = frozenset({"float32", "float16", "bfloat16"})


def _torch_dtype_name(value: Any) -> bool:
    """Whether ``value`` is a word transformers reads as a torch number type: what it
    does, ``getattr(torch, value)``, for a word other than the common ones."""
    if not isinstance(value, str):
        return False
    if value in _COMMON_DTYPES:
        return True
    import torch

    return isinstance(getattr(torch, value, None), torch.dtype)


def _check_pooling(folder: Path) -> None:
    """Refuse a sentence-transformers folder whose recipe is not mean pooling.

    A plain transformers folder (no ``1_Pooling``) gets mean pooling, the common choice.
    """
    pooling = read_json(folder / "1_Pooling" / "config.json")
    if pooling is None:
        return
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v is True}
    if modes and modes != {"pooling_mode_mean_tokens"}:
        raise EncoderError(f"{folder}: its pooling is {sorted(modes)}; crisisdesk's text "
                           "encoder does mean pooling only")


def _bad_folder_errors() -> tuple[type[BaseException], ...]:
    """What loading a folder through transformers raises for a file in it that is
    missing, broken or of a kind it does not know, as against a bug (a TypeError or
    AttributeError of crisisdesk's own code must show as itself, with its traceback):
    OSError (a missing file), ValueError (bad JSON, an unknown model_type), KeyError (a
    key missing from a tokenizer file), safetensors' error (a truncated weights file)
    and transformers 5.x's config validation, huggingface_hub's strict dataclasses: a
    field of the wrong type ("dim": null) or a check across fields, raised as plain
    Exception subclasses that name neither the folder nor the file."""
    errors: list[type[BaseException]] = [OSError, ValueError, KeyError]
    try:
        from safetensors import SafetensorError

        errors.append(SafetensorError)
    except ImportError:  # not exported by this safetensors: its error shows as itself
        pass
    try:
        from huggingface_hub.errors import (
            StrictDataclassClassValidationError,
            StrictDataclassFieldValidationError,
        )

        errors += [StrictDataclassFieldValidationError, StrictDataclassClassValidationError]
    except ImportError:  # an older huggingface_hub (transformers 4.x): no validation
        pass
    return tuple(errors)


def _loaded(name: str, folder: Path, files: str, load: Callable[[], Any]) -> Any:
    """``load()``'s result; a bad folder's error (see :func:`_bad_folder_errors`) as an
    EncoderError on one line naming the model, the folder and ``files``."""
    try:
        return load()
    except Exception as exc:
        # The tokenizers library (Rust) raises a bare Exception for a tokenizer.json it
        # cannot read: no subclass to catch; any subclass not listed is no bad file.
        if type(exc) is not Exception and not isinstance(exc, _bad_folder_errors()):
            raise
        text = " ".join(str(exc).split())  # the validation errors are on several lines
        raise EncoderError(f"{name}: cannot load the text model in {folder} ({files}): "
                           f"{text}") from None


def _present(folder: Path, names: Sequence[str], what: str) -> str:
    """The files of ``names`` that are in ``folder``, for an error message."""
    found = [n for n in names if (folder / n).is_file()]
    return ", ".join(found) if found else f"no {what} files"


def _load_with_transformers(name: str, folder: Path) -> tuple[Any, Any]:
    """The tokenizer and model of a folder that is not a plain BERT (DistilBERT, a
    vocab.txt without tokenizer.json, .bin weights), through transformers' Auto classes:
    config.json first, then the tokenizer and the weights, so that an error names the
    file it comes from."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    # Loading a local folder takes well under a second: its bar would only be noise
    # above the job's own progress bar.
    hf_logging.disable_progress_bar()
    where = str(folder)
    config = _loaded(name, folder, "config.json", lambda: AutoConfig.from_pretrained(
        where, local_files_only=True))
    tokenizer_files = _present(folder, (*TOKENIZER_FILES, *TOKENIZER_SETTINGS), "tokenizer")
    tokenizer = _loaded(name, folder, tokenizer_files, lambda: AutoTokenizer.from_pretrained(
        where, config=config, local_files_only=True))
    weights = sorted(p.name for p in folder.iterdir()
                     if p.suffix in (".safetensors", ".bin"))
    # Building the model checks config.json further (an activation it does not know,
    # sizes that do not divide): both files are named.
    model = _loaded(name, folder, f"config.json, {_present(folder, weights, 'weights')}",
                    lambda: AutoModel.from_pretrained(where, config=config,
                                                      local_files_only=True))
    return tokenizer, model


class TextEncoder(Encoder):
    """Texts to unit vectors with a frozen BERT-like model (mean pooling, L2 norm): a
    plain BERT through :mod:`crisisdesk.core.encoders.bert`, others through transformers."""

    kinds = frozenset({"text"})

    def __init__(self, name: str, model: Any, tokenizer: Any, *, device: str,
                 max_length: int, batch_size: int = 32, lower_case: bool = False) -> None:
        self.name = name
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.dim = int(model.config.hidden_size)
        #: Tokens per window, [CLS] and [SEP] included.
        self.max_length = max_length
        #: Windows per forward pass.
        self.batch_size = batch_size
        #: sentence_bert_config.json's do_lower_case: texts lowered before tokenizing.
        self.lower_case = lower_case
        cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
        pad_id = tokenizer.pad_token_id
        if cls_id is None or sep_id is None:
            raise EncoderError(f"{name}: its tokenizer has no [CLS]/[SEP] tokens; "
                               "only BERT-like text models are supported")
        self.cls_id, self.sep_id = int(cls_id), int(sep_id)
        self.pad_id = int(pad_id) if pad_id is not None else 0
        # BERT takes segment ids (all 0 for one text); DistilBERT and others take none.
        self.token_types = "token_type_ids" in getattr(tokenizer, "model_input_names", ())

    @classmethod
    def load(cls, name: str, folder: Path, device: str = "cpu") -> TextEncoder:
        """Load the model in ``folder`` (a transformers / sentence-transformers folder)
        without touching the network: frozen, eval mode, fp16 on CUDA, fp32 on CPU."""
        import torch

        folder = Path(folder)
        check_folder(name, folder)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            target = torch.device(device)
        except (RuntimeError, ValueError):
            raise EncoderError(f"{name}: unknown device {device!r} (use cpu or cuda)") from None
        if target.type == "cuda" and not torch.cuda.is_available():
            raise EncoderError(f"{name}: device {device!r} asked for, but no CUDA GPU is "
                               "usable here; use cpu")
        if target.type == "cuda" and (target.index or 0) >= torch.cuda.device_count():
            raise EncoderError(f"{name}: device {device!r} asked for, but this machine has "
                               f"{torch.cuda.device_count()} CUDA GPU(s) (cuda:0...)")
        if target.type not in ("cpu", "cuda"):
            raise EncoderError(f"{name}: device {device!r} is not supported (use cpu or cuda)")
        # Imported here: it imports torch, and importing this module must not (the CLI).
        from crisisdesk.core.encoders.bert import BertTokens, load_bert, plain_bert_folder

        if plain_bert_folder(folder):
            # MiniLM and other plain BERTs: no transformers import (~310 MB, seconds).
            tokenizer, model = BertTokens(name, folder), load_bert(name, folder)
        else:
            tokenizer, model = _load_with_transformers(name, folder)
        dtype = torch.float16 if target.type == "cuda" else torch.float32
        model = model.to(device=target, dtype=dtype).eval()
        model.requires_grad_(False)
        used = str(next(model.parameters()).device)
        sbert = read_json(folder / SBERT_CONFIG) or {}
        return cls(name, model, tokenizer, device=used,
                   max_length=cls._window_length(folder, tokenizer, model.config),
                   batch_size=64 if target.type == "cuda" else 32,
                   lower_case=sbert.get("do_lower_case") is True)

    @staticmethod
    def _window_length(folder: Path, tokenizer: Any, config: Any) -> int:
        """sentence_bert_config.json's max_seq_length, else the tokenizer's (<= 512)."""
        sbert = read_json(folder / SBERT_CONFIG) or {}
        length = sbert.get("max_seq_length")
        if not isinstance(length, int) or length <= 0:
            length = tokenizer.model_max_length
            if not isinstance(length, int) or length <= 0:
                length = MAX_WINDOW
            length = min(length, MAX_WINDOW)
        positions = getattr(config, "max_position_embeddings", None)
        if isinstance(positions, int) and positions > 0:
            length = min(length, positions)
        if length < 8:
            raise EncoderError(f"{folder}: a context of {length} tokens is too short")
        return int(length)

    def encode_texts(self, texts: Sequence[str]) -> TextBatch:
        """Unit vectors of ``texts`` (float32 [n, dim]); long texts windowed and pooled."""
        texts = [str(t).lower() if self.lower_case else str(t) for t in texts]
        if not texts:
            return TextBatch(np.zeros((0, self.dim), dtype=np.float32), 0)
        content = self.tokenizer(texts, add_special_tokens=False, truncation=False,
                                 return_attention_mask=False, return_token_type_ids=False,
                                 verbose=False)["input_ids"]
        size, overlap = self.max_length - 2, self.max_length // 4
        windows: list[list[int]] = []
        owners: list[int] = []
        windowed = 0
        for index, ids in enumerate(content):
            parts = token_windows(ids, size=size, overlap=overlap)
            windowed += len(parts) > 1
            for part in parts:
                windows.append([self.cls_id, *part, self.sep_id])
                owners.append(index)
        vectors = self._encode_windows(windows)
        return TextBatch(pool_windows(vectors, owners, len(texts)), windowed)

    def _encode_windows(self, windows: list[list[int]]) -> np.ndarray:
        """Unit vectors of token id sequences (specials included), in the given order."""
        import torch

        out = np.zeros((len(windows), self.dim), dtype=np.float32)
        # Longest first: similar lengths share a batch, so little padding is computed.
        order = sorted(range(len(windows)), key=lambda i: -len(windows[i]))
        device = torch.device(self.device)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start:start + self.batch_size]
                width = max(len(windows[i]) for i in chunk)
                ids = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for row, i in enumerate(chunk):
                    ids[row, :len(windows[i])] = torch.tensor(windows[i], dtype=torch.long)
                    mask[row, :len(windows[i])] = 1
                ids, mask = ids.to(device), mask.to(device)
                extra = {"token_type_ids": torch.zeros_like(ids)} if self.token_types else {}
                hidden = self.model(input_ids=ids, attention_mask=mask,
                                    **extra).last_hidden_state
                weights = mask.unsqueeze(-1).to(torch.float32)
                summed = (hidden.to(torch.float32) * weights).sum(dim=1)
                means = summed / weights.sum(dim=1).clamp(min=1e-9)
                out[chunk] = means.cpu().numpy()
        return l2_normalise(out)
