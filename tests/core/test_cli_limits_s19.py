"""Three command-line leftovers (session 19): ``media fetch`` stopped only by the run's
total size limit, a limit the analyst chose, exits 0 and says what is left and how to go
on (exit 1 stays for real failures); a size of a few kilobytes never reads "0.0 MB";
``models download NAME --force`` over a copy jobs use instead of a download (a
registration, the package crisisdesk ships) is refused before fetching anything, saying
what to do, rather than leaving an unused copy and the analyst believing it was in use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fetch_helpers import import_urls
from test_cli_mutations_s18 import fetched  # noqa: F401 - fixture: the hub, faked
from test_install_hunt import config  # noqa: F401 - fixture: settings of its own
from test_media_fetch import ROUTES, jpeg, server  # noqa: F401 - server: fixture

from crisisdesk.cli import OK, PROBLEMS, USAGE, main
from crisisdesk.core.project import Project

LOOPBACK = ["--allow-network", "127.0.0.1", "--timeout", "10", "--concurrency", "1"]
MIB = 1024 * 1024


def _said(capsys: pytest.CaptureFixture[str]) -> str:
    out = capsys.readouterr()
    return out.out + out.err


def _photos(proj: Project, tmp_path: Path, server: str, n: int,  # noqa: F811
            first: list[str] = ()) -> int:
    """``n`` distinct photos served (after the URLs ``first``), imported as remote media;
    the size of the largest."""
    ROUTES.update({f"/S{i}.jpg": (200, "image/jpeg", jpeg(i + 150)) for i in range(n)})
    import_urls(proj, tmp_path, [*first, *(f"{server}/S{i}.jpg" for i in range(n))])
    return max(len(jpeg(i + 150)) for i in range(n))


# ------------------------------------------------------------ the run's total size limit


def test_a_run_stopped_only_by_its_total_size_limit_exits_0_saying_what_is_left(
        proj: Project, tmp_path: Path, server: str,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    """A script running ``media fetch --max-total-mb`` in slices reads exit 1 as "went
    wrong": a limit it set, reached, is no failure (as ``caption --limit``)."""
    size = _photos(proj, tmp_path, server, 6)
    root = str(proj.root)
    assert main(["media", "fetch", root, *LOOPBACK,
                 "--max-total-mb", str(size * 3.5 / MIB)]) == OK
    said = _said(capsys)
    with proj.open_store() as store:
        left = store.counts()["media"]["remote"]
    assert left > 0, said  # the precondition: the limit left media unfetched
    assert f"{left} media left to fetch" in said, said
    assert "run again" in said and "--max-total-mb" in said, said
    assert "error" not in said, said  # not one problem line per media left
    # Run again, as said: the rest comes.
    assert main(["media", "fetch", root, *LOOPBACK]) == OK
    with proj.open_store() as store:
        assert store.counts()["media"] == {"ok": 6}


def test_a_real_failure_beside_the_total_size_limit_still_exits_1(
        proj: Project, tmp_path: Path, server: str,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    size = _photos(proj, tmp_path, server, 4, first=[f"{server}/missing.jpg"])
    assert main(["media", "fetch", str(proj.root), *LOOPBACK,
                 "--max-total-mb", str(size * 1.5 / MIB)]) == PROBLEMS
    said = _said(capsys)
    assert "HTTP 404" in said and "media left to fetch" in said, said


# ------------------------------------------------------------------- sizes in messages


@pytest.mark.parametrize("n_bytes", [1, 600, 1023, 1024, 10 * 1024, 51 * 1024,
                                     MIB - 1, MIB, int(1.5 * MIB), 50 * MIB, 5 * 1024 * MIB])
def test_a_size_that_is_not_zero_never_reads_as_zero(n_bytes: int) -> None:
    from crisisdesk.core.words import file_size_text

    text = file_size_text(n_bytes)
    assert re.search(r"[1-9]", text), text
    assert re.fullmatch(r"[\d,.]+ (bytes?|KB|MB)", text), text


def test_the_size_text_is_the_size_in_its_unit() -> None:
    """Read back, each text is the size (to its one decimal): a KB is 1024 bytes and an
    MB 1024 KB, as --max-file-mb counts them."""
    from crisisdesk.core.words import file_size_text as size_text

    units = {"byte": 1, "bytes": 1, "KB": 1024, "MB": MIB}
    for n_bytes in (1, 600, 10 * 1024, 51 * 1024 + 300, int(1.5 * MIB), 50 * MIB):
        number, unit = size_text(n_bytes).split()
        value = float(number.replace(",", "")) * units[unit]
        assert abs(value - n_bytes) <= 0.05 * units[unit], (n_bytes, size_text(n_bytes))


def test_tiny_fetch_limits_are_said_in_kilobytes(
        proj: Project, tmp_path: Path, server: str,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    """A total limit of 10 KB read "(0.0 MB) was reached", and a file limit of 0.3 KB
    "file too large (0.0 MB; the limit is 0.0 MB)": a limit of nothing, to the analyst."""
    size = _photos(proj, tmp_path, server, 40)
    assert size * 40 > 10 * 1024  # the precondition: 10 KB stops the run
    assert main(["media", "fetch", str(proj.root), *LOOPBACK,
                 "--max-total-mb", str(10 / 1024)]) == OK
    said = _said(capsys)
    assert "10.0 KB" in said and "0.0 MB" not in said, said
    assert main(["media", "fetch", str(proj.root), *LOOPBACK,
                 "--max-file-mb", str(300 / MIB)]) == PROBLEMS
    said = _said(capsys)
    assert "file too large" in said and "300 bytes" in said, said
    assert "0.0 MB" not in said, said


# ------------------------------------------------------- models download --force


def _registered_clip(config: Path, tmp_path: Path) -> Path:  # noqa: F811
    """clip-vit-b-32 registered at a folder of its own (a copy from a USB stick)."""
    folder = tmp_path / "usb-clip"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text("{}")
    (folder / "open_clip_model.safetensors").write_bytes(b"weights")
    (config / "models.json").write_text(
        '{"clip-vit-b-32": {"path": "%s", "kind": "clip"}}' % folder.as_posix())
    return folder


def test_force_over_a_registered_copy_is_refused_before_fetching(
        config: Path, fetched: list[str], tmp_path: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    """Jobs use the registered copy, not the hub cache: a forced download cost the
    model's size, said "installed", and every job went on with the registered copy."""
    from crisisdesk.core.models.registry import get_spec, locate

    folder = _registered_clip(config, tmp_path)
    registrations = (config / "models.json").read_text()
    assert locate(get_spec("clip-vit-b-32")).path == folder  # the precondition
    assert main(["models", "download", "clip-vit-b-32", "--force"]) == USAGE
    said = _said(capsys)
    assert fetched == [], said
    assert str(folder) in said and "models.json" in said, said
    assert "crisisdesk models add clip-vit-b-32" in said, said  # what to do instead
    assert "installed in" not in said and "Traceback" not in said, said
    assert (config / "models.json").read_text() == registrations
    assert locate(get_spec("clip-vit-b-32")).path == folder


def test_force_over_the_copy_crisisdesk_ships_is_refused_before_fetching(
        config: Path, fetched: list[str], capsys: pytest.CaptureFixture[str]  # noqa: F811
        ) -> None:
    from crisisdesk.core.models.registry import get_spec, locate

    spec = get_spec("minilm")
    assert locate(spec).route == "package"  # the precondition: shipped, found first
    assert main(["models", "download", "minilm", "--force"]) == USAGE
    said = _said(capsys)
    assert fetched == [], said
    assert spec.package in said and "reinstall" in said, said
    assert locate(spec).route == "package"


def test_force_over_a_hub_cache_copy_downloads_it_again(
        config: Path, fetched: list[str], tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The hub cache is where jobs find a downloaded model: there --force is what it says."""
    from crisisdesk.core.models import registry

    # The cache's look-up, faked (test_models finds a real cache layout offline).
    monkeypatch.setattr(registry, "_hub_cached", lambda spec: tmp_path / "weights")
    assert registry.locate(registry.get_spec("clip-vit-b-32")).route == "hub-cache"
    assert main(["models", "download", "clip-vit-b-32"]) == OK
    assert fetched == [] and "already installed" in _said(capsys)
    assert main(["models", "download", "clip-vit-b-32", "--force"]) == OK
    assert len(fetched) == 1 and "clip-vit-b-32 installed in" in _said(capsys)
