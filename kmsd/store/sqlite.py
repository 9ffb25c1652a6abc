"""The embedded SQLite store.

Theory of operation
-------------------
One database file in WAL mode: readers never block the writer nor each other,
and there is at most one writer at a time.

* Connections come from a small pool.  A transaction checks one connection
  out for its whole life and gives it back at the end, so a connection is only
  ever used by one thread at a time; that is what makes
  ``check_same_thread=False`` safe (HTTP requests run in trio's reused worker threads and
  KMIP connections in threads of their own, so a thread-local connection
  would also outlive or miss its thread).  Waits (the writer lock, another
  process's write, a group's commit) are marked with
  :func:`kmsd.gate.blocking`, so a KMIP request holding the processing gate
  lets it go while it waits.
* Writers share ONE writer connection and commit in groups: the first
  writer of a group opens the transaction (``BEGIN IMMEDIATE``: the write lock
  is taken up front, so nothing fails half-way upgrading a read lock), each
  writer runs in its own savepoint under an in-process ``threading.Lock``
  (handed over at once, where SQLite's busy handler polls with sleeps), and
  a writer whose savepoint is released waits for the group's single COMMIT.
  N concurrent writers cost one fsync, and each caller still answers only
  after its own write is durable.  Past ``busy_timeout_ms`` a waiting writer
  gets ConflictError.
* ``transaction(readonly=True)`` starts a deferred transaction (a WAL
  snapshot) and skips the writer queue: Get and Locate run while a durable
  commit waits for its fsync.  Its write methods raise StoreError before
  reaching SQL (cheaper than toggling ``PRAGMA query_only`` per transaction).
* Durability, with the fsync outside the write lock: connections run with
  ``synchronous=NORMAL`` (a COMMIT writes the WAL but does not fsync it), and
  with ``durable=True`` (the default) nobody answers before what they wrote
  or read is on disk.  Every write transaction raises a commit counter
  (table ``kmsd_commits``) under the lock; a writer, once committed and out
  of the lock, and a reader, for the counter its snapshot saw, wait until
  that commit is durable: one ``fdatasync`` of the WAL makes every commit
  written before it durable, so concurrent waiters share one (and a reader
  in another process that saw a commit not yet synced syncs it itself).
  So the lock is held for the SQL and the COMMIT only, the next writer —
  in this process or another — writes during the fsync, and still no client
  hears of a write (its own or someone else's) that a power cut could undo.
  ``durable=False`` skips the fsync: still consistent after a crash, but the
  last commits may be lost on power failure.
* With several processes on one file (``--workers``), a process takes a
  file lock (:mod:`kmsd.store.sqlite_lock`) before ``BEGIN IMMEDIATE`` and
  keeps it until its group commits, so processes hand the write lock over
  within a millisecond instead of through SQLite's sleeping busy handler.
* Every sqlite3 error is translated into StoreError (ConflictError for a
  lock timeout or a uniqueness conflict).  Messages name the operation and
  the object identifier but never include payload or attribute bytes.
* Locate first selects the matching ``sequence`` numbers with one indexed
  query, then fetches the rows in batches by rowid, so memory stays bounded
  and the caller may write inside the transaction while it iterates.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from kmsd.gate import blocking

from . import locate_sql
from .base import ConflictError, Grant, LocateFilter, StaleRead, Store, StoredObject, StoreError, Transaction
from .migrations import upgrade_sqlite
from .sqlite_lock import ProcessWriteLock

log = logging.getLogger("kmsd.store")

# How long a group's committer waits for optimistic transactions still being
# drafted (requests not yet at their commit) to join its commit: 0, 0.5 and
# 2 ms measured alike within noise with kept writes; 2 ms was clearly best
# when writes took the lock at the first write.
_GATHER_S = 0.002

# Rows fetched per query while iterating Locate results: large enough to
# amortise the query, small enough that payloads don't pile up in memory.
_LOCATE_BATCH = 256

_COLUMNS = (
    "sequence, id, object_type, state, owner, payload, attributes, names, object_groups, "
    "cryptographic_algorithm, cryptographic_length"
)
_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

# Primary result codes (the low byte of extended codes) meaning "someone
# else holds a lock": the caller may retry the whole transaction.
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _translate(op: str, exc: sqlite3.Error) -> StoreError:
    code = getattr(exc, "sqlite_errorcode", None)
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    if code is not None and (code & 0xFF) in _BUSY_CODES:
        return ConflictError(f"sqlite {op}: database is locked by another transaction ({name})")
    # sqlite3's own messages carry no bound values, only SQL and schema names.
    return StoreError(f"sqlite {op} failed: {name}: {exc}")


@contextmanager
def _errors(op: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise _translate(op, exc) from exc


def _row_to_object(row: Sequence[object]) -> StoredObject:
    seq, uid, otype, state, owner, payload, attrs, names, groups, alg, length = row
    assert isinstance(seq, int) and isinstance(uid, str) and isinstance(owner, str)
    assert isinstance(otype, int) and isinstance(state, int)
    assert isinstance(payload, bytes) and isinstance(attrs, bytes)
    assert isinstance(names, str) and isinstance(groups, str)
    assert alg is None or isinstance(alg, int)
    assert length is None or isinstance(length, int)
    return StoredObject(
        uid=uid,
        object_type=otype,
        state=state,
        owner=owner,
        payload=payload,
        attributes=attrs,
        names=tuple(json.loads(names)),
        object_groups=tuple(json.loads(groups)),
        cryptographic_algorithm=alg,
        cryptographic_length=length,
        sequence=seq,
    )


def _placeholders(n: int) -> str:
    return ", ".join("?" * n)


def _sqlite_visible(user: str, operations: Sequence[str]) -> locate_sql.Clause:
    # "owner = ? OR id IN (...)" rather than a correlated EXISTS: with no other
    # filter SQLite then serves both sides from indexes (owner;
    # read_access.userid) instead of scanning every object.
    sql = (
        "(o.owner = ? OR o.id IN (SELECT ra.id FROM read_access ra, json_each(ra.permissions) p"
        f" WHERE ra.userid IN (?, '*') AND p.value IN ({_placeholders(len(operations))})))"
    )
    return sql, [user, user, *operations]


SQLITE = locate_sql.Dialect(
    p="?",
    one_of=lambda column, values: (f"{column} IN ({_placeholders(len(values))})", list(values)),
    visible=_sqlite_visible,
)


def locate_query(flt: LocateFilter) -> tuple[str, list[object]] | None:
    """The SQL selecting matching ``sequence`` numbers (see :mod:`kmsd.store.locate_sql`)."""
    return locate_sql.locate_query(flt, SQLITE)


def _fetch(sequences: list[int], reader: Callable[[], _SqliteTransaction]) -> Iterator[StoredObject]:
    """Locate's rows in batches, each read from the transaction ``reader`` names then."""
    for start in range(0, len(sequences), _LOCATE_BATCH):
        yield from reader()._rows(sequences[start : start + _LOCATE_BATCH])


class _SqliteTransaction(Transaction):
    def __init__(self, conn: sqlite3.Connection, readonly: bool) -> None:
        self._conn = conn
        self._readonly = readonly
        self._open = True
        self._savepoints: set[str] = set()

    def _live(self) -> sqlite3.Connection:
        if not self._open:
            raise StoreError("the transaction has ended")
        return self._conn

    def _writable(self, op: str) -> sqlite3.Connection:
        conn = self._live()
        if self._readonly:
            raise StoreError(f"{op} in a read-only transaction")
        return conn

    def get(self, uid: str, *, for_update: bool = False) -> StoredObject | None:
        # for_update needs nothing more here: a write transaction already
        # holds SQLite's single write lock (BEGIN IMMEDIATE).
        conn = self._writable("get(for_update=True)") if for_update else self._live()
        with _errors("get"):
            row = conn.execute(f"SELECT {_COLUMNS} FROM objects WHERE id = ?", (uid,)).fetchone()
        return None if row is None else _row_to_object(row)

    def insert(self, obj: StoredObject) -> None:
        conn = self._writable("insert")
        try:
            cur = conn.execute(
                "INSERT INTO objects (id, object_type, state, owner, payload, attributes, names, object_groups,"
                " cryptographic_algorithm, cryptographic_length) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    obj.uid,
                    obj.object_type,
                    obj.state,
                    obj.owner,
                    obj.payload,
                    obj.attributes,
                    json.dumps(list(obj.names)),
                    json.dumps(list(obj.object_groups)),
                    obj.cryptographic_algorithm,
                    obj.cryptographic_length,
                ),
            )
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorname", "") == "SQLITE_CONSTRAINT_UNIQUE":
                raise ConflictError(f"insert: an object with identifier {obj.uid!r} already exists") from exc
            raise _translate("insert", exc) from exc
        with _errors("insert"):
            self._write_index(conn, obj.uid, obj.names, obj.object_groups)
        assert cur.lastrowid is not None
        obj.sequence = cur.lastrowid

    @staticmethod
    def _write_index(conn: sqlite3.Connection, uid: str, names: Sequence[str], groups: Sequence[str]) -> None:
        # OR IGNORE: a repeated name is one index row; the tuple itself, with
        # its order and repeats, is kept in the objects row.
        if names:
            conn.executemany("INSERT OR IGNORE INTO object_names (id, name) VALUES (?, ?)", [(uid, n) for n in names])
        if groups:
            conn.executemany("INSERT OR IGNORE INTO object_groups (id, grp) VALUES (?, ?)", [(uid, g) for g in groups])

    def update(self, obj: StoredObject) -> None:
        conn = self._writable("update")
        names = json.dumps(list(obj.names))
        groups = json.dumps(list(obj.object_groups))
        with _errors("update"):
            old = conn.execute("SELECT names, object_groups FROM objects WHERE id = ?", (obj.uid,)).fetchone()
            if old is None:
                raise ConflictError(f"update: no object with identifier {obj.uid!r} (deleted meanwhile?)")
            conn.execute(
                "UPDATE objects SET state = ?, payload = ?, attributes = ?, names = ?, object_groups = ?,"
                f" cryptographic_algorithm = ?, cryptographic_length = ?, updated_at = {_NOW} WHERE id = ?",
                (
                    obj.state,
                    obj.payload,
                    obj.attributes,
                    names,
                    groups,
                    obj.cryptographic_algorithm,
                    obj.cryptographic_length,
                    obj.uid,
                ),
            )
            # Most updates are state changes: leave the index rows alone then.
            if old[0] != names:
                conn.execute("DELETE FROM object_names WHERE id = ?", (obj.uid,))
            if old[1] != groups:
                conn.execute("DELETE FROM object_groups WHERE id = ?", (obj.uid,))
            self._write_index(
                conn,
                obj.uid,
                obj.names if old[0] != names else (),
                obj.object_groups if old[1] != groups else (),
            )

    def delete(self, uid: str) -> None:
        conn = self._writable("delete")
        with _errors("delete"):
            # Index rows and grants go by ON DELETE CASCADE.
            conn.execute("DELETE FROM objects WHERE id = ?", (uid,))

    def locate(self, flt: LocateFilter) -> Iterator[StoredObject]:
        return _fetch(self._locate_sequences(flt), lambda: self)

    def _locate_sequences(self, flt: LocateFilter) -> list[int]:
        conn = self._live()
        query = locate_query(flt)
        if query is None:
            return []
        sql, params = query
        with _errors("locate"):
            return [row[0] for row in conn.execute(sql, params)]

    def _rows(self, sequences: list[int]) -> list[StoredObject]:
        conn = self._live()
        with _errors("locate"):
            # One statement text whatever the batch size (statement cache).
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM objects WHERE sequence IN (SELECT value FROM json_each(?))"
                " ORDER BY sequence",
                (json.dumps(sequences),),
            ).fetchall()
        return [_row_to_object(row) for row in rows]

    def _read_grant(self, conn: sqlite3.Connection, uid: str, user: str) -> set[str] | None:
        row = conn.execute("SELECT permissions FROM read_access WHERE id = ? AND userid = ?", (uid, user)).fetchone()
        return None if row is None else set(json.loads(row[0]))

    def grant(self, uid: str, user: str, operations: frozenset[str]) -> None:
        conn = self._writable("grant")
        if not operations:
            return
        try:
            ops = (self._read_grant(conn, uid, user) or set()) | operations
            conn.execute(
                "INSERT INTO read_access (id, userid, permissions) VALUES (?, ?, ?)"
                " ON CONFLICT (id, userid) DO UPDATE SET permissions = excluded.permissions",
                (uid, user, json.dumps(sorted(ops))),
            )
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorname", "") == "SQLITE_CONSTRAINT_FOREIGNKEY":
                raise ConflictError(f"grant: no object with identifier {uid!r}") from exc
            raise _translate("grant", exc) from exc

    def revoke(self, uid: str, user: str, operations: frozenset[str]) -> None:
        conn = self._writable("revoke")
        with _errors("revoke"):
            current = self._read_grant(conn, uid, user)
            if current is None or not (current & operations):
                return
            remaining = current - operations
            if remaining:
                conn.execute(
                    "UPDATE read_access SET permissions = ? WHERE id = ? AND userid = ?",
                    (json.dumps(sorted(remaining)), uid, user),
                )
            else:
                conn.execute("DELETE FROM read_access WHERE id = ? AND userid = ?", (uid, user))

    def permissions(self, uid: str, user: str) -> frozenset[str]:
        conn = self._live()
        with _errors("permissions"):
            rows = conn.execute(
                "SELECT permissions FROM read_access WHERE id = ? AND userid IN (?, '*')", (uid, user)
            ).fetchall()
        ops: set[str] = set()
        for (perms,) in rows:
            ops.update(json.loads(perms))
        return frozenset(ops)

    def grants(self, uid: str) -> list[Grant]:
        conn = self._live()
        with _errors("grants"):
            rows = conn.execute(
                "SELECT userid, permissions FROM read_access WHERE id = ? ORDER BY userid", (uid,)
            ).fetchall()
        return [Grant(uid, user, frozenset(json.loads(perms))) for user, perms in rows]

    def grant_create(self, user: str, by: str) -> None:
        conn = self._writable("grant_create")
        with _errors("grant_create"):
            conn.execute(
                "INSERT INTO create_access (userid, granted_by) VALUES (?, ?)"
                f" ON CONFLICT (userid) DO UPDATE SET granted_by = excluded.granted_by, granted_at = {_NOW}",
                (user, by),
            )

    def revoke_create(self, user: str) -> None:
        conn = self._writable("revoke_create")
        with _errors("revoke_create"):
            conn.execute("DELETE FROM create_access WHERE userid = ?", (user,))

    def create_grants(self) -> list[tuple[str, str]]:
        conn = self._live()
        with _errors("create_grants"):
            rows = conn.execute("SELECT userid, granted_by FROM create_access ORDER BY userid").fetchall()
        return [(user, by) for user, by in rows]

    def savepoint(self) -> str:
        conn = self._live()
        name = f"kmsd_sp{len(self._savepoints) + 1}"
        with _errors("savepoint"):
            conn.execute(f"SAVEPOINT {name}")
        self._savepoints.add(name)
        return name

    def rollback_to(self, name: str) -> None:
        conn = self._live()
        # Only names we issued: they are interpolated into the SQL.
        if name not in self._savepoints:
            raise StoreError(f"rollback_to: unknown savepoint {name!r}")
        with _errors("rollback_to"):
            conn.execute(f"ROLLBACK TO {name}")


#: What an optimistic transaction remembers of an object it read: enough to
#: tell, once it holds the write lock, whether a writer changed it since.
_Seen = tuple[int, bytes, bytes] | None

#: A write kept back until the write lock is taken: (kind, identifier, object):
#: ("insert" | "update", uid, the object), ("delete", uid, None), or
#: ("savepoint", its name, None).
_Pending = tuple[str, str, StoredObject | None]


def _fingerprint(stored: StoredObject | None) -> _Seen:
    return None if stored is None else (stored.state, stored.payload, stored.attributes)


def _read_fingerprint(conn: sqlite3.Connection, uid: str) -> _Seen:
    row = conn.execute("SELECT state, payload, attributes FROM objects WHERE id = ?", (uid,)).fetchone()
    return None if row is None else (row[0], row[1], row[2])


class _OptimisticTransaction(Transaction):
    """A write transaction that reads from a snapshot, keeps its writes back,
    and takes the write lock only to apply them.

    Why: a request's Python work — decoding, checking, building and encoding
    objects, even what it does after its first write — then runs while
    other writers, in this process or another one, hold SQLite's single
    write lock; the lock is held for validation, the SQL of the writes and
    the commit.  With ``--workers``, a write-heavy load no longer runs one
    process at a time.

    Writes (insert, update, delete of objects) are kept in order in a list;
    :meth:`get` sees them (read your own writes).  Anything the snapshot
    cannot answer with them applied — a Locate, a grant read, a grant
    write, :meth:`serialize` — first takes the write lock and applies them
    ("flush"), and the transaction goes on under the lock as before.

    Correctness: every object read before the write lock is remembered
    (state, payload and attributes, or its absence); once the lock is held,
    each one is read again, and if any changed the transaction raises
    :class:`StaleRead` before writing anything, and the executor runs the
    request again as an ordinary write transaction (the lock taken up front).
    An object written without being read first is read (and remembered)
    when the write is kept, so an insert over an existing identifier or an
    update of a missing object fails then, as it would under the lock.
    So every object a request reads is as of the moment it writes, as with
    the lock taken up front; only the lists it read (Locate results, grants)
    may have changed, as in PostgreSQL's READ COMMITTED, and a check that
    depends on them (a name unique among all objects) calls
    :meth:`serialize` first.

    Savepoints taken before the write lock are markers in the list of kept
    writes: rolling back to one drops what follows it; once the writes are
    applied, each marker is a real savepoint of the same name.
    """

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._read: _SqliteTransaction | None = None
        self._write: _SqliteTransaction | None = None
        self._seen: dict[str, _Seen] = {}
        self._pending: list[_Pending] = []
        self._markers = 0
        self.read_seq = 0  # the commit its snapshot saw (see SqliteStore._end_read)
        self._open = True
        self._drafting = True  # counted in the store's _drafting until it writes or ends

    def _drafted(self) -> None:
        if self._drafting:
            self._drafting = False
            self._store._draft(-1)

    # -- the two phases ----------------------------------------------------

    def _reader(self) -> _SqliteTransaction:
        if not self._open:
            raise StoreError("the transaction has ended")
        if self._write is not None:
            return self._write
        if self._read is None:
            self._read = self._store._begin_read()
        return self._read

    def _writer(self) -> _SqliteTransaction:
        if not self._open:
            raise StoreError("the transaction has ended")
        if self._write is None:
            self._upgrade()
        assert self._write is not None
        return self._write

    def _snapshot(self) -> _SqliteTransaction:
        """The reader for a query the kept writes would change: applied first."""
        return self._writer() if self._wrote() else self._reader()

    def _wrote(self) -> bool:
        """Whether a write is kept (savepoint markers alone are not one: nothing to apply)."""
        return any(kind != "savepoint" for kind, _, _ in self._pending)

    def _upgrade(self, *, final: bool = False) -> None:
        """Take the write lock, check what was read, apply the kept writes
        (``final``: at the end, when no rollback can follow: markers are skipped)."""
        store = self._store
        self._end_read(then_writes=True)
        conn = store._begin_write()
        self._drafted()  # in the group now: its committer waits for _writer, not for us
        write = _SqliteTransaction(conn, False)
        self._write = write
        with _errors("validate"):
            for uid, seen in self._seen.items():
                if _read_fingerprint(conn, uid) != seen:
                    raise StaleRead(f"object {uid!r} changed before this transaction could write")
        self._seen.clear()
        pending, self._pending = self._pending, []
        for kind, key, obj in pending:
            if kind == "savepoint":
                if final:
                    continue
                with _errors("savepoint"):
                    conn.execute(f"SAVEPOINT {key}")
                write._savepoints.add(key)
            elif obj is None:
                write.delete(key)
            else:
                (write.insert if kind == "insert" else write.update)(obj)

    def _end_read(self, *, then_writes: bool = False) -> None:
        read, self._read = self._read, None
        if read is not None:
            # A write's own commit comes after all it read: no need to know what the snapshot saw.
            self.read_seq = self._store._end_read(read, saw=not then_writes)

    def _close(self, *, abort: bool) -> int | None:
        """End the transaction; the group-commit ticket when it wrote and did not abort."""
        if not abort and self._write is None and self._wrote():
            try:
                self._upgrade(final=True)  # apply the kept writes
            except BaseException:
                self._close(abort=True)
                raise
        self._open = False
        store = self._store
        write, self._write = self._write, None
        try:
            self._end_read()
        except BaseException:
            abort = True
            raise
        finally:
            ticket = None
            if write is not None:
                write._open = False
                try:
                    if abort:
                        store._abort_write(write._conn)
                    else:
                        ticket = store._finish_write(write._conn)
                finally:
                    store._end_write()
        return ticket

    # -- reads -------------------------------------------------------------

    def get(self, uid: str, *, for_update: bool = False) -> StoredObject | None:
        if self._write is None:
            kept, stored = self._kept(uid)
            if kept:
                return None if stored is None else dataclasses.replace(stored)  # the caller's own copy
        txn = self._reader()
        stored = txn.get(uid)
        if txn is not self._write and uid not in self._seen:
            self._seen[uid] = _fingerprint(stored)
        return stored

    def _kept(self, uid: str) -> tuple[bool, StoredObject | None]:
        """(whether a kept write touched ``uid``, the object it left or None when deleted)."""
        for kind, key, obj in reversed(self._pending):  # a request keeps a handful at most
            if key == uid and kind != "savepoint":
                return True, obj
        return False, None

    def locate(self, flt: LocateFilter) -> Iterator[StoredObject]:
        # Batches are fetched as iteration goes, from whichever phase is then
        # current; objects met before the write lock are validated like reads.
        for stored in _fetch(self._snapshot()._locate_sequences(flt), self._reader):
            if self._write is None and stored.uid not in self._seen:
                self._seen[stored.uid] = _fingerprint(stored)
            yield stored

    def permissions(self, uid: str, user: str) -> frozenset[str]:
        return self._snapshot().permissions(uid, user)

    def grants(self, uid: str) -> list[Grant]:
        return self._snapshot().grants(uid)

    def create_grants(self) -> list[tuple[str, str]]:
        return self._snapshot().create_grants()

    # -- writes ------------------------------------------------------------

    def serialize(self) -> None:
        self._writer()

    def _exists(self, uid: str) -> bool:
        """Whether ``uid`` exists for this transaction (read and remembered like a get)."""
        kept, obj = self._kept(uid)
        if kept:
            return obj is not None
        if uid not in self._seen:
            with _errors("get"):
                self._seen[uid] = _read_fingerprint(self._reader()._live(), uid)
        return self._seen[uid] is not None

    def _keep(self, kind: str, uid: str, obj: StoredObject | None) -> None:
        # What the write finds is read now (and validated under the lock),
        # so it fails here as it would under the lock.
        exists = self._exists(uid)
        if kind == "insert" and exists:
            raise ConflictError(f"insert: an object with identifier {uid!r} already exists")
        if kind != "insert" and not exists:
            raise ConflictError(f"{kind}: no object with identifier {uid!r} (deleted meanwhile?)")
        # A copy: the caller may change its object after handing it over,
        # which must not change (or un-roll-back) the write it asked for.
        self._pending.append((kind, uid, None if obj is None else dataclasses.replace(obj)))

    def insert(self, obj: StoredObject) -> None:
        if self._write is not None:
            self._write.insert(obj)
        else:
            self._keep("insert", obj.uid, obj)

    def update(self, obj: StoredObject) -> None:
        if self._write is not None:
            self._write.update(obj)
        else:
            self._keep("update", obj.uid, obj)

    def delete(self, uid: str) -> None:
        if self._write is not None:
            self._write.delete(uid)
        elif self._exists(uid):  # deleting nothing is no write (as in SQL)
            self._keep("delete", uid, None)

    def grant(self, uid: str, user: str, operations: frozenset[str]) -> None:
        self._writer().grant(uid, user, operations)

    def revoke(self, uid: str, user: str, operations: frozenset[str]) -> None:
        self._writer().revoke(uid, user, operations)

    def grant_create(self, user: str, by: str) -> None:
        self._writer().grant_create(user, by)

    def revoke_create(self, user: str) -> None:
        self._writer().revoke_create(user)

    # -- savepoints --------------------------------------------------------

    def savepoint(self) -> str:
        if self._write is not None:
            return self._write.savepoint()
        if not self._open:
            raise StoreError("the transaction has ended")
        self._markers += 1
        name = f"kmsd_kept{self._markers}"
        self._pending.append(("savepoint", name, None))
        return name

    def rollback_to(self, name: str) -> None:
        if self._write is not None:
            self._write.rollback_to(name)
            return
        marker = ("savepoint", name, None)
        if marker not in self._pending:
            raise StoreError(f"rollback_to: unknown savepoint {name!r}")
        # Like ROLLBACK TO: the savepoint itself stays.
        del self._pending[self._pending.index(marker) + 1 :]


class SqliteStore(Store):
    """A store in one SQLite file; safe to share between threads.

    ``busy_timeout_ms`` bounds how long a transaction waits for the write
    lock (in-process queue, then SQLite's busy handler) before ConflictError.
    ``durable`` chooses ``synchronous=FULL`` (the default) or ``NORMAL``.
    ``max_idle_connections`` caps the pool kept between transactions; more
    connections are opened when more threads are busy at once.
    """

    local_io = True  # its waits are marked with kmsd.gate.blocking()
    optimistic_reads = True  # _OptimisticTransaction reads a snapshot until it writes

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_ms: int = 5000,
        durable: bool = True,
        max_idle_connections: int = 32,
    ) -> None:
        self._path = os.fspath(path)
        if self._path in ("", ":memory:") or self._path.startswith("file:"):
            # Each pooled connection would get its own private database.
            raise StoreError("SqliteStore needs a file path (in-memory and URI databases are not supported)")
        self._busy_timeout_ms = busy_timeout_ms
        self._durable = durable
        self._max_idle = max_idle_connections
        self._pool_lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._lent = 0  # pooled connections in use by a transaction now
        self._closed = False
        self._writer = threading.Lock()
        self._local = threading.local()
        # Group commit state (see _write_transaction), guarded by _group.
        group_lock = threading.Lock()
        self._group = threading.Condition(group_lock)  # the lock of the group-commit state
        self._gathered = threading.Condition(group_lock)  # a committer waiting for drafts to join
        self._wconn: sqlite3.Connection | None = None
        self._issued = 0  # tickets handed to writers whose savepoint was released
        self._committed = 0  # every ticket up to this one is committed (or failed)
        self._committing = False
        self._durable_ticket = 0  # every ticket up to this one is on disk
        self._failed: list[tuple[int, int, StoreError]] = []
        # Writers waiting for their group, each on a lock of its own that a
        # committer releases: woken once, when their commit is on disk (or
        # when it is their turn to commit), not at every step of others' groups.
        self._sleepers: list[tuple[int, threading.Lock]] = []
        self._drafting = 0  # optimistic transactions that have not yet written or ended
        # Durability (see the module docstring), commit counter values:
        self._group_seq = 0  # the open group's (guarded by _writer)
        self._committed_seq = 0  # the last one this process committed
        self._durable_seq = 0  # every commit up to it is on disk
        self._sync_lock = threading.Lock()
        self._sync_error: StoreError | None = None  # a failed fsync: nothing is durable after it
        _create_private_file(self._path)
        self._file_lock = ProcessWriteLock(self._path + "-kmsd-writer.lock")
        conn = self._connect()
        try:
            with _errors("open"):
                if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    self._set_up_new_file(conn)
                self._version = upgrade_sqlite(conn)
        except BaseException:
            conn.close()
            self._file_lock.close()
            raise
        self._idle.append(conn)

    def _set_up_new_file(self, conn: sqlite3.Connection) -> None:
        """WAL mode and the schema for a file not yet in WAL mode (a new one).

        Worker processes open a fresh file at once, and switching it to WAL
        while another one migrates it is answered SQLITE_BUSY at once, not
        retried by SQLite's busy handler: they take turns on the file lock.
        A file already in WAL mode never needs this, so opening one never
        waits for another process's writer.
        """
        if not self._file_lock.acquire(self._busy_timeout_ms / 1000):
            raise ConflictError("sqlite open: another process kept the new database busy")
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"sqlite open: cannot enable WAL journal mode (got {mode!r})")
            upgrade_sqlite(conn)
        finally:
            self._file_lock.release()

    # -- connections -------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        with _errors("open"):
            conn = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout_ms / 1000,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # safe: the pool lends a connection to one thread at a time
                cached_statements=256,
            )
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
                conn.execute("PRAGMA synchronous = NORMAL")  # the fsync is ours: _make_durable
                conn.execute("PRAGMA foreign_keys = ON")
            except BaseException:
                conn.close()
                raise
        return conn

    def _acquire(self) -> sqlite3.Connection:
        with self._pool_lock:
            if self._closed:
                raise StoreError("the store is closed")
            self._lent += 1
            if self._idle:
                return self._idle.pop()
        try:
            return self._connect()
        except BaseException:
            with self._pool_lock:
                self._lent -= 1
            raise

    def _release(self, conn: sqlite3.Connection, healthy: bool) -> None:
        with self._pool_lock:
            self._lent -= 1
            if healthy and not self._closed and len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        _close_quietly(conn)

    # -- transactions ------------------------------------------------------

    def transaction(self, *, readonly: bool = False, optimistic: bool = False) -> AbstractContextManager[Transaction]:
        return self._transaction(readonly, optimistic)

    @contextmanager
    def _transaction(self, readonly: bool, optimistic: bool = False) -> Iterator[Transaction]:
        if getattr(self._local, "active", False):
            # The outer transaction would hold the write lock we wait for.
            raise StoreError("nested transactions in one thread are not supported")
        if readonly:
            with self._read_transaction() as txn:
                yield txn
            return
        tickets: list[int] = []
        seen: list[int] = []  # the commit an optimistic transaction that never wrote read
        with self._optimistic_transaction(tickets, seen) if optimistic else self._write_transaction(tickets) as txn:
            yield txn
        if tickets:
            with blocking():  # the group's commit and its fsync
                self._wait_durable(tickets[0])
        elif seen:
            self._after_read(seen[0])

    @contextmanager
    def _read_transaction(self) -> Iterator[Transaction]:
        self._local.active = True
        try:
            txn = self._begin_read()
            try:
                yield txn
            finally:
                seq = self._end_read(txn)
        finally:
            self._local.active = False
        self._after_read(seq)

    def _after_read(self, seq: int) -> None:
        """Wait until the commit a snapshot saw is durable (usually it is)."""
        if seq > self._durable_seq:
            with blocking():
                self._make_durable(seq)

    def _begin_read(self) -> _SqliteTransaction:
        """A snapshot on a pooled connection (give it back with :meth:`_end_read`)."""
        conn = self._acquire()
        try:
            with _errors("begin"):
                conn.execute("BEGIN DEFERRED")
        except BaseException:
            self._release(conn, self._rollback(conn))
            raise
        return _SqliteTransaction(conn, True)

    def _end_read(self, txn: _SqliteTransaction, *, saw: bool = True) -> int:
        """End a snapshot; the commit counter it saw (0 when durability is off or not ``saw``)."""
        txn._open = False
        seq = 0
        try:
            if self._durable and saw:
                with _errors("read"):
                    seq = int(txn._conn.execute("SELECT seq FROM kmsd_commits").fetchone()[0])
        finally:
            # Ending a read transaction cannot lose anything: roll back.
            self._release(txn._conn, self._rollback(txn._conn))
        return seq

    # -- group commit --------------------------------------------------------
    #
    # Writers take turns on ONE writer connection.  The first writer of a
    # group opens a transaction (BEGIN IMMEDIATE); each writer runs inside
    # its own savepoint (rolled back alone if it fails), releases it, takes a
    # ticket and leaves the writer lock.  It then waits until its ticket is
    # committed and synced: one waiting writer becomes the committer, takes
    # the lock, COMMITs for every writer of the group, lets the next group
    # begin its commit, fsyncs, and only then wakes its group (each writer
    # sleeps once, on a lock of its own).  Callers still
    # answer only after their write is durable, but N concurrent writers cost
    # one fsync instead of N.  Readers use pooled connections and WAL
    # snapshots, so they never see a group's writes before it is durable.

    @contextmanager
    def _write_transaction(self, tickets: list[int]) -> Iterator[Transaction]:
        conn = self._begin_write()
        try:
            txn = _SqliteTransaction(conn, False)
            try:
                yield txn
            except BaseException:
                txn._open = False
                self._abort_write(conn)
                raise
            txn._open = False
            tickets.append(self._finish_write(conn))
        finally:
            self._end_write()

    @contextmanager
    def _optimistic_transaction(self, tickets: list[int], seen: list[int]) -> Iterator[Transaction]:
        txn = _OptimisticTransaction(self)
        self._local.active = True
        self._draft(+1)
        try:
            try:
                yield txn
            except BaseException:
                txn._close(abort=True)
                raise
            ticket = txn._close(abort=False)
            if ticket is not None:
                tickets.append(ticket)
            else:
                seen.append(txn.read_seq)
        finally:
            txn._drafted()
            self._local.active = False

    def _draft(self, change: int) -> None:
        with self._group:
            self._drafting += change
            if not self._drafting and self._committing:
                self._gathered.notify()  # only the committer waits for this

    def _begin_write(self) -> sqlite3.Connection:
        """Join (or open) the group's write transaction, in savepoint ``kmsd_write``.

        On success the caller holds ``_writer`` and must call :meth:`_end_write`
        after :meth:`_finish_write` or :meth:`_abort_write`.
        """
        # Every wait for _writer is inside blocking(): its holder may be
        # waiting for the processing gate (kmsd.gate's one rule).
        if not self._writer.acquire(blocking=False):
            with blocking():
                if not self._writer.acquire(timeout=self._busy_timeout_ms / 1000):
                    raise ConflictError("sqlite begin: timed out waiting for the write lock")
        self._local.active = True
        try:
            conn = self._writer_connection()
            with _errors("begin"):
                if not conn.in_transaction:
                    if not self._file_lock.acquire(0):
                        with blocking():
                            if not self._file_lock.acquire(self._busy_timeout_ms / 1000):
                                raise ConflictError("sqlite begin: timed out waiting for another process's write")
                    conn.execute("BEGIN IMMEDIATE")
                    self._group_seq = int(
                        conn.execute("UPDATE kmsd_commits SET seq = seq + 1 RETURNING seq").fetchone()[0]
                    )
                conn.execute("SAVEPOINT kmsd_write")
        except BaseException:
            self._end_write()
            raise
        return conn

    def _finish_write(self, conn: sqlite3.Connection) -> int:
        """Keep this writer's changes in the group; its ticket for :meth:`_wait_durable`."""
        with _errors("commit"):
            conn.execute("RELEASE kmsd_write")
        self._issued += 1
        return self._issued

    def _abort_write(self, conn: sqlite3.Connection) -> None:
        self._undo_write(conn)
        if self._issued == self._committed and conn.in_transaction:
            # No writer of this group waits for a COMMIT: end the empty
            # group now, or it would keep the write lock until the next write.
            self._rollback(conn)

    def _end_write(self) -> None:
        self._local.active = False
        self._release_file_lock()
        self._writer.release()

    def _release_file_lock(self) -> None:
        """Give the cross-process lock back once no group transaction is open (caller holds ``_writer``)."""
        if self._file_lock.held and (self._wconn is None or not self._wconn.in_transaction):
            self._file_lock.release()

    def _writer_connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the store is closed")
        if self._wconn is None:
            self._wconn = self._connect()
        return self._wconn

    def _undo_write(self, conn: sqlite3.Connection) -> None:
        """Roll back one writer's savepoint, keeping the group's transaction."""
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK TO kmsd_write")
                conn.execute("RELEASE kmsd_write")
        except sqlite3.Error:
            # The connection is in doubt: drop the whole group; its waiting
            # writers learn it from the failed commit.
            self._rollback(conn)
            _close_quietly(conn)
            self._wconn = None
            self._failed.append((self._committed, self._issued, StoreError("sqlite: write rolled back")))

    def _wait_durable(self, ticket: int) -> None:
        """Return once the group holding ``ticket`` is committed and on disk
        (committing it when no one else is); raise its failure."""
        while True:
            with self._group:
                if self._announced(ticket):
                    return
                if not self._committing and self._committed < ticket:
                    self._committing = True
                    break
                wake = threading.Lock()
                wake.acquire()
                self._sleepers.append((ticket, wake))
            wake.acquire()  # released by a committer: our group is done, or the next commit is ours
        self._commit_group()
        with self._group:
            if not self._announced(ticket):  # cannot happen: the group we committed holds it
                raise StoreError("sqlite commit: a write's group ended without it")

    def _announced(self, ticket: int) -> bool:
        """Whether ``ticket``'s group is done: True when durable, its error raised when failed (holds _group)."""
        for low, high, failure in self._failed:
            if low < ticket <= high:
                raise failure
        return self._durable_ticket >= ticket

    def _commit_group(self) -> None:
        """As the committer: COMMIT the open group, hand the next commit on, fsync, wake the group.

        A failure that is not a StoreError (a bug, an interrupt) never leaves
        writers asleep: before the hand-on, the sleepers are woken and one of
        them commits what is still open and syncs what this one committed;
        after it, this group's writers fail (their commit's fsync is unknown).
        """
        upto, seq, committed, error = self._issued, self._committed_seq, False, None
        try:
            with self._group:
                # Let the writers being drafted now join this group first
                # (bounded): one fsync for all of them, and with --workers the
                # other processes get the write lock back with more written per turn.
                deadline = time.monotonic() + _GATHER_S
                while self._drafting and (left := deadline - time.monotonic()) > 0:
                    self._gathered.wait(left)
            with self._writer:
                upto = self._issued
                conn = self._wconn
                seq = self._committed_seq
                try:
                    if conn is not None and conn.in_transaction:
                        with _errors("commit"):
                            conn.execute("COMMIT")
                        seq, committed = self._group_seq, True
                except StoreError as exc:
                    error = exc
                    if conn is not None:
                        self._rollback(conn)
                self._release_file_lock()
        except BaseException as exc:
            log.error("sqlite commit: the committer failed (%s); another writer takes over", type(exc).__name__)
            with self._group:
                if committed:  # what it committed is the next committer's to sync
                    self._committed_seq = max(self._committed_seq, seq)
                self._committing = False
                self._wake(lambda _t: True)
            raise
        commit_failed = error is not None
        with self._group:
            low = self._committed
            if error is not None:
                self._fail(low, upto, error)
            self._committed = upto
            self._committed_seq = seq
            self._committing = False
            # The next group may commit while this one's fsync runs (the
            # SQLite lock is already free): wake one writer beyond it.
            self._wake(lambda t: t > upto, first_only=True)
        synced = False
        try:
            if error is None:
                self._make_durable(seq)
                synced = True
        except StoreError as exc:
            error = exc
        except BaseException as exc:
            error = StoreError(f"sqlite commit: interrupted before its fsync ({type(exc).__name__})")
            raise
        finally:
            with self._group:
                if synced:
                    self._durable_ticket = max(self._durable_ticket, upto)
                elif error is not None and not commit_failed:
                    self._fail(low, upto, error)  # the fsync failed
                self._wake(lambda t: t <= upto)

    def _fail(self, low: int, high: int, error: StoreError) -> None:
        """Tickets low+1..high failed with ``error`` (holds _group)."""
        self._failed.append((low, high, error))
        del self._failed[:-16]  # only recent tickets can still be waiting

    def _wake(self, which: Callable[[int], bool], *, first_only: bool = False) -> None:
        """Release the sleeping writers whose ticket ``which`` accepts (holds _group)."""
        keep: list[tuple[int, threading.Lock]] = []
        woken = False
        for ticket, wake in self._sleepers:
            if which(ticket) and not (first_only and woken):
                wake.release()
                woken = True
            else:
                keep.append((ticket, wake))
        self._sleepers = keep

    def _make_durable(self, seq: int) -> None:
        """Return once commit ``seq`` (and so every earlier one) is on disk.

        ``seq`` is a committed counter value: its WAL frames are written, so
        an fdatasync of the WAL that starts now covers it, and every commit
        this process made before too.  Callers queue on ``_sync_lock`` and
        mostly find their commit synced by the one before them.  After a
        failed fsync nothing is durable any more: the kernel may have dropped
        the pages it could not write and a later fsync would not say so
        (PostgreSQL stops for the same reason), so every later write and
        read that needs a sync fails until kmsd restarts.
        """
        if not self._durable or seq <= self._durable_seq:
            return
        with self._sync_lock:
            if seq <= self._durable_seq:
                return
            if self._sync_error is not None:
                raise self._sync_error
            target = max(seq, self._committed_seq)
            try:
                _sync_file(self._path + "-wal", fallback=self._path)
            except StoreError as exc:
                log.error("%s: the database can no longer promise durability; restart kmsd once the disk is fixed", exc)
                self._sync_error = StoreError(f"{exc} (an earlier fsync failed: restart kmsd once the disk is fixed)")
                raise
            self._durable_seq = target

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> bool:
        """Roll back what is still open; False if the connection is unusable.

        SQLite rolls back by itself after some errors (I/O, full disk), hence
        the check.  A failed rollback is not raised over the original error:
        the caller discards the connection instead, and closing it rolls back.
        """
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return True
        except sqlite3.Error:
            return False

    # -- the rest of Store -------------------------------------------------

    def pool_stats(self) -> dict[str, int]:
        with self._pool_lock:
            idle = len(self._idle)
        return {"idle": idle, "in_use": self._lent, "max": self._max_idle}

    def check(self) -> None:
        with self._transaction(readonly=True) as txn:
            assert isinstance(txn, _SqliteTransaction)
            with _errors("check"):
                row = txn._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            if row[0] != self._version:
                raise StoreError(f"sqlite check: schema version changed to {row[0]} under us (was {self._version})")

    def close(self) -> None:
        with self._writer:
            if self._wconn is not None:
                # Every writer waits for its commit, so nothing is pending here.
                self._rollback(self._wconn)
                _close_quietly(self._wconn)
                self._wconn = None
            self._file_lock.close()
        with self._pool_lock:
            self._closed = True
            idle, self._idle = self._idle, []
        # Connections lent out are closed when their transaction ends.
        for conn in idle:
            _close_quietly(conn)

    @property
    def schema_version(self) -> int:
        return self._version

    @property
    def path(self) -> str:
        return self._path

    def pragmas(self) -> dict[str, object]:
        """The effective settings of a pooled connection (for logs and tests)."""
        with self._transaction(readonly=True) as txn:
            assert isinstance(txn, _SqliteTransaction)
            with _errors("pragmas"):
                return {
                    name: txn._conn.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
                }


def _create_private_file(path: str) -> None:
    """Create the database file readable by its owner only: it holds keys.

    SQLite gives the -wal and -shm files the same mode as the database.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"sqlite open: cannot create the database file {path!r}: {exc.strerror}") from exc
    os.close(fd)


def _sync_file(path: str, *, fallback: str) -> None:
    """fdatasync ``path``; ``fallback`` when it is gone (a WAL checkpointed and
    removed by the last connection closing, its content in the database)."""
    try:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            fd = os.open(fallback, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StoreError(f"sqlite commit: cannot sync {path!r} to disk: {exc.strerror}") from exc


def _close_quietly(conn: sqlite3.Connection) -> None:
    try:
        conn.close()
    except sqlite3.Error:
        pass
