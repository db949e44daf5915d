"""A model download on a disk too small for it, or one that fills up during it: refused
before fetching, or stopped with one message saying what stays in the cache. The hub is
faked (HfApi.model_info, snapshot_download) and so is the free space (shutil.disk_usage):
nothing goes online."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from caption_fixtures import isolated_config  # noqa: F401 - a fixture, used by name

from crisisdesk.cli import main
from crisisdesk.core.models import hub_download, registry
from crisisdesk.core.models.disk_room import NoRoom

GB = 10**9
HUB_ID = "llava-hf/llava-1.5-7b-hf"
COMMIT = "c" * 40


# Empty settings and Hugging Face cache (HF_HOME = tmp_path/hf) for each test.
pytestmark = pytest.mark.usefixtures("isolated_config")


def _shard(n: int, size: int | None = 5 * GB):
    from huggingface_hub.hf_api import BlobLfsInfo, RepoSibling

    lfs = BlobLfsInfo(size=size, sha256=str(n) * 64, pointer_size=134) if size else None
    return RepoSibling(f"model-0000{n}-of-00003.safetensors", size=size,
                       blob_id=str(n) * 40, lfs=lfs)


def _fake_hub(monkeypatch, *, free: int, sizes_known: bool = True,
              fetch=None) -> list[dict]:
    """A hub whose LLaVA repo holds three 5 GB shards, a small config and a huge file
    the download's patterns leave out; a disk with ``free`` bytes free. Returns the
    snapshot downloads started."""
    import huggingface_hub
    from huggingface_hub.hf_api import RepoSibling

    siblings = [RepoSibling("config.json", size=1_500 if sizes_known else None,
                            blob_id="a" * 40),
                RepoSibling("original/consolidated.pth", size=100 * GB, blob_id="b" * 40),
                *(_shard(n, 5 * GB if sizes_known else None) for n in (1, 2, 3))]
    asked = []

    def model_info(self, repo_id, revision=None, timeout=None, files_metadata=False):
        asked.append(files_metadata)
        return SimpleNamespace(sha=COMMIT, siblings=siblings)

    started: list[dict] = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None, cache_dir=None):
        started.append({"repo": repo_id, "cache_dir": cache_dir})
        if fetch is not None:
            fetch(Path(cache_dir))
        return str(Path(cache_dir) / "snapshot")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda path: SimpleNamespace(total=500 * GB, used=0, free=free))
    return started


def _repo(tmp_path: Path) -> Path:
    return tmp_path / "hf" / "hub" / "models--llava-hf--llava-1.5-7b-hf"


def test_a_download_bigger_than_the_free_space_is_refused_before_fetching(
        tmp_path, monkeypatch, capsys) -> None:
    started = _fake_hub(monkeypatch, free=3 * GB)
    assert main(["models", "download", "llava-1.5-7b"]) == 2
    err = capsys.readouterr().err
    assert started == []  # nothing fetched
    # The three shards and the config, not the file the patterns leave out (100 GB).
    assert "15.0 GB more" in err and "3.0 GB free" in err
    assert str(tmp_path / "hf" / "hub") in err  # the folder, and how to put it elsewhere
    assert "HF_HUB_CACHE" in err and "crisisdesk models add llava-1.5-7b PATH" in err
    assert "without network" not in err  # the network is not the problem
    assert "Traceback" not in err


def test_files_already_in_the_cache_are_not_counted_again(tmp_path, monkeypatch) -> None:
    """A rerun after a cut download: two shards are there, only one is still to fetch."""
    blobs = _repo(tmp_path) / "blobs"
    blobs.mkdir(parents=True)
    (blobs / ("1" * 64)).write_bytes(b"shard 1")
    snapshot = _repo(tmp_path) / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "model-00002-of-00003.safetensors").write_bytes(b"shard 2 (no links)")
    started = _fake_hub(monkeypatch, free=5 * GB + 100 * 10**6)
    with pytest.raises(NoRoom, match=r"need 5\.0 GB more"):  # the third shard and config
        hub_download.download(registry.get_spec("llava-1.5-7b"))
    assert started == []
    started = _fake_hub(monkeypatch, free=6 * GB)
    hub_download.download(registry.get_spec("llava-1.5-7b"))
    assert [s["repo"] for s in started] == [HUB_ID]
    # All there (a --force download): nothing to fetch, so no room needed at all.
    (blobs / ("3" * 64)).write_bytes(b"shard 3")
    (blobs / ("a" * 40)).write_text("{}")
    started = _fake_hub(monkeypatch, free=0)
    hub_download.download(registry.get_spec("llava-1.5-7b"))
    assert len(started) == 1


def test_unknown_sizes_let_the_download_go_on_saying_so_once(monkeypatch, capsys) -> None:
    started = _fake_hub(monkeypatch, free=1 * GB, sizes_known=False)
    assert main(["models", "download", "llava-1.5-7b"]) == 0
    out = capsys.readouterr().out
    assert started and out.count("did not give the sizes") == 1
    assert "llava-1.5-7b installed in" in out


ENOSPC = OSError(errno.ENOSPC, "No space left on device")
XET_FULL = RuntimeError("Data processing error: I/O error: No space left on device "
                        "(os error 28)")


def _fetched_whole(tmp_path: Path, cache_dir: Path) -> None:
    """One 2 MB shard fetched whole into the model's blobs/ folder."""
    blobs = _repo(tmp_path) / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    (blobs / ("1" * 64)).write_bytes(b"x" * 2_000_000)


def _fetched_shared(tmp_path: Path, cache_dir: Path) -> None:
    """As the hub's shared blob store keeps xet downloads: the file in the cache's
    blobs/ folder, the model's blob a link to it."""
    store = cache_dir / "blobs" / "ab"
    store.mkdir(parents=True, exist_ok=True)
    (store / ("ab" * 32)).write_bytes(b"x" * 2_000_000)
    blobs = _repo(tmp_path) / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    if not (blobs / ("1" * 64)).is_symlink():
        (blobs / ("1" * 64)).symlink_to(store / ("ab" * 32))


@pytest.mark.parametrize(("full", "fetched", "kept"), [
    (ENOSPC, _fetched_whole, "(2 MB) stays in"),
    (XET_FULL, _fetched_whole, "(2 MB) stays in"),
    (XET_FULL, _fetched_shared, "hf cache prune"),
    (ENOSPC, None, "Nothing of it was kept"),
], ids=["http", "xet", "shared-store", "nothing-kept"])
def test_a_disk_that_fills_during_the_download_is_one_clear_message(
        tmp_path, monkeypatch, capsys, full, fetched, kept) -> None:
    def fetch(cache_dir: Path) -> None:
        if fetched is not None:
            fetched(tmp_path, cache_dir)
        raise full

    _fake_hub(monkeypatch, free=40 * GB, fetch=fetch)
    with pytest.raises(NoRoom) as caught:
        hub_download.download(registry.get_spec("llava-1.5-7b"))
    said = str(caught.value)
    assert "filled up while downloading llava-1.5-7b" in said and kept in said
    assert "download again" in said and "HF_HUB_CACHE" in said
    if fetched is not None:
        assert f"stays in {_repo(tmp_path)}" in said
        assert f"delete the folder {_repo(tmp_path)}" in said

    assert main(["models", "download", "llava-1.5-7b"]) == 2
    err = capsys.readouterr().err
    assert err.count("filled up while downloading") == 1
    assert "without network" not in err and "Traceback" not in err


@pytest.mark.parametrize("held, fetched", [
    (("open_clip_model.safetensors", "open_clip_pytorch_model.bin"),
     ["open_clip_model.safetensors"]),
    (("open_clip_pytorch_model.bin",), ["open_clip_pytorch_model.bin"]),
])
def test_a_clip_download_fetches_one_weights_file_not_both(monkeypatch, held, fetched) -> None:
    """A CLIP model's files are alternatives (safetensors, else the pickle): the download
    fetched both, twice the size it announced."""
    import huggingface_hub
    from huggingface_hub.hf_api import RepoSibling

    siblings = [RepoSibling("open_clip_config.json", size=2_000, blob_id="c" * 40),
                *(RepoSibling(name, size=605 * 10**6, blob_id=str(n) * 40)
                  for n, name in enumerate(held))]
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info",
                        lambda self, *a, **k: SimpleNamespace(sha=COMMIT, siblings=siblings))
    patterns: list = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None, cache_dir=None):
        patterns.append(allow_patterns)
        return str(Path(cache_dir) / "snapshot")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda path: SimpleNamespace(total=500 * GB, used=0, free=100 * GB))
    hub_download.download(registry.get_spec("clip-vit-b-32"))
    assert patterns == [fetched]
