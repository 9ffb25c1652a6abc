"""The store interface: narrow, synchronous, transactional.

Theory of operation: a KMIP request (all its batch items) executes in one
thread (a KMIP connection's, or an HTTP worker) inside one store transaction, so a batch with the Undo option
can roll back and a success response is only sent after the commit.  The
store knows nothing of KMIP: objects arrive as opaque blobs (the TTLV
encoding of the managed object and of its attributes, made by the core)
plus a few index fields the core extracts so that Locate's common filters
run as indexed SQL.  Everything else about Locate is filtered by the core.

Implementations: :mod:`kmsd.store.sqlite` (the embedded default); PostgreSQL
and MySQL follow the same interface.  Calls are blocking and must never run
on the trio event loop: callers use ``trio.to_thread.run_sync``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import ClassVar


class StoreError(Exception):
    """The database failed or is unreachable (not: an object is missing)."""


class ConflictError(StoreError):
    """A concurrent transaction changed the same object; the caller may retry."""


class StaleRead(ConflictError):
    """An optimistic write transaction found, when it came to write, that an
    object it had read was changed meanwhile.  Nothing of it was kept: run the
    request again without ``optimistic``."""


@dataclass(slots=True)
class StoredObject:
    uid: str
    object_type: int  # KMIP Object Type enumeration value
    state: int  # KMIP State enumeration value (0 for objects without a state)
    owner: str
    payload: bytes  # TTLV of the managed object (empty once destroyed)
    attributes: bytes  # TTLV of the object's attributes (opaque to the store)
    # Index fields for Locate, extracted by the core from the attributes.
    names: tuple[str, ...] = ()
    object_groups: tuple[str, ...] = ()
    cryptographic_algorithm: int | None = None
    cryptographic_length: int | None = None
    # Assigned by the store on insert; Locate returns objects in this order.
    sequence: int = 0


@dataclass(frozen=True, slots=True)
class LocateFilter:
    """Indexed pre-filters; ``None`` means "any".  Lists mean "any of"."""

    object_types: tuple[int, ...] | None = None
    states: tuple[int, ...] | None = None
    name: str | None = None
    object_group: str | None = None
    cryptographic_algorithm: int | None = None
    cryptographic_length: int | None = None
    # Only objects owned by this user or granted to them (or to "*") with
    # at least one of ``visible_with`` operations.  None: no access filter.
    visible_to: str | None = None
    visible_with: tuple[str, ...] = ("get", "locate")


@dataclass(frozen=True, slots=True)
class Grant:
    uid: str
    user: str
    operations: frozenset[str] = field(default_factory=frozenset)


class Transaction(abc.ABC):
    """One database transaction.  Not thread-safe: one thread uses it."""

    @abc.abstractmethod
    def get(self, uid: str, *, for_update: bool = False) -> StoredObject | None: ...

    @abc.abstractmethod
    def insert(self, obj: StoredObject) -> None:
        """Insert a new object; sets ``obj.sequence``.

        ConflictError if an object with this ``uid`` already exists.
        """

    @abc.abstractmethod
    def update(self, obj: StoredObject) -> None:
        """Replace an existing object's state, payload, attributes and index.

        ``uid``, ``object_type``, ``owner`` and ``sequence`` are not changed.
        ConflictError if the object does not exist (any more).
        """

    @abc.abstractmethod
    def delete(self, uid: str) -> None:
        """Remove an object and its grants entirely (no error if it is absent)."""

    @abc.abstractmethod
    def locate(self, flt: LocateFilter) -> Iterator[StoredObject]:
        """Objects matching the pre-filter, in insertion order.

        The matches are fixed when ``locate`` is called; consume the iterator
        inside the transaction (writes meanwhile are allowed).
        """

    @abc.abstractmethod
    def grant(self, uid: str, user: str, operations: frozenset[str]) -> None:
        """Add operations to ``user``'s grant on ``uid``.

        ConflictError if the object does not exist.
        """

    @abc.abstractmethod
    def revoke(self, uid: str, user: str, operations: frozenset[str]) -> None:
        """Remove operations from ``user``'s grant (the row goes when empty)."""

    @abc.abstractmethod
    def permissions(self, uid: str, user: str) -> frozenset[str]:
        """Operations granted on ``uid`` to ``user`` or to ``*``."""

    @abc.abstractmethod
    def grants(self, uid: str) -> list[Grant]:
        """Every grant on ``uid``."""

    @abc.abstractmethod
    def grant_create(self, user: str, by: str) -> None:
        """Record that ``by`` granted ``user`` (or ``*``) the right to create objects.

        Granting again replaces ``by``.
        """

    @abc.abstractmethod
    def revoke_create(self, user: str) -> None:
        """Remove ``user``'s create right (no error if there is none)."""

    @abc.abstractmethod
    def create_grants(self) -> list[tuple[str, str]]:
        """Every ``(user, granted_by)`` holding the create right, by user (bytewise)."""

    @abc.abstractmethod
    def savepoint(self) -> str:
        """Mark a point inside the transaction; returns its name."""

    @abc.abstractmethod
    def rollback_to(self, name: str) -> None:
        """Undo everything since the savepoint ``name``."""

    def serialize(self) -> None:
        """From here on, exclude other writers (as a write would).

        For checks whose outcome a concurrent writer could change without
        touching an object read so far (a name being unique among all
        objects).  A no-op where every write transaction already excludes
        writers or locks what it reads.
        """
        return None


class Store(abc.ABC):
    #: True when every call is local and short and the store marks its real
    #: waits (locks, fsync) with :func:`kmsd.gate.blocking`: the KMIP listener
    #: may then run one request at a time in Python (see :mod:`kmsd.gate`).
    local_io: ClassVar[bool] = False
    #: True when an optimistic write transaction costs what a read-only one
    #: does until its first write (SQLite: both read a snapshot).  Callers may
    #: then start work that only might write that way, instead of read-only
    #: and run again as a writer when it turns out to write.
    optimistic_reads: ClassVar[bool] = False

    @abc.abstractmethod
    def transaction(self, *, readonly: bool = False, optimistic: bool = False) -> AbstractContextManager[Transaction]:
        """A context manager: commits (durably) on normal exit, rolls back on error.

        ``readonly=True`` promises no writes (they raise StoreError); such
        transactions do not wait for or block writers where the database
        allows it (SQLite WAL snapshots, PostgreSQL READ ONLY).  Transactions
        do not nest within one thread.

        ``optimistic=True`` lets a write transaction take its write lock only
        at its first write (SQLite): it then raises :class:`StaleRead` when an
        object it read changed before that, and the caller runs it again
        without ``optimistic``.  Stores that lock rows as they read them
        ignore the flag.
        """

    def pool_stats(self) -> dict[str, int]:
        """Connection pool figures for the metrics: ``idle``, ``in_use``, ``max``
        (those the implementation knows; empty when it has no pool)."""
        return {}

    @abc.abstractmethod
    def check(self) -> None:
        """Raise StoreError when the database is not usable (health checks)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    @property
    @abc.abstractmethod
    def schema_version(self) -> int: ...
