"""What the overlay keeps loaded and what it does again for an item it explained before.

* The encoders loaded for explanations (a CLIP is hundreds of MB) were kept for the whole
  session, while the heads that use them are bounded: after the analyst switched encoder,
  the old one stayed. An encoder no kept head uses is let go now.
* A cached explanation still hashed the whole image file each time it was served (on a
  network share too), to notice a file replaced since the import. The file's size and
  stat are checked now, and the file is hashed again only when they moved.
Counted here (calls and objects held), never timed.
"""

from __future__ import annotations

import os
from pathlib import Path

from test_explain import (  # noqa: F401 (fixtures)
    DAMAGE,
    _head,
    _sidecar,
    explained_project,
    tiny,
)

from crisisdesk.cli import main
from crisisdesk.core import review
from crisisdesk.core.explain import explain_item
from crisisdesk.core.explain import item as explain
from crisisdesk.core.explain.item import explainer_for
from crisisdesk.core.fusion.checkpoint import save_head
from crisisdesk.core.project import Project


def add_head(project: Project, name: str, encoder: str, seed: int) -> dict:
    """A guided_diff head reading ``encoder``'s embeddings, made active for damage."""
    head = _head(seed=seed, n_classes=len(DAMAGE))
    sidecar = {**_sidecar(head, encoder), "classes": list(DAMAGE)}
    path = save_head(project.folder("models"), name, head, sidecar)
    with project.open_store() as store:
        store.add_model_version("damage", name, str(path), encoder=encoder, config=sidecar)
        return store.active_model_version("damage")


def test_an_encoder_no_kept_head_uses_is_let_go(explained_project: Project, tiny: dict,
                                                monkeypatch) -> None:  # noqa: F811
    monkeypatch.setattr(explain, "MAX_EXPLAINERS", 2, raising=False)
    # The same weights registered under a second name: another encoder to the explainer.
    assert main(["models", "add", "tiny-b", str(tiny["folder"])]) == 0
    with explained_project.open_store() as store:
        first = explainer_for(store, "damage", store.active_model_version("damage"), "cpu")
    assert ("tiny-clip", "cpu") in explain._ENCODERS
    # The analyst switched encoder: only versions over tiny-b explained from now on.
    versions = [add_head(explained_project, f"damage-b{n}", "tiny-b", n + 1)
                for n in range(3)]
    with explained_project.open_store() as store:
        kept = [explainer_for(store, "damage", version, "cpu") for version in versions]
    assert first not in explain._EXPLAINERS.values()
    assert ("tiny-clip", "cpu") not in explain._ENCODERS
    # The encoder still used is kept (one copy, shared by the heads over it).
    assert list(explain._ENCODERS) == [("tiny-b", "cpu")]
    assert kept[-1].image_encoder is kept[-2].image_encoder is \
        explain._ENCODERS[("tiny-b", "cpu")]


def count_hashes(monkeypatch) -> list[Path]:
    """Each file the explanation module hashes, in order."""
    hashed: list[Path] = []
    real = explain.file_sha256

    def counting(path: Path) -> str:
        hashed.append(Path(path))
        return real(path)

    monkeypatch.setattr(explain, "file_sha256", counting)
    return hashed


def test_a_cached_explanation_is_served_without_hashing_the_image_again(
        explained_project: Project, monkeypatch) -> None:  # noqa: F811
    hashed = count_hashes(monkeypatch)
    first = explain_item(explained_project, "1_0", "damage", device="cpu")
    assert first.image is not None
    details: list[int] = []
    real_detail = review.item_detail
    monkeypatch.setattr(review, "item_detail",
                        lambda store, item: details.append(item) or real_detail(store, item))
    hashed.clear()
    again = explain_item(explained_project, "1_0", "damage", device="cpu")
    assert again.image is not None and again.notes == first.notes
    assert hashed == []  # the file is as it was: its bytes are not read again
    assert details == []  # nor every task's predictions and labels looked up


def test_a_file_rewritten_in_place_at_the_same_size_is_still_noticed(
        explained_project: Project, monkeypatch) -> None:  # noqa: F811
    hashed = count_hashes(monkeypatch)
    before = explain_item(explained_project, "1_0", "damage", device="cpu")
    assert before.image is not None
    picture = explained_project.root.parent / "src" / "1.png"
    data = bytearray(picture.read_bytes())
    size, stamp = len(data), picture.stat().st_mtime
    data[-20] ^= 0xFF  # a face blurred in place: the same size, other bytes
    picture.write_bytes(bytes(data))
    os.utime(picture, (stamp + 5, stamp + 5))  # a save seconds later, as an editor does
    assert picture.stat().st_size == size
    hashed.clear()
    result = explain_item(explained_project, "1_0", "damage", device="cpu")
    assert hashed  # its stat moved: hashed again
    assert result.image is None
    assert any("changed since it was imported" in note for note in result.notes)


def test_a_file_of_another_size_is_noticed_without_reading_it(
        explained_project: Project, monkeypatch) -> None:  # noqa: F811
    hashed = count_hashes(monkeypatch)
    picture = explained_project.root.parent / "src" / "1.png"
    picture.write_bytes(picture.read_bytes() + b"\0" * 16)
    result = explain_item(explained_project, "1_0", "damage", device="cpu")
    assert picture not in hashed  # the size recorded at import already says it changed
    assert any("changed since it was imported" in note for note in result.notes)
