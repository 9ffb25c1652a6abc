"""``POST /kmip``: one KMIP request message over HTTPS, in binary TTLV, KMIP-XML or KMIP-JSON.

Theory of operation (the KMIP HTTPS profile, and the XML/JSON message
encodings): the request's ``Content-Type`` picks the codec —
``application/octet-stream`` (binary TTLV), ``text/xml`` or
``application/xml`` (KMIP XML), ``application/json`` (KMIP JSON) — and the
response comes back in the same one.  A text encoding is decoded to an item
tree, written as binary TTLV, handed to the same
:meth:`~kmsd.ops.executor.Executor.process` as the KMIP port (every
protocol version it supports), and its answer is decoded and re-encoded.
The HTTP layer does no KMIP of its own: Maximum Response Size, batches,
result reasons are the executor's, on the binary form.

Authentication: the caller the HTTP layer proved (bearer token, session,
client certificate) is the requester; a message with no such caller must
carry its own KMIP Authentication, or it is answered 401 before it reaches
the executor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import trio

import ttlv
from ttlv import REGISTRY, Item

from .app import AUDIT_ERRORS, AUTH_OPTIONAL, Ctx, Route, unauthorized
from .auth import raw_peer
from .wire import HttpError, Response

REQUEST_HEADER = REGISTRY.tag("Request Header")
AUTHENTICATION = REGISTRY.tag("Authentication")


@dataclass(frozen=True, slots=True)
class Codec:
    content_type: str
    decode: Callable[[bytes, ttlv.Limits], Item]
    encode: Callable[[Item], bytes]


def _xml_decode(body: bytes, limits: ttlv.Limits) -> Item:
    return ttlv.xml.decode(body, limits=limits)


def _json_decode(body: bytes, limits: ttlv.Limits) -> Item:
    return ttlv.json.decode(body, limits=limits)


BINARY = Codec("application/octet-stream", lambda body, limits: ttlv.decode(body, limits), ttlv.encode)
XML = Codec("text/xml; charset=utf-8", _xml_decode, lambda item: ttlv.xml.encode(item).encode("utf-8"))
JSON = Codec("application/json", _json_decode, lambda item: ttlv.json.encode(item).encode("utf-8"))
CODECS = {
    "application/octet-stream": BINARY,
    "application/x-kmip": BINARY,
    "text/xml": XML,
    "application/xml": XML,
    "application/json": JSON,
}


def has_kmip_authentication(message: Item) -> bool:
    header = message.find(REQUEST_HEADER)
    return header is not None and header.find(AUTHENTICATION) is not None


async def process_message(ctx: Ctx, message: Item) -> Item:
    """Run one decoded request message through the executor; the decoded response message."""
    if ctx.caller is None and not has_kmip_authentication(message):
        raise unauthorized("authentication required: a client certificate, a bearer token or KMIP credentials")
    try:
        data = ttlv.encode(message)
    except ttlv.EncodeError as exc:
        raise HttpError(400, "bad_request", f"not an encodable KMIP message: {exc}") from None
    peer = ctx.caller.peer(ctx.conn) if ctx.caller is not None else raw_peer(ctx.conn)
    response = await trio.to_thread.run_sync(ctx.services.executor.process, data, peer)
    if response is None:
        raise HttpError(400, "bad_request", "not a KMIP request message")
    return ttlv.decode(response, ttlv.Limits(max_size=max(len(response), ttlv.DEFAULT_LIMITS.max_size)))


async def post_kmip(ctx: Ctx) -> Response:
    request = ctx.request
    codec = CODECS.get(request.content_type)
    if codec is None:
        raise HttpError(415, "unsupported_media_type", "use application/octet-stream, text/xml or application/json")
    limits = ttlv.Limits(max_size=ctx.services.max_message_size)
    try:
        message = codec.decode(request.body, limits)
    except ttlv.TTLVError as exc:
        raise HttpError(400, "bad_request", f"undecodable KMIP message: {str(exc)[:200]}") from None
    answer = await process_message(ctx, message)
    try:
        body = codec.encode(answer)
    except ttlv.TTLVError as exc:  # pragma: no cover - the executor's answers always encode
        raise HttpError(500, "internal_error", "the response could not be encoded") from exc
    return Response(200, body, codec.content_type)


ROUTES = (Route("POST", "/kmip", post_kmip, "kmip", auth=AUTH_OPTIONAL, audit=AUDIT_ERRORS),)
