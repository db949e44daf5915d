"""The one writer of import records into the store.

Records come in batches: new images are checked in a thread pool (hashing and trial
decoding release the GIL), then the batch is written in one transaction, each record
under its own savepoint, so a record that fails leaves nothing half-written and the
others still land. Writing is idempotent: a post, image, label or split already in the
store is not added again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from crisisdesk.core.imaging import ImageFacts, ImageLimits, inspect_image
from crisisdesk.core.importers.records import (
    ImportReport,
    LabelRef,
    MediaRef,
    MissingTally,
    PostRecord,
    Problem,
    Where,
)
from crisisdesk.core.schemes import LabelScheme
from crisisdesk.core.store import LABEL_SOURCES, ItemRow, LabelChange, Store, store_time
from crisisdesk.core.store.times import post_time
from crisisdesk.core.words import both_names, plural

# Half of a UTF-16 surrogate pair: JSON can carry one ("\ud83c", an emoji cut in two by
# a collector), Python keeps it, and SQLite cannot store it. A whole pair is decoded into
# one character before it gets here, so any surrogate left in a str is a lone half.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
SPLIT_ALIASES = {"train": "train", "training": "train", "dev": "dev", "val": "dev",
                 "valid": "dev", "validation": "dev", "test": "test"}


class RecordWriter:
    """Writes PostRecords of one source into a store, counting into a report.

    ``register``: records each source posts are filed under, the first time it is used
    (``source``, and those of records filed under their own: the rows of an export of
    several sources); None when the caller registered ``source`` and no record has its
    own. Records naming a source that are filed under ``source`` are imported once per
    post id (a post of another named source with that id is reported).
    """

    def __init__(self, store: Store, source: str, report: ImportReport,
                 limits: ImageLimits = ImageLimits(), workers: int = 4,
                 register: Callable[[str], None] | None = None) -> None:
        self.store, self.source, self.report, self.limits = store, source, report, limits
        self.register = register
        self.registered: set[str] = set()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inspect")
        # The project's schemes: its own tasks' labels are imported too. Read again
        # for each batch: a watch runs for hours and a task may be added meanwhile.
        self.schemes: dict[str, LabelScheme] = store.schemes()
        # Where each post was first seen in this import, to name it in difference reports.
        self.first_seen: dict[tuple[str, str], Where] = {}
        # Filed under ``source`` alone: the named source and row that first gave each id.
        self.named: dict[str, tuple[str, Where]] = {}
        # Stored media, recorded as missing, whose file this import did not find either
        # (by media id: the declared path), for one line in the report at the end.
        self.still_missing: dict[int, str] = {}
        # The parsers' summaries of the images this import stored as missing
        # (MediaRef.tally), in the order first used, for the import to say once the
        # writer is done; and those of the record in hand, added once it is stored (a
        # record rolled back stored none). An image stored before is not counted: stored
        # ok, it is not missing; stored missing, the "stay missing" line says it.
        self.tallies: dict[MissingTally, None] = {}
        self._tallied: list[MediaRef] = []
        # Posts of an export filed as new ones under ``source`` while their own source
        # (their rows' ``source`` cell) has them: (posts, file) by that source, said
        # first of this writer's problems when it closes.
        self.filed_again: dict[str, list] = {}
        self._first_problem = len(report.problems)

    def close(self) -> None:
        """Stop the image checks; say which rows doubled posts their own source has (an
        export imported back into its project: filed under the file's name, as
        documented, every post doubled without a word)."""
        self.pool.shutdown(wait=True)
        for own, (posts, file) in self.filed_again.items():
            self.report.problems.insert(self._first_problem, Problem(Where(file), (
                f"{plural(posts, 'post')} of source {own}, already in this project, filed "
                f"again under source {self.source} as new posts (each is in the project "
                f"twice now); to add such a file to {own}'s posts instead, give the source "
                f"name {own} ({both_names('Source name', f'--source {own}')})"), "warning"))

    def source_of(self, record: PostRecord) -> str:
        """The source ``record``'s post is filed under."""
        return record.source if record.own_source and record.source else self.source

    def _merged_away(self, record: PostRecord) -> bool:
        """Whether ``record`` is a post of another named source than an earlier record
        with its id, both to be filed under :attr:`source` (``--source`` given for an
        export of several sources, a watch): reported, as its labels would land on the
        other source's post."""
        if not record.source or record.own_source:
            return False
        first = self.named.setdefault(record.post_id, (record.source, record.where))
        if first[0] == record.source:
            return False
        self.report.add(record.where, f"post id {record.post_id} of source {record.source} "
                        f"was given by source {first[0]} too (at {first[1]}): both would be "
                        f"post {self.source}:{record.post_id}; kept the first (an export of "
                        "several sources imported with no source name keeps them apart: "
                        "leave the import dialog's Source name empty, the CLI's --source out)")
        return True

    def _needs_inspection(self, record: PostRecord, post_items: list[ItemRow] | None,
                          missing: set[str]) -> list[MediaRef]:
        """The media of a record that are not yet stored, or stored as missing."""
        out = []
        for ref in record.media:
            if ref.path is None:
                continue
            match = self._match(ref, post_items or [])
            if match is None or match.declared_path in missing:
                out.append(ref)
        return out

    @staticmethod
    def _match(ref: MediaRef, items: list[ItemRow]) -> ItemRow | None:
        for item in items:
            if item.media is None:
                continue
            if (ref.n is not None and item.n == ref.n) or (
                    ref.n is None and item.declared_path == ref.declared):
                return item
        return None

    def inspect(self, records: list[PostRecord]) -> dict[Path, ImageFacts]:
        """Check the records' images not stored yet (hash, trial decode), by path.

        Read-only look-ups and file reads: call it before taking the write lock, as
        :meth:`write_batch` does, so that other writers (the app's labels) do not wait
        while a batch of photos is read from a slow drive."""
        todo: dict[Path, MediaRef] = {}
        for record in records:
            # Here, before the id is first looked up: SQLite refuses half a surrogate pair.
            self._replace_lone_surrogates(record)
            post = self.store.find_post(self.source_of(record), record.post_id)
            items = self.store.items_of_post(post.id) if post else None
            missing = self.store.missing_media_paths(post.id) if post else set()
            for ref in self._needs_inspection(record, items, missing):
                assert ref.path is not None
                todo.setdefault(ref.path, ref)
        return dict(zip(todo, self.pool.map(
            lambda p: inspect_image(p, self.limits), todo), strict=True))

    def write_batch(self, records: list[PostRecord],
                    facts: dict[Path, ImageFacts] | None = None) -> None:
        """Write the batch in one transaction. Its new images are checked first, before
        the transaction, unless ``facts`` (from :meth:`inspect`) are given: a caller
        writing the batch inside its own transaction checks them before beginning it."""
        if facts is None:
            facts = self.inspect(records)
        self.schemes = self.store.schemes()  # cached by the store until the data changes
        with self.store.transaction():
            for source in dict.fromkeys(map(self.source_of, records)):
                if self.register and source not in self.registered:
                    self.register(source)
                    self.registered.add(source)
            for record in records:
                self.report.records += 1
                if self._merged_away(record):
                    continue
                self._store_time(record)
                key = (self.source_of(record), record.post_id)
                counts, seen = self._counts(), key in self.first_seen
                self._tallied = []
                try:
                    with self.store.transaction():
                        self._write(record, facts)
                except Exception as exc:  # noqa: BLE001 - report it, keep importing
                    # The record was rolled back: so are its counts.
                    self._restore_counts(record, counts, seen)
                    self.report.add(record.where, f"post {record.post_id} not imported: "
                                    f"{type(exc).__name__}: {exc}")
                    continue
                self._count_known(record, counts, seen)
                for ref in self._tallied:
                    if ref.tally is not None:
                        ref.tally.add(record, ref)
                        self.tallies.setdefault(ref.tally)

    def _count_known(self, record: PostRecord, counts: tuple, seen: bool) -> None:
        """Count a stored record that added nothing to the project (``counts``: the
        report's before it; ``seen``: its post was added by this import already), or
        one of an export that added a post its own source has."""
        if not seen and self._counts() == counts:
            self.report.records_known += 1
        elif record.source not in (None, self.source_of(record)) and \
                self.report.posts_added > counts[0][0] and \
                self.store.find_post(record.source, record.post_id) is not None:
            self.filed_again.setdefault(record.source, [0, record.where.file])[0] += 1

    def _store_time(self, record: PostRecord) -> None:
        """The post's time in the store's format (UTC ISO 8601), so that sorting by time
        is right across sources that write times differently; one it cannot read is
        kept as written, with a warning."""
        if not record.created_at:
            return
        stored = post_time(record.created_at)
        if stored is None:
            self.report.add(record.where, f"post {record.post_id}: created_at "
                            f"{record.created_at!r} is no time crisisdesk reads (ISO 8601, "
                            "Twitter's, RFC 2822 or Unix time); kept as written, so sorting "
                            "by time may place it wrongly", "warning")
        else:
            record.created_at = stored

    def _replace_lone_surrogates(self, record: PostRecord) -> None:
        """Put U+FFFD in place of half surrogate pairs in the record's texts, with a
        warning: without it the whole post fails to store for one broken character (the
        whole import, for one in its id)."""
        fixed = []
        if LONE_SURROGATE.search(record.post_id):
            record.post_id = LONE_SURROGATE.sub("\ufffd", record.post_id)
            fixed.append("id")
        for name, value in record.post_fields().items():
            if isinstance(value, str) and LONE_SURROGATE.search(value):
                setattr(record, name, LONE_SURROGATE.sub("\ufffd", value))
                fixed.append(name)
        for ref in record.media:
            if LONE_SURROGATE.search(ref.declared):  # its file was not looked for
                ref.declared = LONE_SURROGATE.sub("\ufffd", ref.declared)
                fixed.append("image path")
            if ref.alt_text and LONE_SURROGATE.search(ref.alt_text):
                ref.alt_text = LONE_SURROGATE.sub("\ufffd", ref.alt_text)
                fixed.append("alt_text")
        if fixed:
            self.report.add(record.where, f"post {record.post_id}: {', '.join(fixed)} "
                            "held half of a UTF-16 surrogate pair (an emoji cut in two?); "
                            "replaced with \ufffd", "warning")

    _COUNTERS = ("posts_added", "items_added", "media_attached", "labels_added",
                 "splits_added")

    def _counts(self) -> tuple:
        report = self.report
        return tuple(getattr(report, c) for c in self._COUNTERS), dict(report.media_added)

    def _restore_counts(self, record: PostRecord, counts: tuple, seen: bool) -> None:
        values, media_added = counts
        for name, value in zip(self._COUNTERS, values, strict=True):
            setattr(self.report, name, value)
        self.report.media_added = media_added
        if not seen:
            self.first_seen.pop((self.source_of(record), record.post_id), None)

    def _write(self, record: PostRecord, facts: dict[Path, ImageFacts]) -> None:
        store, report, source = self.store, self.report, self.source_of(record)
        post = store.find_post(source, record.post_id)
        if post is None:
            post_pk = store.insert_post(source, record.post_id, **record.post_fields())
            report.posts_added += 1
            self.first_seen[(source, record.post_id)] = record.where
        else:
            post_pk = post.id
            if record.text and post.text != record.text:
                first = self.first_seen.get((source, record.post_id))
                report.add(record.where, f"post {record.post_id}: text differs from the one "
                           f"kept{f' (from {first})' if first else ''}; kept the first",
                           "warning")
            if record.sensitive is not None:
                store.mark_sensitive(post_pk, record.sensitive)
        items = store.items_of_post(post_pk)
        targets: list[int] = []
        for ref in record.media:
            match = self._match(ref, items)
            if match is not None:
                if ref.alt_text and match.media is not None:
                    store.fill_alt_text(match.media, ref.alt_text)
                if ref.path is not None and ref.path in facts:
                    if store.update_missing_media(match.media, str(ref.path), facts[ref.path]):
                        report.media_attached += 1
                    elif match.media is not None and facts[ref.path].status == "missing":
                        self.still_missing.setdefault(match.media, ref.declared)
                targets.append(match.id)
                continue
            n = ref.n if ref.n is not None else self._next_n(items)
            if ref.path is not None:
                fact = facts.get(ref.path) or inspect_image(ref.path, self.limits)
            else:
                fact = ImageFacts(ref.status or "missing", ref.reason)
            item = store.add_media_item(
                post_pk, source, record.post_id, n,
                path=str(ref.path) if ref.path else None, declared_path=ref.declared,
                external_id=ref.external_id, status=fact.status, reason=fact.reason,
                sha256=fact.sha256, size=fact.size, width=fact.width, height=fact.height,
                alt_text=ref.alt_text)
            if fact.status == "missing" and ref.tally is not None:
                self._tallied.append(ref)  # said in the parser's summary
            elif fact.status != "ok" and not ref.quiet:
                report.add(record.where, f"image {ref.declared}: {fact.status}: {fact.reason}")
            report.media_added[fact.status] = report.media_added.get(fact.status, 0) + 1
            if not any(i.id == item for i in items):
                report.items_added += 1
            items = store.items_of_post(post_pk)
            targets.append(item)
        if not record.media:
            if not items:
                targets.append(store.add_text_item(post_pk, source, record.post_id))
                report.items_added += 1
            else:
                targets.extend(i.id for i in items)
        self._write_labels(record, targets)

    @staticmethod
    def _next_n(items: list[ItemRow]) -> int:
        # A lone text-only item at 0 takes the post's first image.
        if len(items) == 1 and items[0].media is None:
            return items[0].n
        return max((i.n for i in items), default=-1) + 1

    def _write_labels(self, record: PostRecord, targets: Iterable[int]) -> None:
        changes: list[LabelChange] = []
        # Once each: a row naming one image twice ("a.jpg; a.jpg") matches its item
        # twice, which got two identical label rows and counted as two labels.
        targets = list(dict.fromkeys(targets))
        for ref in record.labels:
            scheme = self.schemes.get(ref.task)
            if scheme is None:
                self.report.add(record.where, f"unknown task {ref.task!r}; label ignored "
                                f"(known: {', '.join(self.schemes)})", "warning")
                continue
            label = scheme.normalise(ref.label)
            if label is None:
                self.report.add(record.where, f"{ref.label!r} is not a class of task "
                                f"{ref.task} ({', '.join(scheme.classes)}); label ignored")
                continue
            split = SPLIT_ALIASES.get(ref.split.strip().lower()) if ref.split else None
            if ref.split and split is None:
                self.report.add(record.where, f"unknown split {ref.split!r}; split ignored",
                                "warning")
            given = self._provenance(record.where, ref)
            source = given.get("source") or "import"
            for item in targets:
                if split and self.store.set_split(item, ref.task, split):
                    self.report.splits_added += 1
                if self.store.has_label_row(item, ref.task, label, source,
                                            given.get("annotator")):
                    continue
                if self._corrected(record, item, ref.task, label):
                    continue
                changes.append(LabelChange(item, ref.task, label, **given))
        if changes:
            self.store.add_labels(changes, annotator=self.source_of(record), source="import",
                                  skip_unchanged=False)
            self.report.labels_added += len(changes)

    def _corrected(self, record: PostRecord, item: int, task: str, label: str) -> bool:
        """Whether an analyst gave (item, task) its label now, another than ``label``:
        a source that changed its mind (a re-import of an updated file), or an export of
        another project whatever provenance its rows carry, must not undo a correction
        without a word. Reported, with both labels, when so."""
        last = self.store.latest_label_row(item, task)
        if last is None or last["source"] != "human" or last["label"] == label:
            return False
        if last["label"] is None and last["kind"] == "undo":
            return False  # an analyst took their own label back: no decision of theirs stands
        given = "cleared its label" if last["label"] is None else \
            f"labelled it {last['label']!r}"
        self.report.add(record.where, f"post {record.post_id}: the source's {task} label "
                        f"{label!r} not taken: an analyst ({last['annotator']}) {given}, "
                        "which is kept", "warning")
        return True

    def _provenance(self, where: Where, ref: LabelRef) -> dict[str, str]:
        """Who gave a label and when, as the source says (an export of another project):
        the :class:`LabelChange` fields to keep. An unknown source makes it a plain
        imported label; an unreadable time leaves the import's time."""
        given: dict[str, str] = {}
        if ref.source:
            source = ref.source.strip().lower()
            if source not in LABEL_SOURCES:
                self.report.add(where, f"{ref.task}: unknown label source {ref.source!r} "
                                f"(known: {', '.join(LABEL_SOURCES)}); imported as an "
                                "import label", "warning")
                return {}
            given["source"] = source
        if ref.annotator:
            given["annotator"] = ref.annotator
        if ref.labelled_at:
            try:
                given["given_at"] = store_time(ref.labelled_at)
            except (ValueError, OverflowError):  # overflow: out of range once in UTC
                self.report.add(where, f"{ref.task}: labelled_at {ref.labelled_at!r} is not "
                                "an ISO-8601 time; the label keeps the import's time",
                                "warning")
        return given
