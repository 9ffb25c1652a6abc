"""``POST /kmip/2_1``: the Cosmian KMS JSON TTLV API, so Cosmian's clients and scripts work unchanged.

What Cosmian's server does (``crate/server/src/routes/kmip.rs`` in
Cosmian/kms), and what is matched here:

* The body is one JSON TTLV object (``{"tag": …, "type": …, "value": …}``,
  the KMIP 2.1 JSON profile, which :mod:`ttlv.json` reads).
* A *full message* — tag ``RequestMessage`` (older Cosmian clients say
  ``Message``) — is processed as a batch and answered with the
  ``ResponseMessage`` (HTTP 200 even when items failed: the failures are in
  the batch items, as KMIP says).
* A *bare operation* — tag ``Create``, ``Locate``, ``GetAttributes`` … (an
  Operation name), value the request payload's fields — is run as a
  one-item KMIP 2.1 request and answered with the bare response payload,
  tagged ``<Operation>Response`` (``CreateResponse``).
* Errors, as Cosmian's ``KmsError`` renders them: a failed bare operation or
  an unreadable body is HTTP 422 with a plain-text body
  ``"<Result Reason>: <message>"`` (Cosmian's ``Kmip21Error`` display, e.g.
  ``Item_Not_Found: …``; we write the reason's KMIP name with underscores);
  401 for authentication (our JSON error shape: Cosmian's text there is not
  something clients parse).

Structures are written with an explicit ``"type": "Structure"`` as
Cosmian's serializer writes them.  Cosmian's client also sends the
Protocol Version it speaks (2.1); bare operations are therefore run at 2.1.
"""

from __future__ import annotations

from typing import Any

import ttlv
from kmsd.kmip.enums import ResultReason, ResultStatus
from ttlv import REGISTRY, Item
from ttlv.xml import name_value

from .app import AUDIT_ERRORS, AUTH_OPTIONAL, Ctx, Route
from .kmip_routes import process_message
from .wire import HttpError, Response

VERSION = (2, 1)
MESSAGE_TAGS = ("RequestMessage", "Message")
BATCH_ITEM = REGISTRY.tag("Batch Item")
RESULT_STATUS = REGISTRY.tag("Result Status")
RESULT_REASON = REGISTRY.tag("Result Reason")
RESULT_MESSAGE = REGISTRY.tag("Result Message")
RESPONSE_PAYLOAD = REGISTRY.tag("Response Payload")


class CosmianError(HttpError):
    """Cosmian's error rendering: a status and a plain-text message."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(status, "kmip_error", message)

    def response(self) -> Response:
        return Response.text(self.message[:1000] + "\n", self.status)


def _structure_types(obj: Any) -> Any:
    """Add ``"type": "Structure"`` to structures, as Cosmian writes them."""
    if isinstance(obj, dict):
        value = obj.get("value")
        if isinstance(value, list):
            return {"tag": obj["tag"], "type": "Structure", "value": [_structure_types(v) for v in value]}
        return obj
    return obj


def _request_for(operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    integer = "Integer"
    return {
        "tag": "RequestMessage",
        "value": [
            {
                "tag": "RequestHeader",
                "value": [
                    {
                        "tag": "ProtocolVersion",
                        "value": [
                            {"tag": "ProtocolVersionMajor", "type": integer, "value": VERSION[0]},
                            {"tag": "ProtocolVersionMinor", "type": integer, "value": VERSION[1]},
                        ],
                    },
                    {"tag": "BatchCount", "type": integer, "value": 1},
                ],
            },
            {
                "tag": "BatchItem",
                "value": [{"tag": "Operation", "type": "Enumeration", "value": operation}, payload],
            },
        ],
    }


#: Where Cosmian's ``ErrorReason`` spells a reason differently from the registry's 2.1 name.
COSMIAN_REASON_NAMES = {ResultReason.ITEM_NOT_FOUND: "Item_Not_Found"}


def _reason_text(item: Item) -> str:
    reason = item.get(RESULT_REASON)
    name = "General_Failure"
    if isinstance(reason, int) and reason in COSMIAN_REASON_NAMES:
        name = COSMIAN_REASON_NAMES[ResultReason(reason)]
    elif isinstance(reason, int):
        entry = REGISTRY.tables["Result Reason"].by_value(reason, VERSION)
        if entry is not None:
            name = entry.name.replace(" ", "_")
    message = item.get(RESULT_MESSAGE)
    return f"{name}: {message}" if isinstance(message, str) and message else name


async def post_kmip_2_1(ctx: Ctx) -> Response:
    try:
        obj = ctx.request.json()
    except HttpError:
        raise CosmianError("Invalid_Request: the body is not JSON") from None
    tag = obj.get("tag") if isinstance(obj, dict) else None
    if not isinstance(tag, str) or not isinstance(obj.get("value"), list | None):
        raise CosmianError("Invalid_Request: expected a JSON TTLV structure with a tag")
    limits = ttlv.Limits(max_size=ctx.services.max_message_size)
    if tag in MESSAGE_TAGS:
        try:
            message = ttlv.json.from_obj({**obj, "tag": "RequestMessage"}, limits=limits)
        except ttlv.TTLVError as exc:
            raise CosmianError(f"Invalid_Request: {str(exc)[:300]}") from None
        answer = await process_message(ctx, message)
        return Response.json(_structure_types(ttlv.json.to_obj(answer)))
    if name_value("Operation", tag, VERSION) is None:
        raise CosmianError(f"Invalid_Request: unknown operation {tag[:64]!r}")
    payload = {"tag": "RequestPayload", "value": obj.get("value") or []}
    try:
        message = ttlv.json.from_obj(_request_for(tag, payload), VERSION, limits=limits)
    except ttlv.TTLVError as exc:
        raise CosmianError(f"Invalid_Request: {str(exc)[:300]}") from None
    ctx.audit["version"] = "2.1"
    answer = await process_message(ctx, message)
    item = answer.find(BATCH_ITEM)
    if item is None:  # the message as a whole was refused
        raise CosmianError("Invalid_Request: the request was refused")
    if item.get(RESULT_STATUS) != ResultStatus.SUCCESS:
        raise CosmianError(_reason_text(item))
    payload_item = item.find(RESPONSE_PAYLOAD)
    children = payload_item.children if payload_item is not None else ()
    out = ttlv.json.to_obj(
        Item(payload_item.tag if payload_item else RESPONSE_PAYLOAD, ttlv.ItemType.STRUCTURE, children), VERSION
    )
    out["tag"] = f"{tag}Response"
    return Response.json(_structure_types(out))


ROUTES = (Route("POST", "/kmip/2_1", post_kmip_2_1, "kmip.cosmian", auth=AUTH_OPTIONAL, audit=AUDIT_ERRORS),)
