"""What the executor tells an observer (audit, metrics) about each request.

Theory of operation: when :class:`kmsd.ops.executor.ExecutorSettings` has an
``observer``, the executor opens a :class:`BatchTrace` per request message
and feeds it facts as they become known: when each batch item starts, which
stored objects the item read or wrote (through :class:`RecordingTransaction`,
a pass-through wrapper of the store transaction), whether the caller was
unauthenticated or the store failed.  When the final response items are
known (after the commit, after Undo rewrote earlier items, after a too-large
response was replaced by errors) it calls :meth:`BatchTrace.finish`, which
hands the whole trace to ``observer.batch_done`` -- before ``process``
returns, so a record the observer writes is on its way to disk before the
listener sends the response.

This module collects facts only; what becomes an audit record or a metric
is decided by the observer (:mod:`kmsd.audit.observer`).  It never copies a
payload: only unique identifiers, object types and owners of stored objects.
An observer must not raise; :meth:`BatchTrace.finish` logs whatever it does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from kmsd.kmip.messages import Request, ResponseBatchItem
from kmsd.server.peer import Peer
from kmsd.store.base import Grant, LocateFilter, StoredObject, Transaction
from ttlv import Version

log = logging.getLogger("kmsd.observe")


class BatchObserver(Protocol):
    """Receives one finished :class:`BatchTrace` per request message."""

    def batch_done(self, trace: BatchTrace) -> None: ...

    def undecodable(self, peer: Peer) -> None:
        """Bytes that are not a TTLV message arrived (the connection will close)."""


@dataclass(slots=True)
class Touched:
    """A stored object an item read or wrote (None: not known from the store)."""

    uid: str
    object_type: int | None = None
    owner: str | None = None
    exists: bool = True


@dataclass(slots=True)
class ItemTrace:
    started: float
    ended: float | None = None
    touched: dict[str, Touched] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return 0.0 if self.ended is None else max(0.0, self.ended - self.started)


class BatchTrace:
    """Facts about one request message, collected while the executor runs it."""

    def __init__(self, peer: Peer, observer: BatchObserver) -> None:
        self.peer = peer
        self.observer = observer
        self.started = time.perf_counter()
        self.ended: float | None = None
        self.items: list[ItemTrace] = []  # one per batch item that started, in order
        self.user: str | None = None  # the caller as the executor resolved it (None: not yet, or nobody)
        self.unauthenticated = False
        self.store_error = False
        self.version: Version | None = None
        self.request: Request | None = None  # None: the message was refused before parsing finished
        self.results: list[ResponseBatchItem] = []

    @property
    def duration(self) -> float:
        return 0.0 if self.ended is None else max(0.0, self.ended - self.started)

    def wrap(self, tx: Transaction) -> Transaction:
        return RecordingTransaction(tx, self)

    def item_started(self) -> None:
        now = time.perf_counter()
        if self.items and self.items[-1].ended is None:
            self.items[-1].ended = now
        self.items.append(ItemTrace(started=now))

    def touch(self, uid: str, stored: StoredObject | None = None, *, exists: bool = True) -> None:
        if not self.items:
            return
        seen = self.items[-1].touched.get(uid)
        if stored is not None:
            self.items[-1].touched[uid] = Touched(uid, stored.object_type, stored.owner, True)
        elif seen is None:
            self.items[-1].touched[uid] = Touched(uid, exists=exists)

    def finish(self, version: Version, request: Request | None, results: list[ResponseBatchItem]) -> None:
        """The response is final: hand the trace to the observer (never raises)."""
        now = time.perf_counter()
        # The last item ends with the batch, commit included.
        if self.items and self.items[-1].ended is None:
            self.items[-1].ended = now
        self.ended = now
        self.version, self.request, self.results = version, request, results
        try:
            self.observer.batch_done(self)
        except Exception:
            log.exception("batch observer failed")


class RecordingTransaction(Transaction):
    """Pass-through transaction that notes which objects the current item touches."""

    def __init__(self, inner: Transaction, trace: BatchTrace) -> None:
        self._inner = inner
        self._trace = trace

    def get(self, uid: str, *, for_update: bool = False) -> StoredObject | None:
        stored = self._inner.get(uid, for_update=for_update)
        self._trace.touch(uid, stored, exists=stored is not None)
        return stored

    def insert(self, obj: StoredObject) -> None:
        self._inner.insert(obj)
        self._trace.touch(obj.uid, obj)

    def update(self, obj: StoredObject) -> None:
        self._inner.update(obj)
        self._trace.touch(obj.uid, obj)

    def delete(self, uid: str) -> None:
        self._inner.delete(uid)
        self._trace.touch(uid)

    def locate(self, flt: LocateFilter) -> Iterator[StoredObject]:
        # Candidates are not "touched": the response's identifiers say what was found.
        return self._inner.locate(flt)

    def grant(self, uid: str, user: str, operations: frozenset[str]) -> None:
        self._inner.grant(uid, user, operations)
        self._trace.touch(uid)

    def revoke(self, uid: str, user: str, operations: frozenset[str]) -> None:
        self._inner.revoke(uid, user, operations)
        self._trace.touch(uid)

    def permissions(self, uid: str, user: str) -> frozenset[str]:
        return self._inner.permissions(uid, user)

    def grants(self, uid: str) -> list[Grant]:
        return self._inner.grants(uid)

    def grant_create(self, user: str, by: str) -> None:
        self._inner.grant_create(user, by)

    def revoke_create(self, user: str) -> None:
        self._inner.revoke_create(user)

    def create_grants(self) -> list[tuple[str, str]]:
        return self._inner.create_grants()

    def savepoint(self) -> str:
        return self._inner.savepoint()

    def rollback_to(self, name: str) -> None:
        self._inner.rollback_to(name)

    def serialize(self) -> None:
        self._inner.serialize()

    def __getattr__(self, name: str) -> object:
        # Anything a store adds beyond the interface passes through unchanged.
        return getattr(self._inner, name)


__all__ = ["BatchObserver", "BatchTrace", "ItemTrace", "RecordingTransaction", "Touched"]
