"""CLI behaviours session 18's mutation audit found no test holding (its survivors D01,
D13, D07, I11, M05, M11, V05): what a script reads from each command's exit code and what
the analyst reads in its words. See tests/core/test_cli_mutations_s18.py for the rest."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from fetch_helpers import import_urls
from PIL import Image
from test_cli_mutations_s18 import ctrl_c
from test_media_fetch import ROUTES, Handler, jpeg, server  # noqa: F401 - server: fixture
from tiny_clip import make_tiny_clip

from crisisdesk.cli import OK, PROBLEMS, main
from crisisdesk.core.project import Project

LOOPBACK = ["--allow-network", "127.0.0.1", "--timeout", "10"]
MIB = 1024 * 1024


def _said(capsys: pytest.CaptureFixture[str]) -> str:
    out = capsys.readouterr()
    return out.out + out.err


# ---------------------------------------------------------------- media fetch options


def test_max_total_mb_stops_the_run_and_max_file_mb_refuses_a_file(
        proj: Project, tmp_path: Path, server: str,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    """Each limit does its own job: a total of three and a half photos stops the run
    after three (a file limit far above a photo refuses none); a file limit below a
    photo refuses each one (a total far above them all stops nothing)."""
    ROUTES.update({f"/L{i}.jpg": (200, "image/jpeg", jpeg(i + 100)) for i in range(6)})
    import_urls(proj, tmp_path, [f"{server}/L{i}.jpg" for i in range(6)])
    size = max(len(jpeg(i + 100)) for i in range(6))
    root = str(proj.root)
    # Exit 0: a limit the analyst set is no failure (session 19); "run again" fetches
    # the media left (test_cli_limits_s19).
    assert main(["media", "fetch", root, *LOOPBACK, "--concurrency", "1",
                 "--max-total-mb", str(size * 3.5 / MIB), "--max-file-mb", "50"]) == OK
    said = _said(capsys)
    assert "Fetched: 3 media" in said, said
    assert "total size limit" in said and "3 media left to fetch" in said, said
    assert "file too large" not in said, said
    with proj.open_store() as store:
        assert store.counts()["media"] == {"ok": 3, "remote": 3}
    assert main(["media", "fetch", root, *LOOPBACK, "--max-file-mb", str(size / 2 / MIB),
                 "--max-total-mb", "5000"]) == PROBLEMS
    said = _said(capsys)
    assert "total size limit" not in said, said
    assert said.count("file too large") == 3, said
    with proj.open_store() as store:
        assert store.counts()["media"] == {"ok": 3, "unreadable": 3}


def test_retry_unreadable_asks_again_for_media_refused_before(
        proj: Project, tmp_path: Path, server: str,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    import_urls(proj, tmp_path, [server + "/page.jpg", server + "/gone.jpg"])
    root = str(proj.root)
    assert main(["media", "fetch", root, *LOOPBACK]) == PROBLEMS  # both refused
    assert main(["media", "fetch", root, *LOOPBACK]) == OK  # not asked again
    assert Handler.hits["/page.jpg"] == Handler.hits["/gone.jpg"] == 1
    capsys.readouterr()
    assert main(["media", "fetch", root, *LOOPBACK, "--retry-unreadable"]) == PROBLEMS
    assert Handler.hits["/page.jpg"] == Handler.hits["/gone.jpg"] == 2
    assert "an HTML page served as image/jpeg" in _said(capsys)


# ---------------------------------------------------------------------------- watch


@pytest.mark.parametrize(("line", "code"), [
    ('{"id": "1", "text": "road closed"}', OK),
    ('{"id": "1", "text": "road closed"}\n{"id": "2", "text": ', PROBLEMS),
], ids=["clean", "a broken line"])
def test_a_watch_exits_1_when_it_met_errors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], line: str, code: int) -> None:
    # A watch ends by Ctrl-C (here: after its first look at the folder); a script
    # that runs it under a scheduler learns from the exit code that rows were lost.
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "posts.jsonl").write_text(line + "\n", "utf-8")
    ctrl_c(monkeypatch)
    assert main(["import", str(tmp_path / "p"), str(folder), "--watch", "--interval",
                 "0.01"]) == code
    said = _said(capsys)
    assert "Stopped" in said, said
    assert ("error:" in said) == (code == PROBLEMS), said


# -------------------------------------------------------------- import --fetch-media


def test_import_with_fetch_media_that_left_media_exits_1_saying_how_to_retry(
        tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """As `media fetch` exits 1 when media were left: the posts are in, but a script
    must not go on to embed as if their photos were; the words say which URL failed
    and the command that tries again without reading the sources again."""
    src = tmp_path / "page.jsonl"
    src.write_text(json.dumps({
        "data": [{"id": "1", "text": "x", "attachments": {"media_keys": ["k"]}}],
        "includes": {"media": [{"media_key": "k", "type": "photo",
                                "url": server + "/missing.jpg"}]}}) + "\n", "utf-8")
    project = tmp_path / "p"
    assert main(["import", str(project), str(src), "--fetch-media",
                 "--allow-network", "127.0.0.1"]) == PROBLEMS
    said = _said(capsys)
    assert f"{server}/missing.jpg: HTTP 404 Not Found" in said, said
    (hint,) = [line for line in said.splitlines() if "crisisdesk media fetch" in line]
    command = hint.split("crisisdesk ", 1)[1].split(" (")[0].split()
    assert command[:3] == ["media", "fetch", str(project)], hint
    # Once the server has it, that command (the intranet allowed, as the import had it)
    # fetches it, and exits 0.
    ROUTES["/missing.jpg"] = (200, "image/jpeg", jpeg(7))
    try:
        assert main(command) == OK
    finally:
        del ROUTES["/missing.jpg"]


def test_import_with_fetch_media_that_fetched_all_exits_0_without_a_retry_hint(
        tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    src = tmp_path / "page.jsonl"
    src.write_text(json.dumps({
        "data": [{"id": "1", "text": "x", "attachments": {"media_keys": ["k"]}}],
        "includes": {"media": [{"media_key": "k", "type": "photo",
                                "url": server + "/a.jpg"}]}}) + "\n", "utf-8")
    assert main(["import", str(tmp_path / "p"), str(src), "--fetch-media",
                 "--allow-network", "127.0.0.1"]) == OK
    said = _said(capsys)
    assert "Fetched: 1 media" in said and "media fetch" not in said, said


# ---------------------------------------------------------------- embed, embeddings


@pytest.fixture
def photos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Three posts with photos and two text-only ones, imported by the CLI; the photos'
    folder."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    src = tmp_path / "src"
    src.mkdir()
    rows = [["id", "text", "image"]]
    for i in range(3):
        Image.new("RGB", (40, 30), (60 * i, 90, 20)).save(src / f"{i}.jpg")
        rows.append([str(i), f"bridge {i} down", f"{i}.jpg"])
    rows += [["3", "no photo", ""], ["4", "none here either", ""]]
    with (src / "posts.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    assert main(["import", str(tmp_path / "p"), str(src / "posts.csv")]) == OK
    return tmp_path / "p", src


def test_embed_exits_1_when_an_image_cannot_be_read(
        photos: tuple[Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    project, src = photos
    tiny = make_tiny_clip(tmp_path / "models")
    assert main(["models", "add", "tiny", str(tiny["folder"])]) == OK
    (src / "1.jpg").write_bytes(b"not a photo any more")
    assert main(["embed", str(project), "--encoder", "tiny", "--kind", "image",
                 "--device", "cpu"]) == PROBLEMS
    said = _said(capsys)
    assert "unreadable images: 1" in said and str(src / "1.jpg") in said, said
    with Project.open(project).open_store() as store:  # what was read is kept
        assert store.embedding_counts() == {"tiny": {"image": 2}}


def test_embeddings_import_says_where_its_full_problem_report_is(
        photos: tuple[Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # More problems than the terminal lists: "... and N more in the report" must say
    # which report.
    project, _ = photos
    ids = ["posts:0:0"] + [f"nobody_{i}" for i in range(30)]
    path = tmp_path / "vectors.npz"
    np.savez(path, ids=np.array(ids), vectors=np.ones((len(ids), 4), dtype=np.float32))
    assert main(["embeddings", "import", str(project), str(path), "--encoder", "far",
                 "--kind", "text"]) == PROBLEMS
    said = _said(capsys)
    assert "more in the report" in said, said
    (line,) = [line for line in said.splitlines() if line.startswith("Report: ")]
    report = json.loads(Path(line.removeprefix("Report: ")).read_text("utf-8"))
    assert sum("nobody_" in p["message"] for p in report["problems"]) == 30


# ---------------------------------------------------------------------- versions


def test_activating_an_image_only_version_counts_only_items_it_can_predict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An image-only version can never predict a text-only item: counted, the analyst
    was told to predict items that predict then left out, at every activation."""
    from test_model_versions_cli import _versions
    from test_training_job import _project

    project = _project(tmp_path, n=60)
    root = str(project.root)
    extra = tmp_path / "text_only.csv"
    extra.write_text("id,text\nx1,road closed\nx2,bridge down\n", "utf-8")
    assert main(["import", root, str(extra)]) == OK
    assert main(["train", root, "--task", "damage", "--encoder", "img-enc", "--epochs",
                 "2", "--no-activate"]) == OK
    (image_only,) = _versions(project)
    capsys.readouterr()
    assert main(["versions", root, "--activate", str(image_only.id)]) == OK
    out = capsys.readouterr().out
    assert "60 items have no prediction from it yet" in out, out
