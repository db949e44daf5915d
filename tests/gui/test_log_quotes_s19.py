"""What the app's log quotes of a caption server's answer (session 19).

A caption job through a server stops when the server refuses a whole batch (a wrong key,
model name or URL); its message quotes the server's answer, which the analyst is shown.
Before, the log got that answer too, as it came: a server or proxy that echoes the
request (a firewall's block page quoting what it blocked) put a post's text, personal
data, in a file that is sent to whoever looks into a failure. The log now says what an
engineer needs (the status, the answer's size, the first characters of an answer that is
not JSON), never the answer itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from import_helpers import build_csv_source, run_import
from test_caption_server import ChatServer, Reply, tweet_of

from crisisdesk.core import app_log
from crisisdesk.core.captions.job import CaptionJob
from crisisdesk.core.captions.server import ServerCaptioner
from crisisdesk.core.project import Project
from crisisdesk.gui.worker import JobRunner

#: A firewall's block page, quoting the request it blocked.
BLOCK_PAGE = ("<html><head><title>403 Forbidden</title></head><body>Request blocked by "
              "policy. Matched content: {tweet}</body></html>")


def _firewall(request: dict, attempt: int) -> Reply:
    return Reply(status=403, body=BLOCK_PAGE.format(tweet=tweet_of(request)))


def _echoing_json(request: dict, attempt: int) -> Reply:
    return Reply(status=404, body=json.dumps({"error": {
        "message": f"no route for a request with text {tweet_of(request)}"}}))


@pytest.fixture
def posts(tmp_path: Path) -> Project:
    """Four posts with photos, each with a text (the one the server echoes is one)."""
    project = Project.open(tmp_path / "posts", create=True)
    run_import(project, [build_csv_source(tmp_path / "src")])
    return project


@pytest.fixture
def log(user_folders: dict[str, Path]) -> Iterator[Path]:
    path = app_log.start_log()
    assert path is not None
    yield path
    app_log.stop_log()


@pytest.mark.parametrize(("reply", "status", "start"), [
    (_firewall, 403, "<html><head><title>403 Forbidden"),
    (_echoing_json, 404, None),  # JSON: none of it quoted
])
def test_a_refused_caption_jobs_log_line_quotes_no_post(
        qtbot, log: Path, posts: Project, reply: Callable[[dict, int], Reply],
        status: int, start: str | None) -> None:
    with ChatServer(reply) as server:
        runner = JobRunner("Caption images", lambda: CaptionJob(
            posts, ServerCaptioner(server.url, "m", timeout=5),
            batch_size=2).run())
        with qtbot.waitSignal(runner.finished, timeout=30_000):
            runner.start()
    assert runner.state == "failed"
    tweets = {tweet_of(request) for request in server.requests}
    assert tweets
    # The analyst is still shown what the server said.
    assert any(tweet in runner.error for tweet in tweets)
    qtbot.waitUntil(lambda: "job failed: Caption images" in log.read_text("utf-8"))
    text = log.read_text("utf-8")
    assert "refused every request of a batch" in text
    assert f"HTTP {status}" in text
    assert not [tweet for tweet in tweets if tweet in text]
    # Enough to tell what answered: its size, and the start of a page that is not JSON.
    sizes = {len(reply(request, 1).body.encode("utf-8")) for request in server.requests}
    assert any(f"{size} bytes" in text for size in sizes)
    if start is not None:
        assert start in text
