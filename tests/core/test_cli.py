"""The ``crisisdesk`` command line: exit codes, messages and what each command changes.

Commands run in-process through ``crisisdesk.cli.main`` (output via capsys); one test
runs ``python -m crisisdesk`` as a child process to cover the module entry point.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from crisisdesk.cli import main
from crisisdesk.core.project import Project

CSV_TEXT = (
    "id,text,image,informative\n"
    "p1,Bridge on Main St collapsed,img/p1.jpg,informative\n"
    "p2,Thoughts and prayers,,not informative\n"
    "p3,Shelter open at the school gym,,\n"
)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A small CSV of three posts, one with a real image; returns the CSV path."""
    folder = tmp_path / "src"
    (folder / "img").mkdir(parents=True)
    Image.new("RGB", (64, 48), (200, 40, 40)).save(folder / "img" / "p1.jpg", "JPEG")
    path = folder / "posts.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, source: Path, capsys: pytest.CaptureFixture) -> Path:
    """A project holding the small CSV, imported through the CLI."""
    path = tmp_path / "proj"
    assert main(["import", str(path), str(source)]) == 0
    capsys.readouterr()
    return path


def info(project: Path, capsys: pytest.CaptureFixture) -> dict:
    assert main(["info", str(project), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def current(project: Path, uid: str, task: str) -> str | None:
    with Project.open(project).open_store() as store:
        item = store.resolve_item(uid)
        label = store.current_label(item.id, task)
        return label.label if label else None


# --- import -------------------------------------------------------------------------

def test_import_creates_project_and_returns_0(tmp_path: Path, source: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "new-project"
    assert main(["import", str(path), str(source)]) == 0
    out = capsys.readouterr().out
    assert "Imported: 3 new posts, 3 new items" in out
    assert "0 errors" in out
    assert (path / "project.sqlite").is_file()
    reports = list((path / "reports").glob("import-*.json"))
    assert len(reports) == 1 and f"Report: {reports[0]}" in out


def test_import_again_adds_nothing(project: Path, source: Path,
                                   capsys: pytest.CaptureFixture) -> None:
    assert main(["import", str(project), str(source)]) == 0
    assert "Imported: 0 new posts, 0 new items" in capsys.readouterr().out
    assert info(project, capsys)["posts"] == 3


def test_counts_of_one_read_in_the_singular(tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "one.csv"
    source.write_text(CSV_TEXT.splitlines()[0] + "\np2,Thoughts and prayers,,not informative\n",
                      encoding="utf-8")
    path = tmp_path / "proj"
    assert main(["import", str(path), str(source)]) == 0
    out = capsys.readouterr().out
    assert "Imported: 1 new post, 1 new item," in out
    assert "1 label and 0 splits added; 0 errors, 0 warnings" in out
    assert main(["info", str(path)]) == 0
    assert "informative: 1 label (1 import)" in capsys.readouterr().out


def test_import_with_corrupt_image_returns_1(tmp_path: Path, source: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    (source.parent / "img" / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    source.write_text(CSV_TEXT + "p4,Road flooded,img/bad.jpg,informative\n", encoding="utf-8")
    path = tmp_path / "proj"
    assert main(["import", str(path), str(source)]) == 1
    out = capsys.readouterr().out
    assert "1 error, 0 warnings" in out and "img/bad.jpg" in out and "unreadable" in out
    counts = info(path, capsys)
    # The bad image is recorded as unreadable; the other posts are imported.
    assert counts["posts"] == 4
    assert counts["media"] == {"ok": 1, "unreadable": 1}


def test_import_of_missing_source_returns_2(tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "nowhere.csv"
    assert main(["import", str(tmp_path / "proj"), str(missing)]) == 2
    out = capsys.readouterr().out
    assert "no such file or folder" in out and str(missing) in out


def test_import_bad_map_is_usage_error(tmp_path: Path, source: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    assert main(["import", str(tmp_path / "proj"), str(source), "--map", "text"]) == 2
    assert "expected FIELD=COLUMN" in capsys.readouterr().err


# --- info ---------------------------------------------------------------------------

def test_info_json_counts(project: Path, capsys: pytest.CaptureFixture) -> None:
    counts = info(project, capsys)
    assert counts["posts"] == 3
    assert counts["items"] == 3
    assert counts["text_only_items"] == 2
    assert counts["media"] == {"ok": 1}
    assert counts["labels"] == {"informative": {"total": 2, "by_source": {"import": 2}}}
    assert counts["sources"] == {"posts": str(project.parent / "src" / "posts.csv")}


def test_info_text(project: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["info", str(project)]) == 0
    out = capsys.readouterr().out
    assert "posts: 3" in out and "items: 3 (2 text-only)" in out
    assert "informative: 2 labels (2 import)" in out


def test_info_on_non_project_is_usage_error(tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    assert main(["info", str(tmp_path)]) == 2
    assert "not a crisisdesk project" in capsys.readouterr().err


# --- label, undo, redo ---------------------------------------------------------------

def test_label_with_full_item_id(project: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["label", str(project), "posts:p3:0", "--task", "damage",
                 "--label", "Severe damage", "--annotator", "ana"])
    assert code == 0
    assert capsys.readouterr().out.strip() == "posts:p3:0 damage: severe_damage"
    assert current(project, "posts:p3:0", "damage") == "severe_damage"


def test_label_with_short_form_reports_previous(project: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    code = main(["label", str(project), "p2_0", "--task", "informative",
                 "--label", "informative", "--annotator", "ana"])
    assert code == 0
    out = capsys.readouterr().out.strip()
    assert out == "posts:p2:0 informative: informative (was not_informative, import)"
    assert current(project, "posts:p2:0", "informative") == "informative"


@pytest.mark.parametrize(("item", "task", "label", "message"), [
    ("posts:p1:0", "severity", "high", "unknown task 'severity'"),
    ("posts:p1:0", "damage", "destroyed", "'destroyed' is not a class of task damage"),
    ("posts:p9:0", "damage", "mild_damage", "no item 'posts:p9:0'"),
    ("p9_0", "damage", "mild_damage", "no item 'p9_0'"),
])
def test_label_errors_exit_2(project: Path, capsys: pytest.CaptureFixture, item: str,
                             task: str, label: str, message: str) -> None:
    code = main(["label", str(project), item, "--task", task, "--label", label])
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err and captured.err.startswith("crisisdesk: error:")
    assert captured.out == ""
    assert info(project, capsys)["labels"] == {
        "informative": {"total": 2, "by_source": {"import": 2}}}


def test_giving_the_label_an_item_has_says_no_change(project: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    args = ["label", str(project), "posts:p1:0", "--task", "damage", "--annotator", "ana"]
    assert main([*args, "--label", "mild_damage"]) == 0
    assert main([*args, "--label", "Mild damage"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "posts:p1:0 damage: mild_damage already (human); no change"
    assert main(["undo", str(project), "--annotator", "ana"]) == 0
    assert current(project, "posts:p1:0", "damage") is None  # the first label's step


def test_undo_of_a_step_a_colleague_changed_since_says_so(project: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    uid = "posts:p1:0"
    for annotator, label in (("ana", "mild_damage"), ("ana", "severe_damage"),
                             ("ben", "little_or_no_damage")):
        assert main(["label", str(project), uid, "--task", "damage", "--label", label,
                     "--annotator", annotator]) == 0
    capsys.readouterr()
    assert main(["undo", str(project), "--annotator", "ana"]) == 0
    out = capsys.readouterr().out
    assert "changed since by someone else" in out and "undo again" in out
    assert current(project, uid, "damage") == "little_or_no_damage"  # ben's stays


def test_undo_redo_commands(project: Path, capsys: pytest.CaptureFixture) -> None:
    uid = "posts:p1:0"
    for label in ("mild_damage", "severe_damage"):
        assert main(["label", str(project), uid, "--task", "damage", "--label", label,
                     "--annotator", "ana"]) == 0
    capsys.readouterr()
    assert current(project, uid, "damage") == "severe_damage"

    assert main(["undo", str(project), "--annotator", "ana"]) == 0
    assert capsys.readouterr().out.strip() == f"{uid} damage: mild_damage"
    assert current(project, uid, "damage") == "mild_damage"

    assert main(["undo", str(project), "--annotator", "ana"]) == 0
    assert capsys.readouterr().out.strip() == f"{uid} damage: (no label)"
    assert current(project, uid, "damage") is None

    assert main(["undo", str(project), "--annotator", "ana"]) == 0
    assert capsys.readouterr().out.strip() == "nothing to undo for ana"

    assert main(["redo", str(project), "--annotator", "ana"]) == 0
    assert capsys.readouterr().out.strip() == f"{uid} damage: mild_damage"
    assert current(project, uid, "damage") == "mild_damage"

    assert main(["redo", str(project), "--annotator", "ana"]) == 0
    assert capsys.readouterr().out.strip() == f"{uid} damage: severe_damage"
    assert current(project, uid, "damage") == "severe_damage"

    assert main(["redo", str(project), "--annotator", "ana"]) == 0
    assert capsys.readouterr().out.strip() == "nothing to redo for ana"

    # Another annotator's stacks are their own.
    assert main(["undo", str(project), "--annotator", "bo"]) == 0
    assert capsys.readouterr().out.strip() == "nothing to undo for bo"
    assert current(project, uid, "damage") == "severe_damage"


# --- export -------------------------------------------------------------------------

def test_export_csv(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out" / "labels.csv"
    assert main(["export", str(project), str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["item_id"] for r in rows] == ["posts:p1:0", "posts:p2:0", "posts:p3:0"]
    assert [r["informative"] for r in rows] == ["informative", "not_informative", ""]
    assert rows[0]["image"] == "img/p1.jpg" and len(rows[0]["image_sha256"]) == 64
    assert {"damage", "humanitarian_split"} <= set(rows[0])


def test_export_jsonl_one_task(project: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "labels.jsonl"
    assert main(["export", str(project), str(out), "--format", "jsonl",
                 "--task", "informative"]) == 0
    capsys.readouterr()
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 3
    assert set(records[0]["tasks"]) == {"informative"}
    assert records[1]["tasks"]["informative"]["label"] == "not_informative"
    assert records[1]["tasks"]["informative"]["label_source"] == "import"


def test_export_crisismmd(project: Path, tmp_path: Path,
                          capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "mmd"
    assert main(["export", str(project), str(out), "--format", "crisismmd"]) == 0
    wrote = capsys.readouterr().out.splitlines()
    files = sorted(out.glob("task_*_text_img.tsv"))
    assert [f.name for f in files] == ["task_damage_text_img.tsv",
                                      "task_humanitarian_text_img.tsv",
                                      "task_informative_text_img.tsv"]
    assert sorted(wrote) == sorted(f"wrote {f}" for f in files)
    with (out / "task_informative_text_img.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, dialect="excel-tab"))
    # Only labelled items, with CrisisMMD's <tweet id>_<n> image ids.
    assert [(r["tweet_id"], r["image_id"], r["label"]) for r in rows] == [
        ("p1", "p1_0", "informative"), ("p2", "p2_0", "not_informative")]


def test_export_unknown_task_is_usage_error(project: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    assert main(["export", str(project), str(tmp_path / "x.csv"), "--task", "nope"]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_export_onto_a_folder_is_a_clear_error(project: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    in_the_way = tmp_path / "labels.csv"
    in_the_way.mkdir()
    assert main(["export", str(project), str(in_the_way), "--format", "csv"]) == 2
    err = capsys.readouterr().err
    assert f"cannot export to {in_the_way}" in err and "Traceback" not in err
    assert in_the_way.is_dir() and not any(in_the_way.iterdir())


def test_export_for_spreadsheet_writes_a_bom_and_quotes_formulas(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["label", str(project), "posts:p3:0", "--task", "informative",
                 "--label", "informative", "--annotator", "=cmd|' /C calc'!A0"]) == 0
    out = tmp_path / "sheet.csv"
    assert main(["export", str(project), str(out), "--for-spreadsheet"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"wrote {out}")
    assert out.read_bytes().startswith(b"\xef\xbb\xbfitem_id,")
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = {r["item_id"]: r for r in csv.DictReader(handle)}
    assert rows["posts:p3:0"]["informative_annotator"] == "'=cmd|' /C calc'!A0"
    assert rows["posts:p1:0"]["text"] == "Bridge on Main St collapsed"


def test_export_for_spreadsheet_in_another_format_is_usage_error(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "labels.jsonl"
    assert main(["export", str(project), str(out), "--for-spreadsheet"]) == 2
    assert "--for-spreadsheet writes CSV only" in capsys.readouterr().err
    assert not out.exists()


# --- no command, open, --version ------------------------------------------------------

def test_no_command_opens_the_app_on_the_last_project(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import crisisdesk.gui.app

    opened: list = []
    monkeypatch.setattr(crisisdesk.gui.app, "main", lambda arg: opened.append(arg) or 0)
    assert main([]) == 0
    assert opened == [None]


def test_open_opens_the_app_on_that_project(project: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import crisisdesk.gui.app

    opened: list = []
    monkeypatch.setattr(crisisdesk.gui.app, "main", lambda arg: opened.append(arg) or 0)
    assert main(["open", str(project)]) == 0
    assert opened == [str(project)]


def test_open_without_a_project_opens_the_last_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The desktop menu runs `crisisdesk open %f`, and %f is nothing when the entry is
    started from the menu: that was a usage error, so the menu opened nothing at all."""
    import crisisdesk.gui.app

    opened: list = []
    monkeypatch.setattr(crisisdesk.gui.app, "main", lambda arg: opened.append(arg) or 0)
    assert main(["open"]) == 0
    assert opened == [None]


def test_version_via_python_m() -> None:
    done = subprocess.run([sys.executable, "-m", "crisisdesk", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    import crisisdesk

    assert done.stdout.strip() == f"crisisdesk {crisisdesk.__version__}"


@pytest.mark.parametrize(("name", "fmt"), [("labels.jsonl", "jsonl"), ("labels.csv", "csv"),
                                           ("labels", "csv")])
def test_export_without_format_follows_the_file_suffix(project: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture,
                                                       name: str, fmt: str) -> None:
    # `export PROJECT labels.jsonl` wrote CSV into a file named .jsonl.
    out = tmp_path / name
    assert main(["export", str(project), str(out)]) == 0
    capsys.readouterr()
    first = out.read_text(encoding="utf-8").splitlines()[0]
    if fmt == "jsonl":
        assert json.loads(first)["item_id"] == "posts:p1:0"
    else:
        assert first.startswith("item_id,source,post_id")


def test_output_to_a_closed_pipe_is_no_traceback(project: Path) -> None:
    """`crisisdesk info P --json | head`: the reader leaving early is not an error."""
    import os
    import subprocess
    import sys

    code = ("import os, sys; r, w = os.pipe(); os.close(r); os.dup2(w, 1); "
            "from crisisdesk.cli import main; "
            f"sys.exit(main(['info', {str(project)!r}, '--json']))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert "Traceback" not in run.stderr and "BrokenPipe" not in run.stderr, run.stderr
    assert run.returncode == 0
