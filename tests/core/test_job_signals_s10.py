"""Every job the command line drives (import, embed, predict, train...) stopped by SIGTERM
(``kill``, a scheduler's time limit) or SIGHUP (its terminal closed) ends as Ctrl-C does:
what was committed stays, the job is recorded as cancelled and its report saved. Before,
only a watch did; the others were killed with their job row left "running" for good."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

# A child process: after its first batch is written, the import signals the process
# itself (no timing). The signal starts at its default, as from a terminal (the test
# runner may run under nohup). A second batch means the signal did not stop the import.
IMPORT_SCRIPT = """
import os, signal, sys
from crisisdesk.core.importers import job, writer
from crisisdesk.cli import main
sig = int(sys.argv[1])
signal.signal(signal.SIGINT, signal.default_int_handler)
if sig != signal.SIGINT:
    signal.signal(sig, signal.SIG_DFL)
job.BATCH = 2
real = writer.RecordWriter.write_batch
batches = []
def write_batch(self, records, facts=None):
    real(self, records, facts)
    batches.append(len(records))
    if len(batches) == 1:
        os.kill(os.getpid(), sig)
    else:
        os._exit(99)
writer.RecordWriter.write_batch = write_batch
sys.exit(main(["import", sys.argv[2], sys.argv[3]]))
"""


def _import_stopped_by(sig: int, tmp_path: Path) -> tuple[int, Path]:
    source = tmp_path / f"posts-{int(sig)}.csv"
    source.write_text("id,text\n" + "".join(f"{i},flood {i}\n" for i in range(6)),
                      encoding="utf-8")
    project = tmp_path / f"proj-{int(sig)}"
    done = subprocess.run([sys.executable, "-c", IMPORT_SCRIPT, str(int(sig)),
                           str(project), str(source)], capture_output=True, text=True,
                          timeout=120)
    return done.returncode, project


@pytest.mark.parametrize("sig", [s for s in ("SIGTERM", "SIGHUP") if hasattr(signal, s)])
def test_an_import_stopped_by_a_signal_ends_as_ctrl_c_does(tmp_path: Path, sig: str) -> None:
    ctrl_c, _ = _import_stopped_by(signal.SIGINT, tmp_path)
    status, project = _import_stopped_by(getattr(signal, sig), tmp_path)
    assert status == ctrl_c == 1  # "a job stopped with Ctrl-C", as --help says
    with sqlite3.connect(project / "project.sqlite") as conn:
        states = conn.execute("SELECT state FROM jobs WHERE kind = 'import'").fetchall()
        posts = conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0]
    assert states == [("cancelled",)]
    assert posts == 2  # the first batch, committed before the signal, stays
    (report,) = (project / "reports").glob("import-*.json")
    assert json.loads(report.read_text(encoding="utf-8"))["cancelled"] is True


def test_help_says_how_a_stopped_job_and_a_stopped_watch_exit(capsys) -> None:
    from crisisdesk.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a job stopped with Ctrl-C, SIGTERM or SIGHUP" in text
    assert "a --watch, which runs until stopped, exits 0 then" in text


def test_a_project_busy_past_the_timeout_is_said_not_a_traceback(tmp_path: Path,
                                                                  capsys, monkeypatch) -> None:
    # Another process held the write lock past the busy timeout: `export --hash-authors`
    # (which writes the salt the first time) ended in an OperationalError traceback.
    from crisisdesk.cli import main
    from crisisdesk.core.project import Project
    from crisisdesk.core.store import db

    source = tmp_path / "posts.csv"
    source.write_text("id,text\n1,flood\n", encoding="utf-8")
    assert main(["import", str(tmp_path / "p"), str(source)]) == 0
    holder = sqlite3.connect(tmp_path / "p" / "project.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the other process's write lock
    real_init = db.StoreBase.__init__

    def quick(self, path, busy_timeout=30.0, **kwargs):  # a 30 s wait, shortened
        real_init(self, path, 0.2, **kwargs)

    monkeypatch.setattr(db.StoreBase, "__init__", quick)
    try:
        capsys.readouterr()
        code = main(["export", str(tmp_path / "p"), str(tmp_path / "out.csv"),
                     "--hash-authors"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert code == 2 and "the project is busy" in err and "Traceback" not in err
    assert Project.open(tmp_path / "p")  # and it opens once the lock is gone
