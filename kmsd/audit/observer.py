"""From what the server saw to audit records and metrics.

Theory of operation: :class:`ServerObserver` is the executor's
``BatchObserver`` (:mod:`kmsd.ops.observe`) and, through
:meth:`ServerObserver.connections`, the listener's ``ConnectionObserver``
(:mod:`kmsd.server.observe`).  For every request message it builds one
audit event per *request* batch item -- items a Stop left unexecuted get
``result: "not_executed"`` -- from an allow-list of facts: the caller, the
operation's name, the object identifiers the item named in its request or
response or touched in the store, their object types, the result, the
duration.  Payloads are never copied, only the Unique Identifier and Object
Type fields at their top level.  All of one request's events are written in
one :meth:`~kmsd.audit.pipeline.AuditLogger.emit_many` call, which returns
only after the sinks were flushed: the executor calls this before
``process`` returns, so the record precedes the response.

Permission denials: the executor answers "Item Not Found" when the object
exists but is not the caller's (it does not reveal other users' objects).
An item that failed so, on an object the store returned with another owner,
is recorded as ``kmip.permission_denied``.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from kmsd.kmip import tags
from kmsd.kmip.enums import ResultReason, ResultStatus
from kmsd.kmip.messages import ResponseBatchItem
from kmsd.metrics.catalog import ServerMetrics
from kmsd.ops.observe import BatchTrace, ItemTrace
from kmsd.server.peer import Peer
from ttlv import REGISTRY, Item, Version

from . import events as ev
from .pipeline import AuditLogger

RESULT_NAMES = {
    ResultStatus.SUCCESS: "success",
    ResultStatus.OPERATION_FAILED: "failure",
    ResultStatus.OPERATION_PENDING: "pending",
    ResultStatus.OPERATION_UNDONE: "undone",
}
NOT_EXECUTED = "not_executed"
_ID_TAGS: tuple[int, ...] = ()
_DENIAL_REASONS = (ResultReason.ITEM_NOT_FOUND, ResultReason.OBJECT_NOT_FOUND, ResultReason.PERMISSION_DENIED)


def _id_tags() -> tuple[int, ...]:
    global _ID_TAGS
    if not _ID_TAGS:
        _ID_TAGS = (tags.UniqueIdentifier, tags.PrivateKeyUniqueIdentifier, tags.PublicKeyUniqueIdentifier)
    return _ID_TAGS


def operation_name(operation: int | None, version: Version) -> str | None:
    if operation is None:
        return None
    return _enum_name("Operation", operation, version)


@functools.lru_cache(maxsize=4096)
def _enum_name(table: str, value: int, version: Version) -> str:
    entry = REGISTRY.tables[table].by_value(value, version)
    return entry.name if entry is not None else f"{value:#010x}"


def _version_text(version: Version | None) -> str:
    return f"{version[0]}.{version[1]}" if version else "?"


class ServerObserver:
    """Audit records and metrics for requests (executor) and connections (listener)."""

    def __init__(
        self,
        audit: AuditLogger | None = None,
        metrics: ServerMetrics | None = None,
        *,
        default_user: str | None = None,
    ) -> None:
        self.audit = audit
        self.metrics = metrics
        self.default_user = default_user

    # -- BatchObserver -------------------------------------------------------------------------

    def batch_done(self, trace: BatchTrace) -> None:
        records = self.batch_events(trace)
        if self.audit is not None:
            self.audit.emit_many(records)
        if self.metrics is not None:
            self._count(trace, records)

    def undecodable(self, peer: Peer) -> None:
        if self.metrics is not None:
            self.metrics.undecodable.inc(protocol=peer.transport)

    def connections(self, protocol: str = "kmip") -> ConnectionEvents:
        return ConnectionEvents(self, protocol)

    # -- building events -------------------------------------------------------------------

    def _caller(self, trace: BatchTrace) -> dict[str, Any]:
        """Who: the resolved user, and the means they presented (never the credential itself)."""
        peer = trace.peer
        out: dict[str, Any] = {"source": peer.address, "protocol": peer.transport}
        user = trace.user
        if user is None and trace.request is None and not trace.unauthenticated:
            user = peer.identity  # refused before authentication: the certificate's name, if any
        if user is None:
            return out
        means = []
        if peer.certificate_der and peer.identity:
            means.append("mtls")
        if trace.request is not None and trace.request.header.authentication is not None:
            means.append("credential")
        out["user"] = user
        out["auth"] = "+".join(means) or ("default" if user == self.default_user else "unknown")
        return out

    def batch_events(self, trace: BatchTrace) -> list[dict[str, Any]]:
        version = trace.version or (0, 0)
        base = {"request_id": os.urandom(16).hex(), "version": _version_text(trace.version), **self._caller(trace)}
        if trace.request is None:
            refused = trace.results[0] if trace.results else None
            record: dict[str, Any] = {**base, "event": ev.EVENT_REQUEST_REFUSED, "duration_ms": _ms(trace.duration)}
            if refused is not None:
                record.update(_result_fields(refused, version))
            return [record]
        items = trace.request.items
        records: list[dict[str, Any]] = []
        for index, bi in enumerate(items):
            result = trace.results[index] if index < len(trace.results) else None
            item_trace = trace.items[index] if index < len(trace.items) else None
            event: dict[str, Any] = {
                **base,
                "event": ev.EVENT_OPERATION,
                "item": index,
                "items": len(items),
                "operation": operation_name(bi.operation, version),
            }
            ids, types = _objects(bi.payload, result, item_trace, version)
            if ids:
                event["object_ids"] = ids[: ev.MAX_OBJECT_IDS]
                if len(ids) > ev.MAX_OBJECT_IDS:
                    event["object_ids_total"] = len(ids)
            if types:
                event["object_types"] = types
            if result is None:
                event["result"] = NOT_EXECUTED
            else:
                event.update(_result_fields(result, version))
                if item_trace is not None:
                    event["duration_ms"] = _ms(item_trace.duration)
            if trace.unauthenticated:
                event["event"] = ev.EVENT_AUTHENTICATION_FAILURE
            elif _denied(result, item_trace, event.get("user")):
                event["event"] = ev.EVENT_PERMISSION_DENIED
            records.append(event)
        return records

    # -- metrics ----------------------------------------------------------------------------------

    def _count(self, trace: BatchTrace, records: list[dict[str, Any]]) -> None:
        m = self.metrics
        assert m is not None
        protocol = trace.peer.transport
        version = _version_text(trace.version)
        m.message_duration.observe(trace.duration, protocol=protocol)
        if trace.store_error:
            m.store_errors.inc()
        if trace.unauthenticated:
            m.authentication_failures.inc(protocol=protocol)
        for index, record in enumerate(records):
            operation = record.get("operation")
            known = isinstance(operation, str) and not operation.startswith("0x")
            label = operation if known and isinstance(operation, str) else "unknown"
            m.requests.inc(protocol=protocol, operation=label, version=version, result=str(record.get("result")))
            if record["event"] == ev.EVENT_PERMISSION_DENIED:
                m.permission_denials.inc(protocol=protocol)
            if index < len(trace.items) and "duration_ms" in record:
                m.request_duration.observe(trace.items[index].duration, protocol=protocol, operation=label)


class ConnectionEvents:
    """The listener's ``ConnectionObserver``: gauges, counters, and audit records for refusals."""

    def __init__(self, observer: ServerObserver, protocol: str) -> None:
        self._observer = observer
        self._protocol = protocol

    def connection_opened(self, address: str) -> None:
        m = self._observer.metrics
        if m is not None:
            m.connections.inc(protocol=self._protocol)
            m.connections_open.inc(protocol=self._protocol)

    def connection_closed(self, address: str) -> None:
        m = self._observer.metrics
        if m is not None:
            m.connections_open.dec(protocol=self._protocol)

    def handshake_failed(self, address: str, reason: str) -> None:
        m = self._observer.metrics
        if m is not None:
            m.tls_handshake_failures.inc(protocol=self._protocol)
        self._refusal(ev.EVENT_TLS_HANDSHAKE_FAILURE, address, reason)

    def authentication_failed(self, address: str, reason: str) -> None:
        m = self._observer.metrics
        if m is not None:
            m.authentication_failures.inc(protocol=self._protocol)
        self._refusal(ev.EVENT_TLS_AUTHENTICATION_FAILURE, address, reason)

    def _refusal(self, event: str, address: str, reason: str) -> None:
        audit = self._observer.audit
        if audit is not None:
            audit.emit(
                {
                    "event": event,
                    "source": address,
                    "protocol": self._protocol,
                    "result": "failure",
                    "detail": reason[: ev.MAX_MESSAGE],
                }
            )


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def _result_fields(result: ResponseBatchItem, version: Version) -> dict[str, Any]:
    out: dict[str, Any] = {"result": RESULT_NAMES.get(result.status, "failure")}
    if result.reason is not None and result.status == ResultStatus.OPERATION_FAILED:
        out["reason"] = _enum_name("Result Reason", result.reason, version)
        if result.message:
            out["message"] = result.message[: ev.MAX_MESSAGE]
    return out


def _top_level_ids(payload: Item | None) -> list[str]:
    if payload is None or not isinstance(payload.value, tuple):
        return []
    id_tags = _id_tags()
    return [c.value for c in payload.children if c.tag in id_tags and isinstance(c.value, str)]


def _objects(
    request: Item | None, result: ResponseBatchItem | None, item: ItemTrace | None, version: Version
) -> tuple[list[str], list[str]]:
    ids: dict[str, None] = {}
    type_values: dict[int, None] = {}
    for uid in _top_level_ids(request):
        ids[uid] = None
    if item is not None:
        for touched in item.touched.values():
            ids[touched.uid] = None
            if touched.object_type is not None:
                type_values[touched.object_type] = None
    if result is not None:
        for uid in _top_level_ids(result.payload):
            ids[uid] = None
    for payload in (request, result.payload if result is not None else None):
        if payload is not None and isinstance(payload.value, tuple):
            value = payload.get(tags.ObjectType)
            if isinstance(value, int):
                type_values[value] = None
    types = [_enum_name("Object Type", v, version) for v in type_values]
    return list(ids), types


def _denied(result: ResponseBatchItem | None, item: ItemTrace | None, user: object) -> bool:
    if result is None or item is None or result.status != ResultStatus.OPERATION_FAILED:
        return False
    if result.reason not in _DENIAL_REASONS:
        return False
    return any(t.exists and t.owner is not None and t.owner != user for t in item.touched.values())
