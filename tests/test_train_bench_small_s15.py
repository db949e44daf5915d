"""bench/train_bench.py at a small size: it runs to its figures for any --predict (a
--predict under 2,000 crashed in the warm-up, which indexed 2,000 items)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_train_bench_small_predict_prints_its_figures() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "train_bench.py"), "--items", "140",
         "--predict", "300", "--dim", "16", "--latent", "4", "--threads", "1"],
        capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["predict_items"] == 300
    assert figures["items"] == 140
    assert 1 <= figures["epochs"] <= 50


def test_train_bench_refuses_no_items_to_predict() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "train_bench.py"), "--predict", "0"],
        capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2
    assert "--predict" in run.stderr
