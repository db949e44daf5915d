"""Small leftovers of session 13's hunts: an earlier release's shipped head listed as a
usable version (and refused with predict's advice), an explanation written as PNG bytes
under a .jpg name and a long URL running off its right edge, the caption job counting
images where it counts (image, tweet) pairs, "about 0 s" for a fast captioner, and a
``--source`` name kept with its spaces or taken when blank."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from import_helpers import make_image, run_import, write_csv
from PIL import Image
from test_caption_job import FakeCaptioner

from crisisdesk import cli_captions
from crisisdesk.cli import USAGE, main
from crisisdesk.core.captions.job import CaptionJob
from crisisdesk.core.explain.render import MARGIN, WIDTH, render_png
from crisisdesk.core.explain.result import Explanation, WordRelevance
from crisisdesk.core.fusion.checkpoint import read_sidecar
from crisisdesk.core.fusion.versions import summarise_versions
from crisisdesk.core.project import Project
from crisisdesk.core.resources import resource


# ---------------------------------------------------------------- 1. replaced shipped head
def shipped_versions(project: Project) -> tuple[int, int]:
    """An earlier release's damage head (other weights than this installation ships),
    then this release's, active: as a project predicted before and after an upgrade.
    Returns (old id, new id)."""
    sidecar = read_sidecar(Path(str(resource("heads", "damage.json"))))
    with project.open_store() as store:
        old = store.add_model_version(
            "damage", "bundled-minilm-damage", "bundled:damage", encoder="minilm",
            config={**sidecar, "weights_sha256": "0" * 64})
        new = store.add_model_version(
            "damage", "bundled-minilm-damage-2027-03-01", "bundled:damage",
            encoder="minilm", config=sidecar)
    return old, new


def test_a_replaced_shipped_head_is_listed_as_not_usable_here(proj: Project,
                                                               capsys) -> None:
    old, new = shipped_versions(proj)
    with proj.open_store() as store:
        listed = {v.id: v for v in summarise_versions(store, "damage")}
    assert listed[old].missing and "another damage head" in listed[old].missing
    assert listed[new].missing is None
    assert main(["versions", str(proj.root), "--task", "damage"]) == 0
    out = capsys.readouterr().out
    block = out[out.index(f" {old}  bundled-minilm-damage\n"):]
    assert "cannot be made active" in block.split("\n  ")[2]  # its own three lines


def test_activating_a_replaced_shipped_head_says_why_in_activations_words(
        proj: Project, capsys) -> None:
    old, new = shipped_versions(proj)
    capsys.readouterr()
    assert main(["versions", str(proj.root), "--activate", str(old)]) == USAGE
    err = capsys.readouterr().err
    assert "predict again" not in err  # predict's advice, not an activation's
    assert "cannot be made active" in err
    assert f"version {new}" in err  # the version holding this release's head
    with proj.open_store() as store:
        assert store.active_model_version("damage")["id"] == new


# ---------------------------------------------------------------- 2, 3. explain report
def _explanation(text: str) -> Explanation:
    words, start = [], 0
    for word in text.split(" "):
        words.append(WordRelevance(start, start + len(word), word, 0.8, 0.1, "tweet", 3))
        start += len(word) + 1
    return Explanation(item="posts:1:0", task="damage", class_name="a", classes=["a", "b"],
                       probabilities={"a": 0.6, "b": 0.4}, model_version="m", text=text,
                       caption_start=None, words=words, image=None,
                       share={"image": 0.0, "text": 1.0, "basis": "b"})


@pytest.mark.parametrize(("suffix", "kind"), [(".jpg", "JPEG"), (".JPEG", "JPEG"),
                                              (".png", "PNG")])
def test_the_report_is_written_in_the_format_its_suffix_names(tmp_path: Path, suffix: str,
                                                               kind: str) -> None:
    out = render_png(_explanation("roof gone"), tmp_path / f"report{suffix}")
    with Image.open(out) as written:
        assert written.format == kind


def test_explain_refuses_a_report_suffix_it_cannot_write(tmp_path: Path, capsys) -> None:
    table = write_csv(tmp_path / "posts.csv", ["id", "text"], [["1", "roof gone"]])
    assert main(["import", str(tmp_path / "p"), str(table)]) == 0
    capsys.readouterr()
    out = tmp_path / "report.gif"
    assert main(["explain", str(tmp_path / "p"), "1_0", "--task", "damage",
                 "--out", str(out)]) == USAGE
    err = capsys.readouterr().err
    assert "report.gif" in err and ".png" in err and ".jpg" in err
    assert not out.exists()


def test_a_long_url_is_broken_across_lines_not_run_off_the_edge(tmp_path: Path) -> None:
    url = "https://example.org/" + "flood-report-" * 30
    out = render_png(_explanation(f"see {url} now"), tmp_path / "report.png")
    with Image.open(out) as png:
        pixels = np.asarray(png.convert("L"))
    short = render_png(_explanation("see it now"), tmp_path / "short.png")
    with Image.open(short) as png:
        one_line = png.height
    assert pixels.shape[0] > one_line  # the URL took more lines
    # Nothing drawn in the right margin of the text rows (the share bar excepted).
    text_rows = pixels[MARGIN + 28:pixels.shape[0] - 70 - MARGIN]
    assert (text_rows[:, WIDTH - MARGIN + 2:] == 255).all()


# ---------------------------------------------------------------- 4, 5. captions
def two_texts_project(tmp_path: Path) -> Project:
    """A project of one photo posted twice, with two texts: two (image, tweet) pairs."""
    src = tmp_path / "src"
    make_image(src / "photo.jpg", seed=3)
    write_csv(src / "posts.csv", ["id", "text", "image"], [
        ["1", "roof gone", "photo.jpg"], ["2", "same roof, other words", "photo.jpg"]])
    project = Project.open(tmp_path / "p", create=True)
    run_import(project, [src / "posts.csv"])
    return project


def test_the_caption_job_counts_captions_where_a_photo_has_two_texts(tmp_path: Path
                                                                    ) -> None:
    project = two_texts_project(tmp_path)
    steps = list(CaptionJob(project, FakeCaptioner()).run())
    assert steps[0].total == 2 and steps[-1].done == 2
    # One image, two captions: the count is of captions, and says so.
    assert "2 captions" in steps[0].message


def test_a_fast_caption_estimate_says_under_a_second(tmp_path: Path, monkeypatch,
                                                     capsys) -> None:
    src = tmp_path / "src"
    make_image(src / "photo.jpg", seed=4)
    write_csv(src / "posts.csv", ["id", "text", "image"], [["1", "roof gone", "photo.jpg"]])
    assert main(["import", str(tmp_path / "p"), str(src / "posts.csv")]) == 0

    class Fast(FakeCaptioner):
        def estimate_seconds(self, n_items: int, prompt=None) -> float:
            return 0.2 * n_items

    monkeypatch.setattr(cli_captions, "_captioner", lambda args: Fast())
    capsys.readouterr()
    assert main(["caption", str(tmp_path / "p")]) == 0
    err = capsys.readouterr().err
    assert "under a second" in err and "0 s" not in err


# ---------------------------------------------------------------- 6. --source
def test_a_given_source_name_is_stripped_as_the_dialog_does(tmp_path: Path,
                                                            capsys) -> None:
    table = write_csv(tmp_path / "posts.csv", ["id", "text"], [["1", "roof gone"]])
    assert main(["import", str(tmp_path / "p"), str(table), "--source", "  flood  "]) == 0
    with Project.open(tmp_path / "p").open_store() as store:
        assert [r[0] for r in store.conn.execute("SELECT uid FROM items")] == ["flood:1:0"]


@pytest.mark.parametrize("blank", [" ", "", "\u3000"])
def test_a_blank_source_name_is_refused(tmp_path: Path, capsys, blank: str) -> None:
    table = write_csv(tmp_path / "posts.csv", ["id", "text"], [["1", "roof gone"]])
    assert main(["import", str(tmp_path / "p"), str(table), "--source", blank]) == USAGE
    err = capsys.readouterr().err
    assert "--source" in err and "empty" in err
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("name", [" ", " flood", "flood "])
def test_import_options_refuse_spaces_around_a_source_name(name: str) -> None:
    """A notebook's ImportOptions gets the same answer as the CLI, not ' flood:1:0'."""
    from crisisdesk.core.importers import ImportOptions

    with pytest.raises(ValueError, match="spaces"):
        ImportOptions(source=name)
