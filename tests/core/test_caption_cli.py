"""``crisisdesk caption`` end to end: a project imported by the CLI, captioned through a
local chat-completions server (the engine backend), resumed, with per-item problems and
a server that is down; the local route through a stand-in factory."""

from __future__ import annotations

import socket
import sys
import types
from pathlib import Path

import pytest
from import_helpers import build_csv_source
from test_caption_server import ChatServer, Reply, tweet_of

from crisisdesk.cli import main
from crisisdesk.core.captions.base import CaptionResult
from crisisdesk.core.models.registry import ModelMissing
from crisisdesk.core.project import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """build_csv_source: five photos in four posts, and a text-only post."""
    assert main(["import", str(tmp_path / "p"), str(build_csv_source(tmp_path / "src"))]) == 0
    return Project.open(tmp_path / "p")


def _caption(project: Project, *args: str) -> int:
    return main(["caption", str(project.root), "--timeout", "0.5", *args])


def test_caption_through_a_server_then_resume(project: Project, capsys) -> None:
    with ChatServer() as server:
        code = _caption(project, "--server", server.url + "/v1", "--server-model", "llava-t",
                        "--concurrency", "2", "--limit", "3")
        out, err = capsys.readouterr()
        assert code == 0, out + err
        assert "Captioning with server:llava-t on " + server.url + "/v1" in err
        assert "3 of 5 captions to write" in err and "1 item without an image" in err
        assert "3 captions written for 3 items" in out
        assert len(server.requests) == 3
        assert _caption(project, "--server", server.url, "--server-model", "llava-t") == 0
        out, err = capsys.readouterr()
        assert "2 captions to write, 3 written before" in err
        assert "2 captions written" in out
        assert len(server.requests) == 5  # the rest only
    with project.open_store() as store:
        texts = [t.text for t in store.item_texts()]
    assert "Roof torn off caption of Roof torn off" in texts
    assert "Text only" in texts


def test_items_the_server_fails_are_reported_and_exit_1(project: Project, capsys) -> None:
    def reply(request: dict, attempt: int) -> Reply:
        if "one cell" in tweet_of(request):
            return Reply(status=422, body='{"error": {"message": "image rejected"}}')
        if "two rows" in tweet_of(request):
            return Reply(caption="a flooded a flooded a flooded street")
        return Reply()

    with ChatServer(reply) as server:
        code = _caption(project, "--server", server.url, "--server-model", "m")
    out = capsys.readouterr().out
    assert code == 1
    assert "3 captions written" in out  # two flagged ones included
    assert "no caption (retried on the next run): 2" in out
    assert "a.jpg: HTTP 422" in out and "image rejected" in out
    assert "flagged captions (stored, never used as text): 2" in out
    assert "c.jpg: degenerate: repeated phrase 'a flooded' x3" in out


def test_a_200_answer_with_an_error_body_reports_the_servers_message(project: Project,
                                                                    capsys) -> None:
    # Proxies and some engines answer 200 with an error body instead of choices.
    def reply(request: dict, attempt: int) -> Reply:
        if "one cell" in tweet_of(request):
            return Reply(body='{"error": {"message": "model m is not loaded"}}')
        if "two rows" in tweet_of(request):
            return Reply(body='{"object": "error", "message": "prompt too long for m"}')
        if "Roof" in tweet_of(request):
            return Reply(body='{"id": "x", "choices": []}')
        return Reply()

    with ChatServer(reply) as server:
        code = _caption(project, "--server", server.url, "--server-model", "m")
    out = capsys.readouterr().out
    assert code == 1
    assert "no caption (retried on the next run): 5" in out
    assert "a.jpg: the server answered with an error: model m is not loaded" in out
    assert "c.jpg: the server answered with an error: prompt too long for m" in out
    assert "r1.jpg: the answer holds no choices" in out
    assert "KeyError" not in out and "IndexError" not in out


def test_a_server_that_is_down_exits_2_and_says_where(project: Project, capsys) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = _caption(project, "--server", f"http://127.0.0.1:{port}", "--server-model", "m")
    err = capsys.readouterr().err
    assert code == 2
    assert f"server unreachable at http://127.0.0.1:{port}" in err
    with project.open_store() as store:
        state, = store.conn.execute("SELECT state FROM jobs WHERE kind = 'caption'").fetchone()
    assert state == "failed"


@pytest.mark.parametrize("args", [
    ["--server", "http://127.0.0.1:1"],
    ["--server-model", "m"],
    ["--server", "http://127.0.0.1:1", "--server-model", "m", "--captioner", "x"],
    ["--prompt-version", "v999"],
    ["--batch-size", "0"],
])
def test_bad_usage_exits_2(project: Project, args: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        raise SystemExit(_caption(project, *args))
    assert exit_.value.code == 2


class _LocalFake:
    """What the local factory gives: a CPU captioner with a time estimate."""

    name, device = "tiny-local", "cpu"

    def estimate_seconds(self, n_items: int) -> float:
        return 600.0 * n_items

    def caption(self, requests, prompt):
        return [CaptionResult(r.key, f"a photo for {r.tweet_text}") for r in requests]


def _factory(monkeypatch, load) -> list[dict]:
    calls: list[dict] = []
    module = types.ModuleType("crisisdesk.core.captions.factory")

    def load_captioner(name=None, **options):
        calls.append({"name": name, **options})
        return load(name)

    module.load_captioner = load_captioner  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "crisisdesk.core.captions.factory", module)
    return calls


def test_a_local_captioner_on_cpu_shows_the_time_estimate_first(project: Project,
                                                               monkeypatch, capsys) -> None:
    calls = _factory(monkeypatch, lambda name: _LocalFake())
    assert _caption(project, "--captioner", "tiny", "--device", "cpu", "--quant", "none",
                    "--max-new-tokens", "32") == 0
    out, err = capsys.readouterr()
    assert calls == [{"name": "tiny", "quant": "none", "device": "cpu", "max_new_tokens": 32}]
    assert "On this CPU that takes about 50 min" in err  # 5 images x 600 s
    assert "5 captions written" in out


def test_a_missing_local_model_exits_2_with_its_message(project: Project, monkeypatch,
                                                        capsys) -> None:
    def missing(name):
        raise ModelMissing("llava-cpu is not installed: crisisdesk models download llava-cpu")

    _factory(monkeypatch, missing)
    assert _caption(project) == 2
    assert "crisisdesk models download llava-cpu" in capsys.readouterr().err
