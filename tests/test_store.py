"""The store contract on every backend: CRUD, Locate, grants, transactions, concurrency.

Everything here goes through the ``store`` / ``make_store`` fixtures of
:mod:`tests.db_fixtures`, so each test runs on SQLite, PostgreSQL and
MySQL/MariaDB, each time on a fresh database.  A second ``make_store()``
handle stands for a second kmsd process (its own pool).  Backend specifics
live in ``test_store_sqlite.py`` and ``test_store_servers.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from kmsd.store import ConflictError, Grant, LocateFilter, Store, StoredObject, StoreError

MakeStore = Callable[..., Store]

# The fixtures (database, make_store, store), until tests/conftest.py registers them.


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


# -- CRUD ------------------------------------------------------------------


def test_insert_get_round_trip_and_sequence(store: Store) -> None:
    a = obj("a", names=("n1", "n2"), object_groups=("g",), cryptographic_algorithm=3, cryptographic_length=256)
    b = obj("b", payload=b"", attributes=b"\x00\xff")
    insert(store, a, b)
    assert 0 < a.sequence < b.sequence
    assert get(store, "a") == a
    assert get(store, "b") == b
    assert get(store, "missing") is None


def test_index_tuples_keep_order_and_repeats(store: Store) -> None:
    a = obj("a", names=("z", "a", "z"), object_groups=("g2", "g1"))
    insert(store, a)
    got = get(store, "a")
    assert got is not None
    assert got.names == ("z", "a", "z")
    assert got.object_groups == ("g2", "g1")
    assert uids(store, LocateFilter(name="z")) == ["a"]


def test_insert_duplicate_is_a_conflict_without_secrets(store: Store) -> None:
    insert(store, obj("a"))
    with pytest.raises(ConflictError) as info, store.transaction() as txn:
        txn.insert(obj("a", payload=b"TOP-SECRET-KEY", attributes=b"SECRET-ATTRS"))
    assert "'a'" in str(info.value)
    assert "SECRET" not in str(info.value)
    assert type(info.value).__module__.startswith("kmsd.")  # never a raw driver error


def test_update_replaces_state_payload_attributes_and_index(store: Store) -> None:
    a = obj("a", names=("old",), object_groups=("g-old",), cryptographic_algorithm=3, cryptographic_length=128)
    insert(store, a, obj("b"))
    seq = a.sequence
    changed = StoredObject(
        uid="a",
        object_type=2,
        state=2,
        owner="alice",
        payload=b"",
        attributes=b"new-attrs",
        names=("new",),
        object_groups=("g-new",),
        cryptographic_algorithm=3,
        cryptographic_length=256,
    )
    with store.transaction() as txn:
        assert txn.get("a", for_update=True) == a
        txn.update(changed)
    got = get(store, "a")
    assert got is not None
    assert (got.state, got.payload, got.attributes) == (2, b"", b"new-attrs")
    assert (got.names, got.object_groups, got.cryptographic_length) == (("new",), ("g-new",), 256)
    assert got.sequence == seq
    assert uids(store, LocateFilter(name="old")) == []
    assert uids(store, LocateFilter(name="new")) == ["a"]
    assert uids(store, LocateFilter(object_group="g-old")) == []
    assert uids(store, LocateFilter(object_group="g-new")) == ["a"]
    assert uids(store, LocateFilter(cryptographic_length=256)) == ["a"]


def test_update_keeps_owner_and_type(store: Store) -> None:
    insert(store, obj("a"))
    with store.transaction() as txn:
        txn.update(obj("a", owner="mallory", object_type=7, state=2))
    got = get(store, "a")
    assert got is not None
    assert (got.owner, got.object_type, got.state) == ("alice", 2, 2)


def test_update_of_missing_object_is_a_conflict(store: Store) -> None:
    with pytest.raises(ConflictError), store.transaction() as txn:
        txn.update(obj("ghost"))


def test_delete_removes_object_index_and_grants(store: Store) -> None:
    insert(store, obj("a", names=("n",), object_groups=("g",)), obj("b"))
    with store.transaction() as txn:
        txn.grant("a", "bob", frozenset({"get"}))
        txn.delete("a")
        txn.delete("never-existed")  # not an error
    assert get(store, "a") is None
    assert uids(store, LocateFilter(name="n")) == []
    assert uids(store, LocateFilter(object_group="g")) == []
    # A new object under the same identifier inherits nothing.
    insert(store, obj("a", owner="carol"))
    with store.transaction(readonly=True) as txn:
        assert txn.grants("a") == []
        assert txn.permissions("a", "bob") == frozenset()
    assert uids(store, LocateFilter(visible_to="bob")) == []


# -- Locate ----------------------------------------------------------------

# uid: (object_type, state, owner, names, groups, algorithm, length); inserted
# in this order, which is deliberately not alphabetical.
DATASET: dict[str, tuple[int, int, str, tuple[str, ...], tuple[str, ...], int | None, int | None]] = {
    "k3": (2, 1, "alice", ("prod",), ("g1",), 3, 256),
    "k1": (2, 2, "alice", ("dev",), ("g1", "g2"), 3, 128),
    "s9": (7, 2, "bob", ("prod",), (), None, None),
    "k2": (2, 2, "bob", (), ("g2",), 3, 256),
    "o5": (8, 1, "carol", ("prod", "dev"), (), None, None),
    "k0": (2, 6, "carol", (), (), 4, 168),
}


@pytest.fixture
def dataset(store: Store) -> Store:
    insert(
        store,
        *(
            obj(
                u,
                object_type=t,
                state=s,
                owner=o,
                names=n,
                object_groups=g,
                cryptographic_algorithm=a,
                cryptographic_length=ln,
            )
            for u, (t, s, o, n, g, a, ln) in DATASET.items()
        ),
    )
    return store


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (LocateFilter(), ["k3", "k1", "s9", "k2", "o5", "k0"]),
        (LocateFilter(object_types=(2,)), ["k3", "k1", "k2", "k0"]),
        (LocateFilter(object_types=(7, 8)), ["s9", "o5"]),
        (LocateFilter(states=(2,)), ["k1", "s9", "k2"]),
        (LocateFilter(states=(1, 6)), ["k3", "o5", "k0"]),
        (LocateFilter(name="prod"), ["k3", "s9", "o5"]),
        (LocateFilter(name="Prod"), []),  # exact, case-sensitive
        (LocateFilter(name="nope"), []),
        (LocateFilter(object_group="g2"), ["k1", "k2"]),
        (LocateFilter(cryptographic_algorithm=3), ["k3", "k1", "k2"]),
        (LocateFilter(cryptographic_length=256), ["k3", "k2"]),
        (LocateFilter(object_types=()), []),
        (LocateFilter(states=()), []),
    ],
    ids=repr,
)
def test_locate_each_filter_alone(dataset: Store, flt: LocateFilter, expected: list[str]) -> None:
    assert uids(dataset, flt) == expected


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (LocateFilter(object_types=(2,), states=(2,)), ["k1", "k2"]),
        (LocateFilter(name="prod", object_types=(2, 7)), ["k3", "s9"]),
        (LocateFilter(name="dev", object_group="g1"), ["k1"]),
        (LocateFilter(cryptographic_algorithm=3, cryptographic_length=256, states=(2,)), ["k2"]),
        (
            LocateFilter(object_group="g1", cryptographic_length=256, name="prod", object_types=(2,), states=(1,)),
            ["k3"],
        ),
        (LocateFilter(name="prod", visible_to="bob"), ["s9"]),
        (LocateFilter(object_types=(2,), visible_to="alice"), ["k3", "k1"]),
        (LocateFilter(name="prod", states=(2,), object_group="g1"), []),
    ],
    ids=repr,
)
def test_locate_combined_filters(dataset: Store, flt: LocateFilter, expected: list[str]) -> None:
    assert uids(dataset, flt) == expected


def test_locate_access_filter(dataset: Store) -> None:
    with dataset.transaction() as txn:
        txn.grant("k2", "alice", frozenset({"get"}))  # bob's key, readable by alice
        txn.grant("s9", "alice", frozenset({"encrypt"}))  # usable, but not a "get"/"locate" right
        txn.grant("o5", "*", frozenset({"locate"}))  # carol's object, visible to all
        txn.grant("k0", "dave", frozenset({"get", "destroy"}))
    assert uids(dataset, LocateFilter(visible_to="alice")) == ["k3", "k1", "k2", "o5"]
    assert uids(dataset, LocateFilter(visible_to="alice", visible_with=("encrypt",))) == ["k3", "k1", "s9"]
    assert uids(dataset, LocateFilter(visible_to="alice", visible_with=())) == ["k3", "k1"]  # owner only
    assert uids(dataset, LocateFilter(visible_to="dave")) == ["o5", "k0"]
    assert uids(dataset, LocateFilter(visible_to="dave", visible_with=("destroy",))) == ["k0"]
    assert uids(dataset, LocateFilter(visible_to="erin")) == ["o5"]
    assert uids(dataset, LocateFilter(visible_to="erin", visible_with=("get",))) == []
    assert uids(dataset, LocateFilter(visible_to="alice", name="prod")) == ["k3", "o5"]
    # Revoking the right hides the object again.
    with dataset.transaction() as txn:
        txn.revoke("k2", "alice", frozenset({"get"}))
    assert uids(dataset, LocateFilter(visible_to="alice")) == ["k3", "k1", "o5"]


def test_locate_many_results_in_order_while_writing(store: Store) -> None:
    n = 700  # more than one internal batch
    insert(store, *(obj(f"id-{(i * 7919) % n:04d}", names=("bulk",)) for i in range(n)))
    with store.transaction() as txn:
        seen = []
        for o in txn.locate(LocateFilter(name="bulk")):
            seen.append(o.sequence)
            # Writing while iterating neither breaks nor changes the result.
            txn.update(StoredObject(o.uid, o.object_type, 2, o.owner, o.payload, o.attributes, names=("moved",)))
        assert len(seen) == n
        assert seen == sorted(seen)
        assert list(txn.locate(LocateFilter(name="bulk"))) == []
    assert len(uids(store, LocateFilter(name="moved", states=(2,)))) == n


def test_locate_iterator_must_be_used_inside_the_transaction(store: Store) -> None:
    insert(store, *(obj(f"x{i}") for i in range(3)))
    with store.transaction(readonly=True) as txn:
        it = txn.locate(LocateFilter())
    with pytest.raises(StoreError):
        next(it)


# -- grants ----------------------------------------------------------------


def test_grant_merges_and_revoke_removes(store: Store) -> None:
    insert(store, obj("a"), obj("b"))
    with store.transaction() as txn:
        txn.grant("a", "bob", frozenset({"get"}))
        txn.grant("a", "bob", frozenset({"encrypt", "get"}))
        txn.grant("a", "carol", frozenset({"decrypt"}))
        txn.grant("a", "dave", frozenset())  # nothing to grant: no row
        assert txn.grants("a") == [
            Grant("a", "bob", frozenset({"get", "encrypt"})),
            Grant("a", "carol", frozenset({"decrypt"})),
        ]
        assert txn.permissions("a", "bob") == {"get", "encrypt"}
        assert txn.permissions("b", "bob") == frozenset()

        txn.revoke("a", "bob", frozenset({"get", "destroy"}))  # destroy was never granted
        assert txn.permissions("a", "bob") == {"encrypt"}
        txn.revoke("a", "bob", frozenset({"encrypt"}))  # the last one: the row goes
        assert txn.grants("a") == [Grant("a", "carol", frozenset({"decrypt"}))]
        txn.revoke("a", "nobody", frozenset({"get"}))  # no-op
        txn.revoke("missing", "bob", frozenset({"get"}))  # no-op
    with store.transaction(readonly=True) as txn:
        assert txn.grants("a") == [Grant("a", "carol", frozenset({"decrypt"}))]
        assert txn.grants("missing") == []


def test_permissions_include_the_wildcard_user(store: Store) -> None:
    insert(store, obj("a"))
    with store.transaction() as txn:
        txn.grant("a", "*", frozenset({"get"}))
        txn.grant("a", "bob", frozenset({"encrypt"}))
        assert txn.permissions("a", "bob") == {"get", "encrypt"}
        assert txn.permissions("a", "anyone") == {"get"}
        assert txn.permissions("a", "*") == {"get"}


def test_grant_on_missing_object_is_a_conflict(store: Store) -> None:
    with pytest.raises(ConflictError), store.transaction() as txn:
        txn.grant("ghost", "bob", frozenset({"get"}))


def test_create_grants(store: Store) -> None:
    """The create right (--privileged-users): one row per user, granted again replaces the granter."""
    with store.transaction(readonly=True) as txn:
        assert txn.create_grants() == []
    with store.transaction() as txn:
        txn.grant_create("bob", "alice")
        txn.grant_create("*", "alice")
        txn.grant_create("Bob", "root")
        txn.grant_create("bob", "root")  # again: one row, the latest granter
        assert txn.create_grants() == [("*", "alice"), ("Bob", "root"), ("bob", "root")]
    with store.transaction() as txn:
        txn.revoke_create("bob")
        txn.revoke_create("nobody")  # no-op
    with store.transaction(readonly=True) as txn:
        assert txn.create_grants() == [("*", "alice"), ("Bob", "root")]
        with pytest.raises(StoreError):
            txn.grant_create("carol", "alice")
        with pytest.raises(StoreError):
            txn.revoke_create("Bob")
    with pytest.raises(RuntimeError), store.transaction() as txn:
        txn.grant_create("dave", "alice")
        raise RuntimeError("roll back")
    with store.transaction(readonly=True) as txn:
        assert txn.create_grants() == [("*", "alice"), ("Bob", "root")]


# -- transactions ----------------------------------------------------------


def test_exception_rolls_back_and_propagates(store: Store) -> None:
    insert(store, obj("kept"))

    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction() as txn:
        txn.insert(obj("lost"))
        txn.grant("kept", "bob", frozenset({"get"}))
        txn.update(obj("kept", state=2))
        raise Boom
    assert get(store, "lost") is None
    kept = get(store, "kept")
    assert kept is not None and kept.state == 1
    with store.transaction(readonly=True) as txn:
        assert txn.grants("kept") == []
    # The store is still usable afterwards.
    insert(store, obj("after"))
    assert get(store, "after") is not None


def test_savepoints(store: Store) -> None:
    with store.transaction() as txn:
        txn.insert(obj("a"))
        first = txn.savepoint()
        txn.insert(obj("b"))
        txn.grant("a", "bob", frozenset({"get"}))
        second = txn.savepoint()
        assert first != second
        txn.insert(obj("c"))
        txn.rollback_to(second)
        assert txn.get("c") is None and txn.get("b") is not None
        txn.rollback_to(first)
        assert txn.get("b") is None and txn.grants("a") == []
        txn.insert(obj("d"))  # the transaction goes on after a rollback_to
        with pytest.raises(StoreError):
            txn.rollback_to("no_such_savepoint; DROP TABLE objects")
    assert [get(store, u) is not None for u in "abcd"] == [True, False, False, True]


def test_readonly_transaction_refuses_writes(store: Store) -> None:
    insert(store, obj("a"))
    with store.transaction(readonly=True) as txn:
        assert txn.get("a") is not None
        writes: list[Callable[[], object]] = [
            lambda: txn.insert(obj("b")),
            lambda: txn.update(obj("a")),
            lambda: txn.delete("a"),
            lambda: txn.grant("a", "bob", frozenset({"get"})),
            lambda: txn.revoke("a", "bob", frozenset({"get"})),
            lambda: txn.get("a", for_update=True),
        ]
        for write in writes:
            with pytest.raises(StoreError):
                write()
        # Savepoints work in read-only transactions too (the batch executor uses them).
        txn.rollback_to(txn.savepoint())
        assert txn.get("a") is not None
    assert get(store, "a") is not None


def test_transaction_is_dead_after_exit_and_does_not_nest(store: Store) -> None:
    with store.transaction() as txn:
        with pytest.raises(StoreError), store.transaction(readonly=True):
            pass
        txn.insert(obj("a"))  # the refused inner transaction did not disturb this one
    with pytest.raises(StoreError):
        txn.get("a")
    assert get(store, "a") is not None


# -- concurrency -----------------------------------------------------------


def _run_threads(n: int, work: Callable[[int], None]) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


def _increment(txn: Any, uid: str) -> None:
    counter = txn.get(uid, for_update=True)
    assert counter is not None
    counter.attributes = str(int(counter.attributes) + 1).encode()
    txn.update(counter)


@pytest.mark.parametrize("threads", [16, 40])
def test_concurrent_inserts_and_updates_lose_nothing(store: Store, threads: int) -> None:
    per_thread = 50 if threads == 16 else 10
    insert(store, obj("counter", attributes=b"0"))

    def work(i: int) -> None:
        for j in range(per_thread):
            with store.transaction() as txn:
                txn.insert(obj(f"t{i}-{j}", names=(f"thread-{i}",)))
                _increment(txn, "counter")
            with store.transaction(readonly=True) as txn:
                assert txn.get(f"t{i}-{j}") is not None

    _run_threads(threads, work)
    counter = get(store, "counter")
    assert counter is not None and int(counter.attributes) == threads * per_thread
    with store.transaction(readonly=True) as txn:
        everything = list(txn.locate(LocateFilter()))
        assert len(everything) == threads * per_thread + 1
        assert len({o.sequence for o in everything}) == len(everything)
        assert [o.uid for o in txn.locate(LocateFilter(name="thread-3"))] == [f"t3-{j}" for j in range(per_thread)]


def test_two_handles_on_one_database_lose_no_update(make_store: MakeStore) -> None:
    stores = [make_store(), make_store()]
    insert(stores[0], obj("counter", attributes=b"0"))

    def work(i: int) -> None:
        for _ in range(25):
            with stores[i % 2].transaction() as txn:
                _increment(txn, "counter")

    _run_threads(8, work)
    counter = get(stores[1], "counter")
    assert counter is not None and int(counter.attributes) == 200


def test_readers_see_committed_snapshots_only(store: Store) -> None:
    # Writers move value between two objects; the sum must never change.
    insert(store, obj("x", attributes=b"100"), obj("y", attributes=b"0"))
    stop = threading.Event()
    bad: list[int] = []

    def work(i: int) -> None:
        if i < 2:
            for _ in range(50):
                with store.transaction() as txn:
                    x, y = txn.get("x", for_update=True), txn.get("y", for_update=True)
                    assert x is not None and y is not None
                    x.attributes = str(int(x.attributes) - 1).encode()
                    txn.update(x)
                    y.attributes = str(int(y.attributes) + 1).encode()
                    txn.update(y)
            stop.set()
        else:
            while not stop.is_set():
                with store.transaction(readonly=True) as txn:
                    x, y = txn.get("x"), txn.get("y")
                    assert x is not None and y is not None
                    total = int(x.attributes) + int(y.attributes)
                    if total != 100:
                        bad.append(total)

    _run_threads(6, work)
    assert bad == []
    y = get(store, "y")
    assert y is not None and int(y.attributes) == 100


def test_lock_timeout_is_a_conflict(make_store: MakeStore) -> None:
    # SQLite's single writer lock and the servers' row locks both make a
    # writer of a locked object wait, then give up with ConflictError.
    holder = make_store(lock_timeout_ms=1000)
    other_process = make_store(lock_timeout_ms=200)
    insert(holder, obj("held"))
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.transaction() as txn:
            assert txn.get("held", for_update=True) is not None
            txn.update(obj("held", state=2))
            txn.insert(obj("new"))
            holding.set()
            release.wait(20)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert holding.wait(10)
        with pytest.raises(ConflictError), other_process.transaction() as txn:
            txn.get("held", for_update=True)
        # Readers are not blocked by the writer, and do not see its work.
        assert get(other_process, "new") is None
        held = get(other_process, "held")
        assert held is not None and held.state == 1
        # Opening the database while a writer holds locks works too.
        make_store(lock_timeout_ms=200).check()
    finally:
        release.set()
        t.join()
    held = get(other_process, "held")
    assert held is not None and held.state == 2
    assert get(other_process, "new") is not None


def test_two_handles_see_each_others_writes(make_store: MakeStore) -> None:
    # Two kmsd processes on one database: create on one; get, grant, change
    # and destroy on the other; each sees the other's committed work at once.
    first, second = make_store(), make_store()
    insert(first, obj("k", names=("shared",)))
    assert get(second, "k") == get(first, "k")
    with second.transaction() as txn:
        txn.grant("k", "bob", frozenset({"get"}))
        current = txn.get("k", for_update=True)
        assert current is not None
        current.state = 2
        txn.update(current)
    with first.transaction(readonly=True) as txn:
        assert txn.permissions("k", "bob") == {"get"}
        assert [o.uid for o in txn.locate(LocateFilter(visible_to="bob", states=(2,)))] == ["k"]
    with second.transaction() as txn:
        txn.delete("k")
    assert get(first, "k") is None
    assert uids(first, LocateFilter(name="shared")) == []


def test_state_transition_happens_once_across_handles(make_store: MakeStore) -> None:
    # Many requests race to activate one pre-active key from two processes:
    # with get(for_update=True) exactly one sees it pre-active and changes it.
    stores = [make_store(), make_store()]
    insert(stores[0], obj("key", state=1, attributes=b"0"))
    winners: list[int] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        with stores[i % 2].transaction() as txn:
            key = txn.get("key", for_update=True)
            assert key is not None
            if key.state == 1:
                key.state = 2
                key.attributes = str(int(key.attributes) + 1).encode()
                txn.update(key)
                with lock:
                    winners.append(i)

    _run_threads(12, work)
    assert len(winners) == 1
    key = get(stores[1], "key")
    assert key is not None and (key.state, key.attributes) == (2, b"1")


def test_concurrent_grants_are_not_lost(make_store: MakeStore) -> None:
    stores = [make_store(), make_store()]
    insert(stores[0], obj("k"))
    operations = [f"op{i}" for i in range(12)]

    def work(i: int) -> None:
        for user in ("bob", "*"):
            with stores[i % 2].transaction() as txn:
                txn.grant("k", user, frozenset({operations[i]}))

    _run_threads(len(operations), work)
    with stores[1].transaction(readonly=True) as txn:
        assert txn.grants("k") == [Grant("k", "*", frozenset(operations)), Grant("k", "bob", frozenset(operations))]

    def revoke(i: int) -> None:
        with stores[i % 2].transaction() as txn:
            txn.revoke("k", "bob", frozenset({operations[i]}))

    _run_threads(len(operations) - 1, revoke)
    with stores[0].transaction(readonly=True) as txn:
        assert txn.permissions("k", "bob") == set(operations)  # all of them again via "*"
        assert [g.operations for g in txn.grants("k") if g.user == "bob"] == [frozenset({operations[-1]})]


# -- health and lifecycle --------------------------------------------------


def test_check_and_close(make_store: MakeStore) -> None:
    store = make_store()
    store.check()
    assert store.schema_version >= 1
    store.close()
    with pytest.raises(StoreError):
        store.check()
    with pytest.raises(StoreError), store.transaction():
        pass
    store.close()  # idempotent
    reopened = make_store()
    reopened.check()


def test_pool_stats_follow_transactions(store: Store) -> None:
    """The metrics' pool figures: a connection is in use exactly while a transaction holds it."""
    before = store.pool_stats()
    assert set(before) == {"idle", "in_use", "max"} and before["max"] >= 1
    with store.transaction(readonly=True) as tx:
        tx.get("no-such-object")
        during = store.pool_stats()
    after = store.pool_stats()
    assert during["in_use"] == before["in_use"] + 1
    assert after["in_use"] == before["in_use"]
