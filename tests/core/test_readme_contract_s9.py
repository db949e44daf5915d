"""The README as a contract: what it says of the command line holds when the commands run.

Each test runs the thing the README describes (the CLI, or the core job it drives) and
checks it against the README's own words, so that a change to either side shows here.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from crisisdesk.cli import build_parser, main
from crisisdesk.core.embeddings_import import EmbeddingsImportJob
from crisisdesk.core.importers import ImportJob, ImportOptions, WatchJob, WatchOptions
from crisisdesk.core.media_fetch import MediaFetchJob
from crisisdesk.core.project import Project

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme() -> str:
    return " ".join(README.read_text("utf-8").split())  # line breaks as blanks


def test_top_level_help_gives_the_exit_codes_the_readme_gives() -> None:
    # Scripts around a collector check the status: `crisisdesk --help` is where a
    # user looks for it, and it must say what the README says.
    codes = re.search(r"Exit codes: (.*?)\.(?: |$)", _readme()).group(1)
    given = re.findall(r"(?:^|, )(\d+) ", codes)
    assert given == ["0", "1", "2", "130"]
    help_text = " ".join(build_parser().format_help().split())
    assert "exit status:" in help_text
    said = help_text[help_text.index("exit status:"):]
    for code in given:
        assert re.search(rf"[:;] {code} ", said), code


@pytest.mark.parametrize("interval", ["nan", "inf", "-inf", "0"])
def test_a_watch_interval_that_is_no_finite_positive_number_is_bad_usage(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], interval: str) -> None:
    # `time.sleep(nan)` raised ValueError (and inf OverflowError) out of the watch loop:
    # a traceback, exit 1, instead of the usage error the README promises (exit 2).
    folder = tmp_path / "collected"
    folder.mkdir()
    status = main(["import", str(tmp_path / "proj"), str(folder), "--watch",
                   f"--interval={interval}"])
    assert status == 2
    assert "--interval" in capsys.readouterr().err


def test_the_readme_names_each_report_a_job_writes(proj: Project, tmp_path: Path) -> None:
    # The README's `reports/` line is where an analyst looks for a job's report: it
    # named every report `import-<time>.json`, but a watch writes `watch-...`, a media
    # fetch `fetch-...` and an embeddings import `import-embeddings-...`.
    data = tmp_path / "posts.csv"
    data.write_text("id,text\n1,water rising\n", "utf-8")
    job = ImportJob(proj, [data], ImportOptions())
    list(job.run())
    written = [job.report_path]

    folder = tmp_path / "collector"
    folder.mkdir()
    watch = WatchJob(proj, folder, watch=WatchOptions(interval=0.01))
    run = watch.run()
    next(run)
    run.close()
    written.append(watch.report_path)

    fetch = MediaFetchJob(proj)
    list(fetch.run())
    written.append(fetch.report_path)

    vectors = tmp_path / "vectors.npz"
    np.savez(vectors, ids=np.array(["posts:1:0"]), vectors=np.ones((1, 4), np.float32) / 2)
    embeddings = EmbeddingsImportJob(proj, vectors, encoder="elsewhere", kind="text")
    list(embeddings.run())
    written.append(embeddings.report_path)

    readme = _readme()
    for path in written:
        assert path is not None and path.parent == proj.folder("reports")
        kind = re.fullmatch(r"(.+)-\d{8}-\d{6}-\d+\.json", path.name).group(1)
        assert f"`{kind}-<time>.json`" in readme, path.name
