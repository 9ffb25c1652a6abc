"""The audit logger: events through small processors, the chain, the sinks.

Theory of operation (after structlog): an event is a plain ``dict``.  It
passes through a list of *processors*, small callables ``dict -> dict`` that
each do one thing (stamp the time, give it a request id, drop every field
that is not on the allow-list).  Then, under the logger's one lock, the
*chain* stamps ``seq`` and ``prev``, the *renderer* turns it into its
canonical line, the chain advances over those exact bytes, and the line goes
to every *sink*.  After every ``mac_every`` records a MAC record follows
through the same chain.  Finally the sinks are flushed, once per
:meth:`AuditLogger.emit_many` call, before it returns.

The lock is what keeps the chain linear when requests finish in many worker
threads at once: stamping, hashing and writing happen as one step, so
``seq`` order is file order.  One request's batch items are emitted in one
call and therefore sit together in the file.

A sink that fails is logged and counted (``on_sink_error``), and the others
still get the record: the audit trail should degrade, not take the server
down with it.  :func:`kmsd.audit.testing.capture_audit` sees every record
of every logger in the process, as written.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from . import testing
from .chain import MAC_EVENT, ChainHead, HashChain, MacSigner, canonical
from .events import ALLOWED_FIELDS, SCHEMA_VERSION
from .sinks import Sink

log = logging.getLogger("kmsd.audit")

EventDict = dict[str, Any]
Processor = Callable[[EventDict], EventDict]
SinkErrorCallback = Callable[[str, BaseException], None]


# -- processors ----------------------------------------------------------------------------


def add_timestamp(event: EventDict) -> EventDict:
    """``time``: UTC, ISO 8601 with microseconds, unless the event has one."""
    if "time" not in event:
        event["time"] = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return event


def add_request_id(event: EventDict) -> EventDict:
    """``request_id``: events that did not come with one (security events) get their own."""
    if not event.get("request_id"):
        event["request_id"] = uuid.uuid4().hex
    return event


def add_schema_version(event: EventDict) -> EventDict:
    event["v"] = SCHEMA_VERSION
    return event


def allow_listed(event: EventDict) -> EventDict:
    """Keep only the fields an audit record may carry: secrets cannot slip in by accident."""
    dropped = [k for k in event if k not in ALLOWED_FIELDS]
    for k in dropped:
        del event[k]
    return event


DEFAULT_PROCESSORS: tuple[Processor, ...] = (add_timestamp, add_request_id, add_schema_version, allow_listed)


# -- the logger ---------------------------------------------------------------------------------


class AuditLogger:
    def __init__(
        self,
        sinks: Sequence[Sink] = (),
        *,
        processors: Sequence[Processor] = DEFAULT_PROCESSORS,
        mac: MacSigner | None = None,
        head: ChainHead | None = None,
        on_sink_error: SinkErrorCallback | None = None,
        on_record: Callable[[EventDict], None] | None = None,
    ) -> None:
        self.sinks = list(sinks)
        self.processors = list(processors)
        self.chain = HashChain(head)
        self.mac = mac
        self.on_sink_error = on_sink_error
        self.on_record = on_record
        self._lock = threading.Lock()
        self._closed = False
        self.records = 0  # records written by this logger, MAC records included

    def emit(self, event: Mapping[str, Any]) -> None:
        self.emit_many((event,))

    def emit_many(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Process, chain and write the events as one contiguous group, then flush."""
        prepared = [self._process(dict(e)) for e in events]
        with self._lock:
            if self._closed:
                log.error("audit logger closed: %d event(s) dropped", len(prepared))
                return
            for event in prepared:
                self._append(event)
                if self.mac is not None and self.mac.counted():
                    self._append_mac()
            self._flush()

    def close(self) -> None:
        """Seal the chain with a MAC record (if any record follows the last one) and close the sinks."""
        with self._lock:
            if self._closed:
                return
            if self.mac is not None and self.mac.since_mac:
                self._append_mac()
            self._flush()
            self._closed = True
            for sink in self.sinks:
                try:
                    sink.close()
                except Exception as exc:
                    self._sink_failed(sink, exc)

    # -- under the lock ------------------------------------------------------------------------

    def _process(self, event: EventDict) -> EventDict:
        for processor in self.processors:
            event = processor(event)
        return event

    def _append(self, event: EventDict) -> None:
        self._write(self.chain.stamp(event))

    def _append_mac(self) -> None:
        assert self.mac is not None
        stamped = self.chain.stamp(add_schema_version(add_timestamp({"event": MAC_EVENT})))
        self._write(self.mac.sign(stamped))

    def _write(self, record: EventDict) -> None:
        line = canonical(record)
        self.chain.advance(line)
        self.records += 1
        for sink in self.sinks:
            try:
                sink.write(line)
            except Exception as exc:
                self._sink_failed(sink, exc)
        testing.deliver(record)
        if self.on_record is not None:
            self.on_record(record)

    def _flush(self) -> None:
        for sink in self.sinks:
            try:
                sink.flush()
            except Exception as exc:
                self._sink_failed(sink, exc)

    def _sink_failed(self, sink: Sink, exc: BaseException) -> None:
        log.error("audit sink %s failed: %s", sink.name, exc)
        if self.on_sink_error is not None:
            self.on_sink_error(sink.name, exc)
