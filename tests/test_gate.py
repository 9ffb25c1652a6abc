"""The processing gate (kmsd.gate): one request at a time in Python, released around waits.

The store tests run real SqliteStore transactions from several gated
threads: a waiter that forgot to let the gate go would deadlock them, which
the bounded joins turn into a failure instead of a hang.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kmsd.gate import ProcessingGate, blocking, holds_gate
from kmsd.store import StoredObject
from kmsd.store.sqlite import SqliteStore

JOIN_TIMEOUT = 20.0


def run_threads(*targets: Callable[[], None]) -> None:
    """Run each target in its own thread; fail (not hang) if one does not finish."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(t), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a gated thread never finished (deadlock?)"
    if errors:
        raise errors[0]


def stored(uid: str) -> StoredObject:
    return StoredObject(uid=uid, object_type=2, state=1, owner="alice", payload=b"p", attributes=b"a")


def test_turns_exclude_each_other() -> None:
    gate = ProcessingGate()
    inside = 0
    most = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        for _ in range(20):
            with gate.turn():
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.001)  # releases the GIL, not the gate
                with lock:
                    inside -= 1

    run_threads(*[work] * 4)
    assert most == 1


def test_blocking_lets_another_thread_take_its_turn() -> None:
    gate = ProcessingGate()
    waiting = threading.Event()
    other_ran = threading.Event()
    order: list[str] = []

    def waiter() -> None:
        with gate.turn():
            order.append("waiter in")
            with blocking():
                assert not holds_gate()
                waiting.set()
                assert other_ran.wait(JOIN_TIMEOUT)
            assert holds_gate()
            order.append("waiter back")

    def other() -> None:
        assert waiting.wait(JOIN_TIMEOUT)
        with gate.turn():
            order.append("other")
        other_ran.set()

    run_threads(waiter, other)
    assert order == ["waiter in", "other", "waiter back"]
    assert not gate.held


def test_blocking_without_a_gate_does_nothing_and_turns_do_not_nest() -> None:
    with blocking():
        assert not holds_gate()
    gate = ProcessingGate()
    with gate.turn():
        with pytest.raises(RuntimeError, match="already holds"):
            with ProcessingGate().turn():
                pass
    assert not gate.held


def test_an_exception_gives_the_gate_back() -> None:
    gate = ProcessingGate()
    with pytest.raises(ValueError):
        with gate.turn():
            raise ValueError("request failed")
    assert not gate.held and not holds_gate()


def test_gated_sqlite_writers_share_commits_without_deadlock(tmp_path: Path) -> None:
    """Eight gated threads writing at once: each waits for the writer lock or
    the group's commit with the gate let go, so all of them finish."""
    store = SqliteStore(tmp_path / "kms.db")
    gate = ProcessingGate()
    try:

        def writer(n: int) -> Callable[[], None]:
            def run() -> None:
                for i in range(25):
                    with gate.turn():
                        with store.transaction() as txn:
                            txn.insert(stored(f"w{n}-{i}"))

            return run

        run_threads(*[writer(n) for n in range(8)])
        with store.transaction(readonly=True) as txn:
            assert all(txn.get(f"w{n}-{i}") is not None for n in range(8) for i in range(25))
    finally:
        store.close()


def test_a_wait_inside_a_write_does_not_stall_readers_or_deadlock_writers(tmp_path: Path) -> None:
    """A write that waits (a long key generation) holds SQLite's writer lock
    but not the gate: a reader runs meanwhile, and a second writer waits for
    the writer lock with the gate let go, then completes."""
    store = SqliteStore(tmp_path / "kms.db")
    gate = ProcessingGate()
    with store.transaction() as txn:
        txn.insert(stored("existing"))
    in_wait = threading.Event()
    reader_done = threading.Event()
    second_started = threading.Event()
    events: list[str] = []
    try:

        def slow_writer() -> None:
            with gate.turn():
                with store.transaction() as txn:
                    with blocking():
                        in_wait.set()
                        assert reader_done.wait(JOIN_TIMEOUT)
                        assert second_started.wait(JOIN_TIMEOUT)
                        time.sleep(0.1)  # the second writer is now waiting for the writer lock
                    txn.insert(stored("slow"))
                    events.append("slow written")

        def reader() -> None:
            assert in_wait.wait(JOIN_TIMEOUT)
            with gate.turn():
                with store.transaction(readonly=True) as txn:
                    assert txn.get("existing") is not None
            events.append("read")
            reader_done.set()

        def second_writer() -> None:
            assert reader_done.wait(JOIN_TIMEOUT)
            with gate.turn():
                second_started.set()
                with store.transaction() as txn:
                    txn.insert(stored("second"))
            events.append("second written")

        run_threads(slow_writer, reader, second_writer)
        assert events == ["read", "slow written", "second written"]
        with store.transaction(readonly=True) as txn:
            assert txn.get("slow") is not None and txn.get("second") is not None
    finally:
        store.close()
