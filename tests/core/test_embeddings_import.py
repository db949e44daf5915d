"""Importing embeddings computed elsewhere from an .npz: round trips for image and text
vectors, ids that match nothing or several items, items without an image, reposts,
pickles refused, shapes checked, progress per chunk. Fixtures are built in ``tmp_path``."""

from __future__ import annotations

import csv
import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crisisdesk.core import embeddings_import
from crisisdesk.core.embeddings_import import (
    EmbeddingsImportError,
    EmbeddingsImportJob,
    import_embeddings,
)
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project
from crisisdesk.core.store import text_key

ENC = "test-encoder"
DIM = 8


def make_image(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (20, 12), ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    img.putpixel((seed % 20, 0), (255 - seed % 256, 0, 0))
    img.save(path)
    return path


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "image"])
        writer.writerows(rows)
    return path


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    """Source ``posts``: 1 (one image), 2 (two images), 3 (image file missing), 4 (text
    only), 5 (a repost of 1's photo, same bytes). Source ``other`` also has a post 1."""
    data = tmp_path / "data"
    make_image(data / "r1.jpg", 1)
    make_image(data / "a.jpg", 2)
    make_image(data / "b.jpg", 3)
    (data / "repost.jpg").write_bytes((data / "r1.jpg").read_bytes())
    make_image(data / "o1.jpg", 4)
    posts = write_csv(data / "posts.csv", [
        ["1", "Roof torn off", "r1.jpg"],
        ["2", "Two photos of the bridge", "a.jpg|b.jpg"],
        ["3", "The photo went missing", "gone.jpg"],
        ["4", "Text only, no photo", ""],
        ["5", "Reposting this", "repost.jpg"],
    ])
    other = write_csv(data / "other.csv", [["1", "Another source's post one", "o1.jpg"]])
    project = Project.open(tmp_path / "proj", create=True)
    job = ImportJob(project, [posts, other], ImportOptions())
    list(job.run())
    with project.open_store() as store:
        assert store.item_by_uid("posts:2:1") is not None
        assert store.item_by_uid("other:1:0") is not None
    return project


def unit_vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def write_npz(path: Path, ids, vectors) -> Path:
    np.savez(path, ids=np.asarray(ids), vectors=np.asarray(vectors))
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_count(project: Project) -> int:
    with project.open_store() as store:
        return sum(sum(kinds.values()) for kinds in store.embedding_counts().values())


# --------------------------------------------------------------------------- round trips


def test_image_vectors_round_trip(proj: Project, tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids = ["posts:1:0", "2_0", "posts:2:1", "other:1:0"]  # full and short forms
    vectors = unit_vectors(4)
    report = import_embeddings(proj, write_npz(tmp_path / "img.npz", ids, vectors),
                               encoder=ENC, kind="image")
    assert report.problems == []
    assert (report.rows, report.imported, report.keys, report.dim) == (4, 4, 4, DIM)
    shas = [sha256_of(data / f) for f in ("r1.jpg", "a.jpg", "b.jpg", "o1.jpg")]
    with proj.open_store() as store:
        got = store.get_embeddings("image", ENC, shas)
        assert set(got) == set(shas)
        for sha, vector in zip(shas, vectors, strict=True):
            np.testing.assert_allclose(got[sha], vector, rtol=1e-3, atol=1e-3)
        # The repost shares post 1's image, so it already has its vector.
        assert store.images_without_embedding(ENC) == []
        job = store.conn.execute("SELECT kind, state, done, total FROM jobs"
                                 " WHERE kind = 'import-embeddings'").fetchone()
    assert tuple(job) == ("import-embeddings", "done", 4, 4)
    assert any((proj.root / "reports").glob("import-embeddings-*.json"))


def test_text_vectors_round_trip(proj: Project, tmp_path: Path) -> None:
    ids = ["posts:1:0", "posts:4:0", "posts:3:0", "other:1:0"]
    vectors = unit_vectors(4, seed=1).astype(np.float32)
    report = import_embeddings(proj, write_npz(tmp_path / "txt.npz", ids, vectors),
                               encoder=ENC, kind="text")
    assert report.problems == []
    assert report.imported == 4
    with proj.open_store() as store:
        items = [store.resolve_item(i).id for i in ids]
        texts = {t.item: t.text for t in store.item_texts(items)}
        keys = [text_key(texts[i]) for i in items]
        assert texts[items[1]] == "Text only, no photo"
        got = store.get_embeddings("text", ENC, keys)
    for key, vector in zip(keys, vectors, strict=True):
        np.testing.assert_allclose(got[key], vector, rtol=1e-3, atol=1e-3)


def test_reimport_replaces_and_counts_replaced(proj: Project, tmp_path: Path) -> None:
    path = write_npz(tmp_path / "a.npz", ["posts:1:0"], unit_vectors(1, seed=1))
    import_embeddings(proj, path, encoder=ENC, kind="image")
    new = unit_vectors(1, seed=2)
    report = import_embeddings(proj, write_npz(tmp_path / "b.npz", ["posts:1:0"], new),
                               encoder=ENC, kind="image")
    assert (report.imported, report.replaced) == (1, 1)
    with proj.open_store() as store:
        (vector,) = store.get_embeddings("image", ENC, [sha256_of(
            tmp_path / "data" / "r1.jpg")]).values()
    np.testing.assert_allclose(vector, new[0], atol=1e-3)


# --------------------------------------------------------------------------- reported rows


def test_unknown_ambiguous_and_imageless_ids_are_reported(proj: Project,
                                                          tmp_path: Path) -> None:
    ids = ["posts:1:0", "nowhere:9:0", "1_0", "posts:3:0", "posts:4:0", "2_1"]
    path = write_npz(tmp_path / "mixed.npz", ids, unit_vectors(6))
    report = import_embeddings(proj, path, encoder=ENC, kind="image")
    assert (report.imported, report.unknown, report.ambiguous, report.no_image) == (2, 1, 1, 2)
    by_row = {p.where.row: p for p in report.problems}
    assert sorted(by_row) == [1, 2, 3, 4]
    assert all(p.where.file == str(path) and p.severity == "error"
               for p in report.problems)
    assert "'nowhere:9:0'" in by_row[1].message
    assert "ambiguous" in by_row[2].message and "other:1:0" in by_row[2].message
    assert "missing" in by_row[3].message
    assert "no image" in by_row[4].message
    assert "row 1" in report.summary()
    with proj.open_store() as store:
        assert store.embedding_counts() == {ENC: {"image": 2}}


def test_rows_of_one_image_must_agree(proj: Project, tmp_path: Path) -> None:
    same = unit_vectors(1, seed=3)[0]
    path = write_npz(tmp_path / "same.npz", ["posts:1:0", "posts:5:0"], [same, same])
    report = import_embeddings(proj, path, encoder=ENC, kind="image")
    assert (report.imported, report.keys, report.duplicates, report.problems) == (2, 1, 1, [])

    first, second = unit_vectors(2, seed=4)
    path = write_npz(tmp_path / "differ.npz", ["posts:1:0", "posts:5:0"], [first, second])
    report = import_embeddings(proj, path, encoder=ENC, kind="image")
    assert (report.imported, report.conflicts) == (1, 1)
    (problem,) = report.problems
    assert problem.where.row == 1 and "row 0" in problem.message
    with proj.open_store() as store:
        (vector,) = store.get_embeddings("image", ENC, [sha256_of(
            tmp_path / "data" / "r1.jpg")]).values()
    np.testing.assert_allclose(vector, first, atol=1e-3)


def test_vectors_off_unit_length_are_stored_with_a_warning(proj: Project,
                                                           tmp_path: Path) -> None:
    path = write_npz(tmp_path / "long.npz", ["posts:1:0"], unit_vectors(1) * 3)
    report = import_embeddings(proj, path, encoder=ENC, kind="text")
    assert report.imported == 1
    assert [p.severity for p in report.problems] == ["warning"]
    assert "1 of the file's 1 vectors are not of unit length" in report.problems[0].message


# --------------------------------------------------------------------------- refused files


class _Trap:
    """Unpickling this would create a file: proof that a pickle was run."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (str(self.target),))


def test_pickled_files_and_object_arrays_are_refused(proj: Project, tmp_path: Path) -> None:
    trap = tmp_path / "pickle-ran"
    pickled = tmp_path / "pickled.npz"
    pickled.write_bytes(pickle.dumps({"ids": _Trap(trap), "vectors": [[0.0] * DIM]}))
    with pytest.raises(EmbeddingsImportError, match="pickled") as caught:
        import_embeddings(proj, pickled, encoder=ENC, kind="image")
    assert str(pickled) in str(caught.value)

    objects = tmp_path / "objects.npz"
    np.savez(objects, ids=np.array(["posts:1:0", _Trap(trap)], dtype=object),
             vectors=unit_vectors(2))
    with pytest.raises(EmbeddingsImportError, match="object array") as caught:
        import_embeddings(proj, objects, encoder=ENC, kind="image")
    assert str(objects) in str(caught.value) and "'ids'" in str(caught.value)

    assert not trap.exists()
    assert stored_count(proj) == 0


@pytest.mark.parametrize(("arrays", "message"), [
    ({"ids": ["posts:1:0"]}, "no 'vectors' array"),
    ({"keys": ["posts:1:0"], "vectors": unit_vectors(1)}, "no 'ids' array"),
    ({"ids": ["posts:1:0", "posts:2:0"], "vectors": unit_vectors(3)}, "2 ids for 3 vectors"),
    ({"ids": ["posts:1:0"], "vectors": unit_vectors(1)[0]}, "must be \\[rows, dim\\]"),
    ({"ids": ["posts:1:0"], "vectors": unit_vectors(1)[None]}, "must be \\[rows, dim\\]"),
    ({"ids": [["posts:1:0"]], "vectors": unit_vectors(1)}, "one-dimensional"),
    ({"ids": [1, 2], "vectors": unit_vectors(2)}, "must be strings"),
    ({"ids": ["posts:1:0"], "vectors": np.ones((1, DIM), dtype=np.int64)}, "must be floats"),
    ({"ids": ["posts:1:0", "2_0"], "vectors": np.array([[0.1] * DIM, [np.nan] * DIM])},
     "NaN or infinite .* row 1"),
    ({"ids": ["posts:1:0"], "vectors": np.full((1, DIM), 1e6)}, "float16"),
    ({"ids": np.array([], dtype=str), "vectors": np.zeros((0, DIM))}, "no vectors"),
], ids=["no-vectors", "no-ids", "row-mismatch", "1d-vectors", "3d-vectors", "2d-ids",
        "int-ids", "int-vectors", "nan", "float16-overflow", "empty"])
def test_bad_shapes_are_clear_errors(proj: Project, tmp_path: Path, arrays: dict,
                                     message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **{k: np.asarray(v) for k, v in arrays.items()})
    with pytest.raises(EmbeddingsImportError, match=message) as caught:
        import_embeddings(proj, path, encoder=ENC, kind="image")
    assert str(path) in str(caught.value)
    assert stored_count(proj) == 0
    with proj.open_store() as store:
        state = store.conn.execute("SELECT state FROM jobs WHERE kind = 'import-embeddings'"
                                   ).fetchone()[0]
    assert state == "failed"


def test_not_an_npz_is_refused(proj: Project, tmp_path: Path) -> None:
    npy = tmp_path / "vectors.npy"
    np.save(npy, unit_vectors(1))
    with pytest.raises(EmbeddingsImportError, match=r"\.npy"):
        import_embeddings(proj, npy, encoder=ENC, kind="image")
    text = tmp_path / "notes.npz"
    text.write_text("just some text, not numpy")
    with pytest.raises(EmbeddingsImportError, match="notes.npz"):
        import_embeddings(proj, text, encoder=ENC, kind="image")
    with pytest.raises(EmbeddingsImportError, match="no such file"):
        import_embeddings(proj, tmp_path / "absent.npz", encoder=ENC, kind="image")


def test_dimension_must_agree_with_stored_embeddings(proj: Project, tmp_path: Path) -> None:
    import_embeddings(proj, write_npz(tmp_path / "a.npz", ["posts:1:0"], unit_vectors(1)),
                      encoder=ENC, kind="image")
    wider = write_npz(tmp_path / "wider.npz", ["posts:4:0"], unit_vectors(1, dim=16))
    with pytest.raises(EmbeddingsImportError, match="dimension 16") as caught:
        import_embeddings(proj, wider, encoder=ENC, kind="text")  # any kind of the encoder
    assert str(wider) in str(caught.value) and f"1 of dimension {DIM}" in str(caught.value)
    # Another encoder's vectors may have another dimension.
    report = import_embeddings(proj, wider, encoder="other-encoder", kind="text")
    assert report.imported == 1
    # A shipped encoder's dimension is known before anything is stored.
    with pytest.raises(EmbeddingsImportError, match="384"):
        import_embeddings(proj, wider, encoder="minilm", kind="text")


@pytest.mark.parametrize("kind", ["image_patches", "caption", ""])
def test_other_kinds_are_refused(proj: Project, tmp_path: Path, kind: str) -> None:
    path = write_npz(tmp_path / "a.npz", ["posts:1:0"], unit_vectors(1))
    with pytest.raises(EmbeddingsImportError, match="kind must be one of"):
        import_embeddings(proj, path, encoder=ENC, kind=kind)


# --------------------------------------------------------------------------- progress


def test_progress_per_chunk_and_cancel_keeps_committed_chunks(
        proj: Project, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(embeddings_import, "CHUNK", 2)
    ids = ["posts:1:0", "posts:2:0", "posts:2:1", "other:1:0", "posts:4:0"]
    path = write_npz(tmp_path / "five.npz", ids, unit_vectors(5))
    job = EmbeddingsImportJob(proj, path, encoder=ENC, kind="text")
    assert [(p.done, p.total) for p in job.run()] == [(2, 5), (4, 5), (5, 5)]

    job = EmbeddingsImportJob(proj, path, encoder="second", kind="text")
    run = job.run()
    first = next(run)
    assert (first.done, first.total) == (2, 5)
    run.close()
    assert job.report.cancelled and job.report.imported == 2
    with proj.open_store() as store:
        assert store.embedding_counts()["second"] == {"text": 2}
        states = [r[0] for r in store.conn.execute(
            "SELECT state FROM jobs WHERE kind = 'import-embeddings' ORDER BY id")]
    assert states == ["done", "cancelled"]
    assert job.report_path is not None and job.report_path.is_file()
