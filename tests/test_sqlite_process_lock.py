"""Writers in several processes on one SQLite file take turns through a file lock.

``kmsd serve --workers N`` runs N processes on one database; without the
lock they would wait for each other through SQLite's sleeping busy handler.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
from pathlib import Path

import pytest

from kmsd.store import ConflictError, StoredObject
from kmsd.store.sqlite import SqliteStore
from kmsd.store.sqlite_lock import ProcessWriteLock


def _obj(uid: str) -> StoredObject:
    return StoredObject(uid=uid, object_type=2, state=1, owner="alice", payload=b"p", attributes=b"a")


def test_lock_excludes_another_holder_until_released(tmp_path: Path) -> None:
    a, b = ProcessWriteLock(str(tmp_path / "l")), ProcessWriteLock(str(tmp_path / "l"))
    try:
        assert a.acquire(1.0) and a.held
        assert not b.acquire(0.05)  # another open file description: another "process"
        a.release()
        assert not a.held
        assert b.acquire(0.05)
        assert a.acquire(0.0) is False
    finally:
        a.close()
        b.close()
        a.close()  # closing twice is harmless
    with pytest.raises(ValueError):
        a.acquire(0.0)


def test_lock_file_is_private(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kms.db")
    try:
        lock = tmp_path / "kms.db-kmsd-writer.lock"
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    finally:
        store.close()


def test_lock_is_released_when_the_group_commits(tmp_path: Path) -> None:
    first, second = SqliteStore(tmp_path / "kms.db"), SqliteStore(tmp_path / "kms.db", busy_timeout_ms=1)
    try:
        with first.transaction() as txn:
            txn.insert(_obj("one"))
        # With 1 ms to wait, the second handle only succeeds if the first let go at once.
        with second.transaction() as txn:
            txn.insert(_obj("two"))
        with first.transaction() as txn:  # and the first may write again after the second
            txn.insert(_obj("three"))
        with second.transaction(readonly=True) as txn:
            assert [o is not None for o in (txn.get("one"), txn.get("two"), txn.get("three"))] == [True] * 3
    finally:
        first.close()
        second.close()


def test_lock_is_released_after_a_failed_write(tmp_path: Path) -> None:
    first, second = SqliteStore(tmp_path / "kms.db"), SqliteStore(tmp_path / "kms.db", busy_timeout_ms=1)
    try:
        with pytest.raises(RuntimeError), first.transaction() as txn:
            txn.insert(_obj("doomed"))
            raise RuntimeError("handler failed")
        with second.transaction() as txn:
            txn.insert(_obj("after"))
        with first.transaction(readonly=True) as txn:
            assert txn.get("doomed") is None and txn.get("after") is not None
    finally:
        first.close()
        second.close()


def test_waiting_writer_proceeds_when_the_holder_commits(tmp_path: Path) -> None:
    holder, waiter = SqliteStore(tmp_path / "kms.db"), SqliteStore(tmp_path / "kms.db", busy_timeout_ms=10_000)
    holding, release, done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        with holder.transaction() as txn:
            txn.insert(_obj("held"))
            holding.set()
            release.wait(10)

    def wait_and_write() -> None:
        try:
            with waiter.transaction() as txn:
                txn.insert(_obj("waited"))
        except BaseException as exc:  # reported below
            errors.append(exc)
        done.set()

    h = threading.Thread(target=hold)
    h.start()
    assert holding.wait(10)
    w = threading.Thread(target=wait_and_write)
    w.start()
    try:
        assert not done.wait(0.3), "the second writer must wait while the first holds the lock"
    finally:
        release.set()
        h.join()
    assert done.wait(10)
    w.join()
    assert errors == []
    with waiter.transaction(readonly=True) as txn:
        assert txn.get("held") is not None and txn.get("waited") is not None
    holder.close()
    waiter.close()


def _write_many(path: str, prefix: str, count: int) -> None:
    store = SqliteStore(path, busy_timeout_ms=20_000)
    try:
        for i in range(count):
            with store.transaction() as txn:
                txn.insert(_obj(f"{prefix}-{i}"))
    finally:
        store.close()


def test_processes_writing_at_once_all_succeed(tmp_path: Path) -> None:
    path = str(tmp_path / "kms.db")
    SqliteStore(path).close()  # schema first, as `kmsd serve` does before forking
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(path, f"p{n}", 150)) for n in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    store = SqliteStore(path)
    try:
        with store.transaction(readonly=True) as txn:
            missing = [f"p{n}-{i}" for n in range(3) for i in range(150) if txn.get(f"p{n}-{i}") is None]
        assert missing == []
    finally:
        store.close()


def test_a_holder_in_another_process_times_out_cleanly(tmp_path: Path) -> None:
    path = str(tmp_path / "kms.db")
    store = SqliteStore(path, busy_timeout_ms=100)
    other = ProcessWriteLock(path + "-kmsd-writer.lock")
    try:
        assert other.acquire(1.0)
        with pytest.raises(ConflictError, match="another process"), store.transaction() as txn:
            txn.insert(_obj("blocked"))
        other.release()
        with store.transaction() as txn:
            txn.insert(_obj("after"))
    finally:
        other.close()
        store.close()
    assert os.path.exists(path)


def _open_and_close(path: str, start: object) -> None:
    start.wait(10)  # type: ignore[attr-defined]
    SqliteStore(path).close()


def test_processes_opening_a_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    """`kmsd serve --workers N` on a fresh data directory: every worker creates/migrates the same file."""
    ctx = multiprocessing.get_context("fork")
    for attempt in range(10):
        path = str(tmp_path / f"fresh-{attempt}.db")
        start = ctx.Event()
        procs = [ctx.Process(target=_open_and_close, args=(path, start)) for _ in range(6)]
        for p in procs:
            p.start()
        start.set()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 6
