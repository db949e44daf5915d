"""Command-line output with Arabic and Hebrew names reads in order on a terminal that
applies the Unicode bidi algorithm (GNOME Terminal/VTE, Konsole, macOS Terminal).

An item id of a source named in Arabic (``فيضان:12:0``) printed as it is was one
right-to-left run that took the numbers after it in: the terminal showed ``0:12:فيضان``.
An event name followed by its count, or a class name followed by its figures, took the
numbers too (``events: 3 زلزال ,12 فيضان``). On a terminal each such field is now
isolated (U+2066..U+2069); redirected output and ``--json`` stay free of marks, and an
id or a source name copied from the terminal with its marks is still understood.
"""

from __future__ import annotations

import io
import json
import sys
import unicodedata
from pathlib import Path

import pytest
from test_cli_wide_tables_s13 import fake_eval
from test_explain import add_damage_head, posts_with_a_picture, tiny  # noqa: F401

from crisisdesk.cli import main
from crisisdesk.core.explain.item import forget_loaded
from crisisdesk.core.project import Project

ARABIC, HEBREW = "فيضان", "שיטפון"
LRI, FSI, PDI, LRM = "\u2066", "\u2068", "\u2069", "\u200e"
MARKS = (LRI, FSI, PDI, LRM)


def unmarked(text: str) -> str:
    """``text`` without isolates and marks (written here, apart from the code tested)."""
    for mark in MARKS:
        text = text.replace(mark, "")
    return text


class _Terminal(io.StringIO):
    """Standard output as a terminal: ``isatty`` is true."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> _Terminal:
    """What the command prints to a (Linux) terminal. Set up before each command runs:
    pytest puts its own capture back in sys.stdout between a fixture and the test."""
    out = _Terminal()
    real = main

    def on_terminal(argv: list[str]) -> int:
        monkeypatch.setattr(sys, "stdout", out)
        return real(argv)

    monkeypatch.setattr(sys.modules[__name__], "main", on_terminal)
    monkeypatch.setattr(sys, "platform", "linux")
    return out


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Two text-only posts, ``12`` of a source named in Arabic (event in Arabic) and
    ``7`` of one named in Hebrew."""
    project = Project.open(tmp_path / "p", create=True)
    with project.open_store() as store:
        for source, post_id, event in ((ARABIC, "12", "زلزال"), (HEBREW, "7", None)):
            store.ensure_source(source, "csv", f"{source}.csv")
            post = store.insert_post(source, post_id, text="السيول تغمر الشوارع",
                                     event=event)
            store.add_text_item(post, source, post_id)
    return project


def _assert_id_in_order(line: str, uid: str) -> None:
    """``uid`` is in ``line`` left to right as a whole, its name in an isolate of its own
    and each number after it outside the name's run."""
    assert uid in unmarked(line), ascii(line)
    name, post_id, n = uid.split(":")
    assert f"{LRI}{FSI}{name}{PDI}:{FSI}{post_id}{PDI}:{FSI}{n}{PDI}{PDI}" in line, ascii(line)


def _label(project: Project, uid: str, label: str = "informative") -> int:
    return main(["label", str(project.root), uid, "--task", "informative", "--label", label])


def test_label_undo_and_history_show_arabic_and_hebrew_ids_in_order(
        project: Project, terminal: _Terminal) -> None:
    for uid in (f"{ARABIC}:12:0", f"{HEBREW}:7:0"):
        assert _label(project, uid) == 0
        _assert_id_in_order(terminal.getvalue().splitlines()[-1], uid)
    assert main(["undo", str(project.root)]) == 0
    _assert_id_in_order(terminal.getvalue().splitlines()[-1], f"{HEBREW}:7:0")
    start = len(terminal.getvalue().splitlines())
    assert main(["history", str(project.root)]) == 0
    lines = terminal.getvalue().splitlines()[start:]
    assert len(lines) == 3, lines
    _assert_id_in_order(lines[0], f"{ARABIC}:12:0")
    _assert_id_in_order(lines[2], f"{HEBREW}:7:0")


def test_json_and_output_off_a_terminal_hold_no_marks(project: Project, terminal: _Terminal,
                                                      capsys) -> None:
    captured = sys.stdout  # capsys's
    assert _label(project, f"{ARABIC}:12:0") == 0
    for command in (["history", str(project.root), "--json"],
                    ["info", str(project.root), "--json"]):
        start = len(terminal.getvalue())
        assert main(command) == 0
        out = terminal.getvalue()[start:]
        assert ARABIC in out or "زلزال" in out
        assert not any(mark in out for mark in MARKS), ascii(out)
        assert not any(mark in json.dumps(json.loads(out.splitlines()[0]) if "history" in
                                          command else json.loads(out), ensure_ascii=False)
                       for mark in MARKS)
    # Redirected to a file or a pipe (grep, a script): the text as stored.
    from crisisdesk.cli import main as plain_main

    sys.stdout = captured  # not a terminal (monkeypatch puts back the real one)
    capsys.readouterr()
    assert plain_main(["label", str(project.root), f"{HEBREW}:7:0", "--task",
                       "informative", "--label", "informative"]) == 0
    assert plain_main(["history", str(project.root)]) == 0
    out = capsys.readouterr().out
    assert f"{HEBREW}:7:0" in out and not any(mark in out for mark in MARKS), ascii(out)


def test_info_isolates_event_names_from_their_counts(project: Project,
                                                     terminal: _Terminal) -> None:
    assert main(["info", str(project.root)]) == 0
    line = next(x for x in terminal.getvalue().splitlines() if "events:" in x)
    assert "زلزال 1" in unmarked(line)
    assert f"{FSI}زلزال{PDI} 1" in line, ascii(line)


def test_a_pasted_id_with_its_marks_resolves(project: Project, terminal: _Terminal) -> None:
    pasted = f"{LRM}{LRI}{FSI}{ARABIC}{PDI}:{FSI}12{PDI}:{FSI}0{PDI}{PDI}"
    with project.open_store() as store:
        assert store.resolve_item(pasted).uid == f"{ARABIC}:12:0"
    assert _label(project, f"{ARABIC}:12:0") == 0
    shown = terminal.getvalue().splitlines()[-1].split(" ")[0]  # as copied from the line
    assert shown != f"{ARABIC}:12:0" and unmarked(shown) == f"{ARABIC}:12:0"
    assert _label(project, shown, "not_informative") == 0
    assert _label(project, f"{LRM}{FSI}12_0{PDI}", "informative") == 0  # the short form
    with project.open_store() as store:
        item = store.resolve_item(shown)
        assert item.uid == f"{ARABIC}:12:0"
        assert store.current_label(item.id, "informative").label == "informative"
    assert main(["history", str(project.root), shown]) == 0
    assert "no label changes" not in terminal.getvalue()


def test_a_source_or_event_name_pasted_with_marks_is_taken_without_them(
        tmp_path: Path, capsys) -> None:
    table = tmp_path / "in.csv"
    table.write_text("id,text\n5,الطريق مغلق\n", encoding="utf-8")
    # The source part of a marked id, as a double-click copies it; the event as `info`
    # isolates it.
    assert main(["import", str(tmp_path / "p"), str(table), "--source",
                 f"{LRM}{LRI}{FSI}{ARABIC}{PDI}", "--event", f"{FSI}زلزال{PDI}"]) == 0
    with Project.open(tmp_path / "p").open_store() as store:
        rows = store.conn.execute("SELECT source, event FROM posts").fetchall()
    assert [tuple(r) for r in rows] == [(ARABIC, "زلزال")]


def _cells(text: str) -> int:
    """Terminal cells of ``text``: marks and other format characters take none."""
    return sum(0 if unicodedata.category(c) == "Cf" else 1 for c in text)


def test_eval_table_isolates_arabic_class_names_from_their_figures(
        tmp_path: Path, terminal: _Terminal, monkeypatch: pytest.MonkeyPatch) -> None:
    classes = ["ضرر_شديد", "none", "נזק"]
    fake_eval(monkeypatch, classes)
    Project.open(tmp_path / "p", create=True)
    assert main(["eval", str(tmp_path / "p"), "--task", "flood", "--split", "test"]) == 0
    lines = terminal.getvalue().splitlines()
    header = next(i for i, line in enumerate(lines) if "precision" in line)
    table = lines[header:header + 1 + len(classes)]
    assert [unmarked(line).split()[0] for line in table[1:]] == classes
    assert f"  {FSI}{classes[0]}{PDI} " in table[1] and f"  {FSI}{classes[2]}{PDI} " in \
        table[3], [ascii(x) for x in table]
    assert "none" in table[2] and not any(m in table[2] for m in MARKS)  # ASCII: as it was
    assert len({_cells(line) for line in table}) == 1, table  # the columns line up


def test_explain_shows_the_id_and_arabic_words_in_order(
        tmp_path: Path, tiny: dict, terminal: _Terminal,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    forget_loaded()
    try:
        posts = posts_with_a_picture(tmp_path / "src", [
            ("12", "bridge collapsed جسر منهار after the flood", "")])
        assert main(["import", str(tmp_path / "p"), str(posts), "--source", ARABIC]) == 0
        assert main(["models", "add", "tiny-clip", str(tiny["folder"])]) == 0
        assert main(["embed", str(tmp_path / "p"), "--encoder", "tiny-clip"]) == 0
        add_damage_head(Project.open(tmp_path / "p"))
        start = len(terminal.getvalue())
        assert main(["explain", str(tmp_path / "p"), f"{ARABIC}:12:0", "--task", "damage",
                     "--device", "cpu"]) == 0
    finally:
        forget_loaded()
    lines = terminal.getvalue()[start:].splitlines()
    _assert_id_in_order(lines[0], f"{ARABIC}:12:0")
    words = [line for line in lines if line.startswith("  words ")]
    assert any(word in unmarked(line) for line in words for word in ("جسر", "منهار")), lines
    for line in words:  # each Arabic word isolated from its relevance figure
        for word in ("جسر", "منهار"):
            assert f"{word} (" not in line, ascii(line)
