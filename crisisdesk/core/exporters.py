"""Exports of labels: CSV, JSONL and CrisisMMD-style TSV.

Each export holds, per item and task, the current label (with who gave it), the split,
and the latest prediction with its confidence; CSV and JSONL add the caption the item's
text holds, with its captioner, and which text each prediction read. Files are written to
a temporary name and renamed into place, so a crash never leaves half a file where the
export should be.

An export is also a job (:meth:`Exporter.writing`): it yields its progress every
:data:`PROGRESS_ROWS` items, and closed at one of those (a Cancel) it leaves no file.

The CSV can also be written for reading in a spreadsheet (``for_spreadsheet``): a UTF-8
byte order mark, and text cells that a spreadsheet would run as a formula quoted. Such a
file is for people, not for re-import: the quote marks stay in the text.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

from crisisdesk.core.columns import PROVENANCE_KEYS
from crisisdesk.core.files import atomic_write, atomic_writes
from crisisdesk.core.progress import Progress
from crisisdesk.core.store import Store

EXPORT_FORMATS = ("csv", "jsonl", "crisismmd")
# ``image_id``: the CrisisMMD image id an item was imported with, when it has one (a
# tweet can carry another tweet's image, ``<other id>_0``); without it a re-import named
# the item ``<post id>_<n>`` and the image id no longer found it.
POST_COLUMNS = ("item_id", "source", "post_id", "n", "event", "platform", "created_at",
                "author", "language", "url", "text", "image", "image_id", "image_sha256",
                "sensitive", "alt_text")
TASK_COLUMNS = ("label", *PROVENANCE_KEYS, "split", "prediction", "confidence",
                "model_version")
# What a prediction read (a head reads the tweet, then the item's caption): the caption
# the item's text holds, who wrote it (the captioner, its cache key) and with what
# (model, and where it ran); then, per task, ``<task>_prediction_read``: which text the
# exported prediction read (queries.prediction_read). After every column of before, so
# sheets and scripts that read the CSV by position go on working. Not read back on
# import: a caption is model text the other project's captioner writes itself.
CAPTION_COLUMNS = ("caption", "captioner", "caption_model")
READ_KEY = "prediction_read"
# A cell starting with one of these is run as a formula by Excel and LibreOffice (OWASP
# "CSV injection"); OWASP lists tab and carriage return too, as some spreadsheets drop
# leading whitespace before they read the cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Names a CrisisMMD export of several tasks refuses as its folder: they name files.
TABLE_SUFFIXES = (".tsv", ".csv", ".jsonl", ".json", ".txt", ".xlsx")
#: Items an export writes between two progress reports (and two chances to cancel): 50
#: reports at 100,000 items, a CSV of which takes some 3.5 s.
PROGRESS_ROWS = 2_000


def hash_author(author: str | None, salt: str) -> str | None:
    """A stable pseudonym for an author handle: the same handle gives the same hash
    within a project, and the salt keeps it from being looked up in a table."""
    if not author:
        return author
    return "anon-" + hashlib.sha256(f"{salt}:{author}".encode()).hexdigest()[:16]


def model_name(described: str | None) -> str | None:
    """The model's own name in a ``caption_model`` cell, for an export with authors
    hashed: a local model's folder is written as its path (``/home/alice/models/llava``
    names the user) and a server's model with its URL (``llava via http://alice-pc:8000``):
    only the folder's last part is kept, with the settings in brackets after it."""
    if not described:
        return described
    text, settings = described, ""
    model, via, url = described.rpartition(" via ")
    if via and re.match(r"[a-z][a-z0-9+.-]*://", url, re.IGNORECASE):
        text = model
    elif text.endswith(")") and " (" in text:  # "<folder> (<quant>, <dtype>)"
        text, _, rest = text.rpartition(" (")
        settings = f" ({rest}"
    return re.split(r"[\\/]", text.rstrip("\\/"))[-1] + settings


def spreadsheet_safe(value: object) -> object:
    """A cell value that a spreadsheet shows as text: a string that starts like a formula
    gets a leading ``'`` (OWASP's advice); numbers and other strings are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _column(task: str, key: str) -> str:
    return task if key == "label" else f"{task}_{key}"


class Exporter:
    """Writes the labels of a project's items in one of :data:`EXPORT_FORMATS`.

    ``for_spreadsheet`` (CSV only) writes a CSV to open in Excel or LibreOffice: a UTF-8
    BOM and formula-looking text cells quoted (see :func:`spreadsheet_safe`).
    """

    def __init__(self, store: Store, *, tasks: list[str] | None = None,
                 only_corrected: bool = False, hash_authors: bool = False,
                 for_spreadsheet: bool = False) -> None:
        known = list(store.schemes())  # the project's own tasks are exported too
        for task in tasks or []:
            if task not in known:
                raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(known)}")
        self.store, self.tasks = store, tasks or known
        self.only_corrected, self.salt = only_corrected, store.salt() if hash_authors else None
        self.for_spreadsheet = for_spreadsheet
        self.files: list[Path] = []  # the files the last export wrote, once in place
        # The files the last export would replace that were there before it: a Cancel
        # leaves them as they were (see cancelled_note).
        self.before: list[Path] = []
        self._targets: list[Path] = []

    def items(self) -> Iterator[dict[str, Any]]:
        """The items to export, authors hashed when asked, and then without the post's
        URL (the post id stays, for re-import) and with the caption model's name alone
        (:func:`model_name`)."""
        for item in self.store.export_items(self.tasks, only_corrected=self.only_corrected):
            item["image_id"] = item.get("external_id")
            if self.salt is not None:
                item["author"] = hash_author(item["author"], self.salt)
                # A post's URL names its poster (x.com/<handle>/status/.., Mastodon's
                # /@<user>/.., Bluesky's profile/<handle>/..; a Bluesky repost's, the
                # original poster): kept, it undid the hash.
                item["url"] = None
                # A local model's folder names the user, a server's URL their machine.
                item["caption_model"] = model_name(item["caption_model"])
            yield item

    def write(self, out: Path, fmt: str) -> list[Path]:
        """Write the export; return the files written."""
        for _progress in self.writing(out, fmt):
            pass
        return self.files

    def writing(self, out: Path, fmt: str) -> Iterator[Progress]:
        """Write the export as a job: yield its :class:`Progress` in items, every
        :data:`PROGRESS_ROWS` of them, then once the files are in place
        (:attr:`files`). Closed at a yield (a Cancel), it leaves no file written, a
        file it would have replaced as it was, and no folder it made."""
        if self.for_spreadsheet and fmt != "csv":
            raise ValueError(f"the spreadsheet export is CSV only, not {fmt}")
        writers: dict[str, Callable[[Path], Iterator[int]]] = {
            "csv": self._csv, "jsonl": self._jsonl, "crisismmd": self._crisismmd}
        if fmt not in writers:
            raise ValueError(f"unknown export format {fmt!r} (one of "
                             f"{', '.join(EXPORT_FORMATS)})")
        self.files, self._targets = [], self.targets(out, fmt)
        self.before = [path for path in self._targets if path.exists()]
        made = _folders_made_for(self._targets[0])
        try:
            # One read transaction: the items are read a chunk at a time, and an import
            # or a label committed meanwhile must not give some rows the state from
            # before it and others the state after (an item whose labels are missing).
            with self.store.snapshot():
                total = self.store.export_count(self.tasks,
                                                only_corrected=self.only_corrected)
                yield Progress(0, total, f"writing {out.name}")
                # Closed here, not when collected: the temp files go with the Cancel.
                with closing(writers[fmt](out)) as written:
                    for done in written:
                        yield Progress(done, total, f"writing {out.name}")
        except BaseException:
            # A Cancel (or a full disk) left the folders made for the export empty: an
            # empty "crisismmd" folder read as an export that had written nothing.
            for folder in made:
                with suppress(OSError):  # not empty: something else is in it now
                    folder.rmdir()
            raise
        yield Progress(total, total, f"wrote {', '.join(f.name for f in self.files)}")

    def cancelled_note(self, out: Path) -> str:
        """What a cancelled export to ``out`` left, to say after "Cancelled; ": no file
        written, and the files from before (:attr:`before`) as they were, or none there."""
        if self._targets == [out]:
            return f"{out} not written " + (
                "(the file there is left as it was)" if self.before else
                "(no file was there, and none is now)")
        if len(self.before) > 1:
            return (f"nothing written to {out}: the {len(self.before)} files there from "
                    "before are left as they were")
        if self.before:
            return (f"nothing written to {out}: {self.before[0].name} there from before "
                    "is left as it was")
        return f"nothing written to {out}" + (
            " (the folder is left as it was)" if out.is_dir() else
            " (no folder was made)")

    def targets(self, out: Path, fmt: str) -> list[Path]:
        """The files an export to ``out`` in ``fmt`` writes: ``out``, or for a CrisisMMD
        export of several tasks one file per task in the folder ``out`` (ValueError for
        an ``out`` that cannot be that folder)."""
        if fmt != "crisismmd":
            return [out]
        # One task: a file, when OUT has a suffix or is a file already (an older export
        # named without a suffix; refused, the message said to give --task, as given).
        if len(self.tasks) == 1 and (out.suffix or out.is_file()):
            return [out]
        if out.exists() and not out.is_dir():
            raise ValueError(f"{out} is a file: a CrisisMMD export of several tasks "
                             "writes one file per task into a folder; give a folder, "
                             "or --task TASK for one file")
        if not out.is_dir() and out.suffix.lower() in TABLE_SUFFIXES:
            # Else a folder named "labels.tsv" appeared where a file was meant.
            raise ValueError(f"{out} names a file: a CrisisMMD export of several tasks "
                             "writes one file per task into a folder; give a folder "
                             "name, or --task TASK for one file")
        return [out / f"task_{t}_text_img.tsv" for t in self.tasks]

    def _csv(self, out: Path) -> Iterator[int]:
        """One row per item: the post's fields, then per task label, split, prediction,
        then the caption and per task the text its prediction read (CAPTION_COLUMNS).
        Yields how many items are written, every PROGRESS_ROWS."""
        header = list(POST_COLUMNS) + [_column(t, k) for t in self.tasks for k in TASK_COLUMNS]
        header += [*CAPTION_COLUMNS, *(_column(t, READ_KEY) for t in self.tasks)]
        with atomic_write(out) as handle:
            if self.for_spreadsheet:
                handle.write("\ufeff")  # without it Excel reads the file as the local code page
            writer = csv.writer(handle)
            writer.writerow(header)
            for done, item in enumerate(self.items(), 1):
                row = [item[c] for c in POST_COLUMNS]
                row += [item["tasks"][t][k] for t in self.tasks for k in TASK_COLUMNS]
                row += [item[c] for c in CAPTION_COLUMNS]
                row += [item["tasks"][t][READ_KEY] for t in self.tasks]
                cells = ["" if v is None else v for v in row]
                if self.for_spreadsheet:
                    cells = [spreadsheet_safe(v) for v in cells]
                writer.writerow(cells)
                if done % PROGRESS_ROWS == 0:
                    yield done
        self.files = [out]

    def _jsonl(self, out: Path) -> Iterator[int]:
        """One JSON object per item, with a ``tasks`` object per task."""
        with atomic_write(out) as handle:
            for done, item in enumerate(self.items(), 1):
                record = {c: item[c] for c in (*POST_COLUMNS, *CAPTION_COLUMNS)}
                record["tasks"] = item["tasks"]
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                if done % PROGRESS_ROWS == 0:
                    yield done
        self.files = [out]

    def _crisismmd(self, out: Path) -> Iterator[int]:
        """CrisisMMD's TSV columns, one file per task (``OUT`` a folder for several tasks).

        Only labelled items are written, as in CrisisMMD's own split files; the
        prediction, its confidence and the model version that made it follow as extra
        columns (without the version a zero-shot guess read like a trained head's).
        """
        targets = dict(zip(self.tasks, self.targets(out, "crisismmd"), strict=True))
        header = ["event_name", "tweet_id", "image_id", "tweet_text", "image", "label",
                  "split", "label_source", "prediction", "confidence", "model_version"]
        # Every task's file is written in one pass over the items (held in a list, a
        # project of 300,000 items took gigabytes). All files or none: with one held open
        # (Excel) the others were replaced, a folder of two exports' files.
        with atomic_writes(list(targets.values())) as handles:
            writers = {}
            for task, handle in zip(targets, handles, strict=True):
                # Before Python 3.13 a writer quotes only its line terminator's characters:
                # a lone "\r" in a text would go out bare and end the row for any reader.
                writers[task] = (
                    csv.writer(handle, dialect="excel-tab", lineterminator="\n"),
                    csv.writer(handle, dialect="excel-tab", lineterminator="\n",
                               quoting=csv.QUOTE_ALL))
                writers[task][0].writerow(header)
            for done, item in enumerate(self.items(), 1):
                for task, (writer, quoted) in writers.items():
                    entry = item["tasks"][task]
                    # A per-task file: "only corrected" means corrected in this task (an
                    # item corrected in another task keeps its imported label here).
                    if entry["label"] is None or (self.only_corrected and
                                                  entry["label_source"] != "human"):
                        continue
                    row = ["" if v is None else v for v in (
                        item["event"], item["post_id"], _image_id(item),
                        item["text"], item["image"], entry["label"], entry["split"],
                        entry["label_source"], entry["prediction"], entry["confidence"],
                        entry["model_version"])]
                    bare_cr = any(isinstance(v, str) and "\r" in v for v in row)
                    (quoted if bare_cr else writer).writerow(row)
                if done % PROGRESS_ROWS == 0:
                    yield done  # items read: of a task's file, only the labelled are rows
        self.files = list(targets.values())


def _folders_made_for(path: Path) -> list[Path]:
    """The folders above ``path`` that a write of it makes (none there yet), deepest
    first: those a Cancel removes again once empty."""
    return [folder for folder in path.parents if not folder.exists()]


def _image_id(item: dict) -> str:
    """The item's CrisisMMD image id: the one it was imported with (a tweet can carry
    another tweet's image, ``<other id>_0``), else ``<post id>_<n>``."""
    return item.get("external_id") or f"{item['post_id']}_{item['n']}"
