"""Throwaway databases for tests, on every backend (a pytest plugin).

Theory of operation: the ``database`` fixture is parametrised over
:data:`BACKENDS`.  For SQLite it is a file in ``tmp_path``; for PostgreSQL
and MySQL/MariaDB it is a fresh database ``kmsd_test_<pid>_<random>`` created
on the local server through an administrative URL and dropped at teardown
(after the stores opened on it are closed).  ``make_store`` opens store
handles on it (a second handle stands for a second kmsd process), ``store``
one handle, and ``executor_store`` one handle opened as ``kmsd serve`` opens
it (the functional tests build their executor on it, so each runs on every
backend).

Servers: ``KMSD_TEST_POSTGRESQL_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``) and ``KMSD_TEST_MYSQL_URL``
(default ``mysql://root@127.0.0.1:3306/mysql``) name a database the tests may
connect to in order to create and drop others.  A server that cannot be
reached skips its tests locally, with the reason, but FAILS them when
``CI=true``: CI must never pass by silently testing less.

Use: modules import the fixtures (``from tests.db_fixtures import ...``) or
the suite's ``tests/conftest.py`` registers the module with
``pytest_plugins = ["tests.db_fixtures"]``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from kmsd.store import Store
from kmsd.store.factory import open_store
from kmsd.store.mysql import MySqlStore, parse_url
from kmsd.store.postgres import PostgresStore
from kmsd.store.sqlite import SqliteStore

BACKENDS = ("sqlite", "postgresql", "mysql")
SERVER_BACKENDS = ("postgresql", "mysql")

ADMIN_URLS = {
    "postgresql": os.environ.get("KMSD_TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    "mysql": os.environ.get("KMSD_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/mysql"),
}
PREFIX = "kmsd_test_"

MakeStore = Callable[..., Store]


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(kind: str, why: str) -> None:
    """Skip (locally) or fail (in CI) a test whose database server is missing."""
    message = f"{kind} server not reachable at {_redacted(ADMIN_URLS[kind])}: {why}"
    if _in_ci():
        pytest.fail(f"{message} (CI=true: a missing database server is a failure)")
    pytest.skip(message)


def _redacted(url: str) -> str:
    # Never print a password that an environment variable may carry.
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        creds, _, host = rest.rpartition("@")
        user = creds.split(":", 1)[0]
        return f"{scheme}{sep}{user}@{host}"
    return url


def _with_database(url: str, name: str) -> str:
    scheme, sep, rest = url.partition("://")
    authority, _, tail = rest.partition("/")
    query = tail.partition("?")[2]
    return f"{scheme}{sep}{authority}/{name}" + (f"?{query}" if query else "")


# -- administration ----------------------------------------------------------


class _Admin:
    """Creates and drops databases on one server; errors here are the test's fault."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.url = ADMIN_URLS[kind]

    def _pg(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True, connect_timeout=5)

    def _my(self) -> pymysql.connections.Connection[Any]:
        args = parse_url(self.url)
        return pymysql.connect(**args, autocommit=True, connect_timeout=5)

    def reachable(self) -> str | None:
        """None if the server answers, else why not."""
        try:
            if self.kind == "postgresql":
                self._pg().close()
            else:
                self._my().close()
        except (psycopg.Error, pymysql.MySQLError, OSError) as exc:
            return " ".join(str(exc).split())[:200]
        return None

    def create(self, name: str) -> None:
        if self.kind == "postgresql":
            with self._pg() as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
        else:
            my = self._my()
            try:
                my.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
            finally:
                my.close()

    def drop(self, name: str) -> None:
        if self.kind == "postgresql":
            with self._pg() as conn:
                # FORCE: a connection a failed test leaked must not keep the database.
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            my = self._my()
            try:
                my.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
            finally:
                my.close()

    def existing(self) -> list[str]:
        if self.kind == "postgresql":
            with self._pg() as conn:
                return [r[0] for r in conn.execute("SELECT datname FROM pg_database")]
        my = self._my()
        try:
            cur = my.cursor()
            cur.execute("SHOW DATABASES")
            return [str(r[0]) for r in cur.fetchall()]
        finally:
            my.close()


_reachability: dict[str, str | None] = {}


def _admin(kind: str) -> _Admin:
    admin = _Admin(kind)
    if kind not in _reachability:
        _reachability[kind] = admin.reachable()
        if _reachability[kind] is None:
            _drop_orphans(admin)
    why = _reachability[kind]
    if why is not None:
        unavailable(kind, why)
    return admin


def _drop_orphans(admin: _Admin) -> None:
    """Drop test databases left by test runs that died (their process is gone)."""
    for name in admin.existing():
        if not name.startswith(PREFIX):
            continue
        pid = name[len(PREFIX) :].split("_", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            admin.drop(name)


# -- fixtures ----------------------------------------------------------------


@dataclass
class Database:
    """A fresh, empty database of one backend: what ``open_store`` takes."""

    kind: str  # "sqlite", "postgresql" or "mysql"
    url: str  # a file path for SQLite

    def open(self, *, lock_timeout_ms: int | None = None, **options: Any) -> Store:
        """A new store handle; ``lock_timeout_ms`` maps to each backend's lock wait."""
        if self.kind == "sqlite":
            if lock_timeout_ms is not None:
                options["busy_timeout_ms"] = lock_timeout_ms
            return SqliteStore(self.url, **options)
        if lock_timeout_ms is not None:
            options["lock_timeout_ms"] = lock_timeout_ms
        if self.kind == "postgresql":
            return PostgresStore(self.url, **options)
        return MySqlStore(self.url, **options)

    def open_default(self) -> Store:
        """A store as ``kmsd serve`` opens it (through the factory)."""
        return open_store(self.kind, self.url)

    def serve_args(self) -> tuple[str, ...]:
        """``kmsd serve`` options for this database (``start_server(data_dir, *db.serve_args())``)."""
        if self.kind == "sqlite":
            return ("--sqlite-path", self.url)
        return ("--database-type", self.kind, "--database-url", self.url)


@contextmanager
def throwaway_database(kind: str, tmp_path: Path) -> Iterator[Database]:
    """A new empty database of ``kind``, dropped on exit (skips/fails if unreachable)."""
    if kind == "sqlite":
        yield Database("sqlite", str(tmp_path / "kms.db"))
        return
    admin = _admin(kind)
    name = f"{PREFIX}{os.getpid()}_{secrets.token_hex(6)}"
    admin.create(name)
    try:
        yield Database(kind, _with_database(admin.url, name))
    finally:
        admin.drop(name)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with throwaway_database(request.param, tmp_path) as db:
        yield db


@pytest.fixture(params=SERVER_BACKENDS)
def server_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with throwaway_database(request.param, tmp_path) as db:
        yield db


@pytest.fixture
def make_store(database: Database) -> Iterator[MakeStore]:
    """Opens handles on one fresh database; all are closed before it is dropped."""
    opened: list[Store] = []

    def make(**options: Any) -> Store:
        store = database.open(**options)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: MakeStore) -> Store:
    return make_store()


@pytest.fixture
def executor_store(database: Database) -> Iterator[Store]:
    """A store as ``kmsd serve`` opens it, on every backend: the functional tests' store.

    Parametrised through ``database``, so a test that uses it runs once per
    backend (ids ``[sqlite]``, ``[postgresql]``, ``[mysql]``).
    """
    store = database.open_default()
    yield store
    store.close()
