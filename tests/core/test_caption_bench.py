"""bench/caption_bench.py runs on the CPU with the tiny LLaVA (as CI can) and prints one
figure per path and batch: it must keep working between GPU sessions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_caption_bench_prints_every_path_at_every_batch(capsys, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    sys.modules.pop("caption_bench", None)
    import caption_bench

    assert caption_bench.main(["--arch", "tiny", "--batch-sizes", "1,3", "--max-new-tokens",
                               "4", "--decoder", "static"]) == 0
    figures = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if line.startswith("{")]
    timed = [f for f in figures if f["fig"] == "caption_bench"]
    assert not [f for f in timed if "error" in f], timed
    assert {(f["path"], f["batch"]) for f in timed} == {
        (path, batch) for path in ("localcaptioner", "decoder", "generate")
        for batch in (1, 3)}
    for figure in timed:
        assert figure["captions_per_s"] > 0 and figure["new_tokens"] == 4
        assert figure["decoder"] == ("generate" if figure["path"] == "generate" else "static")
    decoder = [f for f in timed if f["path"] == "decoder"]
    assert all(f["prefill_s"] > 0 and f["decode_s"] > 0 for f in decoder)
