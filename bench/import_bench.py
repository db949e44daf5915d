"""Import benchmark: build a folder of N image+text posts, import it, time ``info``.

    .venv/bin/python bench/import_bench.py [--posts 20000] [--workdir DIR] [--keep]

Each post is a 640x480 JPEG (a colour blended with a gradient and Gaussian noise, like a
photo's texture, about 70 KB, stamped with the post number so every file has its own
sha256) with a same-stem ``.txt`` sidecar, spread over nested folders. The import runs
as ``python -m crisisdesk import PROJECT FOLDER`` in a child process; its wall time and
peak RSS (from ``wait4``'s rusage of that child alone) are compared with the goals
below, then ``crisisdesk info PROJECT`` is timed (best of 3).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This checkout's crisisdesk first: run from a copy, the editable install's is another tree.
sys.path.insert(0, str(ROOT))

GOAL_POSTS_PER_S = 500.0
GOAL_PEAK_MB = 500.0
GOAL_INFO_S = 1.0

WIDTH, HEIGHT = 640, 480
EVENTS = 4          # top-level folders
DAYS = 5            # folders inside each event folder
NOISE_SIGMA = 30    # Gaussian noise over the whole image: ~70 KB JPEGs, as photos are
TEXTURES = 8        # distinct textures per worker chunk


def post_path(folder: Path, i: int) -> Path:
    """Where post ``i`` lives: ``event_<e>/day_<d>/post_<i>`` (suffix added by the caller)."""
    return folder / f"event_{i % EVENTS}" / f"day_{(i // EVENTS) % DAYS}" / f"post_{i:07d}"


def _make_range(args: tuple[str, int, int]) -> int:
    """Write posts [start, stop) under ``folder`` (runs in a pool worker)."""
    from PIL import Image, ImageDraw

    folder, start, stop = Path(args[0]), args[1], args[2]
    rng = random.Random(start)
    # Making a photo-like texture costs ~40 ms; a few per worker, stamped per post, do.
    textures = []
    for _ in range(TEXTURES):
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        gradient = Image.linear_gradient("L").rotate(rng.randrange(360)).resize((WIDTH, HEIGHT))
        noise = Image.merge("RGB", [Image.effect_noise((WIDTH, HEIGHT), NOISE_SIGMA)
                                    for _ in range(3)])
        base = Image.blend(Image.new("RGB", (WIDTH, HEIGHT), colour),
                           gradient.convert("RGB"), 0.4)
        textures.append(Image.blend(base, noise, 0.35))
    for i in range(start, stop):
        img = textures[i % len(textures)].copy()
        ImageDraw.Draw(img).text((20, 20), f"post {i}", fill=(255, 255, 255))
        base = post_path(folder, i)
        img.save(base.with_suffix(".jpg"), "JPEG", quality=85)
        base.with_suffix(".txt").write_text(
            f"Post {i}: flooding reported near bridge {i % 97}, road closed. #flood\n",
            encoding="utf-8")
    return stop - start


def make_fixture(folder: Path, posts: int) -> None:
    """Write ``posts`` image+sidecar posts under ``folder`` using all CPUs."""
    for e in range(EVENTS):
        for d in range(DAYS):
            (folder / f"event_{e}" / f"day_{d}").mkdir(parents=True, exist_ok=True)
    chunk = 250
    ranges = [(str(folder), s, min(s + chunk, posts)) for s in range(0, posts, chunk)]
    with Pool(processes=os.cpu_count() or 2) as pool:
        made = sum(pool.imap_unordered(_make_range, ranges))
    assert made == posts, (made, posts)


def run_child(argv: list[str], log: Path | None = None) -> tuple[float, float, int]:
    """Run ``python -m crisisdesk ARGV``; return (wall seconds, peak RSS in MB, exit code).

    The peak RSS comes from ``os.wait4`` on this child only, so the fixture's pool workers
    (also children of this process) do not count.
    """
    out = log.open("wb") if log else subprocess.DEVNULL
    # The child runs this checkout's crisisdesk too: -P keeps the working folder off its
    # sys.path (-m would put it first), PYTHONPATH puts ROOT there.
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, TQDM_DISABLE="1", PYTHONPATH=path)
    try:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-P", "-m", "crisisdesk", *argv],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if log:
            out.close()
    return wall, usage.ru_maxrss / 1024.0, proc.returncode  # ru_maxrss is in KiB on Linux


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument("--workdir", type=Path, help="where to build (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the fixture and project")
    args = parser.parse_args(argv)

    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="crisisdesk-bench-")) if temporary else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    folder, project, log = workdir / "posts", workdir / "project", workdir / "import.log"
    for path in (folder, project):
        if path.exists():
            shutil.rmtree(path)
    try:
        print(f"Workdir {workdir}; {args.posts:,} posts of {WIDTH}x{HEIGHT} JPEG + .txt")
        start = time.perf_counter()
        make_fixture(folder, args.posts)
        gen_s = time.perf_counter() - start
        size_mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
        print(f"Fixture: generated in {gen_s:.1f} s ({size_mb:,.0f} MB on disk, "
              f"{os.cpu_count()} processes)")

        wall, peak_mb, code = run_child(["import", str(project), str(folder)], log)
        print(f"Import: exit {code}; {log.read_text(errors='replace').strip()}")
        if code != 0:
            print("Import failed; see the log above.")
            return 1
        rate = args.posts / wall
        info = []
        for _ in range(3):
            seconds, _, info_code = run_child(["info", str(project)])
            if info_code != 0:
                print(f"info failed with exit {info_code}")
                return 1
            info.append(seconds)
        info_s = min(info)
        # A second import of the same folder must add nothing, and should be quick.
        again_s, _, again_code = run_child(["import", str(project), str(folder)], log)
        again = log.read_text(errors="replace").splitlines()[0]

        print()
        print(f"Import: {args.posts:,} posts in {wall:.1f} s = {rate:,.0f} posts/s "
              f"(goal >= {GOAL_POSTS_PER_S:.0f}): {verdict(rate >= GOAL_POSTS_PER_S)}")
        print(f"Peak RSS of the import: {peak_mb:,.0f} MB "
              f"(goal <= {GOAL_PEAK_MB:.0f}): {verdict(peak_mb <= GOAL_PEAK_MB)}")
        print(f"info: {info_s:.2f} s best of 3 (goal < {GOAL_INFO_S:.0f} s): "
              f"{verdict(info_s < GOAL_INFO_S)}")
        print(f"Second import of the same folder: {again_s:.1f} s, exit {again_code}: {again}")
        print(f"(fixture generation, not part of the goals: {gen_s:.1f} s)")
        ok = rate >= GOAL_POSTS_PER_S and peak_mb <= GOAL_PEAK_MB and info_s < GOAL_INFO_S
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"Kept {workdir}")
        elif temporary:
            shutil.rmtree(workdir, ignore_errors=True)
        else:  # only what this script made: DIR may hold other things
            for path in (folder, project):
                shutil.rmtree(path, ignore_errors=True)
            log.unlink(missing_ok=True)


if __name__ == "__main__":
    raise SystemExit(main())
