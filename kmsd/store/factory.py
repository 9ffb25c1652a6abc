"""Open the configured store by database type.

The type names follow the Cosmian KMS's ``KMS_DATABASE_TYPE`` so its
deployments carry over.  For SQLite, ``url_or_path`` is a file path, a
``sqlite://`` URL, or an existing directory (Cosmian's ``KMS_SQLITE_PATH`` is
a directory), in which case the file is :data:`SQLITE_FILE_NAME` inside it.
For PostgreSQL it is a libpq URL (``postgresql://user@host:5432/kmsd``); for
MySQL/MariaDB ``mysql://user:password@host:3306/kmsd``.  Server backends are
imported only when chosen, so a SQLite deployment never loads their drivers.
"""

from __future__ import annotations

from pathlib import Path

from .base import Store, StoreError

SQLITE_FILE_NAME = "kms.db"


def sqlite_path(url_or_path: str) -> Path:
    """The database file meant by a path, ``sqlite://`` URL or directory."""
    for prefix in ("sqlite://", "sqlite:"):
        if url_or_path.startswith(prefix):
            url_or_path = url_or_path[len(prefix) :]
            break
    path = Path(url_or_path)
    return path / SQLITE_FILE_NAME if path.is_dir() else path


def open_store(database_type: str, url_or_path: str, *, durable: bool = True) -> Store:
    kind = database_type.strip().lower()
    if kind in ("sqlite", "sqlite3"):
        from .sqlite import SqliteStore

        return SqliteStore(sqlite_path(url_or_path), durable=durable)
    if kind in ("postgresql", "postgres"):
        from .postgres import PostgresStore

        return PostgresStore(url_or_path, durable=durable)
    if kind in ("mysql", "mariadb"):
        from .mysql import MySqlStore

        return MySqlStore(url_or_path)
    raise StoreError(f"unknown database type {database_type!r}; expected sqlite, postgresql or mysql")
