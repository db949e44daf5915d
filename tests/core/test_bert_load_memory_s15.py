"""Loading a plain BERT (crisisdesk.core.encoders.bert.load_bert) costs no memory beyond
its weights: model.safetensors is mapped, not read, so its tensors become resident only
as the model uses them; the model they go into must not first be filled with random
weights (MiniLM: ~90 MB written at once, then thrown away as the file's replaced
them). The weights are the file's own, bit for bit, in the file's dtype."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from offline_python import run_offline
from test_bert_plain_s14 import (
    _minilm_folder,
    _rewrite_weights,
    tiny_bert,  # noqa: F401 - the fixture, used by name
)

#: Prints how far the process's peak resident memory rose while load_bert loaded MiniLM,
#: and the size of its weights file (both in bytes). /proc/self/clear_refs "5" resets
#: the peak (VmHWM) to the resident memory of that moment.
PEAK_OF_THE_LOAD = """
import os
from pathlib import Path
from crisisdesk.core.encoders.bert import load_bert
import safetensors.torch  # imported before the peak is reset: a library, not the load

def kib(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])

folder = Path({folder!r})
before = kib("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
model = load_bert("minilm", folder)
print("rise", (kib("VmHWM") - before) * 1024, os.path.getsize(folder / "model.safetensors"))
"""


def _can_reset_the_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _can_reset_the_peak(), reason="needs Linux's /proc/self/clear_refs")
def test_loading_minilm_does_not_hold_a_second_copy_of_its_weights() -> None:
    out = run_offline(PEAK_OF_THE_LOAD.format(folder=str(_minilm_folder())))
    assert out.returncode == 0, out.stderr[-2000:]
    rise, weights = (int(n) for n in out.stdout.split("rise")[-1].split())
    # A random init of the model writes as many bytes as the file holds (it did: the
    # rise was the file's size); without one the load touches a few small tensors.
    assert rise < weights / 4, (rise, weights)


def test_no_random_weights_are_written_before_the_file_replaces_them(
        tiny_bert: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import torch

    from crisisdesk.core.encoders.bert import load_bert

    called: list[str] = []
    for name in dir(torch.nn.init):
        function = getattr(torch.nn.init, name)
        # The in-place initialisers (normal_, kaiming_uniform_...), as the modules call them.
        if name.endswith("_") and not name.startswith("_") and callable(function):
            def spy(*args, _name=name, _function=function, **kwargs):
                called.append(_name)
                return _function(*args, **kwargs)
            monkeypatch.setattr(torch.nn.init, name, spy)
    load_bert("tiny", tiny_bert)
    # LayerNorm's ones and zeros are a few hundred numbers; the weights are the matrices.
    assert set(called) <= {"ones_", "zeros_"}, sorted(set(called))


@pytest.mark.parametrize("dtype_name", ["float32", "float16", "bfloat16"])
def test_the_weights_are_the_files_bit_for_bit_in_its_dtype(
        tiny_bert: Path, tmp_path: Path, dtype_name: str) -> None:  # noqa: F811
    import torch
    from safetensors.torch import load_file

    from crisisdesk.core.encoders.bert import UNUSED, load_bert

    dtype = getattr(torch, dtype_name)
    folder = shutil.copytree(tiny_bert, tmp_path / dtype_name)
    _rewrite_weights(folder, lambda s: s.update({k: v.to(dtype) for k, v in s.items()}))
    saved = {k: v for k, v in load_file(str(folder / "model.safetensors")).items()
             if k not in UNUSED}
    model = load_bert("tiny", folder)
    state = model.state_dict()
    assert state.keys() == saved.keys()
    for key, tensor in saved.items():
        assert state[key].dtype == dtype, key
        assert torch.equal(state[key], tensor), key
    assert not model.training
    ids = torch.randint(1000, 30000, (2, 12))
    with torch.inference_mode():  # it runs: no weight left unset (a NaN would say so)
        out = model(ids, torch.ones_like(ids)).last_hidden_state
    assert out.dtype == dtype and torch.isfinite(out.float()).all()
