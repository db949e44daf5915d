"""Leftovers of session 19's fetch limits and forced model downloads (second pass):

- ``crisisdesk import ... --fetch-media`` stopped by the fetch's total size limit advised
  "run again ... (or raise --max-total-mb)": ``import`` has no such option. It now names
  the command that fetches the rest and has it (``crisisdesk media fetch PROJECT``).
- ``media fetch --retry-unreadable`` stopped by its size limit advised "run again": the
  unreadable media it counted as left are tried only with --retry-unreadable again.
- ``--max-file-mb`` / ``--max-total-mb`` so small they are under one byte passed the
  "more than 0" check, then refused every file (each left "unreadable": too large).
- ``models download --force`` fetches again the files the cache holds, but its room
  check took them off the space needed, as for a resumed download."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from caption_fixtures import isolated_config  # noqa: F401 - a fixture, used by name
from fetch_helpers import import_urls
from test_download_room_s11 import COMMIT, GB, _fake_hub, _repo
from test_media_fetch import LOOPBACK as NETWORK
from test_media_fetch import ROUTES, jpeg, server  # noqa: F401 - server: fixture

from crisisdesk.cli import OK, USAGE, main
from crisisdesk.core.media_fetch import FetchLimits
from crisisdesk.core.project import Project

LOOPBACK = ["--allow-network", "127.0.0.1", "--timeout", "10", "--concurrency", "1"]
MIB = 1024 * 1024
N = 6


def _photos(prefix: str, n: int = N) -> tuple[list[str], int]:
    """``n`` distinct photos served; their paths and the size of the largest."""
    paths = [f"/{prefix}{i}.jpg" for i in range(n)]
    ROUTES.update({path: (200, "image/jpeg", jpeg(i + 190)) for i, path in enumerate(paths)})
    return paths, max(len(jpeg(i + 190)) for i in range(n))


def _limit_line(said: str) -> str:
    (line,) = [line for line in said.splitlines() if "media left to fetch" in line]
    return line


def _counts(proj: Project) -> dict[str, int]:
    with proj.open_store() as store:
        return store.counts()["media"]


def test_an_import_stopped_by_the_fetch_size_limit_names_a_command_that_fetches_the_rest(
        tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    import crisisdesk.cli_media as cli_media

    paths, size = _photos("I")
    # `import` has no size options: its fetch limits (5 GB), made small.
    small = FetchLimits(concurrency=1, timeout=10, max_total_bytes=int(size * 2.5),
                        allowed_networks=NETWORK)
    monkeypatch.setattr(cli_media, "_limits", lambda args=None: small)
    proj = Project.open(tmp_path / "proj", create=True)
    import_urls(proj, tmp_path, [server + path for path in paths])
    capsys.readouterr()
    root = str(proj.root)
    assert main(["import", root, str(tmp_path / "col.jsonl"), "--fetch-media",
                 "--allow-network", "127.0.0.1"]) == OK
    line = _limit_line(capsys.readouterr().out)
    assert 0 < _counts(proj).get("remote", 0) < N  # the precondition: the limit stopped it
    found = re.search(r"crisisdesk (media fetch [^()]*?)\s*\(", line)
    assert found, line  # a command, not "raise --max-total-mb" of a command without it
    command = shlex.split(found.group(1))
    assert root in command, line
    monkeypatch.undo()
    # The command said fetches the rest, and --max-total-mb is one of its options.
    assert main([*command, "--max-total-mb", "100"]) == OK
    assert _counts(proj) == {"ok": N}


def test_a_size_limited_retry_of_unreadable_media_says_to_keep_retry_unreadable(
        proj: Project, tmp_path: Path, server: str,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    paths = [f"/U{i}.jpg" for i in range(40)]  # more than a batch: some not come to
    ROUTES.update({path: (200, "text/html", b"<html>a login page</html>") for path in paths})
    import_urls(proj, tmp_path, [server + path for path in paths])
    main(["media", "fetch", str(proj.root), *LOOPBACK])
    assert _counts(proj) == {"unreadable": 40}  # the precondition
    ROUTES.update({path: (200, "image/jpeg", jpeg(i + 150)) for i, path in enumerate(paths)})
    size = max(len(jpeg(i + 150)) for i in range(40))
    capsys.readouterr()
    assert main(["media", "fetch", str(proj.root), *LOOPBACK, "--retry-unreadable",
                 "--max-total-mb", str(size * 3.5 / MIB)]) == OK
    line = _limit_line(capsys.readouterr().out)
    assert _counts(proj).get("unreadable", 0) > 0  # the precondition: some not come to
    assert "--retry-unreadable" in line, line
    # Without a retry the advice stays as it was: nothing to keep.
    plain = Project.open(tmp_path / "plain", create=True)
    fresh, size = _photos("P")
    import_urls(plain, tmp_path, [server + path for path in fresh])
    capsys.readouterr()
    assert main(["media", "fetch", str(plain.root), *LOOPBACK,
                 "--max-total-mb", str(size * 2.5 / MIB)]) == OK
    line = _limit_line(capsys.readouterr().out)
    assert "--retry-unreadable" not in line and "--max-total-mb" in line, line


@pytest.mark.parametrize("option", ["--max-file-mb", "--max-total-mb"])
@pytest.mark.parametrize("value", ["1e-9", "0.0000005"])
def test_a_size_limit_under_one_byte_is_refused_before_fetching(
        proj: Project, tmp_path: Path, server: str,  # noqa: F811
        capsys: pytest.CaptureFixture[str], option: str, value: str) -> None:
    paths, _ = _photos("T", 2)
    import_urls(proj, tmp_path, [server + path for path in paths])
    capsys.readouterr()
    assert main(["media", "fetch", str(proj.root), *LOOPBACK, option, value]) == USAGE
    err = capsys.readouterr().err
    assert option in err and "byte" in err, err
    assert _counts(proj) == {"remote": 2}  # none tried, none left "unreadable"


def test_a_limit_of_a_few_bytes_is_still_taken(
        proj: Project, tmp_path: Path, server: str,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    """One byte and more is a limit (a test of the refusal for a file too large)."""
    paths, _ = _photos("B", 1)
    import_urls(proj, tmp_path, [server + path for path in paths])
    assert main(["media", "fetch", str(proj.root), *LOOPBACK,
                 "--max-file-mb", str(2 / MIB)]) != USAGE
    assert "file too large" in capsys.readouterr().out


def _free(monkeypatch: pytest.MonkeyPatch, n_bytes: int) -> None:
    """The cache's disk, with ``n_bytes`` free."""
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda path: SimpleNamespace(total=500 * GB, used=0, free=n_bytes))


@pytest.mark.usefixtures("isolated_config")
def test_a_forced_download_needs_room_for_the_files_the_cache_holds_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    from crisisdesk.core.models import hub_download, registry
    from crisisdesk.core.models.disk_room import NoRoom

    # All of LLaVA in the cache (three 5 GB shards and its config; one shard a copy in
    # the snapshot, as on Windows): a plain rerun fetches nothing.
    blobs = _repo(tmp_path) / "blobs"
    blobs.mkdir(parents=True)
    for name in ("1" * 64, "3" * 64, "a" * 40):
        (blobs / name).write_bytes(b"held")
    (_repo(tmp_path) / "snapshots" / COMMIT).mkdir(parents=True)
    (_repo(tmp_path) / "snapshots" / COMMIT / "model-00002-of-00003.safetensors").write_bytes(
        b"shard 2 (no links)")
    _fake_hub(monkeypatch, free=0)
    forced: list[bool] = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None, cache_dir=None,
                          force_download=False):
        forced.append(force_download)
        return str(Path(cache_dir) / "snapshot")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    spec = registry.get_spec("llava-1.5-7b")
    hub_download.download(spec)  # the precondition: all held, no room needed
    assert forced == [False]
    # Forced, the hub fetches all three again (each kept until its new copy is whole).
    _free(monkeypatch, 6 * GB)
    with pytest.raises(NoRoom, match=r"need 15\.0 GB more"):
        hub_download.download(spec, force=True)
    assert forced == [False]  # refused before fetching
    _free(monkeypatch, 16 * GB)
    hub_download.download(spec, force=True)
    assert forced == [False, True]
