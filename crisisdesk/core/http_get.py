"""The HTTP client of media fetching: URLs made ASCII, redirects held to the same rules,
and one time limit per download that cuts its connections, redirects included.

Stdlib urllib only, http and https only (a redirect to file: or ftp: fails).
"""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import urllib.request
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

# Kept as they are when a URL is made ASCII: reserved characters and existing escapes.
URL_SAFE = "/%:@!$&'()*+,;=?~"


class FetchError(Exception):
    """A URL that gave no usable image; ``status`` is what the media becomes."""

    def __init__(self, reason: str, status: str = "remote") -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


class Deadline:
    """The end of one download's time, redirects included: its connections are cut
    then. The body's reads check the time themselves, but http.client waits for each
    header line with only the idle timeout: a server trickling headers held a thread."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self.sockets: list[socket.socket] = []
        self.timer = threading.Timer(seconds, self._expire)
        self.timer.daemon = True
        self.timer.start()

    def watch(self, sock: socket.socket) -> None:
        # No lock: expired is set before the list is read, so a socket added late sees it.
        self.sockets.append(sock)
        if self.expired:
            self._expire()

    def _expire(self) -> None:
        self.expired = True
        for sock in list(self.sockets):
            with contextlib.suppress(OSError):  # closed already
                sock.shutdown(socket.SHUT_RDWR)  # a blocked read returns: end of data


class _Watched:
    """A handler mix-in: its connections are watched by its ``deadline``."""

    deadline: Deadline

    def do_open(self, http_class: type, req: urllib.request.Request, **kwargs: Any) -> Any:
        deadline = self.deadline

        class Connection(http_class):  # type: ignore[valid-type,misc]
            def connect(self) -> None:
                super().connect()
                deadline.watch(self.sock)

        return super().do_open(Connection, req, **kwargs)  # type: ignore[misc]


class _HTTPHandler(_Watched, urllib.request.HTTPHandler):
    pass


class _HTTPSHandler(_Watched, urllib.request.HTTPSHandler):
    pass


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Redirects go where the first URL would: made ASCII as it is, http(s) only."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        try:
            newurl = request_url(newurl)
        except FetchError:
            fp.close()
            raise
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urlsplit(newurl).hostname != urlsplit(req.full_url).hostname:
            # The credentials of the first URL are for its host only, as browsers do.
            new.remove_header("Authorization")
        return new


def opener(deadline: Deadline) -> urllib.request.OpenerDirector:
    """An opener for http and https only (redirects to file: or ftp: fail) whose
    connections ``deadline`` cuts."""
    opener = urllib.request.OpenerDirector()
    http, https = _HTTPHandler(), _HTTPSHandler()
    http.deadline = https.deadline = deadline
    for handler in (urllib.request.ProxyHandler(), urllib.request.UnknownHandler(), http,
                    https, urllib.request.HTTPDefaultErrorHandler(), _RedirectHandler(),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def request_url(url: str) -> str:
    """The URL as sent: non-ASCII letters and spaces in its path and query
    percent-encoded as UTF-8 and the host name in IDNA, as browsers do; raises
    FetchError (unreadable) for what is no http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in ("http", "https"):
            raise FetchError("only http and https URLs are fetched", "unreadable")
        # Encoded here because urllib would send the Host header in Latin-1 (an error
        # outside it) and the socket would fail on a bad label: both ended the whole run.
        host = parts.hostname or ""
        netloc, ascii_host = parts.netloc, host.encode("idna").decode("ascii")
        if ascii_host != host:
            userinfo, at, _ = netloc.rpartition("@")
            port = "" if parts.port is None else f":{parts.port}"
            netloc = f"{userinfo}{at}{ascii_host}{port}"
        return urlunsplit(parts._replace(netloc=netloc,
                                         path=quote(parts.path, safe=URL_SAFE),
                                         query=quote(parts.query, safe=URL_SAFE),
                                         fragment=""))
    except ValueError as exc:  # a bad IPv6 host, text that is no Unicode (UnicodeError)
        raise FetchError(f"not a valid URL: {exc}", "unreadable") from None


def credentials(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its ``user:password@`` and the Basic authorisation header that
    carries them (urllib would look the whole ``user:password@host`` up as a host)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, {}
    netloc = parts.netloc.rpartition("@")[2]
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    header = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
    return urlunsplit(parts._replace(netloc=netloc)), {"Authorization": header}


def shown_url(url: str) -> str:
    """The URL as reports and the app show it: a password in it as ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:
        return url
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}"))

