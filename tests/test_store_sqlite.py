"""SQLite specifics: the file, pragmas, migrations, query plans, the single writer; the factory.

The store contract shared by every backend is tested in ``test_store.py``.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kmsd.store import ConflictError, LocateFilter, Store, StoredObject, StoreError, migrations
from kmsd.store import sqlite as sqlite_module
from kmsd.store.factory import SQLITE_FILE_NAME, open_store
from kmsd.store.migrations import Migration
from kmsd.store.sqlite import SqliteStore, locate_query

MakeStore = Callable[..., SqliteStore]


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[MakeStore]:
    """Handles on one SQLite file (a second handle stands for a second process)."""
    opened: list[SqliteStore] = []

    def make(**options: Any) -> SqliteStore:
        store = SqliteStore(tmp_path / "kms.db", **options)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def obj(uid: str, **fields: Any) -> StoredObject:
    defaults: dict[str, Any] = {
        "object_type": 2,  # Symmetric Key
        "state": 1,  # Pre-Active
        "owner": "alice",
        "payload": b"payload-" + uid.encode(),
        "attributes": b"attributes-" + uid.encode(),
    }
    defaults.update(fields)
    return StoredObject(uid=uid, **defaults)


def insert(store: Store, *objects: StoredObject) -> None:
    with store.transaction() as txn:
        for o in objects:
            txn.insert(o)


def get(store: Store, uid: str) -> StoredObject | None:
    with store.transaction(readonly=True) as txn:
        return txn.get(uid)


def uids(store: Store, flt: LocateFilter) -> list[str]:
    with store.transaction(readonly=True) as txn:
        return [o.uid for o in txn.locate(flt)]


def test_single_writer_lock_timeout_is_a_conflict(make_store: MakeStore) -> None:
    # SQLite has one writer at a time: even a write to ANOTHER object waits.
    holder = make_store(busy_timeout_ms=200)
    other_process = make_store(busy_timeout_ms=100)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.transaction() as txn:
            txn.insert(obj("held"))
            holding.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert holding.wait(10)
        # Another thread of the same process, and another process.
        for s in (holder, other_process):
            with pytest.raises(ConflictError), s.transaction() as txn:
                txn.insert(obj("blocked"))
            # Readers are not blocked by the writer, and do not see its work.
            assert get(s, "held") is None
        # Opening the database while a writer holds it works too.
        make_store(busy_timeout_ms=100).check()
    finally:
        release.set()
        t.join()
    assert get(other_process, "held") is not None
    assert get(other_process, "blocked") is None


# -- pragmas, file, migrations ---------------------------------------------


@pytest.mark.parametrize("durable", [True, False])
def test_pragmas(tmp_path: Path, durable: bool) -> None:
    store = SqliteStore(tmp_path / "kms.db", durable=durable, busy_timeout_ms=1234)
    try:
        assert store.pragmas() == {
            "journal_mode": "wal",
            "synchronous": 1,  # NORMAL: a COMMIT does not fsync; the store does, outside the lock
            "foreign_keys": 1,
            "busy_timeout": 1234,
        }
    finally:
        store.close()


# -- durability: the fsync outside the write lock ---------------------------------


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every fdatasync the store asks for (still done), as "sync:<file name>"."""
    done: list[str] = []
    real = sqlite_module._sync_file

    def recording(path: str, *, fallback: str) -> None:
        real(path, fallback=fallback)
        done.append("sync:" + os.path.basename(path))

    monkeypatch.setattr(sqlite_module, "_sync_file", recording)
    return done


def test_a_write_is_on_disk_before_its_transaction_returns(make_store: MakeStore, syncs: list[str]) -> None:
    store = make_store()
    insert(store, obj("a"))
    syncs.append("returned")
    assert syncs == ["sync:kms.db-wal", "returned"]
    assert get(store, "a") is not None
    assert syncs == ["sync:kms.db-wal", "returned"]  # a read of synced commits syncs nothing


def test_without_durability_nothing_is_synced(make_store: MakeStore, syncs: list[str]) -> None:
    store = make_store(durable=False)
    insert(store, obj("a"))
    assert get(store, "a") is not None
    assert syncs == []


def test_the_write_lock_is_free_while_a_commit_is_synced(
    make_store: MakeStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store()
    real = sqlite_module._sync_file
    workers: list[threading.Thread] = []
    committed_meanwhile: list[bool] = []

    def sync_while_another_writes(path: str, *, fallback: str) -> None:
        if not workers:
            # Another writer commits while the first one's fsync has not
            # begun: it could not if the fsync were done under the lock.
            # (It then waits for its own durability, behind this one.)
            worker = threading.Thread(target=lambda: insert(store, obj("second")))
            workers.append(worker)
            worker.start()
            committed_meanwhile.append(_becomes_visible(tmp_path / "kms.db", "second"))
        real(path, fallback=fallback)

    monkeypatch.setattr(sqlite_module, "_sync_file", sync_while_another_writes)
    insert(store, obj("first"))
    workers[0].join(10)
    assert not workers[0].is_alive()
    assert committed_meanwhile == [True]
    assert get(store, "first") is not None and get(store, "second") is not None


def test_no_writer_returns_before_the_fsync_of_its_commit(
    make_store: MakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store()
    real = sqlite_module._sync_file
    first_sync_started, release = threading.Event(), threading.Event()
    returned: list[str] = []

    def held_first_sync(path: str, *, fallback: str) -> None:
        if not first_sync_started.is_set():
            first_sync_started.set()
            assert release.wait(20)
        real(path, fallback=fallback)

    monkeypatch.setattr(sqlite_module, "_sync_file", held_first_sync)

    def write(uid: str) -> None:
        insert(store, obj(uid))
        returned.append(uid)

    writers = [threading.Thread(target=write, args=(f"w{i}",)) for i in range(4)]
    writers[0].start()
    assert first_sync_started.wait(10)
    for w in writers[1:]:  # they commit (the lock is free) but none may answer before a sync
        w.start()
    time.sleep(0.3)
    assert returned == []
    release.set()
    for w in writers:
        w.join(10)
        assert not w.is_alive()
    assert sorted(returned) == ["w0", "w1", "w2", "w3"]
    assert store._durable_seq >= store._committed_seq


def test_after_a_failed_fsync_no_write_is_called_durable(
    make_store: MakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store()
    insert(store, obj("before"))
    real = sqlite_module._sync_file
    failures: list[str] = []

    def failing_once(path: str, *, fallback: str) -> None:
        if not failures:
            failures.append(path)
            raise StoreError("sqlite commit: cannot sync 'kms.db-wal' to disk: Input/output error")
        real(path, fallback=fallback)

    monkeypatch.setattr(sqlite_module, "_sync_file", failing_once)
    with pytest.raises(StoreError, match="Input/output error"):
        insert(store, obj("lost"))
    # The kernel may have dropped the pages it could not write, and a second
    # fsync would not say so: later writes fail too instead of claiming durability.
    with pytest.raises(StoreError, match="restart kmsd"):
        insert(store, obj("after"))
    # Reads that see the unsynced commit cannot be answered either.
    with pytest.raises(StoreError, match="restart kmsd"):
        get(store, "before")
    assert len(failures) == 1


@pytest.mark.parametrize("breaks", ["after its commit", "in its fsync"])
def test_a_committer_that_dies_leaves_no_writer_of_its_group_asleep(
    make_store: MakeStore, monkeypatch: pytest.MonkeyPatch, breaks: str
) -> None:
    store = make_store()
    insert(store, obj("warm"))  # the schema's pages are synced once
    real_commit_group = SqliteStore._commit_group
    real_release = store._release_file_lock
    real_sync = sqlite_module._sync_file
    committer = threading.current_thread()
    sleeper: list[threading.Thread] = []
    outcome: list[str] = []
    armed: list[bool] = []

    def sleeper_writes() -> None:
        try:
            insert(store, obj("sleeper"))
            outcome.append("sleeper written")
        except StoreError as exc:
            outcome.append(f"sleeper failed: {exc}")

    def commit_group_with_a_sleeper(self: SqliteStore) -> None:
        if not sleeper:  # the first committer: another writer joins its group and sleeps
            sleeper.append(threading.Thread(target=sleeper_writes))
            sleeper[0].start()
            deadline = time.monotonic() + 10
            while not self._sleepers and time.monotonic() < deadline:
                time.sleep(0.01)
            assert self._sleepers
            armed.append(True)
        real_commit_group(self)

    def release_then_break() -> None:
        real_release()
        if breaks == "after its commit" and armed and threading.current_thread() is committer:
            armed.clear()
            raise RuntimeError("a bug, not a disk error")

    def sync_that_breaks(path: str, *, fallback: str) -> None:
        if breaks == "in its fsync" and armed and threading.current_thread() is committer:
            armed.clear()
            raise RuntimeError("a bug, not a disk error")
        real_sync(path, fallback=fallback)

    monkeypatch.setattr(SqliteStore, "_commit_group", commit_group_with_a_sleeper)
    monkeypatch.setattr(store, "_release_file_lock", release_then_break)
    monkeypatch.setattr(sqlite_module, "_sync_file", sync_that_breaks)
    with pytest.raises(RuntimeError):
        insert(store, obj("committer"))
    sleeper[0].join(10)
    assert not sleeper[0].is_alive()  # nobody is left asleep
    if breaks == "after its commit":
        # It took over: what the dead committer committed, it synced with its own write.
        assert outcome == ["sleeper written"]
        on_file = sqlite3.connect(store._path).execute("SELECT seq FROM kmsd_commits").fetchone()[0]
        assert store._durable_seq >= on_file  # every commit made is synced
        assert get(store, "sleeper") is not None and get(store, "committer") is not None
    else:
        # Whether the group's commit reached the disk is unknown: its writers fail.
        assert outcome == ["sleeper failed: sqlite commit: interrupted before its fsync (RuntimeError)"]


def _becomes_visible(path: Path, uid: str, timeout: float = 10.0) -> bool:
    """Whether a row appears within ``timeout`` (read with SQLite itself, not the store)."""
    conn = sqlite3.connect(path)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if conn.execute("SELECT 1 FROM objects WHERE id = ?", (uid,)).fetchone():
                return True
            time.sleep(0.01)
        return False
    finally:
        conn.close()


def test_a_reader_syncs_a_commit_it_saw_that_is_not_yet_on_disk(
    make_store: MakeStore, syncs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, reader = make_store(), make_store()  # two processes on one file
    # The writer commits, then stops before its fsync (a crash, or simply
    # slower than the reader): the commit is visible but not yet durable.
    monkeypatch.setattr(writer, "_make_durable", lambda seq: None)
    insert(writer, obj("early"))
    assert syncs == []
    assert get(reader, "early") is not None
    assert syncs == ["sync:kms.db-wal"]  # before the read returned
    assert reader._durable_seq >= writer._committed_seq > 0
    assert get(reader, "early") is not None
    assert syncs == ["sync:kms.db-wal"]  # once is enough


def test_database_file_is_private(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kms.db")
    insert(store, obj("a"))
    try:
        for name in ("kms.db", "kms.db-wal"):
            assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600, name
    finally:
        store.close()


def _versions(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    finally:
        conn.close()


def test_fresh_database_gets_the_latest_schema(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kms.db")
    store.close()
    expected = [m.version for m in migrations.MIGRATIONS]
    assert _versions(tmp_path / "kms.db") == expected
    assert SqliteStore(tmp_path / "kms.db").schema_version == expected[-1]


def test_older_database_is_upgraded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "kms.db"
    old = SqliteStore(path)
    a = obj("a", names=("n",))
    insert(old, a)
    old.close()
    current = len(migrations.MIGRATIONS)
    newer = Migration(
        current + 1,
        "test: add a column",
        (
            "ALTER TABLE objects ADD COLUMN note TEXT NOT NULL DEFAULT 'none'",
            "CREATE INDEX objects_note ON objects(note)",
        ),
    )
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, newer))
    upgraded = SqliteStore(path)
    try:
        assert upgraded.schema_version == current + 1
        assert get(upgraded, "a") == a
        assert uids(upgraded, LocateFilter(name="n")) == ["a"]
    finally:
        upgraded.close()
    assert _versions(path)[-2:] == [current, current + 1]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT note FROM objects").fetchall() == [("none",)]
    conn.close()


def test_version_1_database_upgrades_to_the_latest(tmp_path: Path) -> None:
    """A database made at version 1 (before create_access and kmsd_commits)
    keeps its objects and gains the later tables."""
    path = tmp_path / "kms.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        assert migrations.upgrade_sqlite(conn, migrations.MIGRATIONS[:1]) == 1
        conn.execute(
            "INSERT INTO objects (id, object_type, state, owner, payload, attributes, names, object_groups)"
            " VALUES ('a', 2, 1, 'alice', x'00', x'00', '[\"n\"]', '[]')"
        )
        conn.execute("INSERT INTO object_names (id, name) VALUES ('a', 'n')")
    finally:
        conn.close()
    assert _versions(path) == [1]
    upgraded = SqliteStore(path)
    try:
        assert upgraded.schema_version == len(migrations.MIGRATIONS)
        assert uids(upgraded, LocateFilter(name="n")) == ["a"]
        with upgraded.transaction() as txn:
            txn.grant_create("bob", "alice")
        with upgraded.transaction(readonly=True) as txn:
            assert txn.create_grants() == [("bob", "alice")]
        assert upgraded._committed_seq == 1  # the commit counter works on the upgraded file
    finally:
        upgraded.close()
    assert _versions(path) == [m.version for m in migrations.MIGRATIONS]


def test_failed_migration_leaves_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "kms.db"
    SqliteStore(path).close()
    current = len(migrations.MIGRATIONS)
    broken = Migration(current + 1, "test: broken", ("CREATE TABLE half (x)", "THIS IS NOT SQL"))
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, broken))
    with pytest.raises(StoreError):
        SqliteStore(path)
    assert _versions(path)[-1] == current
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half'").fetchall() == []
    conn.close()


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kms.db"
    SqliteStore(path).close()
    future = len(migrations.MIGRATIONS) + 1
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version (version, description) VALUES (?, 'from the future')", (future,))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=rf"schema version {future} is newer"):
        SqliteStore(path)


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE something (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a kmsd database"):
        SqliteStore(path)


def test_migration_versions_must_be_contiguous() -> None:
    with pytest.raises(ValueError):
        migrations._check_ordered([Migration(1, "a", ()), Migration(3, "b", ())])


@pytest.mark.parametrize(
    "make_path",
    [
        lambda d: d / "no-such-dir" / "kms.db",  # cannot create
        lambda d: ":memory:",  # each pooled connection would see its own database
    ],
)
def test_open_errors_are_store_errors(tmp_path: Path, make_path: Callable[[Path], Any]) -> None:
    with pytest.raises(StoreError):
        SqliteStore(make_path(tmp_path))


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "kms.db"
    path.write_bytes(b"this is not an sqlite file" * 100)
    with pytest.raises(StoreError) as info:
        SqliteStore(path)
    assert not isinstance(info.value, sqlite3.Error)


def test_statement_errors_are_wrapped(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kms.db")
    try:
        insert(store, obj("a", payload=b"SECRET-PAYLOAD"))
        # Damage the schema behind the store's back.
        conn = sqlite3.connect(tmp_path / "kms.db")
        conn.execute("DROP TABLE read_access")
        conn.commit()
        conn.close()
        with pytest.raises(StoreError) as info, store.transaction(readonly=True) as txn:
            txn.permissions("a", "bob")
        assert type(info.value) is StoreError
        assert "SECRET" not in str(info.value)
        with pytest.raises(StoreError), store.transaction(readonly=True) as txn:
            txn.locate(LocateFilter(visible_to="bob"))
        with pytest.raises(StoreError), store.transaction() as txn:
            txn.grant("a", "bob", frozenset({"get"}))
        assert get(store, "a") is not None  # what still exists still works
    finally:
        store.close()


def test_locate_queries_use_indexes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kms.db")
    conn = sqlite3.connect(tmp_path / "kms.db")
    try:
        for flt, index in [
            (LocateFilter(name="n"), "object_names_name"),
            (LocateFilter(object_group="g"), "object_groups_grp"),
            (LocateFilter(object_types=(2,)), "objects_type_state"),
            (LocateFilter(object_types=(2,), states=(1, 2)), "objects_type_state"),
            (LocateFilter(states=(2,)), "objects_state"),
            (LocateFilter(cryptographic_algorithm=3, cryptographic_length=256), "objects_alg_len"),
            (LocateFilter(visible_to="bob"), "objects_owner"),
            (LocateFilter(visible_to="bob"), "read_access_userid"),
        ]:
            query = locate_query(flt)
            assert query is not None
            plan = " / ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + query[0], query[1]))
            assert index in plan, (flt, plan)
            assert "SCAN o" not in plan, (flt, plan)
        assert locate_query(LocateFilter(object_types=())) is None
    finally:
        conn.close()
        store.close()


# -- the factory -----------------------------------------------------------


def test_open_store_sqlite_forms(tmp_path: Path) -> None:
    for where, expected in [
        (str(tmp_path / "a.db"), tmp_path / "a.db"),
        (f"sqlite://{tmp_path / 'b.db'}", tmp_path / "b.db"),
        (str(tmp_path), tmp_path / SQLITE_FILE_NAME),  # a directory, as Cosmian's KMS_SQLITE_PATH
    ]:
        store = open_store("SQLite", where)
        try:
            assert isinstance(store, SqliteStore)
            assert Path(store.path) == expected
            store.check()
        finally:
            store.close()


def test_open_store_unknown_type() -> None:
    with pytest.raises(StoreError, match="unknown database type"):
        open_store("redis-findex", "whatever")
