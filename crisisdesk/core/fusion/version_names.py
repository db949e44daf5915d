"""Names of trained model versions in a project's ``models/`` folder: reserving a free
one while a training saves its checkpoint, and removing what a training left under its
reserved name when it died before registering the version.

A training reserves ``<name>.reserved`` just before it saves ``<name>.safetensors`` and
``<name>.json``, and drops the reservation once the version is registered. Killed in
between (SIGKILL, a power cut, the app killed from the task manager), it left all three
for good: never listed (no version row names them), never overwritten (the name stays
taken), a few MB a time. A reservation is held for the seconds a save takes, so one over
an hour old whose name no version has is a dead training's (see :func:`remove_orphans`).
"""

from __future__ import annotations

import time
from pathlib import Path

from crisisdesk.core.files import STALE_S, remove_leftovers
from crisisdesk.core.fusion.checkpoint import checkpoint_paths
from crisisdesk.core.store import Store

#: Beside a checkpoint's files while its training saves it: the name is taken.
RESERVED_SUFFIX = ".reserved"


def free_version_name(store: Store, folder: Path, base: str) -> str:
    """Reserve and return ``base``, or ``base-2``, ``base-3``...: the first name that no
    version of the store, no checkpoint in ``folder`` and no reservation has. Two
    trainings of a task in the same second (a scripted sweep, two retrains at once, two
    windows on one project) would otherwise share a name, and the second checkpoint
    would overwrite the first version's weights. The reservation is a file created
    exclusively, so two trainings running at once cannot both take a name; the caller
    removes it (:func:`release_version_name`) once the version is registered."""
    taken = {row["name"] for row in store.conn.execute("SELECT name FROM model_versions")}
    folder.mkdir(parents=True, exist_ok=True)
    name, number = base, 1
    while True:
        if name not in taken and not any(path.exists()
                                         for path in checkpoint_paths(folder / name)):
            try:
                (folder / f"{name}{RESERVED_SUFFIX}").open("x").close()
                return name
            except FileExistsError:
                pass  # another training holds it
        number += 1
        name = f"{base}-{number}"


def release_version_name(folder: Path, name: str) -> None:
    """Drop the reservation of ``name`` (its checkpoint is saved and registered, or the
    training failed)."""
    (folder / f"{name}{RESERVED_SUFFIX}").unlink(missing_ok=True)


def _registered(store: Store, name: str) -> bool:
    """Whether a version row names ``name`` or points at one of its checkpoint files."""
    files = {path.name for path in checkpoint_paths(name)}
    return any(row["name"] == name or Path(row["path"] or "").name in files
               for row in store.conn.execute("SELECT name, path FROM model_versions"))


def discard_unregistered(store: Store, folder: Path, name: str) -> bool:
    """Remove the checkpoint saved under the reserved ``name`` when no version row names
    it (its training failed while registering it: a locked or full database); return
    whether it was removed. Kept when the look-up itself fails: a file that may be a
    version's is never deleted on a guess."""
    try:
        if _registered(store, name):
            return False
    except Exception:  # noqa: BLE001 - the store is failing: keep the files
        return False
    for path in checkpoint_paths(folder / name):
        path.unlink(missing_ok=True)
    return True


def remove_orphans(store: Store, folder: Path, age_s: float = STALE_S) -> list[str]:
    """Remove what trainings killed while saving left in ``folder``: each reservation over
    ``age_s`` old, and, where no version names it, its checkpoint files and their temp
    files. Returns the names whose checkpoint files were removed.

    A stale reservation of a registered name (killed after registering, before releasing
    it) loses only its marker. The marker goes last, so that a removal cut short is
    finished by the next run, and no training takes the name while its files remain."""
    removed: list[str] = []
    now = time.time()
    for marker in sorted(folder.glob(f"*{RESERVED_SUFFIX}")):
        try:
            if not marker.is_file() or now - marker.stat().st_mtime <= age_s:
                continue  # a training may be saving under it now
            name = marker.name[:-len(RESERVED_SUFFIX)]
            if not _registered(store, name):
                had = False
                for path in checkpoint_paths(folder / name):
                    had = path.exists() or had
                    path.unlink(missing_ok=True)
                    remove_leftovers(path)  # a save killed mid-write left its temp
                if had:
                    removed.append(name)
            marker.unlink()
        except OSError:
            continue  # gone meanwhile (another training swept it) or not ours to delete
    return removed
