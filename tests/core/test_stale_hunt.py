"""Stale data after a change: what the analyst sees or exports is never computed from
data that no longer holds (another model under an encoder's name, ...)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_caption_job import FakeCaptioner  # tests/core/ is on sys.path (pytest)
from test_embed_job import FakeEncoder, _project

from crisisdesk.core.captions.job import CaptionJob
from crisisdesk.core.embed import EmbedJob
from crisisdesk.core.encoders.base import EncoderError
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project


def test_another_model_under_an_encoders_name_is_refused_before_dims_mix(tmp_path: Path
                                                                        ) -> None:
    """``models add NAME PATH`` may point a name at another model (a wrong folder from a
    USB stick): its vectors must not join the stored ones of another dimension under the
    same name, where every later predict failed on a numpy broadcast error. The embed job
    stops at once naming the encoder and both dimensions, and stores nothing."""
    project = _project(tmp_path)
    with project.open_store() as store:
        first = store.item_texts()[0]
        store.put_embeddings("text", "fake", [first.key], np.ones((1, 4), np.float32))
    with pytest.raises(EncoderError, match=r"named fake makes 6-d.*1 embedding of dimension 4"):
        list(EmbedJob(project, FakeEncoder()).run())
    with project.open_store() as store:
        assert store.embedding_dims("fake") == {4: 1}


def _twin_photos(tmp_path: Path) -> Project:
    """Two posts whose files a.png and b.png hold the same photo (a collector saved it
    twice); then a.png is changed in place (a face blurred) after the import."""
    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (16, 12), (200, 90, 20)).save(src / "a.png")
    shutil.copy(src / "a.png", src / "b.png")
    (src / "posts.csv").write_text("id,text,image\n1,bridge down,a.png\n2,bridge down RT,b.png\n",
                                   encoding="utf-8")
    project = Project.open(tmp_path / "project", create=True)
    list(ImportJob(project, [src / "posts.csv"], ImportOptions()).run())
    Image.new("RGB", (16, 12), (10, 10, 10)).save(src / "a.png")
    return project


def _statuses(project: Project) -> dict[str, str]:
    with project.open_store() as store:
        return {Path(r[0]).name: r[1] for r in store.conn.execute("SELECT path, status FROM media")}


@pytest.mark.parametrize("decode", ["threads", "processes"])
def test_a_changed_file_marks_only_its_own_copy_and_the_photo_is_embedded_from_the_other(
        tmp_path: Path, decode: str) -> None:
    """Every copy of the photo was marked unreadable: the untouched b.png was never
    embedded nor captioned."""
    project = _twin_photos(tmp_path)
    first = EmbedJob(project, FakeEncoder(), kinds=["image"], decode=decode, workers=2)
    list(first.run())
    assert "sha256 differs" in first.report.unreadable[0]["reason"]
    assert _statuses(project) == {"a.png": "unreadable", "b.png": "ok"}
    again = EmbedJob(project, FakeEncoder(), kinds=["image"], decode=decode, workers=2)
    list(again.run())
    assert again.report.images_encoded == 1 and not again.report.unreadable


def test_a_changed_file_leaves_its_copies_to_be_captioned(tmp_path: Path) -> None:
    project = _twin_photos(tmp_path)
    list(CaptionJob(project, FakeCaptioner()).run())
    assert _statuses(project) == {"a.png": "unreadable", "b.png": "ok"}
    again = FakeCaptioner()
    list(CaptionJob(project, again).run())
    with project.open_store() as store:
        assert store.conn.execute("SELECT COUNT(*) FROM captions").fetchone()[0] == 1
