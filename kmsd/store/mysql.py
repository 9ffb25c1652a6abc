"""The MySQL / MariaDB store (PyMySQL, a small thread-safe pool).

Theory of operation
-------------------
The same contract as the PostgreSQL store (read its docstring first); this
module says where MySQL differs.  PyMySQL is pure Python, so the store needs
no client library on the machine.

* Pool: a LIFO list of idle connections plus a semaphore of ``pool_max``
  slots.  A transaction checks one connection out for its whole life, so a
  PyMySQL connection (not thread-safe) is only used by one thread at a time.
  Connections are in autocommit mode; the store issues ``START TRANSACTION``
  / ``COMMIT`` / ``ROLLBACK`` itself.  A dead idle connection (server restart,
  ``wait_timeout``) is detected when BEGIN fails and replaced: nothing ran
  on it yet, so the retry is safe.
* Isolation: write transactions run at READ COMMITTED (set per session) and
  ``get(for_update=True)`` is ``SELECT ... FOR UPDATE``: a second writer
  waits for the first to commit and reads the committed row, so a state
  change cannot happen twice and no update is lost.  READ COMMITTED rather
  than InnoDB's default REPEATABLE READ because the latter adds gap locks
  (more waits and deadlocks on inserts) and gives nothing here: the core
  locks what it changes.  Grants and revokes first lock the *object* row
  (``FOR UPDATE``) and then read-modify-write the grant row: two concurrent
  grants on one object are serialised, so neither is lost (locking only the
  grant row would not do: an absent row cannot be locked at READ COMMITTED).
* Read-only transactions are ``REPEATABLE READ`` + ``START TRANSACTION READ
  ONLY, WITH CONSISTENT SNAPSHOT``: one snapshot for the whole request.
* Timeouts: ``innodb_lock_wait_timeout`` (whole seconds, at least 1) bounds
  row-lock waits and raises error 1205, a ConflictError; the statement
  timeout is MariaDB's ``max_statement_time`` (every statement) or MySQL's
  ``max_execution_time`` (SELECTs only; writes are bounded by the lock wait).
  A socket read timeout above both is the last resort for a dead server.
* A deadlock (1213) makes InnoDB roll back the whole transaction; statements
  after it would silently run in autocommit mode, so the transaction is
  marked dead and every later call raises StoreError.
* Errors: PyMySQL's become StoreError / ConflictError with the server's error
  code and message (MySQL's messages quote key values, i.e. identifiers, at
  most; payload and attributes are only ever in BLOB columns and no message
  quotes those).
* Schema: VARBINARY identifiers and names (byte-exact comparison whatever
  the server collation), LONGBLOB payloads, JSON index tuples and
  permissions; the grant filter is ``JSON_OVERLAPS`` (MariaDB 10.9+, MySQL
  8.0.17+).  DDL commits implicitly in MySQL, so migrations are re-runnable
  statements, and ``GET_LOCK`` serialises processes migrating at once.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql
from pymysql.connections import Connection as _Connection
from pymysql.cursors import Cursor

from . import locate_sql, migrations
from .base import ConflictError, Grant, LocateFilter, Store, StoredObject, StoreError, Transaction

if TYPE_CHECKING:  # the stubs make Connection generic; the runtime class is not
    Connection = _Connection[Cursor]
else:
    Connection = _Connection

_LOCATE_BATCH = 256
_COLUMNS = (
    "sequence, id, object_type, state, owner, payload, attributes, names, object_groups, "
    "cryptographic_algorithm, cryptographic_length"
)

ER_DUP_ENTRY = 1062
ER_LOCK_WAIT_TIMEOUT = 1205
ER_LOCK_DEADLOCK = 1213
ER_NO_REFERENCED_ROW = 1452
ER_STATEMENT_TIMEOUT_MARIADB = 1969
ER_QUERY_TIMEOUT_MYSQL = 3024
# Client-side codes for a connection that is gone (CR_* in the C client).
_CONNECTION_LOST = frozenset({2003, 2006, 2013, 2014, 2055, 4031})
# Errors after which the server has already rolled the transaction back.
_TRANSACTION_LOST = frozenset({ER_LOCK_DEADLOCK}) | _CONNECTION_LOST

# Waiting for another process's migration, in seconds (GET_LOCK).
_MIGRATION_LOCK_TIMEOUT_S = 60
# Strict mode: an over-long value is an error, never silently truncated.
_SQL_MODE = "STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"


def _code(exc: BaseException | None) -> int | None:
    args: tuple[object, ...] = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _translate(op: str, exc: BaseException) -> StoreError:
    code = _code(exc)
    args: tuple[object, ...] = exc.args
    text = " ".join(str(args[1] if len(args) > 1 else type(exc).__name__).split())[:240]
    if code in (ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK):
        return ConflictError(f"mysql {op}: conflict with a concurrent transaction ({code}: {text})")
    if code in (ER_STATEMENT_TIMEOUT_MARIADB, ER_QUERY_TIMEOUT_MYSQL):
        return StoreError(f"mysql {op}: statement timeout ({code}: {text})")
    return StoreError(f"mysql {op} failed: {code if code is not None else type(exc).__name__}: {text}")


def _text(value: Any) -> str:
    # VARBINARY columns come back as bytes; we stored UTF-8.
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)


def _row_to_object(row: Sequence[Any]) -> StoredObject:
    seq, uid, otype, state, owner, payload, attrs, names, groups, alg, length = row
    return StoredObject(
        uid=_text(uid),
        object_type=otype,
        state=state,
        owner=_text(owner),
        payload=bytes(payload),
        attributes=bytes(attrs),
        names=tuple(json.loads(names)),
        object_groups=tuple(json.loads(groups)),
        cryptographic_algorithm=alg,
        cryptographic_length=length,
        sequence=seq,
    )


def _mysql_visible(user: str, operations: Sequence[str]) -> locate_sql.Clause:
    sql = (
        "(o.owner = %s OR o.id IN (SELECT ra.id FROM read_access ra"
        " WHERE ra.userid IN (%s, '*') AND JSON_OVERLAPS(ra.permissions, %s)))"
    )
    return sql, [user, user, json.dumps(list(operations))]


# PyMySQL expands a tuple parameter into a parenthesised list for ``IN %s``.
MYSQL = locate_sql.Dialect(
    p="%s",
    one_of=lambda column, values: (f"{column} IN %s", [tuple(values)]),
    visible=_mysql_visible,
)


def locate_query(flt: LocateFilter) -> tuple[str, list[object]] | None:
    """The SQL selecting matching ``sequence`` numbers (see :mod:`kmsd.store.locate_sql`)."""
    return locate_sql.locate_query(flt, MYSQL)


class _MySqlTransaction(Transaction):
    def __init__(self, conn: Connection, readonly: bool) -> None:
        self._conn = conn
        self._readonly = readonly
        self._open = True
        self._lost: str | None = None  # why the server ended the transaction
        self._savepoints: set[str] = set()
        self._next_savepoint = 1

    def _live(self) -> Connection:
        if not self._open:
            raise StoreError("the transaction has ended")
        if self._lost is not None:
            raise StoreError(f"the transaction was rolled back by the server ({self._lost})")
        return self._conn

    def _writable(self, op: str) -> Connection:
        conn = self._live()
        if self._readonly:
            raise StoreError(f"{op} in a read-only transaction")
        return conn

    def _run(self, conn: Connection, op: str, sql: str, args: Any = None) -> Cursor:
        cur = conn.cursor()
        try:
            cur.execute(sql, args)
        except pymysql.MySQLError as exc:
            if _code(exc) in _TRANSACTION_LOST:
                self._lost = _translate(op, exc).args[0]
            raise _translate(op, exc) from exc
        return cur

    def get(self, uid: str, *, for_update: bool = False) -> StoredObject | None:
        conn = self._writable("get(for_update=True)") if for_update else self._live()
        lock = " FOR UPDATE" if for_update else ""
        row = self._run(conn, "get", f"SELECT {_COLUMNS} FROM objects WHERE id = %s{lock}", (uid,)).fetchone()
        return None if row is None else _row_to_object(row)

    def insert(self, obj: StoredObject) -> None:
        conn = self._writable("insert")
        try:
            cur = self._run(
                conn,
                "insert",
                "INSERT INTO objects (id, object_type, state, owner, payload, attributes, names, object_groups,"
                " cryptographic_algorithm, cryptographic_length) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
        except StoreError as exc:
            if _code(exc.__cause__) == ER_DUP_ENTRY:
                raise ConflictError(f"insert: an object with identifier {obj.uid!r} already exists") from exc
            raise
        self._write_index(conn, obj.uid, obj.names, obj.object_groups)
        obj.sequence = cur.lastrowid

    def _write_index(self, conn: Connection, uid: str, names: Sequence[str], groups: Sequence[str]) -> None:
        # Deduplicated here rather than INSERT IGNORE, which would also turn
        # real errors (an over-long name) into warnings and truncate.
        if names:
            rows = ", ".join(["(%s, %s)"] * len(set(names)))
            args = [v for n in dict.fromkeys(names) for v in (uid, n)]
            self._run(conn, "insert", f"INSERT INTO object_names (id, name) VALUES {rows}", args)
        if groups:
            rows = ", ".join(["(%s, %s)"] * len(set(groups)))
            args = [v for g in dict.fromkeys(groups) for v in (uid, g)]
            self._run(conn, "insert", f"INSERT INTO object_groups (id, grp) VALUES {rows}", args)

    def update(self, obj: StoredObject) -> None:
        conn = self._writable("update")
        old = self._run(
            conn, "update", "SELECT names, object_groups FROM objects WHERE id = %s FOR UPDATE", (obj.uid,)
        ).fetchone()
        if old is None:
            raise ConflictError(f"update: no object with identifier {obj.uid!r} (deleted meanwhile?)")
        self._run(
            conn,
            "update",
            "UPDATE objects SET state = %s, payload = %s, attributes = %s, names = %s, object_groups = %s,"
            " cryptographic_algorithm = %s, cryptographic_length = %s, updated_at = CURRENT_TIMESTAMP(6)"
            " WHERE id = %s",
            (
                obj.state,
                obj.payload,
                obj.attributes,
                json.dumps(list(obj.names)),
                json.dumps(list(obj.object_groups)),
                obj.cryptographic_algorithm,
                obj.cryptographic_length,
                obj.uid,
            ),
        )
        # Compare parsed values: MySQL normalises stored JSON text.
        names_changed = tuple(json.loads(old[0])) != obj.names
        groups_changed = tuple(json.loads(old[1])) != obj.object_groups
        if names_changed:
            self._run(conn, "update", "DELETE FROM object_names WHERE id = %s", (obj.uid,))
        if groups_changed:
            self._run(conn, "update", "DELETE FROM object_groups WHERE id = %s", (obj.uid,))
        self._write_index(
            conn, obj.uid, obj.names if names_changed else (), obj.object_groups if groups_changed else ()
        )

    def delete(self, uid: str) -> None:
        conn = self._writable("delete")
        # Index rows and grants go by ON DELETE CASCADE.
        self._run(conn, "delete", "DELETE FROM objects WHERE id = %s", (uid,))

    def locate(self, flt: LocateFilter) -> Iterator[StoredObject]:
        conn = self._live()
        query = locate_query(flt)
        if query is None:
            return iter(())
        sql, params = query
        sequences = [row[0] for row in self._run(conn, "locate", sql, params).fetchall()]
        return self._fetch(sequences)

    def _fetch(self, sequences: list[int]) -> Iterator[StoredObject]:
        for start in range(0, len(sequences), _LOCATE_BATCH):
            chunk = tuple(sequences[start : start + _LOCATE_BATCH])
            conn = self._live()
            rows = self._run(
                conn, "locate", f"SELECT {_COLUMNS} FROM objects WHERE sequence IN %s ORDER BY sequence", (chunk,)
            ).fetchall()
            for row in rows:
                yield _row_to_object(row)

    def _lock_object(self, conn: Connection, op: str, uid: str) -> bool:
        return self._run(conn, op, "SELECT 1 FROM objects WHERE id = %s FOR UPDATE", (uid,)).fetchone() is not None

    def _read_grant(self, conn: Connection, op: str, uid: str, user: str) -> set[str] | None:
        row = self._run(
            conn, op, "SELECT permissions FROM read_access WHERE id = %s AND userid = %s", (uid, user)
        ).fetchone()
        return None if row is None else set(json.loads(row[0]))

    def grant(self, uid: str, user: str, operations: frozenset[str]) -> None:
        conn = self._writable("grant")
        if not operations:
            return
        # The object row lock serialises every grant change on this object
        # (see the module docstring); under it, a plain read is current.
        if not self._lock_object(conn, "grant", uid):
            raise ConflictError(f"grant: no object with identifier {uid!r}")
        ops = (self._read_grant(conn, "grant", uid, user) or set()) | operations
        self._run(
            conn,
            "grant",
            "INSERT INTO read_access (id, userid, permissions) VALUES (%s, %s, %s)"
            " ON DUPLICATE KEY UPDATE permissions = VALUES(permissions)",
            (uid, user, json.dumps(sorted(ops))),
        )

    def revoke(self, uid: str, user: str, operations: frozenset[str]) -> None:
        conn = self._writable("revoke")
        if not operations or not self._lock_object(conn, "revoke", uid):
            return
        current = self._read_grant(conn, "revoke", uid, user)
        if current is None or not (current & operations):
            return
        remaining = current - operations
        if remaining:
            self._run(
                conn,
                "revoke",
                "UPDATE read_access SET permissions = %s WHERE id = %s AND userid = %s",
                (json.dumps(sorted(remaining)), uid, user),
            )
        else:
            self._run(conn, "revoke", "DELETE FROM read_access WHERE id = %s AND userid = %s", (uid, user))

    def permissions(self, uid: str, user: str) -> frozenset[str]:
        conn = self._live()
        rows = self._run(
            conn,
            "permissions",
            "SELECT permissions FROM read_access WHERE id = %s AND userid IN (%s, '*')",
            (uid, user),
        ).fetchall()
        ops: set[str] = set()
        for (perms,) in rows:
            ops.update(json.loads(perms))
        return frozenset(ops)

    def grants(self, uid: str) -> list[Grant]:
        conn = self._live()
        rows = self._run(
            conn, "grants", "SELECT userid, permissions FROM read_access WHERE id = %s ORDER BY userid", (uid,)
        ).fetchall()
        return [Grant(uid, _text(user), frozenset(json.loads(perms))) for user, perms in rows]

    def grant_create(self, user: str, by: str) -> None:
        conn = self._writable("grant_create")
        self._run(
            conn,
            "grant_create",
            "INSERT INTO create_access (userid, granted_by) VALUES (%s, %s)"
            " ON DUPLICATE KEY UPDATE granted_by = VALUES(granted_by), granted_at = CURRENT_TIMESTAMP(6)",
            (user, by),
        )

    def revoke_create(self, user: str) -> None:
        conn = self._writable("revoke_create")
        self._run(conn, "revoke_create", "DELETE FROM create_access WHERE userid = %s", (user,))

    def create_grants(self) -> list[tuple[str, str]]:
        conn = self._live()
        rows = self._run(
            conn, "create_grants", "SELECT userid, granted_by FROM create_access ORDER BY userid"
        ).fetchall()
        return [(_text(user), _text(by)) for user, by in rows]

    def savepoint(self) -> str:
        conn = self._live()
        name = f"kmsd_sp{self._next_savepoint}"
        self._next_savepoint += 1
        self._run(conn, "savepoint", f"SAVEPOINT {name}")
        self._savepoints.add(name)
        return name

    def rollback_to(self, name: str) -> None:
        conn = self._live()
        # Only names we issued: they are interpolated into the SQL.
        if name not in self._savepoints:
            raise StoreError(f"rollback_to: unknown savepoint {name!r}")
        self._run(conn, "rollback_to", f"ROLLBACK TO SAVEPOINT {name}")


def parse_url(url: str) -> dict[str, Any]:
    """PyMySQL connection arguments from ``mysql://user:password@host:port/database?...``.

    Also accepted: ``mariadb://`` and ``mysql+pymysql://``; query parameters
    ``unix_socket``, ``ssl_ca``, ``ssl_cert``, ``ssl_key`` and ``charset``.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb", "mysql+pymysql"):
        raise StoreError("mysql: the database URL must start with mysql:// or mariadb://")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    try:
        port = parts.port or 3306
    except ValueError as exc:
        raise StoreError("mysql: the database URL has an invalid port") from exc
    args: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": port,
        "user": unquote(parts.username) if parts.username else "root",
        "password": unquote(parts.password) if parts.password else "",
        "database": unquote(parts.path.lstrip("/")) or None,
        "charset": query.get("charset", "utf8mb4"),
    }
    if "unix_socket" in query:
        args["unix_socket"] = query["unix_socket"]
    ssl = {k[len("ssl_") :]: query[k] for k in ("ssl_ca", "ssl_cert", "ssl_key") if k in query}
    if ssl:
        args["ssl"] = ssl
    if not args["database"]:
        raise StoreError("mysql: the database URL names no database (mysql://user@host/DATABASE)")
    return args


class MySqlStore(Store):
    """A store in a MySQL or MariaDB database; safe to share between threads and processes.

    ``statement_timeout_ms`` bounds statements (see the module docstring for
    what each server covers); ``lock_timeout_ms`` (default: three quarters of
    the statement timeout, rounded up to whole seconds as InnoDB wants) bounds
    row-lock waits, a ConflictError.  At most ``pool_max`` connections are
    open; a transaction waits up to ``pool_timeout_s`` for one.
    """

    def __init__(
        self,
        url: str,
        *,
        pool_max: int = 16,
        statement_timeout_ms: int = 5000,
        lock_timeout_ms: int | None = None,
        pool_timeout_s: float = 10.0,
        connect_timeout_s: int = 10,
    ) -> None:
        self._args = parse_url(url)
        if lock_timeout_ms is None:
            lock_timeout_ms = statement_timeout_ms * 3 // 4
        self._lock_wait_s = max(1, math.ceil(lock_timeout_ms / 1000))
        self._statement_timeout_ms = statement_timeout_ms
        self._connect_timeout_s = connect_timeout_s
        # The socket guard sits well above both server-side limits.
        self._read_timeout_s = 2 * max(self._lock_wait_s, math.ceil(statement_timeout_ms / 1000)) + 10
        self._pool_timeout_s = pool_timeout_s
        self._slots = threading.BoundedSemaphore(pool_max)
        self._pool_max = pool_max
        self._pool_lock = threading.Lock()
        self._idle: list[Connection] = []
        self._closed = False
        self._local = threading.local()
        self._mariadb = False
        conn = self._connect(read_timeout=None)  # migrations may run long
        try:
            self._mariadb = "mariadb" in _text(self._scalar(conn, "SELECT VERSION()")).lower()
            self._version = upgrade_mysql(conn)
        except pymysql.MySQLError as exc:
            _close_quietly(conn)
            raise _translate("open", exc) from exc
        except BaseException:
            _close_quietly(conn)
            raise
        _close_quietly(conn)

    # -- connections -------------------------------------------------------

    @staticmethod
    def _scalar(conn: Connection, sql: str, args: Any = None) -> Any:
        cur = conn.cursor()
        cur.execute(sql, args)
        row = cur.fetchone()
        return None if row is None else row[0]

    def _connect(self, read_timeout: float | None) -> Connection:
        try:
            conn: Connection = pymysql.connect(
                **self._args,
                autocommit=True,
                connect_timeout=self._connect_timeout_s,
                read_timeout=read_timeout,
                write_timeout=read_timeout,
                cursorclass=Cursor,
            )
        except pymysql.MySQLError as exc:
            raise _translate("connect", exc) from exc
        try:
            cur = conn.cursor()
            cur.execute(
                "SET SESSION time_zone = '+00:00', sql_mode = %s, innodb_lock_wait_timeout = %s",
                (_SQL_MODE, self._lock_wait_s),
            )
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            if read_timeout is not None and self._statement_timeout_ms > 0:
                if self._mariadb:
                    cur.execute("SET SESSION max_statement_time = %s", (self._statement_timeout_ms / 1000,))
                else:
                    cur.execute("SET SESSION max_execution_time = %s", (self._statement_timeout_ms,))
        except pymysql.MySQLError as exc:
            _close_quietly(conn)
            raise _translate("connect", exc) from exc
        return conn

    def _acquire(self) -> Connection:
        if not self._slots.acquire(timeout=self._pool_timeout_s):
            raise StoreError("mysql: no database connection available (pool exhausted)")
        try:
            with self._pool_lock:
                if self._closed:
                    raise StoreError("the store is closed")
                if self._idle:
                    return self._idle.pop()
            return self._connect(read_timeout=self._read_timeout_s)
        except BaseException:
            self._slots.release()
            raise

    def _release(self, conn: Connection, healthy: bool) -> None:
        try:
            with self._pool_lock:
                if healthy and not self._closed and conn.open:
                    self._idle.append(conn)
                    return
            _close_quietly(conn)
        finally:
            self._slots.release()

    def _begin(self, readonly: bool) -> Connection:
        """A connection inside a fresh transaction (see the module docstring)."""
        last: pymysql.MySQLError | None = None
        for _ in range(2):
            conn = self._acquire()
            try:
                cur = conn.cursor()
                if readonly:
                    # Applies to the next transaction only; the session stays
                    # at READ COMMITTED for writers.
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    cur.execute("START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT")
                else:
                    cur.execute("START TRANSACTION READ WRITE")
                return conn
            except pymysql.MySQLError as exc:
                self._release(conn, healthy=False)
                if _code(exc) not in _CONNECTION_LOST and not isinstance(exc, pymysql.err.InterfaceError):
                    raise _translate("begin", exc) from exc
                last = exc
        assert last is not None
        raise _translate("begin", last) from last

    # -- transactions ------------------------------------------------------

    def transaction(self, *, readonly: bool = False, optimistic: bool = False) -> AbstractContextManager[Transaction]:
        return self._transaction(readonly)

    @contextmanager
    def _transaction(self, readonly: bool) -> Iterator[Transaction]:
        if getattr(self._local, "active", False):
            raise StoreError("nested transactions in one thread are not supported")
        if self._closed:
            raise StoreError("the store is closed")
        self._local.active = True
        try:
            conn = self._begin(readonly)
            healthy = True
            txn = _MySqlTransaction(conn, readonly)
            try:
                try:
                    yield txn
                except BaseException:
                    txn._open = False
                    healthy = self._rollback(conn)
                    raise
                txn._open = False
                if txn._lost is not None:
                    # The caller swallowed the error; committing now would
                    # commit nothing, and saying "success" would be a lie.
                    healthy = self._rollback(conn)
                    raise ConflictError(f"mysql commit: {txn._lost}")
                try:
                    conn.cursor().execute("COMMIT")
                except pymysql.MySQLError as exc:
                    healthy = self._rollback(conn)
                    raise _translate("commit", exc) from exc
            finally:
                self._release(conn, healthy)
        finally:
            self._local.active = False

    @staticmethod
    def _rollback(conn: Connection) -> bool:
        """Roll back; False if the connection is unusable (it is then discarded)."""
        try:
            conn.cursor().execute("ROLLBACK")
            return True
        except pymysql.MySQLError:
            return False

    # -- the rest of Store -------------------------------------------------

    def pool_stats(self) -> dict[str, int]:
        with self._pool_lock:
            idle = len(self._idle)
        # A BoundedSemaphore's free slots are the connections not lent out.
        in_use = self._pool_max - self._slots._value
        return {"idle": idle, "in_use": in_use, "max": self._pool_max}

    def check(self) -> None:
        with self._transaction(readonly=True) as txn:
            assert isinstance(txn, _MySqlTransaction)
            version = txn._run(txn._live(), "check", "SELECT MAX(version) FROM schema_version").fetchone()
        found = None if version is None else version[0]
        if found != self._version:
            raise StoreError(f"mysql check: schema version changed to {found} under us (was {self._version})")

    def close(self) -> None:
        with self._pool_lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            _close_quietly(conn)

    @property
    def schema_version(self) -> int:
        return self._version

    @property
    def is_mariadb(self) -> bool:
        return self._mariadb

    def settings(self) -> dict[str, str]:
        """The effective session settings of a pooled connection (for logs and tests)."""
        timeout = "@@max_statement_time" if self._mariadb else "@@max_execution_time"
        with self._transaction(readonly=False) as txn:
            assert isinstance(txn, _MySqlTransaction)
            row = txn._run(
                txn._live(),
                "settings",
                f"SELECT @@innodb_lock_wait_timeout, {timeout}, @@time_zone, @@sql_mode",
            ).fetchone()
        assert row is not None
        names = ("innodb_lock_wait_timeout", "statement_timeout", "time_zone", "sql_mode")
        return dict(zip(names, (_text(v) for v in row), strict=True))


def _close_quietly(conn: Connection) -> None:
    try:
        conn.close()
    except pymysql.MySQLError:
        pass


# -- migrations --------------------------------------------------------------


def _current_version(conn: Connection) -> int:
    cur = conn.cursor()
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
    tables = {_text(r[0]).lower() for r in cur.fetchall()}
    if "schema_version" not in tables:
        if tables:
            raise StoreError(migrations.FOREIGN_DATABASE)
        return 0
    cur.execute("SELECT MAX(version) FROM schema_version")
    row = cur.fetchone()
    return int(row[0] or 0) if row is not None else 0


def upgrade_mysql(conn: Connection, plan: Sequence[migrations.Migration] | None = None) -> int:
    """Bring the database on ``conn`` (autocommit) to the newest schema; return its version.

    Under ``GET_LOCK`` (a server-wide named lock, so the name includes a hash
    of the database name) the version is re-read and each pending migration
    applied, its ``schema_version`` row last: MySQL commits DDL implicitly, so
    a migration that failed half-way runs again next time, and migrations are
    written to be re-runnable.  ``plan`` defaults to
    :data:`kmsd.store.migrations.MIGRATIONS` (looked up at call time).
    """
    if plan is None:
        plan = migrations.MIGRATIONS
    latest = len(plan)
    current = _current_version(conn)
    migrations.check_supported(current, plan)
    if current == latest:
        return current
    cur = conn.cursor()
    cur.execute("SELECT DATABASE()")
    row = cur.fetchone()
    database = _text(row[0]) if row is not None and row[0] is not None else ""
    # GET_LOCK names are at most 64 characters.
    name = "kmsd.migrate." + hashlib.sha256(database.encode()).hexdigest()[:40]
    cur.execute("SELECT GET_LOCK(%s, %s)", (name, _MIGRATION_LOCK_TIMEOUT_S))
    got = cur.fetchone()
    if got is None or got[0] != 1:
        raise ConflictError("mysql open: another process holds the migration lock")
    try:
        while True:
            current = _current_version(conn)
            migrations.check_supported(current, plan)
            if current == latest:
                return current
            m = plan[current]
            cur.execute(migrations.VERSION_TABLE_MYSQL)
            for statement in m.statements("mysql"):
                cur.execute(statement)
            cur.execute("INSERT INTO schema_version (version, description) VALUES (%s, %s)", (m.version, m.description))
    finally:
        cur.execute("SELECT RELEASE_LOCK(%s)", (name,))
