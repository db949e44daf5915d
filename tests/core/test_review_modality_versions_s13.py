"""The image_only / text_only pair the "image vs text disagree" queue compares, and the
versions the queues' stamp watches, come from one definition (review_sql)."""

from __future__ import annotations

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.store import Store


def _version(store: Store, name: str, config: object) -> int:
    return store.add_model_version("damage", name, f"/models/{name}", config=config,
                                   active=False)


def test_a_damaged_version_record_does_not_hide_the_image_and_text_pair(
        proj: Project) -> None:
    """A record whose "config" is no object (a crafted or damaged project) ended the
    queue's planning (and a predict run) in AttributeError; it has no variant."""
    with proj.open_store() as store:
        image = _version(store, "i", {"config": {"variant": "image_only"}})
        text = _version(store, "t", {"config": {"variant": "text_only"}})
        _version(store, "damaged", {"config": "image_only"})
        assert review.modality_versions(store, "damage") == (image, text)


def test_the_stamp_watches_the_newest_pair_and_only_that(proj: Project) -> None:
    with proj.open_store() as store:
        older = _version(store, "i1", {"config": {"variant": "image_only"}})
        image = _version(store, "i2", {"config": {"variant": "image_only"}})
        text = _version(store, "t", {"config": {"variant": "text_only"}})
        other = _version(store, "g", {"config": {"variant": "guided_diff"}})
        assert review.modality_versions(store, "damage") == (image, text)
        watched = {int(entry.split("@")[0]) for entry in
                   review.queue_stamp(store)[2].split(",")}
        assert watched == {image, text}
        assert older not in watched and other not in watched


def test_no_pair_without_both_modalities(proj: Project) -> None:
    with proj.open_store() as store:
        _version(store, "i", {"config": {"variant": "image_only"}})
        assert review.modality_versions(store, "damage") is None
