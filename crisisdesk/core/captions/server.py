"""Captions from an OpenAI-compatible chat-completions server (vLLM, SGLang, llama.cpp
server, Ollama), for when one machine is not enough.

Standard library only: ``urllib.request`` for HTTP and a thread pool bounded by
``concurrency`` for requests in flight (the server batches them on its side). Each
request is retried with exponential backoff on timeouts, connection errors, 429 and 5xx
(``Retry-After`` honoured); other 4xx are the request's own fault and are not retried.
A request that still fails gives its item an error result, so the job leaves it for the
next run. When every request of a batch fails to connect, the server is down: the
captioner raises :class:`CaptionError` instead of failing every item for hours.

The API key is read from the environment, sent only in the ``Authorization`` header, and
never appears in an error, a log line or ``repr``.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import io
import ipaddress
import json
import math
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from crisisdesk.core.captions.base import CaptionError, CaptionRequest, CaptionResult
from crisisdesk.core.captions.prompt import CaptionPrompt
from crisisdesk.core.http_get import credentials

#: Longest side of the JPEG sent: LLaVA sees 336 px (1.5) to 672 px tiles (1.6), so
#: more only costs bandwidth and the server's decoding time.
MAX_SIDE = 1024
#: Longest wait a server's Retry-After may impose on one request.
MAX_RETRY_AFTER = 300.0
#: Statuses that refuse the request as such, whatever its image: a wrong API key (401,
#: 403) or a model name or URL the server does not know (404).
REFUSED = frozenset({401, 403, 404})
#: Most bytes read of one answer: a caption of ``max_tokens`` tokens is a few kB; a server
#: that ignores the limit could send megabytes, each stored and searched as a caption.
MAX_ANSWER_BYTES = 1024 * 1024
#: Characters of an error answer that is not JSON the app's log may quote: its start
#: tells a proxy's or a firewall's page ("<html><head><title>403 Forbidden") from the
#: server's; the rest may echo the request, a post's text with it.
LOGGED_START = 48
#: Most bytes read of an error answer: its reason is in the first few hundred.
ERROR_ANSWER_BYTES = 2000


@dataclass(frozen=True)
class _Outcome:
    """How one request ended: a caption, or an error and whether it was a connection
    failure (the server not there at all)."""

    caption: str | None
    error: str | None = None
    unreachable: bool = False
    refused: bool = False  # 401, 403, 404: the key, the model name or the URL is wrong
    silent: bool = False  # connected, then no answer within the timeout, every try
    #: ``error`` as the app's log may keep it, where ``error`` quotes the server's
    #: answer (which may echo a post); None: ``error`` quotes nothing of it.
    logged: str | None = None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServerCaptioner:
    """A captioner that sends each image with its prompt to a chat-completions server."""

    def __init__(self, base_url: str, model: str, *,
                 api_key_env: str = "CRISISDESK_API_KEY", concurrency: int = 8,
                 timeout: float = 120.0, retries: int = 3, backoff: float = 1.0,
                 max_tokens: int = 128, max_side: int = MAX_SIDE) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        if retries < 0:
            raise ValueError(f"retries must not be negative, not {retries}")
        if not math.isfinite(timeout) or timeout <= 0:
            # The socket refuses these only once a request is sent, in a worker thread.
            raise ValueError(f"timeout must be a number of seconds above 0, not {timeout}")
        # urllib would look ``user:password@host`` up as a host name: the credentials go
        # in a Basic authorisation header instead, and never into what is shown or stored.
        url, self._url_auth = credentials(base_url.strip())
        self._password = urllib.parse.unquote(urllib.parse.urlsplit(base_url.strip()).password
                                              or "")
        self.endpoint = chat_completions_url(url)
        self.model = model
        self.name = f"server:{model}"  # the cache key: the same model anywhere is one
        self.device = url.rstrip("/")
        self.description = f"{model} via {self.device}"
        self.concurrency, self.timeout, self.retries = concurrency, timeout, retries
        self.backoff, self.max_tokens, self.max_side = backoff, max_tokens, max_side
        # Looked up once: a key set in the environment after start is not picked up.
        self._api_key = os.environ.get(api_key_env) or os.environ.get("OPENAI_API_KEY")
        self._stops: set[threading.Event] = set()  # of the calls in progress
        self._stops_lock = threading.Lock()

    def plain_text_secret(self) -> str | None:
        """A warning when a secret (the API key, a URL's password) would cross the
        network unencrypted: ``http://`` to a host other than this machine. None
        otherwise (https, a local server, or nothing secret to send)."""
        if not (self._api_key or self._url_auth):
            return None
        parts = urllib.parse.urlsplit(self.device)
        host = (parts.hostname or "").strip("[]")
        if parts.scheme != "http" or host == "localhost" or _is_loopback(host):
            return None
        # The URL's credentials win over the key when both are there (see _post).
        what = "the URL's password" if self._url_auth else "the API key"
        return (f"{what} goes to {host} unencrypted (http://): anyone on the network "
                "path can read it; use https:// for a server that is not on this machine")

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"ServerCaptioner({self.device!r}, {self.model!r}, api key {key})"

    def caption(self, requests: Sequence[CaptionRequest], prompt: CaptionPrompt
                ) -> list[CaptionResult]:
        """Captions for ``requests`` (at most ``concurrency`` in flight), in order."""
        if not requests:
            return []
        stop = threading.Event()  # this call's own: a cancelled call's threads keep theirs
        with self._stops_lock:
            self._stops.add(stop)
        pool = ThreadPoolExecutor(min(self.concurrency, len(requests)),
                                  thread_name_prefix="caption-request")
        try:
            futures = [pool.submit(self._one, request, prompt, stop) for request in requests]
            wait(futures)
            outcomes = [future.result() for future in futures]
        except BaseException:
            # Ctrl+C or a cancelled job: no new attempts, no backoff waits; requests
            # already sent end within the timeout.
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            with self._stops_lock:
                self._stops.discard(stop)
        pool.shutdown()
        if all(outcome.unreachable for outcome in outcomes):
            raise CaptionError(f"server unreachable at {self.device}: {outcomes[-1].error}")
        if all(outcome.silent for outcome in outcomes):
            # Connected but answering nothing, each request through all its tries: the
            # next batches would wait as long for nothing (hours over a project).
            raise CaptionError(f"the server at {self.device} accepts connections but "
                               f"answered none of {len(outcomes)} requests: "
                               f"{outcomes[-1].error}. Check that it is serving (its log), "
                               "or give it longer with --timeout")
        return [CaptionResult(request.key, outcome.caption, outcome.error, outcome.refused,
                              outcome.logged)
                for request, outcome in zip(requests, outcomes, strict=True)]

    def cancel(self) -> None:
        """Stop the calls in progress, from another thread (the job, cancelled while it
        waits): no new attempt, no backoff wait; requests already sent end within the
        timeout, and their calls return at once after."""
        with self._stops_lock:
            for stop in self._stops:
                stop.set()

    # ------------------------------------------------------------------ one request

    def _one(self, request: CaptionRequest, prompt: CaptionPrompt,
             stop: threading.Event) -> _Outcome:
        """One item's request with its retries."""
        try:
            image = jpeg_data_url(request.image_path, self.max_side)
        except Exception as exc:  # noqa: BLE001 - any decode failure is this item's alone
            return _Outcome(None, f"cannot read image {request.image_path}: "
                                  f"{type(exc).__name__}: {exc}")
        body = json.dumps({
            "model": self.model,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": image}},
                    {"type": "text", "text": prompt.user_text(request.tweet_text)},
                ]},
            ],
            "max_tokens": self.max_tokens,
            "temperature": 0,
        }).encode("utf-8")
        outcome = _Outcome(None, "not sent")
        for attempt in range(self.retries + 1):
            if stop.is_set():
                return _Outcome(None, "cancelled before it was sent")
            outcome, retry_after = self._post(body)
            if outcome.caption is not None or retry_after is None:
                return outcome
            if attempt < self.retries:
                self._sleep(retry_after if retry_after > 0
                            else self.backoff * (2 ** attempt), stop)
        tries = self.retries + 1
        after = f" (after {tries} attempt{'s' * (tries > 1)})"
        return _Outcome(None, f"{outcome.error}{after}", outcome.unreachable,
                        silent=outcome.silent,
                        logged=outcome.logged and f"{outcome.logged}{after}")

    def _post(self, body: bytes) -> tuple[_Outcome, float | None]:
        """One attempt: the outcome, and None when it must not be retried, else the wait
        the server asked for (0: use the backoff)."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._url_auth:  # given with this server's URL: they win over an environment key
            headers.update(self._url_auth)
        elif self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        http_request = urllib.request.Request(self.endpoint, data=body, headers=headers,
                                              method="POST")
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout) as response:
                data = response.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as exc:
            answer = _error_answer(exc)
            detail = self._clean(_error_text(answer))
            error = f"HTTP {exc.code} from {self.device}" + (f": {detail}" if detail else "")
            logged = f"HTTP {exc.code} from {self.device}" + (
                f": {self._clean(_answer_outline(answer))}" if detail else "")
            if exc.code == 429 or exc.code >= 500:
                return (_Outcome(None, error, logged=logged),
                        _retry_after(exc.headers.get("Retry-After")))
            return _Outcome(None, error, refused=exc.code in REFUSED, logged=logged), None
        except urllib.error.URLError as exc:
            # Raised while connecting (refused, no route, DNS, connect timeout).
            return _Outcome(None, self._clean(f"cannot connect to {self.device}: "
                                              f"{exc.reason}"), unreachable=True), 0.0
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            # Connected, then no complete answer in time (or the connection dropped).
            silent = isinstance(exc, TimeoutError)
            what = f"no answer within {self.timeout:g} s" if silent \
                else f"connection broken: {type(exc).__name__}: {exc}"
            return _Outcome(None, self._clean(f"{what} from {self.device}"),
                            silent=silent), 0.0
        if len(data) > MAX_ANSWER_BYTES:
            return _Outcome(None, f"answer from {self.device} larger than "
                                  f"{MAX_ANSWER_BYTES // (1024 * 1024)} MB: not a caption of "
                                  f"at most {self.max_tokens} tokens"), None
        try:
            return _Outcome(_caption_of(json.loads(data))), None
        except _ErrorAnswer as exc:
            return _Outcome(None, f"{self._clean(str(exc))} (from {self.device})"), None
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            return _Outcome(None, f"unexpected answer from {self.device}: "
                                  f"{type(exc).__name__}: {self._clean(str(exc))}"), None

    def _sleep(self, seconds: float, stop: threading.Event) -> None:
        """Wait between attempts; a cancel ends the wait at once."""
        stop.wait(min(seconds, MAX_RETRY_AFTER))

    def _clean(self, text: str) -> str:
        """``text`` with the API key and the URL's password blanked out, should a server
        echo them back."""
        for secret in (self._api_key, self._password):
            if secret:
                text = text.replace(secret, "***")
        return text


def chat_completions_url(base_url: str) -> str:
    """The chat-completions endpoint of a server given as ``http://host:8000``,
    ``http://host:8000/v1`` or the full ``.../v1/chat/completions``."""
    url = base_url.strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"server URL must start with http:// or https://, not {base_url!r}")
    try:
        parts.port  # noqa: B018 - a typo ("host:80o") fails here, not in every request
    except ValueError:
        raise ValueError(f"server URL {base_url!r}: the port after ':' must be a number "
                         "from 0 to 65535") from None
    if url.endswith("/chat/completions"):
        return url
    if url.endswith("/v1"):
        return url + "/chat/completions"
    return url + "/v1/chat/completions"


def jpeg_data_url(path: Path, max_side: int = MAX_SIDE) -> str:
    """The image as a ``data:image/jpeg;base64,...`` URL: upright, RGB, longest side at
    most ``max_side``."""

    from crisisdesk.core.imaging import open_image, upright_rgb

    with open_image(path) as img:
        img.draft("RGB", (max_side, max_side))  # JPEG: decode at reduced scale if larger
        img = upright_rgb(img)
        img.thumbnail((max_side, max_side))
        buffer = io.BytesIO()
        img.save(buffer, "JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class _ErrorAnswer(ValueError):
    """A 200 answer that carries an error instead of choices (the server's message)."""


def _caption_of(data: dict) -> str:
    """The answer's text (a string, or a list of text parts as some servers send)."""
    if isinstance(data, dict) and "choices" not in data:
        # Some servers and proxies answer 200 with an error body: OpenAI's
        # {"error": {"message": ...}} or vLLM's {"object": "error", "message": ...}.
        # Their message says what to fix; a bare KeyError: 'choices' does not.
        error = data.get("error", data if data.get("object") == "error" else None)
        if error is not None:
            message = error.get("message", error) if isinstance(error, dict) else error
            raise _ErrorAnswer(f"the server answered with an error: {str(message)[:300]}")
    choices = data["choices"]
    if isinstance(choices, list) and not choices:
        raise _ErrorAnswer("the answer holds no choices (an empty 'choices' list)")
    content = choices[0]["message"]["content"]
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if content is None:
        return ""
    if not isinstance(content, str):
        raise TypeError(f"message content is a {type(content).__name__}")
    return content.strip()


def _error_answer(exc: urllib.error.HTTPError) -> bytes:
    """The start of the answer that came with an error status (b"" when unreadable)."""
    try:
        return exc.read(ERROR_ANSWER_BYTES)
    except OSError:
        return b""


def _error_text(answer: bytes) -> str:
    """The short reason a server gave with an error status (OpenAI's error.message)."""
    raw = answer.decode("utf-8", "replace")
    try:
        message = json.loads(raw)["error"]
        message = message.get("message", message) if isinstance(message, dict) else message
        return str(message)[:300]
    except (ValueError, KeyError, TypeError):
        return raw.strip()[:300]


def _answer_outline(answer: bytes) -> str:
    """What the app's log says of an error answer: its size and, where it does not start
    as JSON does ({ or [), its first :data:`LOGGED_START` characters; never more (it
    may echo the request)."""
    size = f"{len(answer)}{'+' if len(answer) >= ERROR_ANSWER_BYTES else ''} bytes"
    # By its start, not by parsing it: one cut at ERROR_ANSWER_BYTES is no longer valid
    # JSON, and its first characters may be the request it echoes (a post's text).
    if answer.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] not in (b"{", b"["):
        start = " ".join(answer.decode("utf-8", "replace").split())[:LOGGED_START]
        return f"an answer of {size} starting {start!r} (the rest not logged)"
    return f"a JSON answer of {size} (not logged)"


def _retry_after(value: str | None) -> float:
    """Seconds a Retry-After header asks for (a number or an HTTP date); 0 when absent."""
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, when.timestamp() - time.time())

