"""Importing embeddings computed elsewhere (another machine, a notebook) from an .npz file.

The file holds two arrays: ``ids`` (strings: item ids in any form the store resolves:
``<source>:<post id>:<n>``, a CrisisMMD image id, ``<post id>_<n>``) and ``vectors``
([n, dim] floats). It is read with ``allow_pickle=False``: a file or array that needs
pickle is refused, never run.

An image vector is stored under the item's image (its sha256, so every repost of the
photo shares it); a text vector under the key of the item's text as the store encodes it
(the post's text, then its image's caption when there is one). Ids that match no item,
or several, and items without a readable image are reported by row, never guessed.

``EmbeddingsImportJob(...).run()`` is a generator yielding Progress after each committed
chunk; ``import_embeddings`` runs it to the end and returns the report.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crisisdesk.core.files import save_report, write_json_atomic
from crisisdesk.core.importers.records import Problem, Where
from crisisdesk.core.jobs import tracked
from crisisdesk.core.models.registry import builtin_specs
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.store import Store, text_key
from crisisdesk.core.words import plural

IMPORT_KINDS = ("image", "text")
CHUNK = 1024
FLOAT16_MAX = float(np.finfo(np.float16).max)
# Two rows giving one key (a repost, a retweet, the same item twice) must agree this well.
SAME_VECTOR_TOLERANCE = 1e-3
UNIT_TOLERANCE = 1e-2


class EmbeddingsImportError(ValueError):
    """A file (or request) that cannot be imported at all; the message names the file."""


@dataclass
class EmbeddingsImportReport:
    """What an embeddings import stored and what it could not."""

    path: str
    encoder: str
    kind: str
    dim: int = 0
    rows: int = 0
    imported: int = 0  # rows whose vector is now stored
    keys: int = 0  # distinct images / texts stored
    replaced: int = 0  # of those, keys that already had a vector from this encoder
    duplicates: int = 0  # rows that repeat an earlier row's key with the same vector
    unknown: int = 0
    ambiguous: int = 0
    no_image: int = 0
    conflicts: int = 0
    problems: list[Problem] = field(default_factory=list)
    cancelled: bool = False

    def add(self, row: int | None, message: str, severity: str = "error") -> None:
        self.problems.append(Problem(Where(self.path, row), message, severity))

    @property
    def errors(self) -> int:
        return sum(p.severity == "error" for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = [{"file": p.where.file, "row": p.where.row, "severity": p.severity,
                             "message": p.message} for p in self.problems]
        return data

    def save(self, path: Path) -> None:
        """Write the report as JSON (temp file + rename)."""
        write_json_atomic(path, self.to_json())

    def summary(self, max_problems: int = 20) -> str:
        """A few lines for a terminal: counts, then the first problems."""
        lines = [
            f"{'Cancelled' if self.cancelled else 'Imported'}: {self.imported} of "
            f"{plural(self.rows, f'{self.kind} vector')} ({self.dim}-d, encoder "
            f"{self.encoder}) for {plural(self.keys, self.kind)}"
            + (f", {self.replaced} replacing stored ones" if self.replaced else ""),
            f"{plural(self.unknown, 'unknown id')}, {plural(self.ambiguous, 'ambiguous id')}"
            + (f", {plural(self.no_image, 'item')} without a readable image"
               if self.kind == "image" else "")
            + (f", {plural(self.conflicts, 'conflicting row')}" if self.conflicts else ""),
        ]
        lines += [f"  {p}" for p in self.problems[:max_problems]]
        if len(self.problems) > max_problems:
            lines.append(f"  ... and {len(self.problems) - max_problems} more in the report")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Rows:
    """The checked arrays of a file."""

    ids: list[str | None]  # None: an id that is not valid UTF-8
    vectors: np.ndarray  # float32 [n, dim]


def read_embeddings_file(path: Path) -> _Rows:
    """Load and check an .npz of ``ids`` and ``vectors``; EmbeddingsImportError if unusable."""
    path = Path(path)
    if not path.is_file():
        raise EmbeddingsImportError(f"{path}: no such file")
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as exc:
        # numpy calls any file that is neither a zip nor an .npy "pickled data"; only
        # one that starts as a pickle (protocol 2 and later: 0x80) is called so here.
        if "pickle" in str(exc).lower() and _starts_as_pickle(path):
            raise EmbeddingsImportError(
                f"{path}: holds pickled data, which crisisdesk never loads (it can run "
                "code); save the arrays with numpy.savez") from None
        if "pickle" in str(exc).lower():
            raise EmbeddingsImportError(
                f"{path}: not a numpy .npz file (neither a zip archive of arrays nor an "
                ".npy array); save the arrays with numpy.savez(path, ids=..., vectors=...)"
            ) from None
        raise EmbeddingsImportError(f"{path}: not a numpy .npz file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise EmbeddingsImportError(f"{path}: cannot read it as a numpy .npz file ({exc})"
                                    ) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise EmbeddingsImportError(f"{path}: a single array (.npy), not an .npz archive of "
                                    "'ids' and 'vectors' (numpy.savez(path, ids=..., "
                                    "vectors=...))")
    with data:
        missing = [name for name in ("ids", "vectors") if name not in data.files]
        if missing:
            raise EmbeddingsImportError(
                f"{path}: no {' or '.join(repr(m) for m in missing)} array in it (it has: "
                f"{', '.join(data.files) or 'nothing'}); save numpy.savez(path, ids=..., "
                "vectors=...)")
        arrays = {}
        for name in ("ids", "vectors"):
            try:
                arrays[name] = data[name]
            except ValueError as exc:
                if "pickle" in str(exc).lower() or "object" in str(exc).lower():
                    raise EmbeddingsImportError(
                        f"{path}: array {name!r} is an object array (pickled), which "
                        "crisisdesk never loads; save "
                        + ("ids as strings: numpy.array(ids, dtype=str)" if name == "ids"
                           else "vectors as a float array") ) from None
                raise EmbeddingsImportError(f"{path}: cannot read array {name!r} ({exc})"
                                            ) from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise EmbeddingsImportError(f"{path}: cannot read array {name!r} ({exc})"
                                            ) from None
    ids, vectors = arrays["ids"], arrays["vectors"]
    if ids.ndim != 1:
        raise EmbeddingsImportError(f"{path}: 'ids' must be one-dimensional, not of shape "
                                    f"{ids.shape}")
    if ids.dtype.kind not in "US":
        raise EmbeddingsImportError(f"{path}: 'ids' must be strings (item ids such as "
                                    f"source:post:0), not {ids.dtype}")
    if vectors.ndim != 2:
        raise EmbeddingsImportError(f"{path}: 'vectors' must be [rows, dim], not of shape "
                                    f"{vectors.shape}")
    if vectors.dtype.kind != "f":
        raise EmbeddingsImportError(f"{path}: 'vectors' must be floats, not {vectors.dtype}")
    if len(ids) != len(vectors):
        raise EmbeddingsImportError(f"{path}: {len(ids)} ids for {len(vectors)} vectors; "
                                    "row i of 'vectors' must be the vector of ids[i]")
    if len(ids) == 0:
        raise EmbeddingsImportError(f"{path}: holds no vectors")
    if vectors.shape[1] == 0:
        raise EmbeddingsImportError(f"{path}: 'vectors' have dimension 0")
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise EmbeddingsImportError(
            f"{path}: {len(bad)} vectors hold NaN or infinite values (first at row "
            f"{int(bad[0])}, id {_id_text(ids[bad[0]])!r}); nothing imported")
    too_big = (np.abs(vectors) > FLOAT16_MAX).any(axis=1)
    if too_big.any():
        bad = np.flatnonzero(too_big)
        raise EmbeddingsImportError(
            f"{path}: {len(bad)} vectors hold values beyond float16's range ±{FLOAT16_MAX:g} "
            f"(first at row {int(bad[0])}); embeddings are stored as float16")
    return _Rows([_decode(i) for i in ids.tolist()], vectors.astype(np.float32, copy=False))


def _starts_as_pickle(path: Path) -> bool:
    """Whether the file begins with pickle's PROTO opcode (what Python 3 writes)."""
    try:
        with path.open("rb") as handle:
            return handle.read(1) == b"\x80"
    except OSError:
        return False


def _decode(value: str | bytes) -> str | None:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return value


def _id_text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class EmbeddingsImportJob:
    """One import of one .npz of embeddings into a project."""

    kind = "import-embeddings"

    def __init__(self, project: Project, path: Path, *, encoder: str, kind: str) -> None:
        if kind not in IMPORT_KINDS:
            raise EmbeddingsImportError(f"embedding kind must be one of {IMPORT_KINDS}, "
                                        f"not {kind!r}")
        if not encoder or encoder != encoder.strip():
            raise EmbeddingsImportError(f"encoder name {encoder!r}: give the name the "
                                        "vectors were made with (e.g. minilm)")
        self.project, self.path = project, Path(path)
        self.encoder, self.embedding_kind = encoder, kind
        self.report = EmbeddingsImportReport(str(self.path), encoder, kind)
        self.report_path: Path | None = None
        self.report_not_saved = ""  # why the report could not be written, if it could not

    def run(self) -> Iterator[Progress]:
        """Check the file, then store its vectors chunk by chunk, yielding progress.

        Raises EmbeddingsImportError (nothing stored) for a file that cannot be used.
        """
        params = {"path": str(self.path), "encoder": self.encoder, "kind": self.embedding_kind}
        return tracked(self.project, self.kind, params, self._run(),
                       problems=lambda: len(self.report.problems),
                       result=lambda: {k: v for k, v in self.report.to_json().items()
                                       if k != "problems"})

    def _run(self) -> Iterator[Progress]:
        started = False
        with self.project.open_store() as store:
            try:
                rows = read_embeddings_file(self.path)
                self._check_dim(store, rows.vectors.shape[1])
                started = True
                yield from self._store_rows(store, rows)
            except (GeneratorExit, KeyboardInterrupt):
                self.report.cancelled = True
                raise
            finally:
                if started:
                    self.report_path, self.report_not_saved = save_report(
                        lambda: self.project.folder("reports"), "import-embeddings",
                        self.report.to_json())

    def _check_dim(self, store: Store, dim: int) -> None:
        self.report.dim = dim
        stored = store.embedding_dims(self.encoder)
        others = {d: n for d, n in stored.items() if d != dim}
        if others:
            held = ", ".join(f"{n} of dimension {d}" for d, n in sorted(others.items()))
            raise EmbeddingsImportError(
                f"{self.path}: vectors of dimension {dim}, but the project already holds "
                f"embeddings of encoder {self.encoder!r} with another dimension ({held}); "
                "check the encoder name")
        spec = builtin_specs().get(self.encoder)
        if spec is not None and spec.dim is not None and spec.dim != dim:
            raise EmbeddingsImportError(
                f"{self.path}: vectors of dimension {dim}, but encoder {self.encoder!r} "
                f"makes {spec.dim}-d vectors; check the encoder name")

    def _store_rows(self, store: Store, rows: _Rows) -> Iterator[Progress]:
        report, kind = self.report, self.embedding_kind
        total = report.rows = len(rows.ids)
        vectors = rows.vectors
        norms = np.linalg.norm(vectors, axis=1)
        off_unit = np.abs(norms - 1.0) > UNIT_TOLERANCE
        if off_unit.any():
            # Of the file's rows, whether or not their items are found here.
            report.add(None, f"{int(off_unit.sum()):,} of the file's {total:,} vectors are "
                             f"not of unit length (norms "
                             f"{norms.min():.3g} to {norms.max():.3g}); stored as given",
                       "warning")
        first_row: dict[str, int] = {}  # key -> the row whose vector is stored
        for start in range(0, total, CHUNK):
            stop = min(start + CHUNK, total)
            found: list[tuple[int, int, str]] = []  # (row, item id, item uid)
            for row in range(start, stop):
                ref = rows.ids[row]
                if ref is None:
                    report.unknown += 1
                    report.add(row, "id is not valid UTF-8")
                    continue
                try:
                    item = store.resolve_item(ref)
                except LookupError as exc:
                    message = str(exc.args[0]) if exc.args else str(exc)
                    if "ambiguous" in message:
                        report.ambiguous += 1
                    else:
                        report.unknown += 1
                    report.add(row, message)
                    continue
                found.append((row, item.id, item.uid))
            keyed: list[tuple[int, str]] = []  # (row, key)
            if kind == "text":
                texts = {t.item: t.text for t in store.item_texts(i for _, i, _ in found)}
                keyed = [(row, text_key(texts[item])) for row, item, _ in found]
            else:
                images = store.item_images(i for _, i, _ in found)
                for row, item, uid in found:
                    sha256, status = images.get(item, (None, None))
                    if sha256 is None or status != "ok":
                        report.no_image += 1
                        why = f"its image is {status}" if status else "it has no image"
                        report.add(row, f"item {uid}: {why}; no image vector stored")
                        continue
                    keyed.append((row, sha256))
            keys: list[str] = []
            chosen: list[int] = []
            for row, key in keyed:
                earlier = first_row.get(key)
                if earlier is None:
                    first_row[key] = row
                    keys.append(key)
                    chosen.append(row)
                elif np.allclose(vectors[row], vectors[earlier], rtol=0,
                                 atol=SAME_VECTOR_TOLERANCE):
                    report.duplicates += 1
                    report.imported += 1
                else:
                    report.conflicts += 1
                    what = "image" if kind == "image" else "text"
                    report.add(row, f"id {rows.ids[row]!r}: same {what} as row {earlier} "
                                    f"(id {rows.ids[earlier]!r}) but a different vector; "
                                    f"row {earlier}'s kept")
            if keys:
                new = set(store.missing_keys(kind, self.encoder, keys))
                store.put_embeddings(kind, self.encoder, keys, vectors[chosen])
                report.replaced += sum(k not in new for k in keys)
                report.keys += len(keys)
                report.imported += len(keys)
            yield Progress(stop, total, f"{self.path.name}: {report.imported} vectors stored")


def import_embeddings(project: Project, path: Path, *, encoder: str, kind: str
                      ) -> EmbeddingsImportReport:
    """Import an .npz of embeddings to the end; return the report (also saved in
    the project's ``reports/``). Raises EmbeddingsImportError for an unusable file."""
    job = EmbeddingsImportJob(project, path, encoder=encoder, kind=kind)
    for _ in job.run():
        pass
    return job.report
