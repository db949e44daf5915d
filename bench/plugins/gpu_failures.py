"""pytest plugin for the GPU check: each failure's report is written to $OUT at once
(a run stopped by its time limit keeps what it found)."""
import os

def pytest_runtest_logreport(report):
    if report.failed:
        with open(os.path.join(os.environ.get("OUT", "."), "failures.txt"), "a") as f:
            f.write(f"==== {report.nodeid} ({report.when})\n{report.longreprtext[-3000:]}\n")
