"""Request and response messages: item trees <-> typed headers and batch items.

Only the envelope lives here; payloads stay item trees (see adapt.py).
Parsing raises :class:`KmipError` (Invalid Message) for a malformed envelope
whose version could be read, so the caller can still answer in that version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ttlv import Item, ItemType, Version

from . import tags
from .enums import (
    AsynchronousIndicator,
    BatchErrorContinuation,
    Operation,
    ResultReason,
    ResultStatus,
)
from .errors import KmipError

SUPPORTED_VERSIONS: tuple[Version, ...] = ((2, 1), (2, 0), (1, 4), (1, 3), (1, 2), (1, 1), (1, 0))


@dataclass(slots=True)
class RequestHeader:
    version: Version
    batch_count: int = 0
    max_response_size: int | None = None
    asynchronous: int | None = None  # AsynchronousIndicator (2.x) or 1 for a 1.x True
    batch_order: bool = True
    error_continuation: BatchErrorContinuation = BatchErrorContinuation.STOP
    client_correlation: str | None = None
    server_correlation: str | None = None
    authentication: Item | None = None
    time_stamp: datetime | None = None


@dataclass(slots=True)
class RequestBatchItem:
    operation: int
    payload: Item
    unique_id: bytes | None = None
    extension: Item | None = None
    ephemeral: bool = False  # 2.x: keep the output for later batch items, return none


@dataclass(slots=True)
class Request:
    header: RequestHeader
    items: list[RequestBatchItem] = field(default_factory=list)


@dataclass(slots=True)
class ResponseBatchItem:
    operation: int | None
    status: ResultStatus
    unique_id: bytes | None = None
    reason: ResultReason | None = None
    message: str | None = None
    payload: Item | None = None


def read_version(message: Item) -> Version | None:
    """The protocol version of a request, or None if it cannot be read."""
    header = message.find(tags.RequestHeader)
    pv = header.find(tags.ProtocolVersion) if header else None
    if pv is None:
        return None
    major, minor = pv.get(tags.ProtocolVersionMajor), pv.get(tags.ProtocolVersionMinor)
    if type(major) is not int or type(minor) is not int:
        return None
    return major, minor


def negotiate(requested: Version) -> Version:
    """The version to answer in: the client's, or the nearest one we speak."""
    if requested in SUPPORTED_VERSIONS:
        return requested
    for version in SUPPORTED_VERSIONS:  # newest first
        if version <= requested:
            return version
    return SUPPORTED_VERSIONS[-1]


def _int(item: Item | None, what: str) -> int | None:
    if item is None:
        return None
    if item.type not in (ItemType.INTEGER, ItemType.ENUMERATION) or not isinstance(item.value, int):
        raise KmipError(ResultReason.INVALID_MESSAGE, f"{what} has the wrong type")
    return item.value


def parse_request(message: Item, version: Version) -> Request:
    if message.tag != tags.RequestMessage or message.type is not ItemType.STRUCTURE:
        raise KmipError(ResultReason.INVALID_MESSAGE, "not a Request Message")
    h = message.find(tags.RequestHeader)
    if h is None:
        raise KmipError(ResultReason.INVALID_MESSAGE, "Request Header missing")
    header = RequestHeader(version=version)
    header.batch_count = _int(h.find(tags.BatchCount), "Batch Count") or 0
    header.max_response_size = _int(h.find(tags.MaximumResponseSize), "Maximum Response Size")
    async_item = h.find(tags.AsynchronousIndicator)
    if async_item is not None:
        if async_item.type is ItemType.BOOLEAN:
            header.asynchronous = AsynchronousIndicator.OPTIONAL if async_item.value else None
        else:
            header.asynchronous = _int(async_item, "Asynchronous Indicator")
    order = h.get(tags.BatchOrderOption)
    header.batch_order = order is not False
    bec = _int(h.find(tags.BatchErrorContinuationOption), "Batch Error Continuation Option")
    if bec is not None:
        try:
            header.error_continuation = BatchErrorContinuation(bec)
        except ValueError:
            raise KmipError(ResultReason.INVALID_FIELD, f"unknown Batch Error Continuation Option {bec}") from None
    ccv = h.get(tags.ClientCorrelationValue)
    header.client_correlation = ccv if isinstance(ccv, str) else None
    scv = h.get(tags.ServerCorrelationValue)
    header.server_correlation = scv if isinstance(scv, str) else None
    header.authentication = h.find(tags.Authentication)
    ts = h.get(tags.TimeStamp)
    header.time_stamp = ts if isinstance(ts, datetime) else None

    request = Request(header)
    for bi in message.find_all(tags.BatchItem):
        op = _int(bi.find(tags.Operation), "Operation")
        if op is None:
            raise KmipError(ResultReason.INVALID_MESSAGE, "Batch Item without an Operation")
        payload = bi.find(tags.RequestPayload) or Item(tags.RequestPayload, ItemType.STRUCTURE, ())
        if payload.type is not ItemType.STRUCTURE:
            raise KmipError(ResultReason.INVALID_MESSAGE, "Request Payload must be a structure")
        ubi = bi.get(tags.UniqueBatchItemID)
        request.items.append(
            RequestBatchItem(
                operation=op,
                payload=payload,
                unique_id=ubi if isinstance(ubi, bytes) else None,
                extension=bi.find(tags.MessageExtension),
                ephemeral=bi.get(tags.Ephemeral) is True,
            )
        )
    if not request.items:
        raise KmipError(ResultReason.INVALID_MESSAGE, "request without batch items")
    if header.batch_count != len(request.items):
        raise KmipError(
            ResultReason.INVALID_MESSAGE,
            f"Batch Count {header.batch_count} does not match {len(request.items)} batch items",
        )
    return request


def _version_item(version: Version) -> Item:
    return Item(
        tags.ProtocolVersion,
        ItemType.STRUCTURE,
        (
            Item(tags.ProtocolVersionMajor, ItemType.INTEGER, version[0]),
            Item(tags.ProtocolVersionMinor, ItemType.INTEGER, version[1]),
        ),
    )


def build_response(
    version: Version,
    items: list[ResponseBatchItem],
    *,
    client_correlation: str | None = None,
    server_correlation: str | None = None,
    now: datetime | None = None,
) -> Item:
    stamp = (now or datetime.now(UTC)).replace(microsecond=0)
    header: list[Item] = [_version_item(version), Item(tags.TimeStamp, ItemType.DATE_TIME, stamp)]
    # Correlation values exist in the header from KMIP 1.4 on.
    if version >= (1, 4):
        if client_correlation is not None:
            header.append(Item(tags.ClientCorrelationValue, ItemType.TEXT_STRING, client_correlation))
        if server_correlation is not None:
            header.append(Item(tags.ServerCorrelationValue, ItemType.TEXT_STRING, server_correlation))
    header.append(Item(tags.BatchCount, ItemType.INTEGER, len(items)))
    batch = [_batch_item(bi) for bi in items]
    return Item(
        tags.ResponseMessage,
        ItemType.STRUCTURE,
        (Item(tags.ResponseHeader, ItemType.STRUCTURE, tuple(header)), *batch),
    )


def _batch_item(bi: ResponseBatchItem) -> Item:
    children: list[Item] = []
    if bi.operation is not None:
        children.append(Item(tags.Operation, ItemType.ENUMERATION, int(bi.operation)))
    if bi.unique_id is not None:
        children.append(Item(tags.UniqueBatchItemID, ItemType.BYTE_STRING, bi.unique_id))
    children.append(Item(tags.ResultStatus, ItemType.ENUMERATION, int(bi.status)))
    if bi.reason is not None:
        children.append(Item(tags.ResultReason, ItemType.ENUMERATION, int(bi.reason)))
    if bi.message is not None:
        children.append(Item(tags.ResultMessage, ItemType.TEXT_STRING, bi.message))
    if bi.payload is not None:
        children.append(Item(tags.ResponsePayload, ItemType.STRUCTURE, bi.payload.children))
    return Item(tags.BatchItem, ItemType.STRUCTURE, tuple(children))


def known_operation(value: int) -> bool:
    try:
        Operation(value)
    except ValueError:
        return False
    return True
