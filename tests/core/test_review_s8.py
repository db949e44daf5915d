"""Review of the day's store changes: what an analyst meets in a real deployment."""

from __future__ import annotations

import sqlite3
from pathlib import PureWindowsPath

import pytest

from crisisdesk.core.store.db import rw_uri


def test_a_project_on_a_windows_network_share_opens() -> None:
    r"""A project kept on a team's share (\\server\share\...) is opened read-write
    without being made anew: pathlib writes that path as file://server/share/..., whose
    "server" SQLite takes for a URI authority and refuses ("invalid uri authority")
    unless built to allow one, which Python's sqlite3 is not. Every store of such a
    project failed to open. The URI keeps the authority empty (file:////server/...),
    which SQLite's Windows VFS opens as the UNC path."""
    uri = rw_uri(PureWindowsPath(r"\\server\crisis share\flood\project.sqlite"))
    assert uri == "file:////server/crisis%20share/flood/project.sqlite?mode=rw"
    # SQLite parses it (no authority): here, on a system without that share, it says
    # only that the file cannot be opened.
    with pytest.raises(sqlite3.OperationalError, match="unable to open database file"):
        sqlite3.connect(uri, uri=True)


def test_a_project_on_a_drive_letter_keeps_its_uri() -> None:
    assert rw_uri(PureWindowsPath(r"D:\Crisis\flood 2024\project.sqlite")) == \
        "file:///D:/Crisis/flood%202024/project.sqlite?mode=rw"
