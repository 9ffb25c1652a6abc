"""Versioned schema migrations, one history for every backend.

Theory of operation: the schema is the result of applying an ordered list of
migrations, each with a version number (1, 2, 3, ... without gaps).  Each
migration carries its statements in every dialect (``sqlite``,
``postgresql``, ``mysql``), so all backends share one version history: a
database at version N has the same logical schema whatever its engine.  The
``schema_version`` table (one per database) records one row per applied
migration, so the current version of a database is ``MAX(version)`` and its
history is kept.  Opening a database applies the pending migrations in
order, each together with its ``schema_version`` row, so a crash mid-upgrade
leaves the database at a clean earlier version (SQLite and PostgreSQL have
transactional DDL; MySQL commits every DDL statement implicitly, so its
statements are written to be re-runnable and the version row comes last).
A database whose version is newer than the newest migration this code knows
was written by a newer kmsd: we refuse to touch it rather than guess.

Concurrent openers: SQLite serialises migrations with ``BEGIN IMMEDIATE``,
PostgreSQL with a transaction-scoped advisory lock, MySQL with ``GET_LOCK``;
each re-reads the version once it holds the lock, so two processes starting
at once apply every migration exactly once.  The runners for PostgreSQL and
MySQL live beside their stores (they need the drivers); this module holds
the statements and the dialect-neutral rules.

Migrations are never edited once released; a schema change is a new entry at
the end of the list, with statements for all three dialects.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from .base import StoreError


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...] = ()
    mysql: tuple[str, ...] = ()

    def statements(self, dialect: str) -> tuple[str, ...]:
        """This migration's statements in ``dialect`` (sqlite, postgresql or mysql)."""
        if dialect == "sqlite":
            return self.sqlite
        if dialect == "postgresql":
            return self.postgresql
        if dialect == "mysql":
            return self.mysql
        raise ValueError(f"unknown SQL dialect {dialect!r}")


# Version 1: the schema after the Cosmian KMS seed.  Notes on choices:
# - ``sequence`` is the INTEGER PRIMARY KEY AUTOINCREMENT because SQLite only
#   auto-increments its rowid; AUTOINCREMENT (not a plain rowid) guarantees
#   numbers are never reused after a delete, so Locate's order is stable.
#   ``id`` (the KMIP Unique Identifier) is UNIQUE NOT NULL: the natural key.
# - ``names`` / ``object_groups`` keep the index tuples as JSON so a read is
#   one row; the side tables exist only to serve Locate through an index.
# - Side tables and grants cascade on delete, so a delete cannot leave
#   orphaned index rows or grants that would apply to a re-used identifier.
_V1_SQLITE = (
    """
    CREATE TABLE objects (
        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        object_type INTEGER NOT NULL,
        state INTEGER NOT NULL,
        owner TEXT NOT NULL,
        payload BLOB NOT NULL,
        attributes BLOB NOT NULL,
        names TEXT NOT NULL DEFAULT '[]',
        object_groups TEXT NOT NULL DEFAULT '[]',
        cryptographic_algorithm INTEGER NULL,
        cryptographic_length INTEGER NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    )
    """,
    """
    CREATE TABLE object_names (
        id TEXT NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        PRIMARY KEY (id, name)
    )
    """,
    """
    CREATE TABLE object_groups (
        id TEXT NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
        grp TEXT NOT NULL,
        PRIMARY KEY (id, grp)
    )
    """,
    """
    CREATE TABLE read_access (
        id TEXT NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
        userid TEXT NOT NULL,
        permissions TEXT NOT NULL,
        PRIMARY KEY (id, userid)
    )
    """,
    # The hot Locate paths.  (object_type, state) also serves type alone.
    "CREATE INDEX objects_type_state ON objects(object_type, state)",
    "CREATE INDEX objects_state ON objects(state)",
    "CREATE INDEX objects_owner ON objects(owner)",
    "CREATE INDEX objects_alg_len ON objects(cryptographic_algorithm, cryptographic_length)",
    "CREATE INDEX object_names_name ON object_names(name)",
    "CREATE INDEX object_groups_grp ON object_groups(grp)",
    # "Objects granted to me" (the access-control issue's /access/obtained).
    "CREATE INDEX read_access_userid ON read_access(userid)",
)

# PostgreSQL, version 1: the SQLite schema in PostgreSQL's types.
# - ``sequence`` is an identity column (never reused, like AUTOINCREMENT).
# - ``names`` / ``object_groups`` are TEXT[] (order and repeats kept); the
#   side tables serve Locate through their indexes, as in SQLite.
# - ``permissions`` is JSONB so Locate's access filter is ``?|`` (any of).
# - Ordering by ``userid`` uses ``COLLATE "C"`` in the queries, not here: the
#   column keeps the database collation, equality is bytewise either way.
_V1_POSTGRESQL = (
    """
    CREATE TABLE objects (
        sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        object_type INTEGER NOT NULL,
        state INTEGER NOT NULL,
        owner TEXT NOT NULL,
        payload BYTEA NOT NULL,
        attributes BYTEA NOT NULL,
        names TEXT[] NOT NULL DEFAULT '{}',
        object_groups TEXT[] NOT NULL DEFAULT '{}',
        cryptographic_algorithm INTEGER NULL,
        cryptographic_length INTEGER NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE object_names (
        id TEXT NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        PRIMARY KEY (id, name)
    )
    """,
    """
    CREATE TABLE object_groups (
        id TEXT NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
        grp TEXT NOT NULL,
        PRIMARY KEY (id, grp)
    )
    """,
    """
    CREATE TABLE read_access (
        id TEXT NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
        userid TEXT NOT NULL,
        permissions JSONB NOT NULL,
        PRIMARY KEY (id, userid)
    )
    """,
    "CREATE INDEX objects_type_state ON objects(object_type, state)",
    "CREATE INDEX objects_state ON objects(state)",
    "CREATE INDEX objects_owner ON objects(owner)",
    "CREATE INDEX objects_alg_len ON objects(cryptographic_algorithm, cryptographic_length)",
    "CREATE INDEX object_names_name ON object_names(name)",
    "CREATE INDEX object_groups_grp ON object_groups(grp)",
    "CREATE INDEX read_access_userid ON read_access(userid)",
)

# MySQL/MariaDB, version 1.  DDL commits implicitly here, so every statement
# is ``CREATE TABLE IF NOT EXISTS`` with its indexes inline: a migration that
# failed half-way simply runs again.
# - Identifiers, owners and names are VARBINARY: byte-exact comparison and
#   uniqueness, whatever the server's default collation (MariaDB's default
#   ``utf8mb4_general_ci`` is case-insensitive and ignores trailing spaces,
#   which would merge distinct KMIP names).  The store encodes UTF-8.
# - Lengths keep every index within InnoDB's 3072-byte key limit (DYNAMIC
#   row format): id 255 bytes, a name or group 2048 bytes.
# - ``names`` / ``object_groups`` / ``permissions`` are JSON (MariaDB: a
#   checked LONGTEXT); the grant filter is ``JSON_OVERLAPS`` (MySQL 8.0.17+,
#   MariaDB 10.9+).
# - DATETIME(6) in UTC (the store sets the session time zone), not TIMESTAMP,
#   which ends in 2038.
_MYSQL_TABLE = "ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
_V1_MYSQL = (
    f"""
    CREATE TABLE IF NOT EXISTS objects (
        sequence BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        id VARBINARY(255) NOT NULL,
        object_type INT NOT NULL,
        state INT NOT NULL,
        owner VARBINARY(255) NOT NULL,
        payload LONGBLOB NOT NULL,
        attributes LONGBLOB NOT NULL,
        names JSON NOT NULL,
        object_groups JSON NOT NULL,
        cryptographic_algorithm INT NULL,
        cryptographic_length INT NULL,
        created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        UNIQUE KEY objects_id (id),
        KEY objects_type_state (object_type, state),
        KEY objects_state (state),
        KEY objects_owner (owner),
        KEY objects_alg_len (cryptographic_algorithm, cryptographic_length)
    ) {_MYSQL_TABLE}
    """,
    f"""
    CREATE TABLE IF NOT EXISTS object_names (
        id VARBINARY(255) NOT NULL,
        name VARBINARY(2048) NOT NULL,
        PRIMARY KEY (id, name),
        KEY object_names_name (name),
        CONSTRAINT object_names_object FOREIGN KEY (id) REFERENCES objects(id) ON DELETE CASCADE
    ) {_MYSQL_TABLE}
    """,
    f"""
    CREATE TABLE IF NOT EXISTS object_groups (
        id VARBINARY(255) NOT NULL,
        grp VARBINARY(2048) NOT NULL,
        PRIMARY KEY (id, grp),
        KEY object_groups_grp (grp),
        CONSTRAINT object_groups_object FOREIGN KEY (id) REFERENCES objects(id) ON DELETE CASCADE
    ) {_MYSQL_TABLE}
    """,
    f"""
    CREATE TABLE IF NOT EXISTS read_access (
        id VARBINARY(255) NOT NULL,
        userid VARBINARY(255) NOT NULL,
        permissions JSON NOT NULL,
        PRIMARY KEY (id, userid),
        KEY read_access_userid (userid),
        CONSTRAINT read_access_object FOREIGN KEY (id) REFERENCES objects(id) ON DELETE CASCADE
    ) {_MYSQL_TABLE}
    """,
)

# Version 2: users granted the right to create objects by a privileged user
# (--privileged-users; kmsd.auth.access).  One row per grantee (``*`` is
# everyone); ``granted_by`` is the privileged user who granted it last.
_V2_SQLITE = (
    """
    CREATE TABLE create_access (
        userid TEXT NOT NULL PRIMARY KEY,
        granted_by TEXT NOT NULL,
        granted_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    )
    """,
)
_V2_POSTGRESQL = (
    """
    CREATE TABLE create_access (
        userid TEXT NOT NULL PRIMARY KEY,
        granted_by TEXT NOT NULL,
        granted_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
)
_V2_MYSQL = (
    f"""
    CREATE TABLE IF NOT EXISTS create_access (
        userid VARBINARY(255) NOT NULL PRIMARY KEY,
        granted_by VARBINARY(255) NOT NULL,
        granted_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
    ) {_MYSQL_TABLE}
    """,
)

# Version 3 (SQLite only): a commit counter, raised by every write
# transaction (kmsd.store.sqlite).  A reader reads it in its snapshot to know
# which commit it must wait to be durable before it answers; the other
# stores need nothing of the kind (their commits are durable once visible).
_V3_SQLITE = (
    "CREATE TABLE kmsd_commits (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL)",
    "INSERT INTO kmsd_commits (id, seq) VALUES (1, 0)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema (objects, index tables, read_access)",
        _V1_SQLITE,
        postgresql=_V1_POSTGRESQL,
        mysql=_V1_MYSQL,
    ),
    Migration(
        2,
        "create_access: users granted the create right by a privileged user",
        _V2_SQLITE,
        postgresql=_V2_POSTGRESQL,
        mysql=_V2_MYSQL,
    ),
    Migration(3, "kmsd_commits: the SQLite commit counter (nothing for PostgreSQL and MySQL)", _V3_SQLITE),
)


def _check_ordered(migrations: Sequence[Migration]) -> None:
    for expected, m in enumerate(migrations, start=1):
        if m.version != expected:
            raise ValueError(f"migration #{expected} has version {m.version}; versions must be 1, 2, 3, ...")


_check_ordered(MIGRATIONS)


def check_supported(current: int, migrations: Sequence[Migration]) -> None:
    """Refuse a database written by a newer kmsd (shared by every backend)."""
    latest = len(migrations)
    if current > latest:
        raise StoreError(
            f"database schema version {current} is newer than this kmsd supports ({latest}); "
            "upgrade kmsd or use a matching database"
        )


FOREIGN_DATABASE = "database has tables but no schema_version table: not a kmsd database"

# The version table in each server dialect (SQLite's is below).
VERSION_TABLE_POSTGRESQL = """
    CREATE TABLE IF NOT EXISTS schema_version (
        version INTEGER PRIMARY KEY,
        description TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
"""
VERSION_TABLE_MYSQL = f"""
    CREATE TABLE IF NOT EXISTS schema_version (
        version INT NOT NULL PRIMARY KEY,
        description VARCHAR(255) NOT NULL,
        applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
    ) {_MYSQL_TABLE}
"""

_CREATE_VERSION_TABLE = """
    CREATE TABLE IF NOT EXISTS schema_version (
        version INTEGER PRIMARY KEY,
        description TEXT NOT NULL,
        applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    )
"""


def _current_version(conn: sqlite3.Connection) -> int:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" not in tables:
        # A file with tables but no version history was not made by kmsd
        # (or predates migrations): refuse rather than create tables in it.
        foreign = {t for t in tables if not t.startswith("sqlite_")}
        if foreign:
            raise StoreError(FOREIGN_DATABASE)
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def upgrade_sqlite(conn: sqlite3.Connection, migrations: Sequence[Migration] | None = None) -> int:
    """Bring the database on ``conn`` to the newest schema; return its version.

    ``conn`` must be in autocommit mode (``isolation_level=None``).  The
    version is first read without the write lock.  Each pending migration
    runs in its own ``BEGIN IMMEDIATE`` transaction that re-reads the version,
    so two processes opening the same new file at once do not both apply a
    migration.  ``migrations`` defaults to
    :data:`MIGRATIONS` (looked up at call time, so tests can patch it).
    Raises StoreError for a database newer than the code; sqlite3 errors are
    left to the caller to wrap.
    """
    if migrations is None:
        migrations = MIGRATIONS
    _check_ordered(migrations)
    latest = len(migrations)
    # Usually there is nothing to do: find out without the write lock, so
    # opening the database does not wait for another process's writer.
    conn.execute("BEGIN DEFERRED")
    try:
        current = _current_version(conn)
    finally:
        conn.execute("COMMIT")
    if current == latest:
        return current
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = _current_version(conn)
            check_supported(current, migrations)
            if current == latest:
                conn.execute("COMMIT")
                return current
            m = migrations[current]
            conn.execute(_CREATE_VERSION_TABLE)
            for statement in m.statements("sqlite"):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version, description) VALUES (?, ?)", (m.version, m.description))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
