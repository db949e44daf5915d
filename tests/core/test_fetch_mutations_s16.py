"""Media fetching behaviours a mutation audit (session 16) found untested: an IPv6 address
that carries a private IPv4 address inside it (6to4, NAT64, IPv4-compatible) is no public
address, a URL sent through the analyst's proxy is held to the same rule, and a fetch
run removes the partial downloads a crash left, never those of a
download in progress."""

from __future__ import annotations

import os
import time
from collections import Counter

from fetch_helpers import import_urls, media
from test_fetch_private_s10 import (  # noqa: F401 - fixtures used by name
    REFUSED,
    Handler,
    connects,
    fetch,
    names,
    server,
)

from crisisdesk.core.project import FETCHED_MEDIA


def test_ipv6_addresses_carrying_a_private_ipv4_address_are_not_fetched_from(
        proj, tmp_path, server, names, connects) -> None:  # noqa: F811
    """Python's ipaddress calls 6to4 (2002::/16), NAT64 (64:ff9b::/96) and IPv4-compatible
    (::a.b.c.d) addresses global whatever they carry: a name resolving to one of them
    reached the cloud's metadata service or this machine through a gateway."""
    port = server.split(":")[1]
    carried = {"six.example.org": "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
               "nat.example.org": "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
               "old.example.org": "::7f00:1",  # IPv4-compatible 127.0.0.1
               "lan.example.org": "64:ff9b::a14:1e28"}  # NAT64 of 10.20.30.40
    for name, address in carried.items():
        names[name] = [address]
    import_urls(proj, tmp_path, [f"http://{name}:{port}/photo.jpg" for name in carried])
    job = fetch(proj)
    assert connects == []  # not one connection was tried
    assert Handler.hits == Counter()
    assert job.report.fetched == 0 and job.report.failed == {"remote": len(carried)}
    for i, (name, address) in enumerate(carried.items()):
        reason = media(proj, f"t{i}")["reason"]
        assert f"{name} ({address}) {REFUSED}" in reason, reason


def test_a_url_sent_through_a_proxy_to_a_private_address_is_not_fetched(
        proj, tmp_path, server, names, connects, monkeypatch) -> None:  # noqa: F811
    """Through the analyst's proxy the proxy connects, not this machine: the URL's host
    is checked as it resolves here, else the proxy fetched the metadata service for us.
    (The tests' server plays the proxy: it would answer any request it got.)"""
    for variable in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("http_proxy", f"http://{server}")
    import_urls(proj, tmp_path, ["http://169.254.169.254/latest/meta-data/iam.jpg"])
    job = fetch(proj)
    assert Handler.hits == Counter()  # the proxy was never asked
    assert job.report.failed == {"remote": 1}
    assert f"169.254.169.254 {REFUSED}" in media(proj, "t0")["reason"]
    assert connects == []


def test_a_fetch_run_removes_old_partial_downloads_and_keeps_recent_ones(proj) -> None:
    """A crash leaves ``.part`` files; the next run removes those older than an hour. A
    recent one may be another run's download in progress (the app and a terminal at
    once): removing it made that run report its photo as unreadable."""
    partial = proj.folder("media") / FETCHED_MEDIA / ".partial"
    partial.mkdir(parents=True)
    old, recent = partial / "crashed.part", partial / "in_progress.part"
    old.write_bytes(b"half a photo")
    recent.write_bytes(b"a photo arriving")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(old, (two_hours_ago, two_hours_ago))
    fetch(proj)
    assert not old.exists() and recent.exists()
