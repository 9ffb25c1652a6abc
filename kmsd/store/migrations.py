"""Versioned schema migrations.

Theory of operation: the schema is the result of applying an ordered list of
migrations, each with a version number (1, 2, 3, ... without gaps).  The
``schema_version`` table records one row per applied migration, so the
current version of a database is ``MAX(version)`` and its history is kept.
Opening a database applies the pending migrations in order, each in its own
transaction together with its ``schema_version`` row, so a crash mid-upgrade
leaves the database at a clean earlier version.  A database whose version is
newer than the newest migration this code knows was written by a newer kmsd:
we refuse to touch it rather than guess.

Migrations are never edited once released; a schema change is a new entry at
the end of the list.  The PostgreSQL and MySQL stores will add their own
dialect's statements beside ``sqlite`` with the same version numbers, so all
backends share one version history.
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

SQLITE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema (objects, index tables, read_access)", _V1_SQLITE),
)


def _check_ordered(migrations: Sequence[Migration]) -> None:
    for expected, m in enumerate(migrations, start=1):
        if m.version != expected:
            raise ValueError(f"migration #{expected} has version {m.version}; versions must be 1, 2, 3, ...")


_check_ordered(SQLITE_MIGRATIONS)

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
            raise StoreError("database has tables but no schema_version table: not a kmsd database")
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
    :data:`SQLITE_MIGRATIONS` (looked up at call time, so tests can patch it).
    Raises StoreError for a database newer than the code; sqlite3 errors are
    left to the caller to wrap.
    """
    if migrations is None:
        migrations = SQLITE_MIGRATIONS
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
            if current > latest:
                raise StoreError(
                    f"database schema version {current} is newer than this kmsd supports ({latest}); "
                    "upgrade kmsd or use a matching database"
                )
            if current == latest:
                conn.execute("COMMIT")
                return current
            m = migrations[current]
            conn.execute(_CREATE_VERSION_TABLE)
            for statement in m.sqlite:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version, description) VALUES (?, ?)", (m.version, m.description))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
