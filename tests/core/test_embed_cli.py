"""``crisisdesk embed`` and ``crisisdesk embeddings import`` end to end: a tiny CLIP
registered with ``models add`` goes through the registry, the factory, the real
ClipEncoder and the embed job; resuming adds only what is missing."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny_clip import make_tiny_clip

from crisisdesk.cli import main
from crisisdesk.core.project import Project


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Project:
    """Six posts with photos (one repost) and one text-only post, imported by the CLI."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    src = tmp_path / "src"
    src.mkdir()
    rows = [["id", "text", "image"]]
    for i in range(5):
        Image.new("RGB", (40, 30), (50 * i, 90, 200 - 30 * i)).save(src / f"{i}.jpg")
        rows.append([str(i), f"bridge {i} damaged by the flood", f"{i}.jpg"])
    rows += [["5", "same photo shared again", "0.jpg"], ["6", "no photo here", ""]]
    with (src / "posts.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    assert main(["import", str(tmp_path / "p"), str(src / "posts.csv")]) == 0
    return Project.open(tmp_path / "p")


def test_embed_with_a_registered_folder_and_resume(project: Project, tmp_path: Path,
                                                   capsys) -> None:
    tiny = make_tiny_clip(tmp_path / "models")
    assert main(["models", "add", "tiny", str(tiny["folder"])]) == 0
    assert main(["embed", str(project.root), "--encoder", "tiny", "--kind", "image",
                 "--device", "cpu", "--batch-size", "2"]) == 0
    err = capsys.readouterr().err
    assert "Encoding with tiny on cpu" in err
    with project.open_store() as store:
        assert store.embedding_counts() == {"tiny": {"image": 5}}
    # Texts next: the images are not encoded again, each distinct text once.
    assert main(["embed", str(project.root), "--encoder", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "0 images and 7 texts encoded" in out
    with project.open_store() as store:
        assert store.embedding_counts() == {"tiny": {"image": 5, "text": 7}}
        vectors = store.get_embeddings("text", "tiny", [t.key for t in store.item_texts()])
        assert all(v.shape == (32,) for v in vectors.values())


def test_decoding_in_worker_processes_gives_the_same_vectors(project: Project,
                                                             tmp_path: Path) -> None:
    """The GPU path decodes in worker processes: same vectors as the thread path."""
    from crisisdesk.core.embed import EmbedJob
    from crisisdesk.core.encoders.clip import ClipEncoder

    tiny = make_tiny_clip(tmp_path / "models")
    encoder = ClipEncoder.load("tiny", arch=tiny["arch"], route="file", source=tiny["file"])
    in_threads = EmbedJob(project, encoder, kinds=["image"], decode="threads")
    list(in_threads.run())
    with project.open_store() as store:
        keys = [row[0] for row in store.conn.execute("SELECT key FROM embeddings")]
        expected = store.get_embeddings("image", "tiny", keys)
        store.conn.execute("DELETE FROM embeddings")
    in_processes = EmbedJob(project, encoder, kinds=["image"], decode="processes",
                            workers=1, batch_size=2)
    progress = list(in_processes.run())
    assert progress[-1].done == 5
    with project.open_store() as store:
        got = store.get_embeddings("image", "tiny", keys)
    assert got.keys() == expected.keys()
    for key in keys:
        np.testing.assert_array_equal(got[key], expected[key])


def test_embeddings_import_command(project: Project, tmp_path: Path, capsys) -> None:
    path = tmp_path / "vectors.npz"
    vectors = np.eye(4, 8, dtype=np.float32)
    np.savez(path, ids=np.array(["posts:0:0", "1_0", "posts:6:0", "nobody_0"]),
             vectors=vectors)
    code = main(["embeddings", "import", str(project.root), str(path), "--encoder",
                 "cluster-clip", "--kind", "image"])
    out = capsys.readouterr().out
    assert code == 1  # done, with item-level problems reported
    assert "nobody_0" in out and "posts:6:0" in out
    with project.open_store() as store:
        assert store.embedding_counts() == {"cluster-clip": {"image": 2}}


def test_a_decoder_pool_failure_is_a_message_not_a_traceback(
        project: Project, tmp_path: Path, capsys, monkeypatch) -> None:
    """A chunk that kills its decoder twice, or the pool shut down under the job: the
    command says so and exits 2, with what was stored kept."""
    from crisisdesk.core.decoder_pool import PoolShutDown
    from crisisdesk.core.embed import EmbedJob

    def fails(self: EmbedJob):
        yield from ()
        raise PoolShutDown("the image decoder pool was shut down while this job used it")

    monkeypatch.setattr(EmbedJob, "_run", fails)
    tiny = make_tiny_clip(tmp_path / "models")
    assert main(["models", "add", "tiny", str(tiny["folder"])]) == 0
    assert main(["embed", str(project.root), "--encoder", "tiny", "--kind", "image"]) == 2
    assert "decoder pool was shut down" in capsys.readouterr().err
