"""PostgreSQL and MySQL/MariaDB specifics: migrations between processes, sessions, errors, plans.

The contract shared with SQLite is in ``test_store.py``; every test here runs
on both servers (``server_database``), on a fresh database each time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pymysql
import pytest

from kmsd.store import ConflictError, LocateFilter, Store, StoredObject, StoreError, migrations
from kmsd.store.factory import open_store
from kmsd.store.migrations import Migration
from kmsd.store.mysql import MySqlStore, parse_url
from kmsd.store.postgres import PostgresStore
from kmsd.store.postgres import locate_query as pg_locate_query

if TYPE_CHECKING:
    from tests.db_fixtures import Database



def obj(uid: str, **fields: Any) -> StoredObject:
    defaults: dict[str, Any] = {"object_type": 2, "state": 1, "owner": "alice", "payload": b"p", "attributes": b"a"}
    defaults.update(fields)
    return StoredObject(uid=uid, **defaults)


@contextmanager
def opened(db: Database, **options: Any) -> Iterator[Store]:
    store = db.open(**options)
    try:
        yield store
    finally:
        store.close()


def raw(db: Database, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    """Run SQL on the test database behind the store's back (autocommit)."""
    if db.kind == "postgresql":
        with psycopg.connect(db.url, autocommit=True) as conn:
            cur = conn.execute(sql, args)
            return list(cur.fetchall()) if cur.description else []
    conn = pymysql.connect(**parse_url(db.url), autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute(sql, args)
        return list(cur.fetchall())
    finally:
        conn.close()


def versions(db: Database) -> list[int]:
    return [int(r[0]) for r in raw(db, "SELECT version FROM schema_version ORDER BY version")]


# -- migrations --------------------------------------------------------------


def test_processes_starting_at_once_migrate_once(server_database: Database) -> None:
    n = 6
    start = threading.Barrier(n)
    stores: list[Store] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            start.wait()
            s = server_database.open()
            with lock:
                stores.append(s)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert len(stores) == n
        assert {s.schema_version for s in stores} == {len(migrations.MIGRATIONS)}
        assert versions(server_database) == [m.version for m in migrations.MIGRATIONS]
        with stores[0].transaction() as txn:
            txn.insert(obj("a"))
        with stores[-1].transaction(readonly=True) as txn:
            assert txn.get("a") is not None
    finally:
        for s in stores:
            s.close()


def _next_migration(statements: dict[str, tuple[str, ...]], description: str) -> Migration:
    # Called before MIGRATIONS is patched: the version after the real ones.
    return Migration(
        len(migrations.MIGRATIONS) + 1,
        description,
        (),
        postgresql=statements.get("postgresql", ()),
        mysql=statements.get("mysql", ()),
    )


def test_older_database_is_upgraded(server_database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    with opened(server_database) as old:
        with old.transaction() as txn:
            txn.insert(obj("a", names=("n",)))
    current = len(migrations.MIGRATIONS)
    newer = _next_migration(
        {
            "postgresql": ("ALTER TABLE objects ADD COLUMN note TEXT NOT NULL DEFAULT 'none'",),
            "mysql": ("ALTER TABLE objects ADD COLUMN IF NOT EXISTS note VARCHAR(20) NOT NULL DEFAULT 'none'",),
        },
        "test: add a column",
    )
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, newer))
    with opened(server_database) as upgraded:
        assert upgraded.schema_version == current + 1
        with upgraded.transaction(readonly=True) as txn:
            assert [o.uid for o in txn.locate(LocateFilter(name="n"))] == ["a"]
    assert versions(server_database)[-2:] == [current, current + 1]
    assert raw(server_database, "SELECT note FROM objects") == [("none",)]


def test_failed_migration_is_not_recorded(server_database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    with opened(server_database):
        pass
    current = len(migrations.MIGRATIONS)
    broken = _next_migration(
        {
            "postgresql": ("CREATE TABLE half (x INTEGER)", "THIS IS NOT SQL"),
            "mysql": ("CREATE TABLE IF NOT EXISTS half (x INTEGER)", "THIS IS NOT SQL"),
        },
        "test: broken",
    )
    fixed = _next_migration(
        {
            "postgresql": ("CREATE TABLE half (x INTEGER)",),
            "mysql": ("CREATE TABLE IF NOT EXISTS half (x INTEGER)",),
        },
        "test: fixed",
    )
    real = migrations.MIGRATIONS
    monkeypatch.setattr(migrations, "MIGRATIONS", (*real, broken))
    with pytest.raises(StoreError) as info:
        server_database.open()
    assert type(info.value) is StoreError
    assert versions(server_database)[-1] == current
    if server_database.kind == "postgresql":
        # Transactional DDL: the half-done migration left nothing behind.
        assert raw(server_database, "SELECT to_regclass('half')") == [(None,)]
    # Fixed, it applies (MySQL: over the DDL the failed attempt committed).
    monkeypatch.setattr(migrations, "MIGRATIONS", (*real, fixed))
    with opened(server_database) as s:
        assert s.schema_version == current + 1


def test_newer_database_is_refused(server_database: Database) -> None:
    with opened(server_database):
        pass
    future = len(migrations.MIGRATIONS) + 1
    raw(server_database, "INSERT INTO schema_version (version, description) VALUES (%s, 'from the future')", (future,))
    with pytest.raises(StoreError, match=rf"schema version {future} is newer"):
        server_database.open()


def test_foreign_database_is_refused(server_database: Database) -> None:
    raw(server_database, "CREATE TABLE something (x INTEGER)")
    with pytest.raises(StoreError, match="not a kmsd database"):
        server_database.open()


# -- sessions, connections, errors -------------------------------------------


def test_session_settings(server_database: Database) -> None:
    with opened(server_database, statement_timeout_ms=4000, lock_timeout_ms=1500) as s:
        if isinstance(s, PostgresStore):
            assert s.settings() == {
                "statement_timeout": "4s",
                "lock_timeout": "1500ms",
                "synchronous_commit": "on",
                "transaction_isolation": "read committed",
            }
        else:
            assert isinstance(s, MySqlStore)
            settings = s.settings()
            assert settings["innodb_lock_wait_timeout"] == "2"  # whole seconds, rounded up
            assert float(settings["statement_timeout"]) in (4.0, 4000.0)  # MariaDB s, MySQL ms
            assert settings["time_zone"] == "+00:00"
            assert "STRICT_ALL_TABLES" in settings["sql_mode"]


def test_readonly_transaction_is_read_only_on_the_server(server_database: Database) -> None:
    with opened(server_database) as s:
        with s.transaction(readonly=True) as txn, pytest.raises(StoreError):
            # Bypass the store's own check: the server must refuse too.
            cur: Any = txn._conn.cursor() if isinstance(s, MySqlStore) else txn._conn  # type: ignore[attr-defined]
            try:
                cur.execute("INSERT INTO schema_version (version, description) VALUES (99, 'x')")
            except (psycopg.Error, pymysql.MySQLError) as exc:
                raise StoreError("refused") from exc
        assert versions(server_database) == [m.version for m in migrations.MIGRATIONS]


def test_deadlock_is_a_conflict(server_database: Database) -> None:
    with opened(server_database, lock_timeout_ms=10_000, statement_timeout_ms=20_000) as s:
        with s.transaction() as txn:
            txn.insert(obj("x"))
            txn.insert(obj("y"))
        both = threading.Barrier(2)
        outcomes: list[str] = []

        def run(first: str, second: str) -> None:
            try:
                with s.transaction() as txn:
                    txn.get(first, for_update=True)
                    both.wait(10)
                    txn.get(second, for_update=True)
                outcomes.append("committed")
            except ConflictError:
                outcomes.append("conflict")

        threads = [threading.Thread(target=run, args=p) for p in (("x", "y"), ("y", "x"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(outcomes) == ["committed", "conflict"]


def test_dead_pooled_connections_are_replaced(server_database: Database) -> None:
    with opened(server_database) as s:
        with s.transaction() as txn:
            txn.insert(obj("a"))
        # The server drops every idle connection (a restart, an idle timeout).
        if server_database.kind == "postgresql":
            raw(
                server_database,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
        else:
            for (pid,) in raw(
                server_database,
                "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()",
            ):
                raw(server_database, f"KILL {int(pid)}")
        with s.transaction(readonly=True) as txn:
            assert txn.get("a") is not None
        s.check()


def test_statement_errors_are_wrapped_without_secrets(server_database: Database) -> None:
    # An identifier the database cannot store (PostgreSQL text cannot hold
    # NUL; MySQL's id column holds 255 bytes): an error, but no payload in it.
    bad = "a\x00b" if server_database.kind == "postgresql" else "x" * 300
    with opened(server_database) as s:
        with pytest.raises(StoreError) as info, s.transaction() as txn:
            txn.insert(obj(bad, payload=b"TOP-SECRET-KEY", attributes=b"SECRET-ATTRS"))
        assert "SECRET" not in str(info.value)
        assert type(info.value).__module__.startswith("kmsd.")
        with s.transaction(readonly=True) as txn:
            assert list(txn.locate(LocateFilter())) == []


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_unreachable_server_is_a_store_error(kind: str) -> None:
    url = {"postgresql": "postgresql://postgres@127.0.0.1:1/kmsd", "mysql": "mysql://root@127.0.0.1:1/kmsd"}[kind]
    with pytest.raises(StoreError) as info:
        open_store(kind, url) if kind == "postgresql" else MySqlStore(url, connect_timeout_s=2)
    assert type(info.value) is StoreError


def test_mysql_url_forms() -> None:
    assert parse_url("mariadb://u%40x:p%2Fw@db.local:3307/kms?charset=utf8mb4&unix_socket=/run/m.sock") == {
        "host": "db.local",
        "port": 3307,
        "user": "u@x",
        "password": "p/w",
        "database": "kms",
        "charset": "utf8mb4",
        "unix_socket": "/run/m.sock",
    }
    for bad in ("mysql://root@127.0.0.1:3306/", "postgresql://x/y", "mysql://h:notaport/db"):
        with pytest.raises(StoreError):
            parse_url(bad)


def test_factory_routes_server_types(server_database: Database) -> None:
    names = {"postgresql": ("postgresql", "postgres"), "mysql": ("mysql", "MariaDB")}[server_database.kind]
    expected = PostgresStore if server_database.kind == "postgresql" else MySqlStore
    for name in names:
        s = open_store(name, server_database.url)
        try:
            assert isinstance(s, expected)
            s.check()
        finally:
            s.close()


# -- PostgreSQL query plans --------------------------------------------------


def test_postgresql_locate_queries_use_indexes(tmp_path: Path) -> None:
    # Imported here: importing the plugin module before pytest registers it
    # would stop pytest from rewriting its asserts.
    from tests.db_fixtures import throwaway_database

    with throwaway_database("postgresql", tmp_path) as db, opened(db):
        _check_plans(db)


def _check_plans(server_database: Database) -> None:
    cases: list[tuple[LocateFilter, str]] = [
        (LocateFilter(name="n"), "object_names_name"),
        (LocateFilter(object_group="g"), "object_groups_grp"),
        (LocateFilter(object_types=(2,)), "objects_type_state"),
        (LocateFilter(states=(2,)), "objects_state"),
        (LocateFilter(cryptographic_algorithm=3, cryptographic_length=256), "objects_alg_len"),
        (LocateFilter(visible_to="bob"), "objects_owner"),
        (LocateFilter(visible_to="bob"), "read_access_userid"),
    ]
    with psycopg.connect(server_database.url, autocommit=True) as conn:
        # Empty tables: tell the planner that scans are expensive, so the
        # plan shows which indexes it CAN use.
        conn.execute("SET enable_seqscan = off")
        for flt, index in cases:
            query = pg_locate_query(flt)
            assert query is not None
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query[0], query[1]))
            assert index in plan, (flt, plan)
            assert "Seq Scan on objects" not in plan, (flt, plan)
