"""The HTTP client of media fetching: URLs made ASCII, redirects held to the same rules,
and one time limit per download that cuts its connections, redirects included.

Stdlib urllib only, http and https only (a redirect to file: or ftp: fails). Only public
addresses are connected to, unless an allowed network holds the address: a post's URL is
a stranger's, and may name this machine, the intranet or a cloud's metadata service.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import socket
import threading
import urllib.request
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

# Kept as they are when a URL is made ASCII: reserved characters and existing escapes.
URL_SAFE = "/%:@!$&'()*+,;=?~"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64 (RFC 6052),
# where a gateway connects to it, and the old IPv4-compatible ::a.b.c.d.
EMBEDDING = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))


#: The command that fetches a project's remote media (the app has none): named by the
#: reasons a fetch keeps with the media, which the app's detail panel shows too.
FETCH_COMMAND = "crisisdesk media fetch PROJECT"


class FetchError(Exception):
    """A URL that gave no usable image; ``status`` is what the media becomes."""

    def __init__(self, reason: str, status: str = "remote") -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


class RefusedAddress(OSError):
    """A connection not made: its address is no public one, and no allowed network
    holds it (an OSError, so that urllib reports it as the connection's failure)."""


def allowed_network(text: str) -> Network:
    """A network an analyst allows fetching from ("10.0.0.0/8", "192.168.1.20",
    "fd00::/8"); ValueError saying what is wrong."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"{text!r} is no IP address or network ({exc})") from None


def _checked_forms(ip: Address) -> list[Address]:
    """The address and those it stands for: an IPv4-mapped, 6to4, NAT64 or
    IPv4-compatible address reaches the IPv4 address inside it (::ffff:127.0.0.1 is
    this machine)."""
    forms: list[Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and any(ip in net for net in EMBEDDING):
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            forms.append(inner)
    return forms


def is_allowed(ip: Address, allowed: tuple[Network, ...]) -> bool:
    """Whether ``ip`` may be connected to: a public unicast address, or one an allowed
    network holds."""
    forms = _checked_forms(ip)
    if any(form in net for form in forms for net in allowed if form.version == net.version):
        return True
    return all(form.is_global and not form.is_multicast for form in forms)


def refused(host: str, ip: Address) -> RefusedAddress:
    """The error for a connection to ``host`` at ``ip`` not made, saying how to allow it."""
    try:
        literal = ipaddress.ip_address(host.strip("[]")) == ip
    except ValueError:  # a name, or an address in another spelling (2130706433)
        literal = False
    where = str(ip) if literal else f"{host} ({ip})"
    # The reason is kept with the media and shown in the app, which has no fetch of its
    # own: the CLI's option is said as the command to run, with this address.
    return RefusedAddress(f"not fetched: {where} is no public address (this machine, a "
                          f"private network or a cloud's metadata service); to fetch from "
                          f"it, in a terminal: {FETCH_COMMAND} --allow-network {ip}")


def _addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """getaddrinfo's answers for a TCP connection to ``host``: the addresses connected
    to, checked one by one (a name may resolve to a public and a private address)."""
    return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)


def _ip(sockaddr: tuple[Any, ...]) -> Address:
    # A link-local IPv6 address comes with its zone ("fe80::1%eth0").
    return ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])


def check_target(host: str, port: int, allowed: tuple[Network, ...]) -> None:
    """Raise RefusedAddress when ``host`` resolves, here, to an address not allowed.
    For a URL sent through a proxy: the proxy connects, so this is the best that can be
    checked (a name this machine cannot resolve is left to the proxy)."""
    try:
        infos = _addresses(host, port)
    except OSError:
        return
    for info in infos:
        if not is_allowed(ip := _ip(info[4]), allowed):
            raise refused(host, ip)


def connect_checked(address: tuple[str, int], timeout: Any, source_address: Any,
                    allowed: tuple[Network, ...]) -> socket.socket:
    """socket.create_connection, but each address the host name resolves to is checked
    before it is connected to: the check is on the address actually used, so a name
    that resolves to a private address (or to another one by the time of connecting,
    DNS rebinding) is caught, and so are 2130706433, 0177.0.0.1 and other spellings."""
    host, port = address
    not_allowed: list[Address] = []
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in _addresses(host, port):
        if not is_allowed(ip := _ip(sockaddr), allowed):
            not_allowed.append(ip)
            continue
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    if error is not None:
        raise error
    if not_allowed:
        raise refused(host, not_allowed[0])
    raise OSError(f"{host}: no address to connect to")


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
    """A handler mix-in: its connections are watched by its ``deadline`` and made only
    to public addresses or those ``allowed`` holds (checked at connect time, for each
    redirect too)."""

    deadline: Deadline
    allowed: tuple[Network, ...] = ()

    def do_open(self, http_class: type, req: urllib.request.Request, **kwargs: Any) -> Any:
        deadline, allowed = self.deadline, self.allowed
        # Through a proxy (the analyst's own, from the environment) the connection is
        # the proxy's: only the URL's host can be checked, as it resolves here.
        target = urlsplit(req.full_url)
        # Not target.port: "host:8x" raises ValueError there, out of the whole fetch (a
        # stranger's URL), where http.client reports it for this medium alone. The port
        # does not change the addresses a name resolves to.
        port = 443 if target.scheme == "https" else 80
        proxied = req.has_proxy() or bool(req._tunnel_host)  # type: ignore[attr-defined]

        def create(address: tuple[str, int], timeout: Any,
                   source_address: Any) -> socket.socket:
            if proxied:
                check_target(target.hostname or "", port, allowed)
                return socket.create_connection(address, timeout, source_address)
            return connect_checked(address, timeout, source_address, allowed)

        class Connection(http_class):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                # http.client's hook for making the socket: an attribute it sets here.
                self._create_connection = create

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
            # A user:password@ in the new URL goes as a header, as in the first URL:
            # left in, urllib took "user:password@host" for a host and port, and the
            # failure quoted the password into the media's reason.
            newurl, auth = credentials(request_url(newurl))
        except FetchError:
            fp.close()
            raise
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urlsplit(newurl).hostname != urlsplit(req.full_url).hostname:
            # The credentials of the first URL are for its host only, as browsers do.
            new.remove_header("Authorization")
        if new is not None and auth:
            new.add_header("Authorization", auth["Authorization"])
        return new


def opener(deadline: Deadline, allowed: tuple[Network, ...] = ()
           ) -> urllib.request.OpenerDirector:
    """An opener for http and https only (redirects to file: or ftp: fail) whose
    connections ``deadline`` cuts, to public addresses and those ``allowed`` holds."""
    opener = urllib.request.OpenerDirector()
    http, https = _HTTPHandler(), _HTTPSHandler()
    http.deadline = https.deadline = deadline
    http.allowed = https.allowed = allowed
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

