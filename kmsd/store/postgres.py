"""The PostgreSQL store (psycopg 3, a synchronous connection pool).

Theory of operation
-------------------
Several kmsd processes may share one database, each with its own pool, so
every guarantee below comes from PostgreSQL itself, never from a lock in
this process.

* psycopg 3 has no trio support; the store is synchronous and the core calls
  it from worker threads (``trio.to_thread.run_sync``).  A running query
  cannot be cancelled from trio, so every connection carries a
  ``statement_timeout``; a query stuck behind a row lock gives up earlier,
  at ``lock_timeout``, and reports a ConflictError (the caller may retry).
* Connections come from a ``psycopg_pool.ConnectionPool`` in autocommit mode;
  the store issues ``BEGIN`` / ``COMMIT`` / ``ROLLBACK`` itself, so the
  isolation level is chosen per transaction and nothing is left implicit.
  A transaction checks one connection out for its whole life.

Isolation: READ COMMITTED plus row locks for writers, a snapshot for readers
-----------------------------------------------------------------------------
* Write transactions run at READ COMMITTED.  The core reads every object it
  is about to change with ``get(for_update=True)``, which is ``SELECT ... FOR
  NO KEY UPDATE``: the second of two concurrent writers waits for the first
  to commit and then reads the *committed* row, so it sees the state change
  already made and cannot make it twice (no double transition, no lost
  update).  ``NO KEY UPDATE`` rather than ``UPDATE`` because we never change
  a key: the lock still excludes other writers of the row but does not block
  the foreign-key checks of concurrent grants.
* Why not REPEATABLE READ or SERIALIZABLE: there a second writer that locks
  a row changed since its snapshot fails with a serialization error, and the
  only correct response is to re-run the whole KMIP request.  The executor
  does not replay requests (some are not idempotent for the client: a
  Create returns a new identifier), so such failures would reach clients as
  errors under ordinary contention.  Row locks make the second writer wait
  instead, which is what a key server wants.
* Grants are single atomic statements: ``INSERT ... ON CONFLICT DO UPDATE``
  merges the new operations into the *current* row (PostgreSQL locks and
  re-reads it), and revoke is ``permissions - ops`` on the current row, so two
  concurrent grants never lose one another (no lost grant).
* Read-only transactions are ``REPEATABLE READ READ ONLY``: one snapshot for
  the whole request (two reads never see half of a concurrent commit), no
  row locks, and PostgreSQL never raises serialization failures for them.
* Deadlocks, lock timeouts and serialization failures become ConflictError;
  every other psycopg error becomes StoreError with the SQLSTATE and the
  server's primary message only (never DETAIL lines, never bound values), so
  no payload or attribute bytes can end up in a message or a log.

Savepoints are SQL ``SAVEPOINT``s (the batch executor undoes failed items).
Locate selects the matching ``sequence`` numbers with one indexed query,
then fetches rows in batches, like the SQLite store.  Migrations run on a
dedicated connection before the pool opens; each one takes a transaction-
scoped advisory lock, so two processes starting at once apply it once.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from . import locate_sql, migrations
from .base import ConflictError, Grant, LocateFilter, Store, StoredObject, StoreError, Transaction

Connection = psycopg.Connection[tuple[Any, ...]]

# Rows fetched per query while iterating Locate results (see sqlite.py).
_LOCATE_BATCH = 256

_COLUMNS = (
    "sequence, id, object_type, state, owner, payload, attributes, names, object_groups, "
    "cryptographic_algorithm, cryptographic_length"
)

# SQLSTATEs meaning "another transaction is in the way; try again":
# serialization_failure, deadlock_detected, lock_not_available (lock_timeout).
_CONFLICT_STATES = frozenset({"40001", "40P01", "55P03"})

# How long opening the store waits for a concurrent migration elsewhere.
_MIGRATION_LOCK_TIMEOUT_MS = 60_000

# Messages are cut here: a primary message is one line, but be safe.
_MAX_MESSAGE = 240


def _message(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if not primary:
        # Connection-level errors have no diagnostics; libpq's text names the
        # host and the failure, never a password or a bound value.
        primary = " ".join(str(exc).split())
    return primary[:_MAX_MESSAGE]


def _translate(op: str, exc: Exception) -> StoreError:
    if isinstance(exc, PoolTimeout):
        return StoreError(f"postgresql {op}: no database connection available (pool exhausted or server down)")
    if isinstance(exc, PoolClosed):
        return StoreError("the store is closed")
    sqlstate = getattr(exc, "sqlstate", None)
    text = _message(exc)
    if sqlstate in _CONFLICT_STATES:
        return ConflictError(f"postgresql {op}: conflict with a concurrent transaction ({sqlstate}: {text})")
    if sqlstate == "57014":
        return StoreError(f"postgresql {op}: statement timeout or cancelled ({text})")
    return StoreError(f"postgresql {op} failed: {sqlstate or type(exc).__name__}: {text}")


@contextmanager
def _errors(op: str) -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        raise _translate(op, exc) from exc


def _row_to_object(row: Sequence[Any]) -> StoredObject:
    seq, uid, otype, state, owner, payload, attrs, names, groups, alg, length = row
    return StoredObject(
        uid=uid,
        object_type=otype,
        state=state,
        owner=owner,
        payload=bytes(payload),
        attributes=bytes(attrs),
        names=tuple(names),
        object_groups=tuple(groups),
        cryptographic_algorithm=alg,
        cryptographic_length=length,
        sequence=seq,
    )


def _pg_visible(user: str, operations: Sequence[str]) -> locate_sql.Clause:
    # Owner, or a grant to the user or to '*' holding any of the operations
    # (``?|``).  A UNION ALL inside IN, not "owner = ? OR id IN (...)":
    # PostgreSQL cannot turn an OR with a subplan into index scans and filters
    # every object instead (measured: 50 ms against 1 ms at 100,000 objects);
    # this way both halves come from objects_owner and read_access_userid.
    sql = (
        "o.id IN (SELECT o2.id FROM objects o2 WHERE o2.owner = %s"
        " UNION ALL SELECT ra.id FROM read_access ra"
        " WHERE ra.userid IN (%s, '*') AND ra.permissions ?| %s::text[])"
    )
    return sql, [user, user, list(operations)]


# Lists bind as arrays (``= ANY(%s)``), so the statement text depends only on
# which filters are present and psycopg can prepare it.
POSTGRESQL = locate_sql.Dialect(
    p="%s",
    one_of=lambda column, values: (f"{column} = ANY(%s::int[])", [list(values)]),
    visible=_pg_visible,
)


def locate_query(flt: LocateFilter) -> tuple[str, list[object]] | None:
    """The SQL selecting matching ``sequence`` numbers (see :mod:`kmsd.store.locate_sql`)."""
    return locate_sql.locate_query(flt, POSTGRESQL)


def _unique(values: Sequence[str]) -> list[str]:
    # A repeated name is one index row; the tuple itself is kept in objects.
    return list(dict.fromkeys(values))


class _PgTransaction(Transaction):
    def __init__(self, conn: Connection, readonly: bool) -> None:
        self._conn = conn
        self._readonly = readonly
        self._open = True
        self._savepoints: set[str] = set()
        self._next_savepoint = 1

    def _live(self) -> Connection:
        if not self._open:
            raise StoreError("the transaction has ended")
        return self._conn

    def _writable(self, op: str) -> Connection:
        conn = self._live()
        if self._readonly:
            # Refused before SQL: PostgreSQL would refuse too (READ ONLY), but
            # then the whole transaction would be aborted.
            raise StoreError(f"{op} in a read-only transaction")
        return conn

    def get(self, uid: str, *, for_update: bool = False) -> StoredObject | None:
        if for_update:
            conn = self._writable("get(for_update=True)")
            sql = f"SELECT {_COLUMNS} FROM objects WHERE id = %s FOR NO KEY UPDATE"
        else:
            conn = self._live()
            sql = f"SELECT {_COLUMNS} FROM objects WHERE id = %s"
        with _errors("get"):
            row = conn.execute(sql, (uid,)).fetchone()
        return None if row is None else _row_to_object(row)

    def insert(self, obj: StoredObject) -> None:
        conn = self._writable("insert")
        with _errors("insert"):
            # ON CONFLICT DO NOTHING: a duplicate is reported without aborting
            # the transaction (a failed statement would poison it).
            row = conn.execute(
                "INSERT INTO objects (id, object_type, state, owner, payload, attributes, names, object_groups,"
                " cryptographic_algorithm, cryptographic_length)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s::text[], %s::text[], %s, %s)"
                " ON CONFLICT (id) DO NOTHING RETURNING sequence",
                (
                    obj.uid,
                    obj.object_type,
                    obj.state,
                    obj.owner,
                    obj.payload,
                    obj.attributes,
                    list(obj.names),
                    list(obj.object_groups),
                    obj.cryptographic_algorithm,
                    obj.cryptographic_length,
                ),
            ).fetchone()
            if row is None:
                raise ConflictError(f"insert: an object with identifier {obj.uid!r} already exists")
            self._write_index(conn, obj.uid, obj.names, obj.object_groups)
        obj.sequence = row[0]

    @staticmethod
    def _write_index(conn: Connection, uid: str, names: Sequence[str], groups: Sequence[str]) -> None:
        # One statement per side table whatever the number of values.
        if names:
            conn.execute("INSERT INTO object_names (id, name) SELECT %s, unnest(%s::text[])", (uid, _unique(names)))
        if groups:
            conn.execute("INSERT INTO object_groups (id, grp) SELECT %s, unnest(%s::text[])", (uid, _unique(groups)))

    def update(self, obj: StoredObject) -> None:
        conn = self._writable("update")
        names, groups = list(obj.names), list(obj.object_groups)
        with _errors("update"):
            # The lock is usually held already (the core's get(for_update)),
            # so this is a primary-key lookup that does not wait.
            old = conn.execute(
                "SELECT names, object_groups FROM objects WHERE id = %s FOR NO KEY UPDATE", (obj.uid,)
            ).fetchone()
            if old is None:
                raise ConflictError(f"update: no object with identifier {obj.uid!r} (deleted meanwhile?)")
            conn.execute(
                "UPDATE objects SET state = %s, payload = %s, attributes = %s, names = %s::text[],"
                " object_groups = %s::text[], cryptographic_algorithm = %s, cryptographic_length = %s,"
                " updated_at = now() WHERE id = %s",
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
            names_changed, groups_changed = list(old[0]) != names, list(old[1]) != groups
            if names_changed:
                conn.execute("DELETE FROM object_names WHERE id = %s", (obj.uid,))
            if groups_changed:
                conn.execute("DELETE FROM object_groups WHERE id = %s", (obj.uid,))
            self._write_index(conn, obj.uid, names if names_changed else (), groups if groups_changed else ())

    def delete(self, uid: str) -> None:
        conn = self._writable("delete")
        with _errors("delete"):
            # Index rows and grants go by ON DELETE CASCADE.
            conn.execute("DELETE FROM objects WHERE id = %s", (uid,))

    def locate(self, flt: LocateFilter) -> Iterator[StoredObject]:
        conn = self._live()
        query = locate_query(flt)
        if query is None:
            return iter(())
        sql, params = query
        with _errors("locate"):
            sequences = [row[0] for row in conn.execute(sql, params)]
        return self._fetch(sequences)

    def _fetch(self, sequences: list[int]) -> Iterator[StoredObject]:
        for start in range(0, len(sequences), _LOCATE_BATCH):
            chunk = sequences[start : start + _LOCATE_BATCH]
            conn = self._live()
            with _errors("locate"):
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM objects WHERE sequence = ANY(%s::bigint[]) ORDER BY sequence", (chunk,)
                ).fetchall()
            for row in rows:
                yield _row_to_object(row)

    def grant(self, uid: str, user: str, operations: frozenset[str]) -> None:
        conn = self._writable("grant")
        if not operations:
            return
        with _errors("grant"):
            # INSERT ... SELECT FROM objects: no row inserted means no object.
            # On conflict PostgreSQL locks the existing grant and merges into
            # its current value, so concurrent grants add up.  A concurrent
            # delete of the object is caught by the foreign key.
            cur = conn.execute(
                "INSERT INTO read_access (id, userid, permissions) SELECT o.id, %s, %s FROM objects o WHERE o.id = %s"
                " ON CONFLICT (id, userid) DO UPDATE SET permissions = ("
                "SELECT jsonb_agg(DISTINCT p ORDER BY p)"
                " FROM jsonb_array_elements_text(read_access.permissions || EXCLUDED.permissions) AS p)",
                (user, Jsonb(sorted(operations)), uid),
            )
            if cur.rowcount == 0:
                raise ConflictError(f"grant: no object with identifier {uid!r}")

    def revoke(self, uid: str, user: str, operations: frozenset[str]) -> None:
        conn = self._writable("revoke")
        if not operations:
            return
        ops = sorted(operations)
        with _errors("revoke"):
            row = conn.execute(
                "UPDATE read_access SET permissions = permissions - %s::text[]"
                " WHERE id = %s AND userid = %s AND permissions ?| %s::text[]"
                " RETURNING jsonb_array_length(permissions)",
                (ops, uid, user, ops),
            ).fetchone()
            if row is not None and row[0] == 0:
                # We hold the row lock since the UPDATE: nobody re-filled it.
                conn.execute("DELETE FROM read_access WHERE id = %s AND userid = %s", (uid, user))

    def permissions(self, uid: str, user: str) -> frozenset[str]:
        conn = self._live()
        with _errors("permissions"):
            rows = conn.execute(
                "SELECT permissions FROM read_access WHERE id = %s AND userid IN (%s, '*')", (uid, user)
            ).fetchall()
        ops: set[str] = set()
        for (perms,) in rows:
            ops.update(perms)
        return frozenset(ops)

    def grants(self, uid: str) -> list[Grant]:
        conn = self._live()
        with _errors("grants"):
            # COLLATE "C": bytewise order, as SQLite and MySQL give.
            rows = conn.execute(
                'SELECT userid, permissions FROM read_access WHERE id = %s ORDER BY userid COLLATE "C"', (uid,)
            ).fetchall()
        return [Grant(uid, user, frozenset(perms)) for user, perms in rows]

    def grant_create(self, user: str, by: str) -> None:
        conn = self._writable("grant_create")
        with _errors("grant_create"):
            conn.execute(
                "INSERT INTO create_access (userid, granted_by) VALUES (%s, %s)"
                " ON CONFLICT (userid) DO UPDATE SET granted_by = EXCLUDED.granted_by, granted_at = now()",
                (user, by),
            )

    def revoke_create(self, user: str) -> None:
        conn = self._writable("revoke_create")
        with _errors("revoke_create"):
            conn.execute("DELETE FROM create_access WHERE userid = %s", (user,))

    def create_grants(self) -> list[tuple[str, str]]:
        conn = self._live()
        with _errors("create_grants"):
            rows = conn.execute('SELECT userid, granted_by FROM create_access ORDER BY userid COLLATE "C"').fetchall()
        return [(user, by) for user, by in rows]

    def savepoint(self) -> str:
        conn = self._live()
        name = f"kmsd_sp{self._next_savepoint}"
        self._next_savepoint += 1
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
            conn.execute(f"ROLLBACK TO SAVEPOINT {name}")


class PostgresStore(Store):
    """A store in a PostgreSQL database; safe to share between threads and processes.

    ``url`` is a libpq connection string or URI (``postgresql://user@host/db``).
    ``pool_min`` / ``pool_max`` bound the pool; a transaction waits up to
    ``pool_timeout_s`` for a connection.  ``statement_timeout_ms`` bounds
    every statement; ``lock_timeout_ms`` (default: three quarters of it, so
    it fires first) bounds waiting for a row lock, which is a ConflictError.
    ``durable=False`` sets ``synchronous_commit = off`` for our sessions: still
    consistent after a crash, but the last commits may be lost.
    """

    def __init__(
        self,
        url: str,
        *,
        pool_min: int = 1,
        pool_max: int = 16,
        statement_timeout_ms: int = 5000,
        lock_timeout_ms: int | None = None,
        pool_timeout_s: float = 10.0,
        connect_timeout_s: int = 10,
        durable: bool = True,
    ) -> None:
        if lock_timeout_ms is None:
            lock_timeout_ms = max(1, statement_timeout_ms * 3 // 4)
        self._settings = {
            "statement_timeout": str(int(statement_timeout_ms)),
            "lock_timeout": str(int(lock_timeout_ms)),
            "synchronous_commit": "on" if durable else "off",
        }
        self._local = threading.local()
        self._closed = False
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": connect_timeout_s,
            "application_name": "kmsd",
        }
        self._version = self._migrate(url, kwargs)
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            url,
            kwargs=kwargs,
            min_size=pool_min,
            max_size=max(pool_min, pool_max),
            configure=self._configure,
            timeout=pool_timeout_s,
            open=False,
            name="kmsd-postgresql",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s + 5)
        except psycopg.Error as exc:
            self._pool.close()
            raise _translate("open", exc) from exc

    # -- connections -------------------------------------------------------

    def _configure(self, conn: Connection) -> None:
        # set_config() rather than SET: SET cannot take bound parameters.
        for name, value in self._settings.items():
            conn.execute("SELECT set_config(%s, %s, false)", (name, value))

    @staticmethod
    def _migrate(url: str, kwargs: dict[str, Any]) -> int:
        try:
            with psycopg.connect(url, **kwargs) as conn:
                # No statement timeout: a future migration may rewrite a big
                # table.  Waiting for another process's migration is bounded.
                conn.execute("SELECT set_config('lock_timeout', %s, false)", (str(_MIGRATION_LOCK_TIMEOUT_MS),))
                return upgrade_postgresql(conn)
        except psycopg.Error as exc:
            raise _translate("open", exc) from exc

    def _begin(self, readonly: bool) -> Connection:
        """A pooled connection inside a fresh transaction.

        An idle pooled connection may have died (server restart, idle
        timeout); nothing has run on it yet, so retrying BEGIN on another
        connection is safe.  The pool discards broken connections on return.
        """
        begin = (
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if readonly else "BEGIN ISOLATION LEVEL READ COMMITTED"
        )
        attempts = self._pool.max_size + 1
        for attempt in range(attempts):
            with _errors("begin"):
                conn = self._pool.getconn()
            try:
                conn.execute(begin)
                return conn
            except psycopg.OperationalError as exc:
                self._pool.putconn(conn)
                if not conn.broken or attempt == attempts - 1:
                    raise _translate("begin", exc) from exc
            except psycopg.Error as exc:
                self._pool.putconn(conn)
                raise _translate("begin", exc) from exc
        raise AssertionError("unreachable")

    # -- transactions ------------------------------------------------------

    def transaction(self, *, readonly: bool = False, optimistic: bool = False) -> AbstractContextManager[Transaction]:
        return self._transaction(readonly)

    @contextmanager
    def _transaction(self, readonly: bool) -> Iterator[Transaction]:
        if getattr(self._local, "active", False):
            # The interface forbids it; here it could also deadlock the thread
            # against its own row locks.
            raise StoreError("nested transactions in one thread are not supported")
        if self._closed:
            raise StoreError("the store is closed")
        self._local.active = True
        try:
            conn = self._begin(readonly)
            txn = _PgTransaction(conn, readonly)
            try:
                try:
                    yield txn
                except BaseException:
                    txn._open = False
                    self._rollback(conn)
                    raise
                txn._open = False
                try:
                    with _errors("commit"):
                        conn.execute("COMMIT")
                except BaseException:
                    self._rollback(conn)
                    raise
            finally:
                self._pool.putconn(conn)
        finally:
            self._local.active = False

    @staticmethod
    def _rollback(conn: Connection) -> None:
        """Roll back what is open; a failure is not raised over the original error.

        A connection that cannot roll back is broken or closed, and the pool
        discards it (or rolls back itself) when it is returned.
        """
        try:
            if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
        except psycopg.Error:
            pass

    # -- the rest of Store -------------------------------------------------

    def pool_stats(self) -> dict[str, int]:
        stats = self._pool.get_stats()
        size, available = stats.get("pool_size", 0), stats.get("pool_available", 0)
        return {"idle": available, "in_use": size - available, "max": self._pool.max_size}

    def check(self) -> None:
        with self._transaction(readonly=True) as txn:
            assert isinstance(txn, _PgTransaction)
            with _errors("check"):
                row = txn._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            version = None if row is None else row[0]
            if version != self._version:
                raise StoreError(
                    f"postgresql check: schema version changed to {version} under us (was {self._version})"
                )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Connections lent out are closed when their transaction returns them.
        self._pool.close()

    @property
    def schema_version(self) -> int:
        return self._version

    def settings(self) -> dict[str, str]:
        """The effective session settings of a pooled connection (for logs and tests)."""
        with self._transaction(readonly=False) as txn:
            assert isinstance(txn, _PgTransaction)
            with _errors("settings"):
                row = txn._conn.execute(
                    "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'),"
                    " current_setting('synchronous_commit'), current_setting('transaction_isolation')"
                ).fetchone()
        assert row is not None
        names = ("statement_timeout", "lock_timeout", "synchronous_commit", "transaction_isolation")
        return dict(zip(names, (str(v) for v in row), strict=True))


# -- migrations --------------------------------------------------------------


# A fixed 31-bit number so every kmsd agrees.  Advisory locks are per
# database; the SQL pairs this key with a hash of the schema name.
_ADVISORY_KEY = zlib.crc32(b"kmsd.store.migrations") & 0x7FFFFFFF


def _current_version(conn: Connection) -> int:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = current_schema() AND table_type IN ('BASE TABLE', 'VIEW')"
    ).fetchall()
    tables = {r[0] for r in rows}
    if "schema_version" not in tables:
        # Tables but no version history: not ours; refuse to write into it.
        if tables:
            raise StoreError(migrations.FOREIGN_DATABASE)
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0) if row is not None else 0


def upgrade_postgresql(conn: Connection, plan: Sequence[migrations.Migration] | None = None) -> int:
    """Bring the database on ``conn`` (autocommit) to the newest schema; return its version.

    Each pending migration runs in one transaction holding
    ``pg_advisory_xact_lock``; the version is re-read under the lock (READ
    COMMITTED: a fresh snapshot per statement), so of two processes starting
    at once the second finds the work done.  ``plan`` defaults to
    :data:`kmsd.store.migrations.MIGRATIONS`, looked up at call time so tests
    can patch it.  psycopg errors are left to the caller to wrap.
    """
    if plan is None:
        plan = migrations.MIGRATIONS
    latest = len(plan)
    current = _current_version(conn)
    migrations.check_supported(current, plan)
    if current == latest:
        return current
    # READ COMMITTED whatever the server default: the version must be re-read
    # with a snapshot taken after the lock was granted.
    conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s::int4, hashtext(current_schema()))", (_ADVISORY_KEY,))
            current = _current_version(conn)
            migrations.check_supported(current, plan)
            if current == latest:
                return current
            m = plan[current]
            conn.execute(migrations.VERSION_TABLE_POSTGRESQL)
            for statement in m.statements("postgresql"):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, description) VALUES (%s, %s)", (m.version, m.description)
            )
