"""Small leftovers of session 13: what a cancelled export says it left, and embed on a
project with nothing to encode (CLI and app agree; no images spoken of for a text-only
encoder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from caption_fixtures import isolated_config  # noqa: F401 - a fixture, used by name
from test_scale_hunt import build

from crisisdesk import cli, cli_progress
from crisisdesk.core import exporters


class _CtrlCAtUpdate:
    """The progress view (a bar or log lines): Ctrl-C at its ``at``-th update (the third:
    the export waiting between two chunks), or at the last (``progress.done == total``
    and its message "wrote ..."), the files in place."""

    def __init__(self, at: int | None) -> None:
        self.updates, self.at = 0, at

    def update(self, progress) -> None:
        self.updates += 1
        last = self.at is None and progress.message.startswith("wrote")
        if self.updates == self.at or last:
            raise KeyboardInterrupt

    def close(self, finished: bool) -> None:
        pass


@pytest.fixture
def ctrl_c_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  capsys: pytest.CaptureFixture):
    """Run ``crisisdesk export PROJECT OUT ARGS`` on a 50-item project, Ctrl-C midway;
    return (exit status, what it printed)."""
    build(tmp_path / "small", 50)
    monkeypatch.setattr(exporters, "PROGRESS_ROWS", 10)

    def run(out: Path, *args: str, at: int | None = 3) -> tuple[int, str]:
        monkeypatch.setattr(cli_progress, "progress_view",
                            lambda stream, unit: _CtrlCAtUpdate(at))
        status = cli.main(["export", str(tmp_path / "small"), str(out), *args])
        return status, capsys.readouterr().out

    return run


def test_a_cancelled_folder_export_into_a_new_folder_leaves_no_folder_and_says_so(
        tmp_path: Path, ctrl_c_export) -> None:
    """A CrisisMMD export of several tasks writes a folder; cancelled, it left that folder
    empty while its line spoke of "a file there left as it was", where none had been."""
    out = tmp_path / "exports" / "crisismmd"
    status, said = ctrl_c_export(out, "--format", "crisismmd")
    assert status == 1
    assert not out.exists() and not out.parent.exists(), "an empty folder was left"
    assert "Cancelled" in said and "nothing" in said, said
    assert "left as it was" not in said, said


def test_a_cancelled_folder_export_over_an_earlier_one_says_its_files_are_kept(
        tmp_path: Path, ctrl_c_export) -> None:
    """Over an earlier export the folder's files are all left as they were: the line says
    so, and how many, rather than speak of one file."""
    out = tmp_path / "crisismmd"
    out.mkdir()
    earlier = {out / f"task_{t}_text_img.tsv": f"earlier {t}\n"
               for t in ("informative", "humanitarian", "damage")}
    for path, text in earlier.items():
        path.write_text(text, encoding="utf-8")
    status, said = ctrl_c_export(out, "--format", "crisismmd")
    assert status == 1
    assert {p: p.read_text(encoding="utf-8") for p in out.iterdir()} == earlier
    assert f"the {len(earlier)} files" in said and "left as they were" in said, said


def test_a_cancelled_export_to_a_new_file_says_nothing_is_there(
        tmp_path: Path, ctrl_c_export) -> None:
    """No file was there before: none is now (nor a folder made for it), and the line
    does not speak of a file left as it was."""
    out = tmp_path / "new" / "labels.csv"
    status, said = ctrl_c_export(out)
    assert status == 1
    assert not out.parent.exists()
    assert f"{out} not written" in said and "left as it was" not in said, said


def test_a_cancelled_export_over_a_file_says_it_is_left_as_it_was(
        tmp_path: Path, ctrl_c_export) -> None:
    out = tmp_path / "labels.csv"
    out.write_text("the export before\n", encoding="utf-8")
    status, said = ctrl_c_export(out)
    assert status == 1
    assert out.read_text(encoding="utf-8") == "the export before\n"
    assert f"{out} not written" in said and "left as it was" in said, said


def test_an_export_stopped_as_its_last_step_shows_says_what_it_wrote(
        tmp_path: Path, ctrl_c_export) -> None:
    """Ctrl-C as "wrote labels.csv" is shown: the file is in place, yet the line said
    it was not written (and the exit status said cancelled)."""
    out = tmp_path / "labels.csv"
    status, said = ctrl_c_export(out, at=None)
    assert out.is_file()
    assert status == 0 and f"wrote {out}" in said and "Cancelled" not in said, said


# --- embed with nothing to encode -------------------------------------------------


@pytest.fixture
def empty_project(tmp_path: Path, isolated_config: Path) -> Path:  # noqa: F811
    """A project with no item yet, on a machine with no model installed."""
    from crisisdesk.core.project import Project

    Project.open(tmp_path / "empty", create=True)
    return tmp_path / "empty"


@pytest.mark.parametrize("encoder", ["clip-vit-b-32"])
def test_embed_of_an_empty_project_needs_no_model_in_the_cli_as_in_the_app(
        empty_project: Path, encoder: str, capsys: pytest.CaptureFixture) -> None:
    """The app's Embed of a project with no items ends well ("nothing to encode"); the
    CLI's failed (exit 2) for the model it had no use for. Both now end well, and say
    that the model is not here for when there is something to encode."""
    from crisisdesk.core.embed import EmbedJob
    from crisisdesk.core.models.registry import get_spec, is_installed
    from crisisdesk.core.project import Project

    assert is_installed(get_spec(encoder)) is None  # no model on this machine
    in_app = list(EmbedJob(Project.open(empty_project), encoder).run())[-1].message
    assert "nothing to encode" in in_app
    status = cli.main(["embed", str(empty_project), "--encoder", encoder])
    said = capsys.readouterr()
    assert status == 0, said.err
    assert "nothing to encode" in said.out and "not installed" in said.out, said
    assert "not installed" in in_app, in_app


def test_embed_of_an_empty_project_with_an_unknown_encoder_is_still_refused(
        empty_project: Path, capsys: pytest.CaptureFixture) -> None:
    """A name no model answers to (a typo) is bad usage, items or not."""
    assert cli.main(["embed", str(empty_project), "--encoder", "clip-vit-b32"]) == 2
    assert "clip-vit-b32" in capsys.readouterr().err


@pytest.mark.parametrize("kinds", [("image", "text"), ("text",)])
def test_nothing_to_encode_for_a_text_encoder_does_not_speak_of_images(
        empty_project: Path, kinds: tuple[str, ...]) -> None:
    """MiniLM encodes texts only: "no image or text lacks its embedding" spoke of images
    it would never encode."""
    from crisisdesk.core.embed import EmbedJob
    from crisisdesk.core.project import Project

    message = list(EmbedJob(Project.open(empty_project), "minilm", kinds=kinds).run())[-1]
    assert "nothing to encode" in message.message
    assert "image" not in message.message, message.message


def test_nothing_to_encode_when_only_images_are_asked_of_a_text_encoder_says_why(
        empty_project: Path) -> None:
    """Images asked of MiniLM: not "no image lacks its embedding" (as if some had been
    looked for) but that MiniLM does not encode images."""
    from crisisdesk.core.embed import EmbedJob
    from crisisdesk.core.project import Project

    message = list(EmbedJob(Project.open(empty_project), "minilm",
                            kinds=("image",)).run())[-1].message
    assert "nothing to encode" in message and "does not encode images" in message, message
