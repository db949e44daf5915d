"""Shared test set-up: offscreen Qt, offline hubs, small project fixtures."""

from __future__ import annotations

import os
import socket
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from crisisdesk.core.project import Project  # noqa: E402


#: Hosts a test may reach: its own servers on this machine.
LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}
_getaddrinfo = socket.getaddrinfo


@pytest.fixture(autouse=True)
def _no_host_but_this_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test looks up another host (no network in tests, no hub): a code path that
    would go online fails here, on a machine with network too, instead of passing there
    and failing on one without it."""
    def only_loopback(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and str(name) not in LOOPBACK:
            raise socket.gaierror(socket.EAI_NONAME,
                                  f"tests reach no other host (asked for {name!r})")
        return _getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", only_loopback)


@pytest.fixture(autouse=True)
def _no_app_log_left_started():
    """A test that ran the app's main() started its log (once per process) in that
    test's data folder: stopped after it, so the next test's log is its own."""
    yield
    app_log = sys.modules.get("crisisdesk.core.app_log")
    if app_log is not None:
        app_log.stop_log()


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A new, empty project in a temporary folder."""
    return Project.open(tmp_path / "project", create=True)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list:
    """Sockets that record and refuse every connection attempt (tests assert it stays [])."""
    attempts: list = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection",
                        lambda address, *a, **k: refuse(None, address))
    return attempts
