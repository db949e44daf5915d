"""Shared test set-up: offscreen Qt, offline hubs, small project fixtures."""

from __future__ import annotations

import os
import socket

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from crisisdesk.core.project import Project  # noqa: E402


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
