"""The import job: detect each source's format, parse it, write it, report.

``ImportJob(project, sources, options).run()`` is a generator yielding Progress; closing
it stops the import after the batch in hand is committed. The report is saved in the
project's ``reports/`` folder in every case and kept on ``job.report``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crisisdesk.core.files import save_report
from crisisdesk.core.imaging import IMAGE_SUFFIXES, ImageLimits
from crisisdesk.core.importers.archive import (
    ArchiveLimits,
    archive_place,
    extract_zip,
    mark_archive_folder,
)
from crisisdesk.core.importers.collectors import (
    COLLECTOR_FORMATS,
    parse_collector,
    sniff_collector,
)
from crisisdesk.core.importers.crisismmd import (
    SOURCE_NAME as CRISISMMD,
)
from crisisdesk.core.importers.crisismmd import (
    folder_files,
    is_crisismmd_file,
    parse_crisismmd,
    split_files,
)
from crisisdesk.core.importers.folder import find_manifest, parse_folder
from crisisdesk.core.importers.jsonsource import json_lines, lazy_lines
from crisisdesk.core.importers.naming import derived_source_name, given_name_problem
from crisisdesk.core.importers.records import (
    Expected,
    ImportReport,
    Parsed,
    PostRecord,
    Problem,
    Where,
    shown_name,
    unstorable_name,
)
from crisisdesk.core.importers.rows import source_cell_problem
from crisisdesk.core.importers.tabular import (
    media_index_column,
    parse_csv,
    parse_jsonl,
    table_delimiter,
)
from crisisdesk.core.importers.textio import (
    MAX_SIDECAR_BYTES,
    TextFileError,
    csv_lines,
    read_text_file,
)
from crisisdesk.core.importers.writer import RecordWriter
from crisisdesk.core.jobs import tracked
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.schemes import LabelScheme
from crisisdesk.core.store import Store
from crisisdesk.core.words import both_names, first_few, plural

FORMATS = ("auto", "folder", "csv", "jsonl", "crisismmd", *COLLECTOR_FORMATS)
BATCH = 256


class SourceError(Exception):
    """A source that cannot be imported at all: ``str()`` is "path: reason"; an import
    report, which names the file already, shows ``reason`` alone."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@dataclass
class ImportOptions:
    """How to read the sources of one import."""

    format: str = "auto"
    images_root: Path | None = None
    event: str | None = None
    source: str | None = None  # the source's stable name; default from the path
    platform: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    image_limits: ImageLimits = field(default_factory=ImageLimits)
    archive_limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    workers: int = 4

    def __post_init__(self) -> None:
        # Refused before any job writes: the name goes into every item id (the CLI and
        # the import dialog say so first, naming their own option).
        if self.source and (why := given_name_problem(self.source)):
            raise ValueError(f"source name {self.source!r} {why}")


def detect_format(path: Path) -> str:
    """Guess the format of a source path; raises SourceError when there is no guess."""
    if not path.exists():
        raise SourceError(path, "no such file or folder")
    if path.is_dir():
        if find_manifest(path) is None and split_files(path):
            return "crisismmd"
        return "folder"
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return "zip"
    if is_crisismmd_file(path):
        return "crisismmd"
    if suffix in (".csv", ".tsv"):
        return "csv"
    # Collectors name their files freely: twarc2, Mastodon and Bluesky are told by content.
    collector = sniff_collector(path)
    if collector is not None:
        return collector
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise SourceError(path, "cannot tell the format from the name; choose it "
                      f"({both_names('Format', '--format')})")


def source_name(store: Store, path: Path, fmt: str, given: str | None) -> str:
    """The stable name posts of this source are filed under (see
    :func:`~crisisdesk.core.importers.naming.derived_source_name`)."""
    if given:
        return given
    if fmt == "crisismmd":
        return CRISISMMD
    return derived_source_name(store, path, path.name if path.is_dir() else path.stem,
                               "source")


def export_sources(path: Path, fmt: str) -> set[str]:
    """The sources the rows of crisisdesk's own CSV or JSONL export name (its ``source``
    column), up to two: enough to tell an export of several. Only those cells are read
    (parsing the rows whole took as long again as the import's own parse); none for
    another table."""
    try:
        text, _ = read_text_file(path)
    except TextFileError:
        return set()  # the import says why
    cells: Iterator[Any]
    if fmt == "csv":
        text, delimiter = table_delimiter(text, "\t" if path.suffix.lower() == ".tsv" else ",")
        rows = csv.reader(csv_lines(text), delimiter=delimiter)
        try:
            header = next(rows, [])
        except csv.Error:
            return set()  # an unreadable header row: the import reports it
        at = next((i for i, name in enumerate(header) if name.strip().lower() == "source"),
                  None)
        if at is None or media_index_column(header) is None:
            return set()
        cells = (row[at] for row in rows if len(row) > at)
    else:
        objects = (entry[1] for entry in json_lines(str(path), enumerate(lazy_lines(text)))
                   if not isinstance(entry, Problem))
        cells = (obj.get("source") for obj in objects if isinstance(obj, dict)
                 and media_index_column(list(obj)) is not None)
    found: set[str] = set()
    try:
        for cell in cells:
            # A cell the rows read as empty (see RowReader.parse_row) names no source.
            if isinstance(cell, str) and cell.strip() and \
                    source_cell_problem(cell.strip()) is None:
                found.add(cell.strip())
            if len(found) > 1:
                break
    except csv.Error:
        pass  # a malformed row: the import reports it
    return found


def data_files(folder: Path) -> list[Path]:
    """The tables and collector files at the top of a folder (not its posts' sidecars)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    image_stems = {p.stem for p in files if p.suffix.lower() in IMAGE_SUFFIXES}
    return [p for p in files
            if p.suffix.lower() in (".csv", ".tsv", ".jsonl", ".ndjson", ".json") and
            not _is_sidecar(p, image_stems)]


def _is_sidecar(path: Path, image_stems: set[str]) -> bool:
    """Whether a ``.json`` file is a post's sidecar (not a table): it sits next to a
    same-stem image, or it holds one JSON object (a table is a list, or JSON Lines)."""
    if path.suffix.lower() != ".json":
        return False
    if path.stem in image_stems:
        return True
    try:
        text, _ = read_text_file(path, MAX_SIDECAR_BYTES)
        return isinstance(json.loads(text), dict)
    except (TextFileError, ValueError):
        return False


class ImportJob:
    """One import of one or more sources into a project."""

    kind = "import"

    def __init__(self, project: Project, sources: list[Path], options: ImportOptions) -> None:
        self.project, self.sources, self.options = project, sources, options
        self.report = ImportReport()
        self.report_path: Path | None = None
        self.report_not_saved = ""  # why the report could not be written, if it could not
        # The project's label schemes (read when the store opens): tables hold labels of
        # its own tasks too.
        self.schemes: dict[str, LabelScheme] | None = None
        # The data files (tables, manifests, collector files) parsed for the source in
        # hand: an error naming one of them with no row is about the file as a whole.
        self._data_files: set[str] = set()

    def _parse(self, path: Path, fmt: str, name: str
               ) -> Iterator[Parsed]:
        opts = self.options
        defaults = {"event": opts.event, "platform": opts.platform}
        if fmt == "zip":
            place = archive_place(path, self.project.folder("media"), name)
            folder, problems = extract_zip(path, place.folder, opts.archive_limits)
            mark_archive_folder(place, path, problems)
            yield from problems
            if folder is None:
                raise SourceError(path, "archive not imported")
            # Imported as the unpacked folder would be (taken for the archive's one table
            # when it had one, the folder's other posts were left out without a word).
            yield from self._parse(folder, detect_format(folder), name)
        elif fmt == "crisismmd":
            files, copies = folder_files(path) if path.is_dir() else ([path], [])
            yield from copies
            self._data_files.update(str(file) for file in files)
            for file in files:
                yield from parse_crisismmd(file, opts.images_root)
        elif fmt == "folder":
            manifest = find_manifest(path)
            tables = [] if manifest is not None else data_files(path)
            self._data_files.update(str(file) for file in [manifest, *tables] if file)
            # Data files at the top (twarc / Mastodon / Bluesky files, tables): each is
            # imported as if given by itself, its posts filed under the folder's name,
            # as a watch of the folder would; first, as the images their rows name are
            # those rows' posts' (each was a text-less post of its own too).
            named: set[Path] = set()
            for table in tables:
                try:
                    inner = detect_format(table)
                except SourceError as exc:
                    yield Problem(Where(str(exc.path)), exc.reason)
                    continue
                for entry in self._parse(table, inner, name):
                    if isinstance(entry, PostRecord):
                        named.update(ref.path for ref in entry.media if ref.path)
                    yield entry
            yield from parse_folder(path, opts.mapping, defaults, opts.images_root,
                                    skip=set(tables), schemes=self.schemes, named=named)
        elif fmt in ("csv", "jsonl"):
            self._data_files.add(str(path))
            parse = parse_csv if fmt == "csv" else parse_jsonl
            # An export of several sources files each row under its own (posts of two
            # sources may share an id); one of a single source, as any table.
            own = self.options.source is None and len(export_sources(path, fmt)) > 1
            for entry in parse(path, opts.images_root or path.parent, opts.mapping,
                               defaults, self.schemes):
                if isinstance(entry, PostRecord):
                    entry.own_source = own
                yield entry
        elif fmt in COLLECTOR_FORMATS:
            if path.is_dir():
                raise SourceError(path, f"a folder; give {fmt} files (or use --watch)")
            self._data_files.add(str(path))
            yield from parse_collector(path, fmt, defaults)
        else:
            raise SourceError(path, f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")

    def run(self) -> Iterator[Progress]:
        """Import every source, yielding progress after each committed batch."""
        params = {"sources": [str(s) for s in self.sources], "format": self.options.format}
        return tracked(self.project, self.kind, params, self._run(),
                       problems=lambda: len(self.report.problems),
                       result=self.report.counts)

    def _run(self) -> Iterator[Progress]:
        self._done = self._total = 0
        store = self.project.open_store()
        self.schemes = store.schemes()
        try:
            for path in self.sources:
                yield from self._import_source(store, Path(path))
        except (GeneratorExit, KeyboardInterrupt):
            self.report.cancelled = True
            raise
        finally:
            self.report_path, self.report_not_saved = save_report(
                lambda: self.project.folder("reports"), "import", self.report.to_json())
            store.close()

    def _import_source(self, store: Store, path: Path) -> Iterator[Progress]:
        """Stream one source's records into the store in batches.

        Records are written as they are parsed, so memory stays flat however large the
        source; parsers announce an ``Expected`` count first, which sets the total.
        """
        if why := unstorable_name(path):
            self.report.add(Where(shown_name(path)), why)
            self.report.unusable_sources += 1
            return
        try:
            fmt = detect_format(path) if self.options.format == "auto" else self.options.format
            if fmt == "zip" and path.suffix.lower() != ".zip":
                raise SourceError(path, "not a .zip file")
        except SourceError as exc:
            self.report.add(Where(str(exc.path)), exc.reason)
            self.report.unusable_sources += 1
            return
        name = source_name(store, path, fmt, self.options.source)
        writer: RecordWriter | None = None
        batch: list[PostRecord] = []
        expected = seen = 0
        unusable = whole_file_error = False
        self._data_files = {str(path)}
        try:
            entries = self._parse(path, fmt, name)
            while True:
                try:
                    entry = next(entries, None)
                except SourceError as exc:
                    self.report.add(Where(str(exc.path)), exc.reason)
                    unusable = True
                    entry = None
                if isinstance(entry, Expected):
                    expected += entry.count
                    self._total += entry.count
                    continue
                if isinstance(entry, Problem):
                    self.report.problems.append(entry)
                    whole_file_error |= (entry.severity == "error" and entry.where.row is None
                                         and entry.where.file in self._data_files)
                    continue
                if entry is not None:
                    batch.append(entry)
                    seen += 1
                if batch and (len(batch) >= BATCH or entry is None):
                    if writer is None:
                        writer = self._start_writer(store, path, fmt, name)
                    writer.write_batch(batch)
                    self._done += len(batch)
                    batch = []
                    if entry is None:
                        # The announced count was an estimate: settle on what came.
                        self._total += seen - expected
                    yield Progress(self._done, max(self._total, self._done),
                                   f"{path.name}: {self.report.posts_added} new posts")
                if entry is None:
                    break
            # Nothing read, for want of the file itself (a --map naming a column it
            # lacks, no id column, an empty file): the source is unusable as a whole,
            # as a missing one is, not a source whose rows had problems.
            if unusable or (seen == 0 and whole_file_error):
                self.report.unusable_sources += 1
        finally:
            if writer is not None:
                writer.close()
                for tally in writer.tallies:  # the parsers' summaries, now that all is stored
                    self.report.problems.extend(tally.finish())
                self._report_still_missing(path, list(writer.still_missing.values()))

    def _report_still_missing(self, path: Path, declared: list[str]) -> None:
        """One line for the stored images this import looked for again and did not find
        (they stay missing): a re-import with an ``--images-root`` that is not the right
        folder would otherwise attach nothing and say nothing."""
        if not declared:
            return
        root = self.options.images_root
        self.report.add(Where(str(path)), f"{plural(len(declared), 'image')} not found"
                        f"{f' under {root}' if root else ''}: {first_few(declared)}; "
                        "they stay missing", "warning")

    def _start_writer(self, store: Store, path: Path, fmt: str, name: str) -> RecordWriter:
        """Make the source's writer (on its first records only), which registers each
        source it files posts under: the import's, and an export's own."""
        def register(source: str) -> None:
            # CrisisMMD's split files of one setting are one source: its folder.
            location = path.parent if fmt == "crisismmd" and path.is_file() else path
            warning = store.ensure_source(source, fmt, str(location.absolute()))
            if warning:
                self.report.add(Where(str(path)), warning, "warning")
            self.report.sources.append({"path": str(path), "format": fmt, "name": source})

        return RecordWriter(store, name, self.report, self.options.image_limits,
                            self.options.workers, register)
