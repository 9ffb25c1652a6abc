"""The console's certificate view: ``GET /ui/api/objects/{id}/certificate`` (JSON) and its PEM / DER downloads.

Theory of operation: the certificate is read with a KMIP **Get** run through
the same executor as ``/kmip`` and ``/kmip/2_1`` (as the caller the HTTP
layer proved), so the permission rule, the object's state and the audit
record are exactly those of a Get: a caller without any right on the object
gets 404 as if it did not exist, one holding other rights but not ``get``
gets 403.  Certificates are public, so ``get`` is all a download needs.

Before that Get, the object's type is read from the store: anything but a
Certificate is answered 404 with the same message as a missing or hidden
object (no oracle), and a key is never fetched — a Get on a key would clear
its Fresh flag and log a key retrieval for what was only a page view.

The JSON answer (:func:`kmsd.http.cert_details.describe`) adds the
certificate's Links (Certificate Link to the issuer, Public Key Link …),
read by a Get Attributes in the same batch; a caller without
``get_attributes`` just sees no links.  Safe methods only, so the session
cookie alone authenticates them (CSRF protects state changes; a same-site
download link cannot carry a header).
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

import trio

from kmsd.kmip import tags
from kmsd.kmip.enums import CertificateType, ObjectType, Operation, ResultReason, ResultStatus
from ttlv import REGISTRY, Item, ItemType
from ttlv.xml import format_enum

from . import cert_details
from .app import AUDIT_ERRORS, Ctx, Route
from .kmip_routes import process_message
from .wire import HttpError, Response

VERSION = (2, 1)
MAX_ID_LENGTH = 1024
NOT_FOUND = "no such certificate"
#: How a failed Get is answered; any other reason is 409 with the KMIP reason and message.
REASON_STATUS = {
    ResultReason.OBJECT_NOT_FOUND: (404, "not_found", NOT_FOUND),  # 2.x: missing, or no Get right
    ResultReason.ITEM_NOT_FOUND: (404, "not_found", NOT_FOUND),  # its 1.x name
    ResultReason.PERMISSION_DENIED: (403, "forbidden", "Get is not permitted on this certificate"),
    ResultReason.OBJECT_DESTROYED: (410, "destroyed", "the certificate has been destroyed"),
}
PEM_TYPE = "application/x-pem-file"
DER_TYPE = "application/pkix-cert"  # RFC 2585 §4.1


def _request(uid: str, *operations: Operation) -> Item:
    header = Item(
        tags.RequestHeader,
        ItemType.STRUCTURE,
        (
            Item(
                tags.ProtocolVersion,
                ItemType.STRUCTURE,
                (
                    Item(tags.ProtocolVersionMajor, ItemType.INTEGER, VERSION[0]),
                    Item(tags.ProtocolVersionMinor, ItemType.INTEGER, VERSION[1]),
                ),
            ),
            Item(tags.BatchCount, ItemType.INTEGER, len(operations)),
        ),
    )
    items = tuple(
        Item(
            tags.BatchItem,
            ItemType.STRUCTURE,
            (
                Item(tags.Operation, ItemType.ENUMERATION, int(op)),
                Item(
                    tags.RequestPayload,
                    ItemType.STRUCTURE,
                    (Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, uid),),
                ),
            ),
        )
        for op in operations
    )
    return Item(tags.RequestMessage, ItemType.STRUCTURE, (header, *items))


def _uid(ctx: Ctx) -> str:
    uid = ctx.params["id"]
    if not uid or len(uid) > MAX_ID_LENGTH:
        raise HttpError(400, "bad_request", f"object identifiers are 1 to {MAX_ID_LENGTH} characters")
    ctx.audit["object_ids"] = [uid]
    return uid


async def _require_certificate(ctx: Ctx, uid: str) -> None:
    def object_type() -> int | None:
        with ctx.services.store.transaction(readonly=True) as tx:
            stored = tx.get(uid)
            return stored.object_type if stored is not None else None

    if await trio.to_thread.run_sync(object_type) != ObjectType.CERTIFICATE:
        raise HttpError(404, "not_found", NOT_FOUND)


def _payload(item: Item) -> Item:
    """A batch item's response payload; HttpError for a failed one."""
    if item.get(tags.ResultStatus) != ResultStatus.SUCCESS:
        reason = item.get(tags.ResultReason)
        if isinstance(reason, int) and reason in REASON_STATUS:
            raise HttpError(*REASON_STATUS[ResultReason(reason)])
        name = format_enum(reason, REGISTRY.tables["Result Reason"], VERSION) if isinstance(reason, int) else "?"
        message = item.get(tags.ResultMessage)
        raise HttpError(409, "kmip_error", f"{name}: {message}" if isinstance(message, str) else name)
    payload = item.find(tags.ResponsePayload)
    if payload is None:
        raise HttpError(500, "internal_error", "the Get answer has no payload")
    return payload


async def _fetch(ctx: Ctx, with_links: bool) -> tuple[str, bytes, list[dict[str, str]]]:
    """The certificate's DER (by a KMIP Get as the caller), and its Links when asked."""
    uid = _uid(ctx)
    await _require_certificate(ctx, uid)
    ops = (Operation.GET, Operation.GET_ATTRIBUTES) if with_links else (Operation.GET,)
    answer = await process_message(ctx, _request(uid, *ops))
    items = answer.find_all(tags.BatchItem)
    if not items:
        raise HttpError(500, "internal_error", "the request message was refused")
    certificate = _payload(items[0]).find(tags.Certificate)
    if certificate is None or certificate.get(tags.CertificateType) != CertificateType.X_509:
        raise HttpError(422, "unsupported", "only X.509 certificates can be shown")
    der = certificate.get(tags.CertificateValue)
    if not isinstance(der, bytes) or not der:
        raise HttpError(422, "unreadable", "the certificate has no value")
    links: list[dict[str, str]] = []
    if len(items) > 1 and items[1].get(tags.ResultStatus) == ResultStatus.SUCCESS:
        links = _links(items[1])
    return uid, der, links


def _links(item: Item) -> list[dict[str, str]]:
    payload = item.find(tags.ResponsePayload)
    attributes = payload.find(tags.Attributes) if payload is not None else None
    out = []
    for link in attributes.find_all(tags.Link) if attributes is not None else ():
        kind, target = link.get(tags.LinkType), link.get(tags.LinkedObjectIdentifier)
        if isinstance(kind, int) and isinstance(target, str):
            out.append({"type": format_enum(kind, REGISTRY.tables["Link Type"], VERSION), "id": target})
    return out


async def certificate(ctx: Ctx) -> Response:
    uid, der, links = await _fetch(ctx, with_links=True)
    try:
        cert = cert_details.parse(der)
    except cert_details.CertificateUnreadable as exc:
        raise HttpError(422, "unreadable", str(exc)) from None
    details = cert_details.describe(cert, der, datetime.now(UTC))
    return Response.json({"object_id": uid, **details, "links": links})


def _filename(uid: str, suffix: str) -> str:
    # Identifiers are client-chosen text: keep a header-safe, path-free file name.
    return (re.sub(r"[^A-Za-z0-9._-]", "_", uid)[:100] or "certificate") + suffix


def _attachment(uid: str, suffix: str) -> list[tuple[str, str]]:
    return [("content-disposition", f'attachment; filename="{_filename(uid, suffix)}"')]


async def certificate_pem(ctx: Ctx) -> Response:
    uid, der, _ = await _fetch(ctx, with_links=False)
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = b"\n".join(body[i : i + 64] for i in range(0, len(body), 64))  # RFC 7468 §2: 64-character lines
    pem = b"-----BEGIN CERTIFICATE-----\n" + lines + b"\n-----END CERTIFICATE-----\n"
    return Response(200, pem, PEM_TYPE, _attachment(uid, ".pem"))


async def certificate_der(ctx: Ctx) -> Response:
    uid, der, _ = await _fetch(ctx, with_links=False)
    return Response(200, der, DER_TYPE, _attachment(uid, ".der"))


ROUTES = (
    Route("GET", "/ui/api/objects/{id}/certificate", certificate, "ui.certificate", audit=AUDIT_ERRORS),
    Route("GET", "/ui/api/objects/{id}/certificate.pem", certificate_pem, "ui.certificate_pem", audit=AUDIT_ERRORS),
    Route("GET", "/ui/api/objects/{id}/certificate.der", certificate_der, "ui.certificate_der", audit=AUDIT_ERRORS),
)
