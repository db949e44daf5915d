"""``media fetch --retry-unreadable`` stopped by its total size limit says how many media
are left for the same command to fetch: the unreadable ones it had not come to yet are
among them (counted without them, "2 media left" stood for a dozen, and the ones left
out needed --retry-unreadable again, which the advice did not say)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fetch_helpers import import_urls
from test_media_fetch import ROUTES, jpeg, server  # noqa: F401 - server: fixture

from crisisdesk.cli import OK, main
from crisisdesk.core.project import Project

LOOPBACK = ["--allow-network", "127.0.0.1", "--timeout", "10", "--concurrency", "1"]
MIB = 1024 * 1024
N = 40  # more than one batch (16 media): the limit stops the run before the last ones


def test_the_media_left_by_the_limit_count_the_unreadable_ones_a_retry_fetches(
        proj: Project, tmp_path: Path, server: str,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    paths = [f"/R{i}.jpg" for i in range(N)]
    # First served as web pages: every media is left unreadable.
    ROUTES.update({path: (200, "text/html", b"<html>a login page</html>") for path in paths})
    import_urls(proj, tmp_path, [server + path for path in paths])
    main(["media", "fetch", str(proj.root), *LOOPBACK])
    with proj.open_store() as store:
        assert store.counts()["media"] == {"unreadable": N}  # the precondition
    # Then the photos; a retry with a total limit of about three of them.
    ROUTES.update({path: (200, "image/jpeg", jpeg(i + 150)) for i, path in enumerate(paths)})
    size = max(len(jpeg(i + 150)) for i in range(N))
    retry = ["media", "fetch", str(proj.root), *LOOPBACK, "--retry-unreadable",
             "--max-total-mb", str(size * 3.5 / MIB)]
    capsys.readouterr()
    assert main(retry) == OK
    said = capsys.readouterr().out
    with proj.open_store() as store:
        counts = store.counts()["media"]
    left = counts.get("remote", 0) + counts.get("unreadable", 0)
    assert counts.get("unreadable", 0) > 0, counts  # the precondition: some not come to
    assert f"{left} media left to fetch" in said, said
