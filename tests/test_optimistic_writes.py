"""Optimistic SQLite write transactions (``transaction(optimistic=True)``).

The store reads from a snapshot and keeps its writes back; it takes SQLite's
write lock only to apply them (at the end, or first when a Locate or a grant
needs them applied); an object read before that which changed meanwhile
means StaleRead and nothing kept, and the executor then runs the request again with the lock
taken up front.  These tests make the "meanwhile" happen deterministically:
the interfering write runs in another thread while the optimistic
transaction is between its read and its write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kmsd.kmip.enums import (
    Operation,
    ResultStatus,
    State,
)
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.ops.observe import RecordingTransaction
from kmsd.server.peer import Peer
from kmsd.store import ConflictError, LocateFilter, StaleRead, StoredObject
from kmsd.store import sqlite as sqlite_store
from kmsd.store.sqlite import SqliteStore

from .kmip_builders import Response, name_value, request, s, tag, text
from .test_executor import create_aes

ALICE = Peer(identity="alice", address="127.0.0.1:1")
V2 = (2, 0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "kms.db")
    yield opened
    opened.close()


def stored(uid: str, attributes: bytes = b"a", names: tuple[str, ...] = ()) -> StoredObject:
    return StoredObject(
        uid=uid, object_type=2, state=1, owner="alice", payload=b"p", attributes=attributes, names=names
    )


def in_other_thread(work: Callable[[], None]) -> None:
    """Run ``work`` to its end in another thread (another request, as far as the store knows)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(20)
    assert not thread.is_alive()
    if errors:
        raise errors[0]


def rewrite(store: SqliteStore, uid: str, attributes: bytes) -> None:
    with store.transaction() as txn:
        current = txn.get(uid, for_update=True)
        assert current is not None
        current.attributes = attributes
        txn.update(current)


def test_a_read_object_changed_before_the_write_means_stale_read_and_nothing_kept(store: SqliteStore) -> None:
    with store.transaction() as txn:
        txn.insert(stored("x"))
    with pytest.raises(StaleRead, match="'x'"):
        with store.transaction(optimistic=True) as txn:
            assert txn.get("x", for_update=True) is not None
            in_other_thread(lambda: rewrite(store, "x", b"changed"))
            txn.insert(stored("y"))  # the first write: the lock, then the check
    with store.transaction(readonly=True) as txn:
        assert txn.get("y") is None
        x = txn.get("x")
        assert x is not None and x.attributes == b"changed"


def test_an_absent_object_that_appears_is_a_change_too(store: SqliteStore) -> None:
    with pytest.raises(StaleRead):
        with store.transaction(optimistic=True) as txn:
            assert txn.get("late") is None
            in_other_thread(lambda: _insert(store, stored("late")))
            txn.insert(stored("other"))


def test_objects_met_in_a_locate_are_checked(store: SqliteStore) -> None:
    with store.transaction() as txn:
        txn.insert(stored("n1", names=("batch",)))
    with pytest.raises(StaleRead):
        with store.transaction(optimistic=True) as txn:
            assert [o.uid for o in txn.locate(LocateFilter(name="batch"))] == ["n1"]
            in_other_thread(lambda: rewrite(store, "n1", b"changed"))
            txn.delete("n1")


def test_unchanged_reads_write_and_commit(store: SqliteStore) -> None:
    with store.transaction() as txn:
        txn.insert(stored("x"))
    with store.transaction(optimistic=True) as txn:
        x = txn.get("x", for_update=True)
        assert x is not None
        in_other_thread(lambda: _insert(store, stored("unrelated")))  # another object: no conflict
        x.attributes = b"mine"
        txn.update(x)
    with store.transaction(readonly=True) as txn:
        x = txn.get("x")
        assert x is not None and x.attributes == b"mine"
        assert txn.get("unrelated") is not None


def test_writes_are_kept_back_without_the_write_lock_and_read_back(store: SqliteStore) -> None:
    with store.transaction(optimistic=True) as txn:
        txn.insert(stored("mine", attributes=b"v1"))
        assert not store._writer.locked()  # no lock while the request goes on...
        in_other_thread(lambda: _insert(store, stored("theirs")))  # ...so other writers commit meanwhile
        mine = txn.get("mine")
        assert mine is not None and mine.attributes == b"v1"  # its own write, read back
        mine.attributes = b"v2"
        txn.update(mine)
        txn.delete("theirs-never-existed")  # deleting nothing keeps nothing
    with store.transaction(readonly=True) as txn:
        got = txn.get("mine")
        assert got is not None and got.attributes == b"v2"
        assert txn.get("theirs") is not None


def test_a_read_after_a_kept_write_is_checked_too(store: SqliteStore) -> None:
    with pytest.raises(StaleRead, match="'late'"):
        with store.transaction(optimistic=True) as txn:
            txn.insert(stored("first"))
            assert txn.get("late") is None  # read from the snapshot...
            in_other_thread(lambda: _insert(store, stored("late")))  # ...which this commit makes stale
    with store.transaction(readonly=True) as txn:
        assert txn.get("first") is None  # nothing kept


def test_a_write_fails_when_kept_as_it_would_under_the_lock(store: SqliteStore) -> None:
    _insert(store, stored("taken"))
    with store.transaction(optimistic=True) as txn:
        with pytest.raises(ConflictError, match="already exists"):
            txn.insert(stored("taken"))
        with pytest.raises(ConflictError, match="no object"):
            txn.update(stored("missing"))
        txn.delete("taken")
        with pytest.raises(ConflictError, match="no object"):
            txn.update(stored("taken"))  # deleted by this very transaction
    with store.transaction(readonly=True) as txn:
        assert txn.get("taken") is None


def test_a_locate_after_a_kept_write_applies_the_writes_first(store: SqliteStore) -> None:
    with store.transaction(optimistic=True) as txn:
        txn.insert(stored("a", names=("found",)))
        before_b = txn.savepoint()
        txn.insert(stored("b", names=("found",)))
        assert [o.uid for o in txn.locate(LocateFilter(name="found"))] == ["a", "b"]
        assert store._writer.locked()  # applied under the lock; the rest goes on under it
        txn.rollback_to(before_b)  # the kept savepoint became a real one
        assert [o.uid for o in txn.locate(LocateFilter(name="found"))] == ["a"]
    with store.transaction(readonly=True) as txn:
        assert txn.get("a") is not None and txn.get("b") is None


def test_a_transaction_that_never_writes_takes_no_write_lock(store: SqliteStore) -> None:
    with store.transaction() as txn:
        txn.insert(stored("x"))
    with store.transaction() as holder:  # a writer holding the lock in this thread...
        holder.insert(stored("held"))
        done = threading.Event()

        def reader() -> None:
            with store.transaction(optimistic=True) as txn:  # ...does not stop one that only reads
                assert txn.get("x") is not None
            done.set()

        in_other_thread(reader)
        assert done.is_set()


def test_savepoints_alone_are_no_write(store: SqliteStore) -> None:
    """Every batch item opens a savepoint: a read-only request must not take the lock for them."""
    with store.transaction() as txn:
        txn.insert(stored("x", names=("n",)))
    with store.transaction() as holder:  # a writer holding the lock in this thread...
        holder.insert(stored("held"))
        done = threading.Event()

        def reader() -> None:
            with store.transaction(optimistic=True) as txn:  # ...does not stop one that only reads
                txn.savepoint()
                item = txn.savepoint()
                assert [o.uid for o in txn.locate(LocateFilter(name="n"))] == ["x"]
                txn.rollback_to(item)
                assert txn.get("x") is not None
            done.set()

        in_other_thread(reader)
        assert done.is_set()


def test_savepoints_from_before_the_write_lock_undo_the_writes_after_it(store: SqliteStore) -> None:
    with store.transaction(optimistic=True) as txn:
        start = txn.savepoint()  # before any write: nothing to keep but what follows
        txn.insert(stored("undone"))
        after = txn.savepoint()
        txn.insert(stored("undone-too"))
        txn.rollback_to(after)
        assert txn.get("undone") is not None and txn.get("undone-too") is None
        txn.rollback_to(start)
        assert txn.get("undone") is None
        txn.insert(stored("kept"))
    with store.transaction(readonly=True) as txn:
        assert txn.get("kept") is not None and txn.get("undone") is None


def test_serialize_takes_the_write_lock_before_a_check_of_all_objects(store: SqliteStore) -> None:
    with store.transaction(optimistic=True) as txn:
        txn.serialize()
        assert store._writer.locked()  # no other writer can add a clashing name now
        assert txn.locate(LocateFilter(name="free")) is not None


def _insert(store: SqliteStore, obj: StoredObject) -> None:
    with store.transaction() as txn:
        txn.insert(obj)


# -- through the executor: the request runs again with the lock taken first ------------------------


def call(ex: Executor, data: bytes) -> Response:
    out = ex.process(data, ALICE)
    assert out is not None
    return Response(out)


def test_a_request_whose_object_changed_runs_again_and_keeps_both_changes(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ex = Executor(store, ExecutorSettings())
    uid = create_aes(ex, V2, name="first", peer=ALICE)

    # While the Activate below is between reading the key and writing it,
    # another request adds a Name to the same key.
    original_get = sqlite_store._OptimisticTransaction.get
    interfered: list[bool] = []
    stale: list[StaleRead] = []

    def get_then_interfere(self: sqlite_store._OptimisticTransaction, key: str, *, for_update: bool = False):  # type: ignore[no-untyped-def]
        result = original_get(self, key, for_update=for_update)
        if key == uid and not interfered:
            interfered.append(True)
            add = request(
                V2,
                (Operation.ADD_ATTRIBUTE, [text("Unique Identifier", uid), s("New Attribute", name_value("second"))]),
            )
            in_other_thread(lambda: _assert_success(call(ex, add)))
        return result

    original_upgrade = sqlite_store._OptimisticTransaction._upgrade

    def upgrade_noting_stale(self: sqlite_store._OptimisticTransaction, *, final: bool = False) -> None:
        try:
            original_upgrade(self, final=final)
        except StaleRead as exc:
            stale.append(exc)
            raise

    monkeypatch.setattr(sqlite_store._OptimisticTransaction, "get", get_then_interfere)
    monkeypatch.setattr(sqlite_store._OptimisticTransaction, "_upgrade", upgrade_noting_stale)
    r = call(ex, request(V2, (Operation.ACTIVATE, [text("Unique Identifier", uid)])))
    assert r.status() == ResultStatus.SUCCESS, r.message()
    assert interfered and len(stale) == 1  # the first run found the change and kept nothing
    monkeypatch.undo()

    r = call(ex, request(V2, (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid)])))
    assert r.status() == ResultStatus.SUCCESS
    payload = r.payload()
    names = [a.get(tag("Name Value")) for a in payload.find(tag("Attributes")).find_all(tag("Name"))]  # type: ignore[union-attr]
    assert names == ["first", "second"]  # the concurrent Add Attribute was not lost
    state = payload.find(tag("Attributes")).get(tag("State"))  # type: ignore[union-attr]
    assert state == State.ACTIVE


def _assert_success(r: Response) -> None:
    assert r.status() == ResultStatus.SUCCESS, r.message()


def test_the_audit_wrapper_passes_serialize_through(store: SqliteStore) -> None:
    """The executor sees the store through RecordingTransaction when audit or
    metrics are on: serialize() must still reach the store."""
    with store.transaction(optimistic=True) as txn:
        RecordingTransaction(txn, trace=None).serialize()  # type: ignore[arg-type]  # serialize never traces
        assert store._writer.locked()


def test_a_kept_write_is_what_was_asked_then_not_what_the_object_became(store: SqliteStore) -> None:
    with store.transaction(optimistic=True) as txn:
        mine = stored("mine", attributes=b"as inserted")
        txn.insert(mine)
        before_update = txn.savepoint()
        mine.attributes = b"updated"  # the caller changes its own object...
        txn.update(mine)
        txn.rollback_to(before_update)  # ...and rolls the update back
        got = txn.get("mine")
        assert got is not None and got.attributes == b"as inserted"
        got.attributes = b"changed, never written"  # a read object is the caller's own copy
        again = txn.get("mine")
        assert again is not None and again.attributes == b"as inserted"
    with store.transaction(readonly=True) as txn:
        kept = txn.get("mine")
        assert kept is not None and kept.attributes == b"as inserted"


class _PessimisticSqlite(SqliteStore):
    optimistic_reads = False  # as PostgreSQL and MySQL: read-only first, then run again to write


@pytest.mark.parametrize("optimistic_reads", [True, False])
def test_a_get_that_clears_fresh_runs_once_where_reads_are_optimistic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, optimistic_reads: bool
) -> None:
    opened = (SqliteStore if optimistic_reads else _PessimisticSqlite)(tmp_path / "kms.db")
    try:
        ex = Executor(opened, ExecutorSettings())
        uid = create_aes(ex, V2, name="fresh", peer=ALICE)
        runs: list[tuple[bool, bool]] = []
        original = opened.transaction

        def noting(*, readonly: bool = False, optimistic: bool = False):  # type: ignore[no-untyped-def]
            runs.append((readonly, optimistic))
            return original(readonly=readonly, optimistic=optimistic)

        monkeypatch.setattr(opened, "transaction", noting)
        get = request(V2, (Operation.GET, [text("Unique Identifier", uid)]))
        _assert_success(call(ex, get))  # the first Get clears Fresh: a write
        first = list(runs)
        runs.clear()
        _assert_success(call(ex, get))  # a second one only reads
        monkeypatch.undo()
        if optimistic_reads:
            assert first == [(False, True)] and runs == [(False, True)]
        else:
            assert first == [(True, False), (False, True)] and runs == [(True, False)]
        r = call(ex, request(V2, (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid)])))
        assert r.payload().find(tag("Attributes")).get(tag("Fresh")) is False  # type: ignore[union-attr]
    finally:
        opened.close()
