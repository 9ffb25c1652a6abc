"""HTTP/1.1 requests and responses as values, and the h11 plumbing between them and a stream.

Theory of operation: :func:`read_request` feeds bytes from a trio stream into
an ``h11.Connection`` until one whole :class:`Request` (head and body) is
there, under two clocks: the head must arrive within ``header_timeout`` of
the first wait, the body within ``body_timeout``; a ``Content-Length`` over
``max_body`` is refused from the head alone, before any body is buffered,
and a chunked body is refused as soon as it grows past it.  Whose fault a
failure is stays explicit, as in h11 itself: :class:`HttpError` is an answer
for the client (400, 408, 413 …) that the caller sends before closing;
``None`` means the client went away.

:func:`send_response` writes one :class:`Response` with the security headers
every answer carries (:data:`SECURITY_HEADERS`, HSTS on TLS only).

This module is shared by the HTTPS listener (:mod:`kmsd.http.listener`) and
the operational listener of ``--metrics-port`` (:mod:`kmsd.metrics.http`), so
there is one h11 loop in the code base.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import h11
import trio

#: Bytes asked of the stream per read (a few TLS records).
RECEIVE_SIZE = 65536
#: Largest request head (request line and headers) accepted; h11 refuses bigger ones.
MAX_HEAD = 16384

#: Sent with every response.  CSP: only our own scripts, styles and images,
#: no inline script, no framing (the UI is plain files shipped with the package).
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
)
#: HTTP Strict Transport Security, on TLS only (RFC 6797 §7.2: never over plain HTTP).
HSTS = ("strict-transport-security", "max-age=31536000")

JSON_TYPE = "application/json"


class HttpError(Exception):
    """An answer for the client: ``{"error": {"code": code, "message": message}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers

    def response(self) -> Response:
        return error_response(self.status, self.code, self.message, self.headers)


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]  # names lower-cased
    body: bytes
    http_version: str = "1.1"

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.target).path) or "/"

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased (``text/xml``)."""
        value = self.header("content-type") or ""
        return value.split(";", 1)[0].strip().lower()

    def cookies(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in self.headers:
            if key != "cookie":
                continue
            for part in value.split(";"):
                name, sep, val = part.strip().partition("=")
                if sep and name and name not in out:
                    out[name] = val
        return out

    def json(self) -> Any:
        """The body as JSON; 400 when it is not."""
        try:
            return json.loads(self.body or b"null")
        except (ValueError, RecursionError):
            raise HttpError(400, "bad_request", "the body is not valid JSON") from None


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, value: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
        body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return cls(status, body, JSON_TYPE, list(headers or ()))

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
        return cls(status, text.encode("utf-8"), content_type)


def error_response(
    status: int, code: str, message: str, headers: tuple[tuple[str, str], ...] | list[tuple[str, str]] = ()
) -> Response:
    """The one error shape of the HTTP API."""
    return Response.json({"error": {"code": code, "message": message}}, status, list(headers))


@dataclass(frozen=True, slots=True)
class ReadLimits:
    max_body: int
    header_timeout: float
    body_timeout: float


async def _more(conn: h11.Connection, stream: trio.abc.Stream, deadline: float, what: str) -> None:
    with trio.move_on_at(deadline) as scope:
        data = await stream.receive_some(RECEIVE_SIZE)
    if scope.cancelled_caught:
        raise HttpError(408, "timeout", f"the request {what} did not arrive in time")
    conn.receive_data(bytes(data))


async def read_request(
    conn: h11.Connection, stream: trio.abc.Stream, limits: ReadLimits, *, idle_deadline: float | None = None
) -> Request | None:
    """The next request on ``conn``; None when the client closed (or stayed idle past ``idle_deadline``).

    Raises :class:`HttpError` for a request that must be refused (the
    connection is not reusable after that).
    """
    head_deadline: float | None = None
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if head_deadline is None and idle_deadline is not None and not conn.trailing_data[0]:
                    # Keep-alive: waiting for the first byte of the next request.
                    with trio.move_on_at(idle_deadline) as idle:
                        data = await stream.receive_some(RECEIVE_SIZE)
                    if idle.cancelled_caught:
                        return None
                    conn.receive_data(bytes(data))
                    head_deadline = trio.current_time() + limits.header_timeout
                    continue
                if head_deadline is None:
                    head_deadline = trio.current_time() + limits.header_timeout
                await _more(conn, stream, head_deadline, "headers")
                continue
            if isinstance(event, h11.ConnectionClosed):
                return None
            if isinstance(event, h11.Request):
                break
            return None
        headers = tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in event.headers)
        request_head = (event.method.decode("ascii", "replace"), event.target.decode("ascii", "replace"))
        length = next((v for k, v in headers if k == "content-length"), None)
        if length is not None and length.strip().isdigit() and int(length) > limits.max_body:
            raise HttpError(413, "payload_too_large", f"the body exceeds {limits.max_body} bytes")
        body = bytearray()
        body_deadline = trio.current_time() + limits.body_timeout
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA:
                await _more(conn, stream, body_deadline, "body")
            elif isinstance(ev, h11.Data):
                body += ev.data
                if len(body) > limits.max_body:
                    raise HttpError(413, "payload_too_large", f"the body exceeds {limits.max_body} bytes")
            elif isinstance(ev, h11.EndOfMessage):
                break
            else:  # ConnectionClosed mid-body
                return None
    except h11.RemoteProtocolError as exc:
        status = exc.error_status_hint if 400 <= exc.error_status_hint < 500 else 400
        raise HttpError(status, "bad_request", "malformed HTTP request") from None
    version = event.http_version.decode("ascii", "replace")
    return Request(request_head[0], request_head[1], headers, bytes(body), version)


def _head_headers(response: Response, *, tls: bool, close: bool) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = [
        ("content-type", response.content_type),
        ("content-length", str(len(response.body))),
        *SECURITY_HEADERS,
    ]
    if tls:
        headers.append(HSTS)
    names = {k for k, _ in headers}
    headers.extend((k, v) for k, v in response.headers if k.lower() not in names)
    if close:
        headers.append(("connection", "close"))
    return headers


async def send_response(
    conn: h11.Connection, stream: trio.abc.Stream, response: Response, *, tls: bool, close: bool = False
) -> None:
    """Write ``response`` (head and body) on ``conn``; ``close`` adds ``Connection: close``."""
    headers = _head_headers(response, tls=tls, close=close)
    data = conn.send(h11.Response(status_code=response.status, headers=headers)) or b""
    if response.body:
        data += conn.send(h11.Data(data=response.body)) or b""
    data += conn.send(h11.EndOfMessage()) or b""
    await stream.send_all(data)


async def send_refusal(conn: h11.Connection, stream: trio.abc.Stream, response: Response, *, tls: bool) -> None:
    """Answer a request that will not be served, then the caller closes.

    h11 lets a server answer a request it could not parse; it does not let it
    answer one whose head or body never finished arriving (a timeout, a body
    over the limit).  Those get the same bytes, written without h11.
    """
    try:
        await send_response(conn, stream, response, tls=tls, close=True)
        return
    except h11.LocalProtocolError:
        pass
    phrase = HTTPStatus(response.status).phrase
    lines = [
        f"HTTP/1.1 {response.status} {phrase}",
        *(f"{k}: {v}" for k, v in _head_headers(response, tls=tls, close=True)),
    ]
    await stream.send_all(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body)


def can_send_error(conn: h11.Connection) -> bool:
    """Whether a response can still be written on ``conn`` (none was started)."""
    return conn.our_state in (h11.IDLE, h11.SEND_RESPONSE)


def header_map(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(k.lower(), v) for k, v in headers.items()]
