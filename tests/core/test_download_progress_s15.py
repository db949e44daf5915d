"""A model download reports the bytes it fetched of the bytes its files hold, so the app's
row shows a real bar, a rate and an ETA (a 7B captioner is gigabytes: a busy bar for many
minutes said nothing), and the job stops the fetch when cancelled.

The hub is faked (HfApi.model_info, snapshot_download): the fake snapshot download makes
its bars with the ``tqdm_class`` it is given the way huggingface_hub does (its own
helpers: a transfer bar, a bar of the bytes written, a bar of the files done) and drives
them chunk by chunk. Nothing goes online."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from caption_fixtures import isolated_config  # noqa: F401 - a fixture, used by name

from crisisdesk.core.models import hub_download, registry
from crisisdesk.core.models.download_job import download_job

MB = 10**6
HUB_ID = "llava-hf/llava-1.5-7b-hf"
COMMIT = "c" * 40
SHARDS = {f"model-0000{n}-of-00003.safetensors": (3 + n) * MB for n in (1, 2, 3)}
CONFIG = ("config.json", 1_500)

pytestmark = pytest.mark.usefixtures("isolated_config")


class FakeHub:
    """The LLaVA repo on a fake hub: three shards (4, 5 and 6 MB), a config, and a file
    the download's patterns leave out. ``gate``: the fetch waits on it once half the
    bytes are written; ``endless``: the fetch never ends until an update raises."""

    def __init__(self, monkeypatch, *, sizes_known: bool = True, endless: bool = False,
                 chunk: int = MB // 2) -> None:
        import huggingface_hub
        from huggingface_hub.hf_api import BlobLfsInfo, RepoSibling

        self.files = dict(SHARDS) | {CONFIG[0]: CONFIG[1]}
        self.endless, self.chunk = endless, chunk
        self.gate: threading.Event | None = None
        self.half = threading.Event()  # set once half the bytes are written
        self.stopped = threading.Event()  # set once the fetch gave up (an update raised)
        self.fetched: list[str] = []
        self.written = 0  # bytes the fake wrote so far
        siblings = [RepoSibling(CONFIG[0], size=CONFIG[1] if sizes_known else None,
                                blob_id="a" * 40),
                    RepoSibling("original/consolidated.pth", size=100 * 10**9,
                                blob_id="b" * 40)]
        for n, (name, size) in enumerate(SHARDS.items(), 1):
            siblings.append(RepoSibling(
                name, size=size if sizes_known else None, blob_id=str(n) * 40,
                lfs=BlobLfsInfo(size=size, sha256=str(n) * 64, pointer_size=134)
                if sizes_known else None))
        self.siblings = siblings
        monkeypatch.setattr(huggingface_hub.HfApi, "model_info",
                            lambda *a, **k: SimpleNamespace(sha=COMMIT, siblings=siblings))
        monkeypatch.setattr(huggingface_hub, "snapshot_download", self.snapshot_download)

    def snapshot_download(self, repo_id, revision=None, allow_patterns=None, cache_dir=None,
                          tqdm_class=None):
        """As huggingface_hub 2.x makes and drives its bars."""
        from huggingface_hub.utils import filter_repo_objects
        from huggingface_hub.utils.tqdm import _create_progress_bar, hf_thread_map
        from huggingface_hub.utils.tqdm import tqdm as hub_tqdm

        cls = tqdm_class or hub_tqdm
        bars = {"log_level": logging.WARNING, "total": 0, "initial": 0, "unit": "B",
                "unit_scale": True}
        transfer = _create_progress_bar(
            cls=cls, name="huggingface_hub.snapshot_download.transfer",
            desc="Downloading bytes", **bars)
        written = _create_progress_bar(cls=cls, name="huggingface_hub.snapshot_download",
                                       desc="Reconstructing (incomplete total...)", **bars)
        repo = Path(cache_dir) / "models--llava-hf--llava-1.5-7b-hf"
        wanted = [name for name in filter_repo_objects(self.files, allow_patterns=allow_patterns)
                  if not (repo / "snapshots" / COMMIT / name).is_file()]
        total = sum(self.files[name] for name in wanted)
        lock = threading.Lock()

        def fetch(name: str) -> None:
            size = self.files[name]
            written.total = (written.total or 0) + size
            sent = 0
            try:
                while sent < size or self.endless:
                    n = min(self.chunk, size - sent) if not self.endless else self.chunk
                    written.update(n)  # the bytes written to disk...
                    transfer.update(n)  # ...and received: the same bytes, twice
                    sent += n
                    with lock:
                        self.written += n
                        if self.written * 2 >= total:
                            self.half.set()
                    if self.half.is_set() and self.gate is not None:
                        self.gate.wait(30)
                    if self.endless:
                        time.sleep(0.005)
            except BaseException:
                self.stopped.set()
                raise
            self.fetched.append(name)

        hf_thread_map(fetch, wanted, desc=f"Fetching {len(wanted)} files", max_workers=2,
                      tqdm_class=cls)
        folder = repo / "snapshots" / COMMIT
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)


def _repo(tmp_path: Path) -> Path:
    return tmp_path / "hf" / "hub" / "models--llava-hf--llava-1.5-7b-hf"


def _spec():
    return registry.get_spec("llava-1.5-7b")


def _shards_and_config() -> int:
    return sum(SHARDS.values()) + CONFIG[1]


def test_download_reports_the_bytes_written_of_the_files_total(monkeypatch, capsys) -> None:
    FakeHub(monkeypatch)
    seen: list[tuple[int, int]] = []
    hub_download.download(_spec(), progress=lambda done, total: seen.append((done, total)))
    total = _shards_and_config()  # not the file the patterns leave out
    assert {t for _, t in seen[1:]} == {total}
    dones = [d for d, _ in seen]
    assert dones == sorted(dones), "the count never goes back"
    # Every byte once: the transfer bar carries the same bytes as the written one.
    assert dones[-1] == total
    assert capsys.readouterr().err == ""  # the hub's own bars stay off (the app has no tty)


def test_files_the_cache_holds_count_as_done_from_the_start(tmp_path, monkeypatch) -> None:
    hub = FakeHub(monkeypatch)
    name = next(iter(SHARDS))
    snapshot = _repo(tmp_path) / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / name).write_bytes(b"shard 1")
    seen: list[tuple[int, int]] = []
    hub_download.download(_spec(), progress=lambda done, total: seen.append((done, total)))
    assert name not in hub.fetched
    total = _shards_and_config()
    assert seen[0] == (SHARDS[name], 0)  # said before the fetch; its total comes with it
    assert seen[1][0] > SHARDS[name] and seen[1][1] == total
    assert seen[-1] == (total, total)


def test_without_a_progress_the_hub_keeps_its_own_bars(monkeypatch) -> None:
    """The CLI's `models download` shows the hub's bars: no class of ours is passed."""
    import huggingface_hub

    given = {}

    def snapshot_download(repo_id, **kwargs):
        given.update(kwargs)
        return "/nowhere"

    FakeHub(monkeypatch)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    hub_download.download(_spec())
    assert "tqdm_class" not in given


def test_the_download_job_yields_megabytes_of_the_total(monkeypatch) -> None:
    FakeHub(monkeypatch)
    steps = list(download_job(_spec()))
    total_mb = -(-_shards_and_config() // MB)
    assert all(p.device == "network" for p in steps)
    counted = [p for p in steps if p.total]
    assert counted, [(p.done, p.total) for p in steps]
    assert {p.total for p in counted} == {total_mb}
    assert [p.done for p in counted] == sorted(p.done for p in counted)
    last = steps[-1]
    assert (last.done, last.total) == (total_mb, total_mb)
    assert "installed in" in last.message


def test_the_job_shows_the_halfway_point_while_the_fetch_goes_on(monkeypatch) -> None:
    hub = FakeHub(monkeypatch)
    hub.gate = threading.Event()
    job = download_job(_spec())
    try:
        for progress in job:
            if hub.half.is_set() and progress.total and progress.done * 2 >= progress.total:
                break
        else:
            pytest.fail("the job never said it was half-way")
        assert progress.done < progress.total  # the fetch is held: not the end
        # What was written, not more: the bytes received are the same bytes again.
        assert progress.done <= hub.written // MB, (progress.done, hub.written)
        assert "llava-1.5-7b" in progress.message
    finally:
        hub.gate.set()
        job.close()


def test_unknown_sizes_count_megabytes_without_a_total(monkeypatch) -> None:
    hub = FakeHub(monkeypatch, sizes_known=False)
    hub.gate = threading.Event()  # held half-way: the job yields what it counted so far
    steps = []
    for progress in download_job(_spec()):
        steps.append(progress)
        if progress.done and not hub.gate.is_set():
            hub.gate.set()
    assert max(p.done for p in steps[:-1]) > 0, [(p.done, p.total) for p in steps]
    assert all(p.total == 0 for p in steps[:-1])
    assert steps[-1].done == steps[-1].total == -(-_shards_and_config() // MB)
    assert "did not give the sizes" in steps[-1].message  # the room check's note


def test_cancelling_the_job_stops_the_fetch(monkeypatch) -> None:
    hub = FakeHub(monkeypatch, endless=True)
    job = download_job(_spec())
    for progress in job:
        if progress.done:
            break
    threads = {t for t in threading.enumerate() if t.name.startswith("download ")}
    job.close()  # what the app's Cancel does at the job's next yield
    assert hub.stopped.is_set(), "the fetch went on after the cancel"
    assert not any(t.is_alive() for t in threads)


def test_a_failed_download_raises_in_the_job_with_its_message(monkeypatch) -> None:
    import huggingface_hub

    def refused(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", refused)
    with pytest.raises(OSError, match="network is unreachable"):
        list(download_job(_spec()))
