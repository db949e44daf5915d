"""The images of crisisdesk's own CSV or JSONL export re-imported elsewhere.

An export names each item's image by the path it was imported with; imported into
another project (another computer) without the images, or without ``--images-root``
pointing at them, none of those files is there. That is one fact, said once as the
CrisisMMD importer says it (how many, and to pass ``--images-root``), not an error per
row: the posts are kept with their image marked missing, and a later import with the
right folder attaches them. Where some images are found, the missing ones are the
exception, and each is named as in any other table.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from crisisdesk.core.importers.records import (
    MediaRef,
    MissingTally,
    PostRecord,
    Problem,
    Where,
)
from crisisdesk.core.words import IMAGES_FOLDER, plural


class ExportImages(MissingTally):
    """Tallies the local images of an export's rows (``file``, images looked for under
    ``base``): those naming no file are held back from the per-row report and, of them,
    the ones the writer stores as missing are said at the end by :meth:`finish`. A row
    of a post already stored is no new missing image: its image stored ok stays so, and
    one stored missing is said by the import's "stay missing" line."""

    def __init__(self, file: str, base: Path) -> None:
        self.file, self.base = file, base
        self.found = 0  # files found under base, new or not: is base the right folder?
        self.absent: list[Problem] = []  # each one's own line, said when some were found
        self.posts: set[tuple[str | None, str]] = set()

    def sort(self, record: PostRecord) -> None:
        """Count ``record``'s images found; one naming no file goes to this tally (the
        writer stores it as missing without a line of its own, and calls :meth:`add`)."""
        for ref in record.media:
            if ref.status == "remote":
                continue  # a collected image's URL: to fetch, not a file to find
            if _absent(ref):
                ref.tally = self
            else:
                self.found += 1

    def add(self, record: PostRecord, ref: MediaRef) -> None:
        reason = ref.reason or f"file not found: {ref.path}"
        self.absent.append(Problem(record.where, f"image {ref.declared}: missing: {reason}"))
        self.posts.add((record.source, record.post_id))

    def finish(self) -> Iterator[Problem]:
        """The file's lines about images not found: one warning when none was found,
        else each missing one's error."""
        if not self.absent:
            return
        if self.found:
            yield from self.absent
            return
        yield Problem(Where(self.file), (
            f"{plural(len(self.absent), 'image')} of {plural(len(self.posts), 'post')} not "
            f"found under {self.base}: the posts are kept, their images marked missing; "
            "import again with the folder that holds the images as the images folder "
            f"({IMAGES_FOLDER}) to attach them"), "warning")


def _absent(ref: MediaRef) -> bool:
    """Whether no file is where ``ref`` points (a path of another computer included)."""
    if ref.path is None:
        return ref.status == "missing"
    return not os.path.lexists(ref.path)
