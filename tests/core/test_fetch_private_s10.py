"""Media URLs come from strangers' posts: fetching them must not reach this machine, the
intranet or a cloud's metadata service (server-side request forgery from the analyst's
machine) unless the analyst allows that network. The check is on the address connected
to, so host names, other spellings of an address and redirects are caught too.

The tests' server is on 127.0.0.1, the very kind of address refused by default: they
allow it the way an analyst allows an intranet server (``--allow-network`` /
``FetchLimits.allowed_networks``). No connection leaves this machine: connections to
other addresses are refused and recorded by the ``connects`` fixture."""

from __future__ import annotations

import io
import ipaddress
import json
import socket
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from fetch_helpers import import_urls, media, serving
from PIL import Image

from crisisdesk.cli import main
from crisisdesk.core.media_fetch import FetchLimits, MediaFetchJob

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
_real_getaddrinfo = socket.getaddrinfo  # taken before the conftest's fixture replaces it
REFUSED = "is no public address"


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 90, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


PHOTO = jpeg()


class Handler(BaseHTTPRequestHandler):
    """A photo, redirects to private addresses, a redirect loop, a redirect that
    carries credentials for this same server."""

    hits: Counter = Counter()

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        Handler.hits[self.path] += 1
        port = self.server.server_address[1]
        if self.path.startswith("/photo.jpg"):
            self._send(PHOTO)
        elif self.path == "/to_metadata":
            self._redirect("http://169.254.169.254/latest/meta-data/iam.jpg")
        elif self.path == "/to_intranet":
            self._redirect("http://10.20.30.40/x.jpg")
        elif self.path == "/loop":
            self._redirect("/loop")
        elif self.path == "/to_credentials":
            self._redirect(f"http://ana:s3cret@127.0.0.1:{port}/private.jpg")
        elif self.path == "/private.jpg":  # ana:s3cret, as a Basic authorisation
            if self.headers.get("Authorization") == "Basic YW5hOnMzY3JldA==":
                self._send(PHOTO)
            else:
                self._send(b"who are you", 401, "text/plain")
        else:
            self._send(b"not found", 404, "text/plain")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, body: bytes, status: int = 200, ctype: str = "image/jpeg") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(monkeypatch) -> Iterator[str]:
    Handler.hits = Counter()
    with serving(Handler, monkeypatch) as address:
        yield address


@pytest.fixture
def names(monkeypatch) -> dict[str, list[str]]:
    """Host names the test resolves itself (name -> addresses, first lookup; then the
    last entry's addresses, as a rebinding DNS server answers), and addresses written
    as numbers in any spelling (2130706433) resolved as the system does, offline."""
    table: dict[str, list[str]] = {}
    lookups: Counter = Counter()
    lookup = socket.getaddrinfo  # the conftest's: loopback names only

    def resolve(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name in table:
            lookups[name] += 1
            answers = table[name] if lookups[name] == 1 else table[name][-1:]
            return [info for address in answers for info in socket_info(address, port)]
        try:
            return socket_info(name, port)
        except socket.gaierror:
            return lookup(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return table


def socket_info(address: str, port) -> list:
    # AI_NUMERICHOST: an address, never a lookup on the network.
    return _real_getaddrinfo(address, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)


@pytest.fixture
def connects(monkeypatch) -> list:
    """Connections to anything but loopback are refused and recorded (the test asserts
    there were none): nothing here may reach a real metadata service or intranet."""
    attempts: list = []
    real = socket.socket.connect

    def connect(self, address):
        ip = ipaddress.ip_address(address[0].partition("%")[0])
        if not (getattr(ip, "ipv4_mapped", None) or ip).is_loopback:
            attempts.append(address[0])
            raise OSError("network blocked by the test")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


def fetch(proj, allowed=()) -> MediaFetchJob:
    job = MediaFetchJob(proj, FetchLimits(concurrency=2, timeout=5, max_seconds=10,
                                          allowed_networks=allowed))
    list(job.run())
    return job


def test_urls_naming_this_machine_in_any_spelling_are_not_fetched_unless_allowed(
        proj, tmp_path, server, names, connects):
    port = server.split(":")[1]
    hosts = ["127.0.0.1", "localhost", "2130706433", "0177.0.0.1", "127.1",
             "[::ffff:127.0.0.1]", "0.0.0.0", "[::1]"]
    urls = [f"http://{host}:{port}/photo.jpg?{i}" for i, host in enumerate(hosts)]
    import_urls(proj, tmp_path, urls)
    job = fetch(proj)
    assert Handler.hits == Counter()  # not one request reached the server
    assert job.report.fetched == 0 and job.report.failed == {"remote": len(urls)}
    lines = [str(p) for p in job.report.problems]
    for i, url in enumerate(urls):
        row = media(proj, f"t{i}")
        # Left remote with its reason, so that a run allowing the network fetches it.
        assert row["status"] == "remote" and REFUSED in row["reason"], (url, row)
        assert "--allow-network" in row["reason"]
        assert sum(line.startswith(f"error: col:t{i}:0: {url}: not fetched")
                   for line in lines) == 1, (url, lines)
    # The analyst's opt-in fetches what its network holds, and only that: 0.0.0.0 and
    # ::1 are outside 127.0.0.0/8.
    again = fetch(proj, LOOPBACK)
    assert again.report.fetched == len(urls) - 2, again.report.summary()
    assert REFUSED in media(proj, "t6")["reason"] and REFUSED in media(proj, "t7")["reason"]
    assert connects == []


def test_a_name_is_checked_by_each_address_it_resolves_to_when_connecting(
        proj, tmp_path, server, names, connects):
    # A public-looking name whose DNS answers a public and a private address (and then,
    # rebinding, the private one only): a check of the URL's host before connecting saw
    # a public address, then the connection fell through to this machine.
    port = server.split(":")[1]
    names["photos.example.org"] = ["93.184.216.34", "127.0.0.1"]
    names["cdn.example.net"] = ["10.1.2.3"]
    import_urls(proj, tmp_path, [f"http://photos.example.org:{port}/photo.jpg",
                                 f"http://cdn.example.net:{port}/photo.jpg"])
    fetch(proj)
    assert Handler.hits == Counter()
    assert connects == ["93.184.216.34"]  # the public address only (refused by the test)
    assert REFUSED in media(proj, "t1")["reason"]
    assert "cdn.example.net (10.1.2.3) is no public address" in media(proj, "t1")["reason"]


def test_a_redirect_to_a_private_address_is_not_followed(proj, tmp_path, server, names,
                                                         connects):
    # The first URL is on an allowed network (the tests' server, as an intranet's would
    # be); the redirects lead to other networks that are not allowed.
    import_urls(proj, tmp_path, [f"http://{server}/to_metadata",
                                 f"http://{server}/to_intranet"])
    job = fetch(proj, (ipaddress.ip_network("127.0.0.1/32"),))
    assert connects == []  # no connection to 169.254.169.254 or 10.20.30.40 was tried
    for post_id, address in (("t0", "169.254.169.254"), ("t1", "10.20.30.40")):
        row = media(proj, post_id)
        assert row["status"] == "remote"
        assert f"{address} {REFUSED}" in row["reason"], row["reason"]
    assert job.report.failed == {"remote": 2}


def test_the_allow_network_option_of_media_fetch(tmp_path, server, capsys):
    project = tmp_path / "proj"
    src = tmp_path / "page.jsonl"
    src.write_text(json.dumps({"data": [
        {"id": "1", "text": "x", "attachments": {"media_keys": ["k"]}}],
        "includes": {"media": [{"media_key": "k", "type": "photo",
                                "url": f"http://{server}/photo.jpg"}]}}) + "\n", "utf-8")
    assert main(["import", str(project), str(src)]) == 0
    capsys.readouterr()
    assert main(["media", "fetch", str(project)]) == 1
    out = capsys.readouterr().out
    assert f"error: page:1:0: http://{server}/photo.jpg: not fetched: 127.0.0.1 " \
           f"{REFUSED}" in out, out
    assert Handler.hits == Counter()
    assert main(["media", "fetch", str(project), "--allow-network", "127.0.0.1"]) == 0
    assert "Fetched: 1 media" in capsys.readouterr().out
    with pytest.raises(SystemExit) as usage:
        main(["media", "fetch", str(project), "--allow-network", "10.0.0.300"])
    assert usage.value.code == 2
    assert "--allow-network: '10.0.0.300' is no IP address" in capsys.readouterr().err


def test_import_fetch_media_takes_the_allow_network_option_too(tmp_path, server, capsys):
    # Import with --fetch-media fetched with default limits: its media on an allowed
    # intranet server could only be fetched by a second command.
    src = tmp_path / "page.jsonl"
    src.write_text(json.dumps({"data": [
        {"id": "1", "text": "x", "attachments": {"media_keys": ["k"]}}],
        "includes": {"media": [{"media_key": "k", "type": "photo",
                                "url": f"http://{server}/photo.jpg"}]}}) + "\n", "utf-8")
    assert main(["import", str(tmp_path / "a"), str(src), "--fetch-media"]) == 1
    assert "not fetched: 127.0.0.1" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "b"), str(src), "--fetch-media",
                 "--allow-network", "127.0.0.0/8"]) == 0
    assert "Fetched: 1 media" in capsys.readouterr().out


def test_a_redirect_loop_is_one_line_of_reason(proj, tmp_path, server):
    # urllib's message ran over three lines in the report and the media's reason.
    import_urls(proj, tmp_path, [f"http://{server}/loop"])
    job = fetch(proj, LOOPBACK)
    reason = media(proj, "t0")["reason"]
    assert "too many redirects" in reason and "\n" not in reason, reason
    assert "\n" not in str(job.report.problems[0])


def test_credentials_in_a_redirect_are_sent_as_a_header_and_never_quoted(
        proj, tmp_path, server):
    # Left in the URL, "ana:s3cret@127.0.0.1" was looked up as a host name, and the
    # failure quoted it, password and all, into the media's reason and the report.
    import_urls(proj, tmp_path, [f"http://{server}/to_credentials"])
    job = fetch(proj, LOOPBACK)
    row = media(proj, "t0")
    assert "s3cret" not in (row["reason"] or "") and "s3cret" not in job.report.summary()
    assert row["status"] == "ok", row["reason"]
    assert Handler.hits["/private.jpg"] == 1
