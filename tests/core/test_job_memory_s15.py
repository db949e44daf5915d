"""What the embed job and a training hold in memory while they run and once they end:
the encoder an embed job loaded is let go when its run ends (not at the next garbage
collection), the texts to encode are read in slices rather than all held at once, and a
training's embeddings are read a chunk at a time into its matrices. Each is checked on
what the job holds (weak references, store spies counting rows), never on memory sizes.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_embed_job import FakeEncoder, _project

from crisisdesk.core import embed as embed_module
from crisisdesk.core.embed import EmbedJob
from crisisdesk.core.encoders import factory
from crisisdesk.core.fusion import inputs
from crisisdesk.core.fusion.inputs import item_tensors, usable_keys
from crisisdesk.core.project import Project
from crisisdesk.core.store import text_key


@pytest.fixture
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector off: what is freed is freed by its last reference."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _by_name(monkeypatch: pytest.MonkeyPatch, encoder: FakeEncoder) -> None:
    """``load_encoder("fake")`` gives ``encoder``: a job given the name loads it itself."""
    monkeypatch.setattr(factory, "load_encoder", lambda name, device="auto": encoder)


def test_the_encoder_an_embed_job_loaded_is_let_go_when_its_run_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_gc: None) -> None:
    """The app's embed held MiniLM (and a CLIP its ~900 MB) after the job ended, until a
    garbage collection happened to run: the job sat in a reference cycle (its batch
    halving's error message read ``self``). The caller keeps the job for its report, as
    the CLI does; the model it loaded must go all the same."""
    project = _project(tmp_path)
    encoder = FakeEncoder()
    _by_name(monkeypatch, encoder)
    job = EmbedJob(project, "fake")
    list(job.run())
    assert job.report.texts_encoded > 0  # it did load and use the encoder
    loaded = weakref.ref(encoder)
    del encoder
    monkeypatch.undo()  # the stand-in factory held it too
    assert loaded() is None
    assert job.report.texts_encoded > 0  # the report stays readable


def test_a_finished_embed_job_is_freed_without_the_garbage_collector(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_gc: None) -> None:
    project = _project(tmp_path)
    _by_name(monkeypatch, FakeEncoder())
    job = EmbedJob(project, "fake")
    list(job.run())
    gone = weakref.ref(job)
    del job
    assert gone() is None


def test_an_embed_job_given_an_encoder_keeps_it(tmp_path: Path) -> None:
    """A caller's encoder is the caller's: a second job may use it (no reload)."""
    project = _project(tmp_path)
    encoder = FakeEncoder()
    job = EmbedJob(project, encoder)
    list(job.run())
    assert job.load() is encoder


def _counting_item_texts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Rows of item texts each store read built (``_add_item_texts``: where every read of
    item texts, whole or sliced, makes its rows), in call order."""
    from crisisdesk.core.store import Store

    sizes: list[int] = []
    real = Store._add_item_texts

    def counted(self, out, sql, params):  # type: ignore[no-untyped-def]
        before = len(out)
        real(self, out, sql, params)
        sizes.append(len(out) - before)

    monkeypatch.setattr(Store, "_add_item_texts", counted)
    return sizes


def test_the_embed_job_reads_the_texts_to_encode_a_slice_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every item's text (and its key) was held for the whole job: at 100,000 tweets
    tens of MB the app kept from the first batch to the last. The job reads them in
    slices; it encodes the same texts in the same batches as before."""
    project = _project(tmp_path, posts=12)
    with project.open_store() as store:
        texts = store.item_texts()
    monkeypatch.setattr(embed_module, "TEXT_SLICE", 4, raising=False)
    sizes = _counting_item_texts(monkeypatch)
    encoder = FakeEncoder()
    job = EmbedJob(project, encoder, kinds=["text"], batch_size=3)
    list(job.run())
    distinct = list(dict.fromkeys(t.text for t in texts))
    assert len(texts) > 4
    assert sizes and max(sizes) <= 4
    # Batches as before: the distinct texts in item order, three at a time.
    assert encoder.text_batches == [len(distinct[i:i + 3])
                                    for i in range(0, len(distinct), 3)]
    with project.open_store() as store:
        assert not store.missing_keys("text", "fake", [text_key(t) for t in distinct])


def test_the_embed_job_encodes_each_missing_text_once_in_item_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices change neither which texts are encoded nor their order: a text already
    embedded is skipped, a repeated text (a retweet) is encoded once."""
    project = _project(tmp_path, posts=9)
    monkeypatch.setattr(embed_module, "TEXT_SLICE", 2, raising=False)
    with project.open_store() as store:
        texts = store.item_texts()
    distinct = list(dict.fromkeys(t.text for t in texts))
    first = FakeEncoder()
    first.name = "fake"
    list(EmbedJob(project, first, kinds=["text"], batch_size=2).run())  # all of them
    with project.open_store() as store:
        store.conn.execute("DELETE FROM embeddings WHERE key IN (?, ?)",
                           [text_key(distinct[1]), text_key(distinct[-1])])
    seen: list[str] = []

    class Recording(FakeEncoder):
        def encode_texts(self, batch):  # type: ignore[no-untyped-def]
            seen.extend(batch)
            return super().encode_texts(batch)

    job = EmbedJob(project, Recording(), kinds=["text"], batch_size=2)
    steps = list(job.run())
    assert seen == [distinct[1], distinct[-1]]
    assert steps[0].total == 2 and steps[-1].done == 2


def _labelled_project(tmp_path: Path, n: int = 11) -> tuple[Project, list[int]]:
    """``n`` text-only items with embeddings of encoder "enc" (two share a text)."""
    project = Project.open(tmp_path / "project", create=True)
    with project.open_store() as store, store.transaction():
        store.conn.execute("INSERT INTO sources (name, kind, location, first_imported,"
                           " last_imported) VALUES ('s', 'csv', 's.csv', 'now', 'now')")
        for i in range(1, n + 1):
            text = "the same words" if i in (3, 7) else f"post {i}"
            store.conn.execute("INSERT INTO posts (id, source, post_id, text, created_at,"
                               " imported_at) VALUES (?, 's', ?, ?, 'now', 'now')",
                               [i, str(i), text])
            store.conn.execute("INSERT INTO items (id, uid, post, n, media) VALUES"
                               " (?, ?, ?, 0, NULL)", [i, f"s:{i}:0", i])
    with project.open_store() as store:
        texts = store.item_texts()
        keys = list(dict.fromkeys(t.key for t in texts))
        rng = np.random.default_rng(1)
        store.put_embeddings("text", "enc", keys[:-1],  # the last text: no embedding
                             rng.normal(size=(len(keys) - 1, 5)).astype(np.float32))
    return project, [t.item for t in texts]


def test_training_tensors_read_the_embeddings_a_chunk_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A training read every labelled item's vector into a dict of small arrays before
    copying them into its matrix: twice the matrix at once (a 20,000-item retrain ~60 MB
    where 30 were needed, left behind in the allocator). It reads a chunk at a time; the
    matrix is the same, value for value."""
    project, items = _labelled_project(tmp_path)
    with project.open_store() as store:
        keys = usable_keys(store, items, None, "enc")
        vectors = store.get_embeddings("text", "enc", list(keys[1].values()))
        expected = np.zeros((len(items), 5), dtype=np.float32)
        for row, item in enumerate(items):
            if keys[1][item] in vectors:
                expected[row] = vectors[keys[1][item]]
        monkeypatch.setattr(inputs, "EMBEDDING_CHUNK", 3, raising=False)
        asked: list[int] = []
        real = type(store).get_embeddings

        def counted(self, kind, encoder, wanted):  # type: ignore[no-untyped-def]
            asked.append(len(list(wanted)))
            return real(self, kind, encoder, wanted)

        monkeypatch.setattr(type(store), "get_embeddings", counted)
        tensors = item_tensors(store, items, image_encoder=None, text_encoder="enc",
                               strict=False)
    assert asked and max(asked) <= 3
    assert tensors.text.numpy().tobytes() == expected.tobytes()
    assert tensors.text_present.tolist() == [keys[1][item] in vectors for item in items]


def test_a_training_lets_go_of_the_task_matrices_once_its_splits_are_copied(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_gc: None) -> None:
    """Each split's rows are copied for training (train, validation, scored); the task's
    whole matrices stayed alive beside those copies through every epoch (a 20,000-item
    retrain: 31 MB more, for nothing). The head trained is the same."""
    from crisisdesk.core.fusion import training
    from crisisdesk.core.fusion.training import TrainJob
    from crisisdesk.core.store import LabelChange

    project, items = _labelled_project(tmp_path, n=60)
    with project.open_store() as store:
        store.add_labels([LabelChange(item, "informative",
                                      "informative" if item % 3 else "not_informative")
                          for item in items], annotator="test")
    whole: list[weakref.ref] = []
    real_task_data, real_fit = training.task_data, training.iter_fit
    alive_at_fit: list[bool] = []

    def task_data(*args, **kwargs):  # type: ignore[no-untyped-def]
        data = real_task_data(*args, **kwargs)
        whole.append(weakref.ref(data.tensors.text))
        return data

    def iter_fit(*args, **kwargs):  # type: ignore[no-untyped-def]
        alive_at_fit.append(whole[0]() is not None)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(training, "task_data", task_data)
    monkeypatch.setattr(training, "iter_fit", iter_fit)
    job = TrainJob(project, "informative", image_encoder=None, text_encoder="enc",
                   recipe=training.named_recipe("text", max_epochs=2), seeds=2)
    list(job.run())
    assert alive_at_fit == [False, False]
    assert job.report.model_version is not None
