"""The app ends even when its log folder stopped answering at the moment it quits: the
lines still waiting are said lost (after app_log.END_WAIT_S) and nothing else waits on
the stuck write (logging's own exit handler took the file's lock, held by that write,
and the process never ended)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent("""\
    import sys, threading, time
    from pathlib import Path
    import crisisdesk.core.app_log as app_log

    folder = Path(sys.argv[1])
    app_log.log_folder = lambda: folder
    app_log.END_WAIT_S = 0.5
    app_log.start_log()
    app_log.flush_log()
    stuck = threading.Event()  # never set: a share that stopped answering

    class Stuck:
        def write(self, text): stuck.wait()
        def flush(self): stuck.wait()
        def close(self): pass
        def tell(self): return 0
        def seek(self, *where): return 0

    app_log._handler.stream = Stuck()
    app_log.logger.info("a line the folder never takes")
    time.sleep(0.2)  # the writer is in its write now
    print("quitting", flush=True)
    """)


def test_the_app_ends_when_its_log_folder_hangs_as_it_quits(tmp_path: Path) -> None:
    try:
        done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)],
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the process did not end: something waited on the stuck log write")
    assert done.returncode == 0, done.stderr
    assert "quitting" in done.stdout
    assert "did not take its last lines" in done.stderr and "they are lost" in done.stderr
