"""Captions through a server as an analyst meets them in a deployment: a wrong API key or
model name (the run stops after one batch instead of sending every image to be refused),
a typo in the server's port, an answer far larger than any caption, and Cancel while the
server keeps the job waiting."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from import_helpers import build_csv_source
from test_caption_server import ChatServer, Reply

from crisisdesk.cli import main
from crisisdesk.core.project import Project

KEY = "sk-wrong-key-0123456789"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """build_csv_source: five photos in four posts, and a text-only post."""
    assert main(["import", str(tmp_path / "p"), str(build_csv_source(tmp_path / "src"))]) == 0
    return Project.open(tmp_path / "p")


# -- a wrong key, model name or URL ----------------------------------------------------

@pytest.mark.parametrize(("status", "message"), [
    (401, "Incorrect API key provided"),
    (403, "Forbidden"),
    (404, "The model `llava-typo` does not exist."),
])
def test_a_server_refusing_every_request_stops_the_run_after_one_batch(
        project: Project, status: int, message: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CRISISDESK_API_KEY", KEY)
    with ChatServer(lambda request, attempt: Reply(
            status=status, body=json.dumps({"error": {"message": message}}))) as server:
        code = main(["caption", str(project.root), "--server", server.url,
                     "--server-model", "llava-typo", "--timeout", "5", "--batch-size", "2"])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert len(server.requests) == 2  # one batch, not all five images
    assert f"HTTP {status}" in err and message in err and "API key" in err
    assert KEY not in out + err
    with project.open_store() as store:
        (state, error) = store.conn.execute(
            "SELECT state, error FROM jobs WHERE kind = 'caption'").fetchone()
    assert state == "failed" and f"HTTP {status}" in error and KEY not in error


# -- a typo in the server's URL ------------------------------------------------------------

@pytest.mark.parametrize("port", ["80o0", "99999"])
def test_a_server_url_whose_port_is_no_number_is_bad_usage(project: Project, port: str,
                                                            capsys) -> None:
    code = main(["caption", str(project.root), "--server", f"http://127.0.0.1:{port}/v1",
                 "--server-model", "m", "--timeout", "5"])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert "port" in err and "captions written" not in out  # said before any request


# -- an answer far larger than a caption -----------------------------------------------------

def test_an_answer_of_megabytes_is_no_caption(project: Project, capsys) -> None:
    huge = " ".join(f"word{i}" for i in range(300_000))  # ~3 MB: max_tokens ignored

    def reply(request: dict, attempt: int) -> Reply:
        return Reply(caption=huge) if "Roof" in request["messages"][1]["content"][1]["text"] \
            else Reply()

    with ChatServer(reply) as server:
        code = main(["caption", str(project.root), "--server", server.url,
                     "--server-model", "m", "--timeout", "5"])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert "4 captions written" in out and "larger than 1 MB" in out
    with project.open_store() as store:
        longest = store.conn.execute("SELECT MAX(LENGTH(caption)) FROM captions").fetchone()[0]
    assert longest < 1000


# -- Cancel while the server keeps the job waiting ----------------------------------------------

def test_cancel_acts_while_the_server_holds_a_batch_and_a_rerun_captions_each_pair_once(
        project: Project) -> None:
    from crisisdesk.core.captions.job import CaptionJob
    from crisisdesk.core.captions.server import ServerCaptioner

    release = threading.Event()

    def held(request: dict, attempt: int) -> Reply:
        release.wait(timeout=20)  # a busy server: no answer until released
        return Reply()

    with ChatServer(held) as server:
        job = CaptionJob(project, ServerCaptioner(server.url, "m", timeout=30),
                         batch_size=5)
        steps = job.run()
        assert next(steps).done == 0  # "5 images to caption"
        waiting = next(steps)  # yielded while every request is held: Cancel can act here
        assert waiting.done == 0
        steps.close()  # the app's Cancel (it closes the job at a yield)
        release.set()  # the held answers arrive after the cancel: dropped, not stored
        with project.open_store() as store:
            (state,) = store.conn.execute(
                "SELECT state FROM jobs WHERE kind = 'caption'").fetchone()
            assert state == "cancelled"
            assert store.conn.execute("SELECT COUNT(*) FROM captions").fetchone()[0] == 0
        rerun = CaptionJob(project, ServerCaptioner(server.url, "m", timeout=30))
        for _ in rerun.run():
            pass
    assert rerun.report.captioned == 5
    with project.open_store() as store:
        assert store.conn.execute("SELECT COUNT(*) FROM captions").fetchone()[0] == 5


@pytest.mark.parametrize(("url", "key", "warned"), [
    ("http://gpu-host:8000/v1", "sk-1", True),
    ("http://ana:pw@10.0.0.5:8000/v1", None, True),
    ("https://gpu-host/v1", "sk-1", False),
    ("http://127.0.0.1:8000/v1", "sk-1", False),
    ("http://localhost:8000/v1", "sk-1", False),
    ("http://gpu-host:8000/v1", None, False),  # nothing secret: images on the LAN
])
def test_a_secret_sent_over_plain_http_to_another_host_is_warned_of(
        monkeypatch, url: str, key: str | None, warned: bool) -> None:
    from crisisdesk.core.captions.server import ServerCaptioner

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    if key:
        monkeypatch.setenv("CRISISDESK_API_KEY", key)
    else:
        monkeypatch.delenv("CRISISDESK_API_KEY", raising=False)
    warning = ServerCaptioner(url, "m").plain_text_secret()
    assert (warning is not None) == warned
    if warning:
        assert "unencrypted" in warning and "https://" in warning
        assert (key or "pw") not in warning


def test_the_caption_command_prints_the_plain_http_warning(project: Project, capsys,
                                                           monkeypatch) -> None:
    from crisisdesk.core.captions import job as caption_job

    monkeypatch.setenv("CRISISDESK_API_KEY", "sk-secret-1")
    monkeypatch.setattr(caption_job.CaptionJob, "run", lambda self: iter(()))
    main(["caption", str(project.root), "--server", "http://gpu-host:8000/v1",
          "--server-model", "m"])
    err = capsys.readouterr().err
    assert "warning: the API key goes to gpu-host unencrypted" in err
    assert "sk-secret-1" not in err
