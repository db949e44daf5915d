"""Room on the disk for a model download: measured before the hub fetch starts, and a disk
that fills up during it said in words.

LLaVA-1.5-7B is about 14 GB and analysts' laptops are often nearly full. Unchecked, the
download ran for an hour or more and stopped half-way with "[Errno 28] No space left on
device", leaving gigabytes in the cache and no word on what to do with them.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from crisisdesk.core.words import plural

logger = logging.getLogger(__name__)

#: Bytes kept free beyond the model's files: the hub library's locks and metadata, and
#: room for the system and the project stores, which a disk filled to its last byte breaks.
MARGIN_BYTES = 500 * 10**6
#: errno values of a full disk, or of a full quota on a shared machine.
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
#: How a full disk reads in errors that are no OSError (the Rust downloader, hf_xet).
_FULL_WORDS = ("No space left on device", "(os error 28)", "Disk quota exceeded")
#: What to do when the cache's disk is too small (hub_cache_dir: HF_HUB_CACHE or HF_HOME).
_ELSEWHERE = ("put the Hugging Face cache on a disk with room: set the environment variable "
              "HF_HUB_CACHE (or HF_HOME) to a folder there before starting crisisdesk (the "
              "app too), or download on another machine and register the copy: "
              "crisisdesk models add {name} PATH")


class NoRoom(OSError):
    """Not enough free disk space for a model's files, found before or during its
    download; the message says how much is needed and free, where, and what to do."""


def size_text(n_bytes: float) -> str:
    """``14.2 GB``, ``605 MB``, ``300 KB`` or ``20 bytes``: decimal units, as the model
    sizes, the download's megabytes and MARGIN_BYTES ("500 MB") are given. Under 1 MB in
    KB, under 1 KB in bytes: a disk with 0.3 MB free read "has 0 MB free"."""
    if n_bytes >= 10**9:
        return f"{n_bytes / 1e9:,.1f} GB"
    if n_bytes >= 10**6:
        return f"{n_bytes / 1e6:,.0f} MB"
    if n_bytes >= 10**3:
        return f"{n_bytes / 1e3:,.0f} KB"
    return plural(math.ceil(n_bytes), "byte")  # ceil: no "0 bytes" for a size above 0


def check_room(name: str, hub_id: str, info: Any, patterns: Sequence[str] | None,
               cache_dir: Path, say: Callable[[str], None] | None = None,
               force: bool = False) -> None:
    """Raise NoRoom when the files ``patterns`` pick from the hub's ``info`` (a
    ``model_info(..., files_metadata=True)`` answer), less those the cache holds already
    (none with ``force``: a forced download fetches them all again), do not fit on the
    cache's disk with MARGIN_BYTES to spare. Where the sizes or the free space cannot be
    known, say so (``say``, else a logged warning) and return."""
    say = say or logger.warning
    repo = repo_folder(cache_dir, hub_id)
    needed = _bytes_to_fetch(info, patterns, None if force else repo)
    if needed == 0:  # all there already: nothing to make room for
        return
    place = _existing(cache_dir)
    try:
        free = shutil.disk_usage(place).free
    except OSError as exc:
        say(f"the free space of {cache_dir} cannot be read ({exc.strerror or exc}): "
            f"downloading {name} without checking it")
        return
    if needed is None:
        say(f"the hub did not give the sizes of {name}'s files: downloading without "
            f"checking the room on the disk ({size_text(free)} free for {cache_dir})")
        return
    if needed + MARGIN_BYTES <= free:
        return
    raise NoRoom(
        f"not enough room to download {name}: its files need {size_text(needed)} more "
        f"(plus {size_text(MARGIN_BYTES)} kept free) and the disk at {_mount(place)} has "
        f"{size_text(free)} free for the Hugging Face cache {cache_dir}. Nothing was "
        "downloaded. Free some space and download again, or "
        + _ELSEWHERE.format(name=name))


@contextmanager
def full_disk_said(name: str, hub_id: str, cache_dir: Path) -> Iterator[None]:
    """Turn a disk that fills up during the download (ENOSPC, a full quota) into NoRoom
    saying what stays in the cache, that a rerun goes on from it, and how to remove it."""
    try:
        yield
    except Exception as exc:
        if not _disk_full(exc):
            raise
        repo = repo_folder(cache_dir, hub_id)
        held, shared = _held(repo)
        said = f"the disk at {_mount(_existing(cache_dir))} filled up while downloading {name}. "
        if not held:
            raise NoRoom(said + "Nothing of it was kept. Free some space and download "
                         "again, or " + _ELSEWHERE.format(name=name)) from exc
        # With the hub's shared blob store (xet downloads), the files fetched live in the
        # cache's blobs/ folder and the model's folder only links to them.
        prune = (", then run: hf cache prune (the files it links to are in "
                 f"{cache_dir / 'blobs'})") if shared else ""
        raise NoRoom(
            said + f"What was fetched ({size_text(held)}) stays in {repo}: free some "
            "space and run the same download again, which does not fetch again the files "
            "it already has; or " + _ELSEWHERE.format(name=name)
            + f". To give the space back instead, delete the folder {repo}{prune}") from exc


def repo_folder(cache_dir: Path, hub_id: str) -> Path:
    """A model's folder in the hub cache, named as huggingface_hub names it."""
    from huggingface_hub.file_download import repo_folder_name

    return cache_dir / repo_folder_name(repo_id=hub_id, repo_type="model")


def download_sizes(info: Any, patterns: Sequence[str] | None, cache_dir: Path,
                   hub_id: str) -> tuple[int, int] | None:
    """(bytes of the files ``patterns`` pick from the hub's ``info``, bytes of them the
    cache holds whole): where a download's progress starts and ends. None when the hub
    did not give the sizes."""
    chosen = _chosen_sizes(info, patterns)
    if chosen is None:
        return None
    repo, commit = repo_folder(cache_dir, hub_id), getattr(info, "sha", None)
    held = sum(size for sibling, size in chosen
               if _cached(sibling, size, repo, commit, partial=False))
    return sum(size for _, size in chosen), held


def _chosen_sizes(info: Any, patterns: Sequence[str] | None) -> list[tuple[Any, int]] | None:
    """The files ``patterns`` pick from the hub's ``info``, each with its size; None when
    the hub did not say (no files listed, or one without a size)."""
    from huggingface_hub.utils import filter_repo_objects

    siblings = getattr(info, "siblings", None)
    if not siblings:
        return None
    # The download's own filter, so that the files counted are the files fetched.
    chosen = filter_repo_objects(siblings, allow_patterns=patterns,
                                 key=lambda sibling: sibling.rfilename)
    sized = [(sibling, sibling.lfs.size if sibling.lfs is not None else sibling.size)
             for sibling in chosen]
    return None if any(size is None for _, size in sized) else sized


def _bytes_to_fetch(info: Any, patterns: Sequence[str] | None,
                    repo: Path | None) -> int | None:
    """Bytes the download still has to write, less what the cache folder ``repo`` holds
    (None: all of them, as a forced download writes them again, each file held until its
    new copy is whole); None when the hub did not say."""
    chosen = _chosen_sizes(info, patterns)
    if chosen is None:
        return None
    if repo is None:
        return sum(size for _, size in chosen)
    commit = getattr(info, "sha", None)
    return sum(size - _cached(sibling, size, repo, commit) for sibling, size in chosen)


def _cached(sibling: Any, size: int, repo: Path, commit: str | None,
            partial: bool = True) -> int:
    """Bytes of one file the cache holds already: a blob (named by its etag: the LFS
    sha256, else the git blob id), a snapshot copy (no symlinks on Windows), or (unless
    ``partial`` is False) a partial ``<etag>.incomplete`` that older huggingface_hub
    versions resume."""
    etag = sibling.lfs.sha256 if sibling.lfs is not None else sibling.blob_id
    whole = [repo / "snapshots" / commit / sibling.rfilename] if commit else []
    if etag:
        whole.append(repo / "blobs" / etag)
    if any(path.is_file() for path in whole):
        return size
    part = repo / "blobs" / f"{etag}.incomplete"
    return min(part.stat().st_size, size) if partial and etag and part.is_file() else 0


def _held(repo: Path) -> tuple[int, bool]:
    """Bytes a model's cache folder holds, links followed and each file counted once,
    and whether some of them are outside it (the hub's shared blob store)."""
    files = {path.resolve() for path in repo.rglob("*") if path.is_file()} \
        if repo.is_dir() else set()
    outside = any(not path.is_relative_to(repo.resolve()) for path in files)
    return sum(path.stat().st_size for path in files), outside


def _disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or one it was raised from) means a full disk or quota."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        if any(words in str(exc) for words in _FULL_WORDS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent: the cache folder may not exist yet."""
    path = path.absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _mount(path: Path) -> Path:
    """The mount point (a drive's root on Windows) that holds ``path``: the disk to free."""
    while not os.path.ismount(path) and path.parent != path:
        path = path.parent
    return path
