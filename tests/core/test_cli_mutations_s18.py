"""Behaviours of the command line that no test held (found by planting bugs in a copy,
session 18): a job stopped by Ctrl-C (import, train, embed, embeddings import, caption)
exits 1 and says so; a refused import (a watch of two folders or of none, an interval of
0, nan or inf, an images root not there, a half --map, an empty --source) exits 2,
names why and leaves no project; caption's header counts what is left under a large
--limit, estimates CPU time only on a CPU, and names the server options that do not go
together; media fetch refuses limits that are no limit; models download fetches nothing
for an installed model.

And one defect found so: ``models download`` of a model whose registration points at a
folder gone (or whose registrations file cannot be read) fetched it into the hub cache
and said "installed", while every job went on refusing the model (the registration
wins, by design): now refused before anything is fetched, saying why."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_install_hunt import config  # noqa: F401 - fixture: settings of its own

from crisisdesk.cli import PROBLEMS, USAGE, main


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hub, faked: records each repository fetched (an empty snapshot folder)."""
    import huggingface_hub

    repos: list[str] = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None, cache_dir=None,
                          force_download=False):
        repos.append(repo_id)
        folder = Path(cache_dir) / "models--x" / "snapshots" / "b"
        folder.mkdir(parents=True)
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", lambda *a, **k: None)
    return repos


@pytest.mark.parametrize("registrations", [
    '{"clip-vit-b-32": {"path": "/media/usb/clip-vit-b-32", "kind": "clip"}}',
    '{"clip-vit-b-32": {"path": "/x"},',  # a hand edit that broke the JSON
])
def test_download_under_a_registration_jobs_refuse_is_refused_before_fetching(
        registrations: str, config: Path, fetched: list[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    """Jobs never fall back from a registered name to the hub copy: a download would
    cost the analyst the model's size and end in "installed", then the same refusal."""
    from crisisdesk.core.models.registry import ModelMissing, get_spec, locate

    (config / "models.json").write_text(registrations)
    assert main(["models", "download", "clip-vit-b-32"]) == USAGE
    err = capsys.readouterr().err
    assert fetched == []
    assert "models.json" in err and "Traceback" not in err
    assert "download" in err  # says the download would not help yet
    with pytest.raises(ModelMissing):  # the precondition: jobs refuse it
        locate(get_spec("clip-vit-b-32"))


def test_download_of_an_installed_model_fetches_nothing(
        config: Path, fetched: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # MiniLM ships inside the package: installed from the start. (--force: see
    # test_cli_limits_s19, which downloads again only a copy in the hub cache.)
    assert main(["models", "download", "minilm"]) == 0
    assert fetched == [] and "already installed" in capsys.readouterr().out


# ------------------------------------------------------------- Ctrl-C: exit 1, said


class _CtrlC:
    """A progress view that is Ctrl-C at the job's first progress."""

    def update(self, progress: object) -> None:
        raise KeyboardInterrupt

    def close(self, finished: bool) -> None:
        pass


def ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, every job a command drives is stopped at its first progress."""
    from crisisdesk import cli_progress

    monkeypatch.setattr(cli_progress, "progress_view", lambda stream, unit: _CtrlC())


def _posts(tmp_path: Path) -> Path:
    """Two text-only posts as a CSV."""
    src = tmp_path / "posts.csv"
    src.write_text("id,text\n1,road closed\n2,bridge down\n", encoding="utf-8")
    return src


def _said(capsys: pytest.CaptureFixture[str]) -> str:
    out = capsys.readouterr()
    return (out.out + out.err).lower()


def test_an_import_stopped_by_ctrl_c_exits_1_and_says_the_same_command_resumes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # A script that runs "import && embed" must not go on to embed half a source.
    ctrl_c(monkeypatch)
    assert main(["import", str(tmp_path / "p"), str(_posts(tmp_path))]) == PROBLEMS
    said = _said(capsys)
    assert "cancelled" in said and "resume" in said


def test_a_training_stopped_by_ctrl_c_exits_1_and_makes_no_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from test_training_job import _project

    from crisisdesk.core.fusion.versions import summarise_versions

    project = _project(tmp_path, n=30)
    ctrl_c(monkeypatch)
    assert main(["train", str(project.root), "--task", "damage", "--text-encoder",
                 "txt-enc", "--epochs", "2"]) == PROBLEMS
    said = _said(capsys)
    assert "cancelled" in said and "no model version" in said
    with project.open_store() as store:
        assert summarise_versions(store, "damage") == []


@pytest.fixture
def imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project of two text-only posts (source "posts"), imported by the CLI."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    assert main(["import", str(tmp_path / "p"), str(_posts(tmp_path))]) == 0
    return tmp_path / "p"


def test_an_embed_stopped_by_ctrl_c_exits_1_and_keeps_what_was_encoded(
        tmp_path: Path, imported: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from tiny_clip import make_tiny_clip

    tiny = make_tiny_clip(tmp_path / "models")
    assert main(["models", "add", "tiny", str(tiny["folder"])]) == 0
    ctrl_c(monkeypatch)
    assert main(["embed", str(imported), "--encoder", "tiny", "--kind", "text",
                 "--device", "cpu"]) == PROBLEMS
    said = _said(capsys)
    assert "cancelled" in said and "resume" in said


def test_embeddings_import_stopped_by_ctrl_c_exits_1(
        tmp_path: Path, imported: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    vectors = tmp_path / "vectors.npz"
    np.savez(vectors, ids=np.array(["posts:1:0", "posts:2:0"]),
             vectors=np.eye(2, 4, dtype=np.float32))
    ctrl_c(monkeypatch)
    assert main(["embeddings", "import", str(imported), str(vectors), "--encoder",
                 "elsewhere", "--kind", "text"]) == PROBLEMS
    assert "cancelled" in _said(capsys)


def test_a_caption_run_stopped_by_ctrl_c_exits_1_and_keeps_its_captions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from import_helpers import build_csv_source
    from test_caption_cli import _factory, _LocalFake

    assert main(["import", str(tmp_path / "p"), str(build_csv_source(tmp_path / "src"))]) == 0
    _factory(monkeypatch, lambda name: _LocalFake())
    ctrl_c(monkeypatch)
    assert main(["caption", str(tmp_path / "p"), "--captioner", "tiny", "--device",
                 "cpu"]) == PROBLEMS
    said = _said(capsys)
    assert "cancelled" in said and "resume" in said


# ------------------------------------------- refusals: exit 2, named, nothing written


@pytest.fixture(autouse=True)
def no_watch_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A watch that gets going stops at once (Ctrl-C is how it ends): a refusal that
    lets one start shows as a wrong exit code instead of a test that never ends."""
    from crisisdesk.core.importers.watch import WatchJob

    monkeypatch.setattr(WatchJob, "run", lambda self: iter(()))


@pytest.mark.parametrize(("extra", "said"), [
    (["--watch", "--interval", "0"], "--interval"),
    (["--watch", "--interval", "nan"], "--interval"),
    (["--watch", "--interval", "inf"], "--interval"),
    (["--images-root", "no-such-root"], "no-such-root"),
    (["--map", "=text"], "FIELD=COLUMN"),
    (["--map", "text="], "FIELD=COLUMN"),
    (["--source", "   "], "--source"),
])
def test_a_refused_import_names_why_and_leaves_no_project(
        extra: list[str], said: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    src = _posts(tmp_path)
    assert main(["import", str(tmp_path / "p"), str(src), *extra]) == USAGE
    assert said in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_a_watch_of_two_folders_or_of_none_there_is_refused_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert main(["import", str(tmp_path / "p"), str(tmp_path / "a"), str(tmp_path / "b"),
                 "--watch"]) == USAGE
    assert "--watch takes one folder" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "p"), str(tmp_path / "gone"), "--watch"]) == USAGE
    assert str(tmp_path / "gone") in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


# ------------------------------------------------------------------ caption's header


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """build_csv_source imported: five photos to caption (and a text-only post)."""
    from import_helpers import build_csv_source

    assert main(["import", str(tmp_path / "p"), str(build_csv_source(tmp_path / "src"))]) == 0
    return tmp_path / "p"


def test_a_limit_above_what_is_left_counts_and_estimates_what_is_left(
        photos: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from test_caption_cli import _factory, _LocalFake

    _factory(monkeypatch, lambda name: _LocalFake())  # 600 s an image, on the CPU
    assert main(["caption", str(photos), "--captioner", "tiny", "--limit", "99"]) == 0
    err = capsys.readouterr().err
    assert ": 5 captions to write" in err and "99" not in err
    assert "On this CPU that takes about 50 min" in err


def test_a_captioner_on_a_gpu_gives_no_cpu_estimate(
        photos: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from test_caption_cli import _factory, _LocalFake

    class OnGpu(_LocalFake):
        device = "cuda"

    _factory(monkeypatch, lambda name: OnGpu())
    assert main(["caption", str(photos), "--captioner", "tiny"]) == 0
    err = capsys.readouterr().err
    assert "on cuda" in err and "On this CPU" not in err


@pytest.mark.parametrize(("args", "said"), [
    (["--server", "http://127.0.0.1:1"], "--server-model"),
    (["--server-model", "m"], "--server URL"),
    (["--server", "http://127.0.0.1:1", "--server-model", "m", "--captioner", "x"],
     "not both"),
])
def test_server_options_that_do_not_go_together_say_which(
        photos: Path, args: list[str], said: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["caption", str(photos), *args]) == USAGE
    assert said in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--concurrency", "0"], ["--timeout", "nan"],
                                    ["--max-file-mb", "inf"], ["--max-total-mb", "0"]])
def test_media_fetch_limits_that_are_no_limit_are_refused_naming_them(
        option: list[str], imported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["media", "fetch", str(imported), *option]) == USAGE
    assert option[0] in capsys.readouterr().err
