"""``crisisdesk models download NAME --force`` over a model the Hugging Face cache holds
downloads it again, as its help and the README say: a damaged copy in the cache (a file
a disk error or an antivirus spoilt; the captioner's "the folder may be damaged ... or
crisisdesk models download") is replaced. The hub is faked as huggingface_hub behaves:
a file the cache holds is fetched again only with ``force_download``."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from caption_fixtures import isolated_config  # noqa: F401 - a fixture, used by name

from crisisdesk.cli import OK, main
from crisisdesk.core.models.registry import get_spec, locate

pytestmark = pytest.mark.usefixtures("isolated_config")

COMMIT = "a" * 40
WEIGHTS = "open_clip_model.safetensors"
HUB_BYTES = b"the weights as the hub holds them"


def _fake_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub holding clip-vit-b-32's weights; its snapshot download, like the real one,
    leaves alone a file the cache holds unless ``force_download``."""
    import huggingface_hub
    from huggingface_hub.hf_api import RepoSibling

    siblings = [RepoSibling(WEIGHTS, size=len(HUB_BYTES), blob_id="b" * 40)]
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info",
                        lambda self, *a, **k: SimpleNamespace(sha=COMMIT, siblings=siblings))

    def snapshot_download(repo_id, revision=None, allow_patterns=None, cache_dir=None,
                          force_download=False, **_):
        snapshot = Path(cache_dir) / f"models--{repo_id.replace('/', '--')}" / "snapshots" \
            / COMMIT
        for name in allow_patterns or [WEIGHTS]:
            if force_download or not (snapshot / name).exists():
                (snapshot / name).write_bytes(HUB_BYTES)
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda path: SimpleNamespace(total=10**12, used=0, free=10**11))


def test_force_downloads_again_a_damaged_copy_the_hub_cache_holds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _fake_hub(monkeypatch)
    repo = tmp_path / "hf" / "hub" / "models--timm--vit_base_patch32_clip_224.openai"
    damaged = repo / "snapshots" / COMMIT / WEIGHTS
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"spoilt")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    assert locate(get_spec("clip-vit-b-32")).route == "hub-cache"  # the precondition

    assert main(["models", "download", "clip-vit-b-32", "--force"]) == OK
    out = capsys.readouterr().out
    assert "clip-vit-b-32 installed in" in out, out
    assert damaged.read_bytes() == HUB_BYTES  # downloaded again, as --force says
