"""The demo project: ~100 real CrisisMMD posts and a few drawn scenes, with predictions.

Built from ``resources/demo/`` (see its README for sources and licences) the first time
the app starts without a project, in the user's data folder, never inside the installed
package: the sources are copied into the project's ``media/demo/``, imported with the
ordinary importers, their texts embedded with the bundled offline MiniLM model, and every
item predicted with the bundled text-only heads, so it works with no network and no GPU.

The build is a job (``DemoJob.run()`` yields Progress, so the app can show the first run's
progress) made of the import, embed and predict jobs, each recorded in the project's jobs
table. Each step skips what is done, so a build that was cancelled or crashed goes on
where it stopped; the project is marked built only at the end.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import closing
from importlib import resources as importlib_resources
from pathlib import Path

from crisisdesk.core.embed import EmbedJob
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.launch import DEMO_BUILT, DEMO_FOLDER, demo_root, is_built
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import DB_NAME, SUBFOLDERS, Project
from crisisdesk.core.resources import resource
from crisisdesk.core.store import Store, utc_now

# The demo's folder and whether it is built live in launch (no torch there: the app asks
# before anything loads it); named here too, with the build.
__all__ = ["BUILT_KEY", "DEMO_FOLDER", "DemoJob", "demo_project", "demo_root", "is_built"]

#: The meta key set when the build finished (its upgrades are never said: see launch).
BUILT_KEY = DEMO_BUILT
ENCODER = "minilm"
#: (file inside resources/demo, source name). The CrisisMMD sample is filed under
#: "crisismmd", the CrisisMMD importer's source, so its items keep the dataset's ids
#: and a later import of CrisisMMD with --images-root attaches the photos to them.
SOURCES = (("crisismmd_dev_sample.csv", "crisismmd"), ("images/posts.csv", "crisisdesk-demo"))
#: The name of a copy of the demo's files in the making, followed by its process id.
PARTIAL = f".{DEMO_FOLDER}.partial-"
#: A partial copy of the demo's files older than this (seconds) is left over from a
#: build that was killed, whatever its process id (which another process may have now).
STALE_PARTIAL_S = 3600
STEPS = ("copying the demo files", "importing posts", "importing the drawn scenes",
         "embedding texts (MiniLM, offline)", "predicting (bundled heads)")


class DemoJob:
    """Build (or finish building) the demo project in the user's data folder."""

    kind = "demo"

    def __init__(self, data_dir: Path | None = None) -> None:
        self.root = demo_root(data_dir)

    def run(self) -> Iterator[Progress]:
        """The build: yields Progress; ``close()`` stops it after the step in hand."""
        project = self._open_project()
        yield Progress(0, len(STEPS) * 100, STEPS[0])
        sources = self._copy_sources(project)
        yield Progress(100, len(STEPS) * 100, STEPS[0])
        steps = [ImportJob(project, [sources / name], ImportOptions(source=source)).run()
                 for name, source in SOURCES]
        steps.append(EmbedJob(project, ENCODER, kinds=("text",)).run())
        steps.append(PredictJob(project).run())
        for number, step in enumerate(steps, start=1):
            with closing(step) as progress:
                for report in progress:
                    share = int(100 * report.fraction)
                    yield Progress(number * 100 + share, len(STEPS) * 100,
                                   f"{STEPS[number]}: {report.message}".rstrip(": "),
                                   report.device)
        with project.open_store() as store:
            store.set_meta(BUILT_KEY, utc_now())
        yield Progress(len(STEPS) * 100, len(STEPS) * 100, "demo project ready")

    def _open_project(self) -> Project:
        """The demo project, made when needed. A demo folder whose database is gone (the
        analyst deleted it to reset the demo, or the first build was killed before it made
        one) is made a project again in place, keeping its files: Project.open refuses a
        folder with files in it, and the demo could then never be built again."""
        if self.root.is_dir() and not (self.root / DB_NAME).is_file():
            for name in SUBFOLDERS:
                (self.root / name).mkdir(exist_ok=True)
            Store(self.root / DB_NAME).close()
        return Project.open(self.root, create=True)

    def _copy_sources(self, project: Project) -> Path:
        """Copy resources/demo into the project's media/demo (once; atomically), so the
        images the project refers to live in the user's folder, not in the package."""
        dest = project.folder("media") / DEMO_FOLDER
        _remove_stale_partials(dest.parent)
        with importlib_resources.as_file(resource("demo")) as source:
            if _copied(Path(source), dest):
                return dest
            partial = dest.with_name(f"{PARTIAL}{os.getpid()}")
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(source, partial)
            # Two first starts at once (two windows launched together) both copy: one
            # that finds the other's copy made meanwhile keeps it, as the other is
            # importing from it by then.
            if _copied(Path(source), dest):
                shutil.rmtree(partial, ignore_errors=True)
                return dest
            try:
                os.replace(partial, dest)
            except OSError:
                if not dest.is_dir():
                    raise
                # "Directory not empty": the other start put its copy in place since the
                # look above; keep it, for the same reason.
                if _copied(Path(source), dest):
                    shutil.rmtree(partial, ignore_errors=True)
                    return dest
                # A copy from an older crisisdesk (the demo reset after an upgrade) is
                # replaced: the rebuild must import this version's sources.
                shutil.rmtree(dest)
                os.replace(partial, dest)
        return dest


def _remove_stale_partials(media: Path) -> None:
    """Remove the partial copies under ``media`` that a killed build left: their
    process is gone, or they are older than :data:`STALE_PARTIAL_S` (a few MB each,
    never cleaned up otherwise)."""
    for partial in media.glob(f"{PARTIAL}*"):
        pid = partial.name.removeprefix(PARTIAL)
        try:
            info = partial.stat()
        except OSError:  # removed meanwhile by another start
            continue
        # ctime: copytree gives the copy its source's (old) mtime, but the copying
        # changes its ctime (its creation time on Windows).
        age = time.time() - max(info.st_mtime, info.st_ctime)
        if age > STALE_PARTIAL_S or not (pid.isdigit() and _running(int(pid))):
            shutil.rmtree(partial, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether a process with id ``pid`` runs (True when it cannot be told)."""
    if pid == os.getpid():
        return True
    if os.name == "nt":
        return True  # os.kill(pid, 0) would end it there: the age alone decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (PermissionError): it runs
        return True
    return True


def _copied(source: Path, copy: Path) -> bool:
    """Whether ``copy`` is there and holds exactly the files of ``source``."""
    return copy.is_dir() and _same_files(source, copy)


def _same_files(source: Path, copy: Path) -> bool:
    """Whether ``copy`` holds exactly the files of ``source``, byte for byte (a few MB)."""
    def files(root: Path) -> dict[str, Path]:
        return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file()}

    theirs, ours = files(source), files(copy)
    return theirs.keys() == ours.keys() and all(
        theirs[name].read_bytes() == ours[name].read_bytes() for name in theirs)


def demo_project(data_dir: Path | None = None) -> Path:
    """The demo project's folder, built the first time (later calls reuse it)."""
    job = DemoJob(data_dir)
    if not is_built(job.root):
        for _ in job.run():
            pass
    return job.root
