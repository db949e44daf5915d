"""CLI tables with names in double-width scripts (Japanese, Chinese): their columns stay
in line on a terminal (session 13). Padding by character count put a class named
"浸水被害" four cells short of an ASCII one of four letters."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from crisisdesk.cli import main
from crisisdesk.core.fusion import evaluate as evaluate_module
from crisisdesk.core.fusion.metrics import classification_report
from crisisdesk.core.project import Project
from crisisdesk.core import words


def _cells(text: str) -> int:
    """Terminal cells of ``text``, counted here independently of the code under test."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else
               0 if unicodedata.combining(c) else 1 for c in text)


def test_display_width_counts_wide_and_combining_characters() -> None:
    display_width, pad = words.display_width, words.pad
    assert display_width("flood") == 5
    assert display_width("浸水") == 4  # two wide characters
    assert display_width("e\u0301") == 1  # e and a combining acute: one cell
    assert _cells(pad("浸水", 6)) == 6 and pad("浸水", 6).startswith("浸水")
    assert pad("浸水", 6, ">").endswith("浸水") and _cells(pad("浸水", 6, ">")) == 6
    assert pad("longer than", 3) == "longer than"  # never cut


def fake_eval(monkeypatch: pytest.MonkeyPatch, classes: list[str]) -> None:
    """``crisisdesk eval`` of task ``flood`` reports figures for ``classes`` (three)."""
    truth = [0, 1, 2, 0, 1, 2, 0]
    report = classification_report(truth, [0, 1, 2, 1, 1, 2, 0], classes, bootstrap=50)
    report.update(task="flood", split="test", model_version="flood-v1", items=len(truth),
                  unseen=0, ece=0.1, optimistic=None, texts_note=None)
    monkeypatch.setattr(evaluate_module, "evaluate", lambda store, task, split: report)


def test_eval_table_columns_line_up_with_japanese_class_names(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    classes = ["浸水被害", "none", "倒壊"]
    fake_eval(monkeypatch, classes)
    Project.open(tmp_path / "p", create=True)
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "p"), "--task", "flood", "--split", "test"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if "precision" in line)
    table = lines[header:header + 1 + len(classes)]
    assert [line.split()[0] for line in table[1:]] == classes
    # Each figure column ends at the same terminal cell on every line.
    assert len({_cells(line) for line in table}) == 1, table
    precision_end = {_cells(line[:line.index("%") + 1]) for line in table[1:]}
    assert len(precision_end) == 1 and \
        precision_end == {_cells(table[0][:table[0].index("precision") + 9])}, table


def test_models_list_aligns_a_wide_model_name(tmp_path: Path, capsys,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    folder = tmp_path / "clip"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text("{}")
    (folder / "open_clip_model.safetensors").write_bytes(b"weights")
    assert main(["models", "add", "災害クリップ", str(folder)]) == 0
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    heads = [line for line in capsys.readouterr().out.splitlines()
             if line and not line.startswith(" ")]
    assert any(line.startswith("災害クリップ ") for line in heads), heads
    # The kind column (the second) starts at the same cell whatever the name's script.
    starts = set()
    for line in heads:
        name, kind = line.split()[:2]
        starts.add(_cells(line[:line.index(" " + kind, len(name)) + 1]))
    assert len(starts) == 1, heads
