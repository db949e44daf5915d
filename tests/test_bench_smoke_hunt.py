"""Benchmarks print true figures at their smallest size: what each one times is what its
line says (the text it names, the images it counts), and a run leaves no temp folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))


def test_explain_bench_long_text_is_500_words_of_the_sample_text(bench_path) -> None:
    """The "500 words" explanation is timed on 500 real words (it was 500 single letters:
    the sample text spelled out, one short window instead of several)."""
    sys.modules.pop("explain_bench", None)
    import explain_bench

    words = explain_bench.long_text(500).split()
    assert len(words) == 500
    assert words == (explain_bench.TEXT.split() * 11)[:500]


class CountingEncoder:
    """Counts the images each ``encode_images`` call gets (no model)."""

    def __init__(self) -> None:
        self.encoded = 0

    def encode_images(self, images: list) -> None:
        self.encoded += len(images)


@pytest.mark.parametrize(("images", "size"), [(8, 16), (40, 16), (64, 16)])
def test_embed_bench_encoder_only_rate_counts_the_images_encoded(bench_path, images: int,
                                                                 size: int) -> None:
    """The encoder-only rate's numerator is the number of images really encoded, also when
    there are fewer images than a batch (it counted a full batch: --images 8 at batch 16
    reported twice the rate)."""
    sys.modules.pop("embed_bench", None)
    import embed_bench

    encoder = CountingEncoder()
    batch = list(range(min(images, size)))
    encoded, seconds = embed_bench.encoder_only(encoder, batch, images, "cpu")
    assert encoded == encoder.encoded - len(batch)  # the warm-up call is not counted
    assert seconds > 0


def test_gui_bench_runs_small_and_leaves_no_temp_folder(tmp_path: Path) -> None:
    """gui_bench without --workdir builds its project in a temp folder and removes it
    (each run left a project behind in /tmp)."""
    env = dict(os.environ, TMPDIR=str(tmp_path), QT_QPA_PLATFORM="offscreen",
               HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    env.pop("CRISISDESK_CONFIG_DIR", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gui_bench.py"), "--items", "200",
         "--labelled", "100", "--job-seconds", "1"],
        env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "first paint:" in done.stdout and "peak memory:" in done.stdout
    assert "search typed:" in done.stdout  # the query-change figures are printed
    assert not list(tmp_path.glob("crisisdesk-gui-bench-*")), done.stdout
