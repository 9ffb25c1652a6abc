"""One request at a time in Python, per process, except while it waits.

Why: a request's Python work holds the GIL, and CPython hands the GIL over
every time a thread enters C code that releases it (each SQLite statement,
each TLS read or write).  With eight connection threads processing at once,
every such release became a wake-up of another thread and a wait to get the
GIL back: measured on the 2-core development machine, a Get cost 0.30 ms of
CPU with one connection and 0.65 ms with eight, all of the difference in
hand-overs (futex wake-ups and context switches), none in useful work.  With
the gate, the eight threads take turns per request instead of per C call:
Get went from 1,827 to 2,530 requests per second on one process with the
same code.

How: :class:`ProcessingGate` is a lock that a connection thread holds while
the processor runs its request (:meth:`ProcessingGate.turn`).  Code that
*waits* — for SQLite's write lock, for another process's writer, for a
group commit's fsync, for a long key generation in C — marks the wait with
:func:`blocking`, which lets the gate go for its duration, so one slow
request never stalls the others and concurrent writers still share one
commit.  :func:`blocking` in a thread that holds no gate (the HTTP
listener's threads, start-up, tests) does nothing.

The one rule that keeps this deadlock-free: never enter :func:`blocking`
while holding a lock that gated code may wait for outside :func:`blocking`.
A thread coming back from :func:`blocking` waits for the gate while still
holding whatever it held; a gated thread waiting for one of those locks
without releasing the gate would wait forever.  The SQLite store therefore
waits for its writer lock only inside :func:`blocking`; the audit logger and
the JWKS cache never wait inside it (their locks are held only while they
work).

A store whose every call is a network round trip (PostgreSQL, MySQL) gets no
gate: its waits are not marked, and serialising them would serialise the
database's latency (see ``Store.local_io``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()


class ProcessingGate:
    """A first-come, first-served lock in which threads coming back from a
    wait go before threads starting a new request.

    First come, first served: CPython's plain lock lets a thread that just
    released it take it again, and under load a request could wait for many
    others (tail latency).  Returning threads first: a thread coming back
    from :func:`blocking` is in the middle of a request and often holds what
    others wait for (SQLite's writer lock, the write turn between worker
    processes); letting it finish first shortens how long those are held.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the fields below
        self._busy = False
        # Waiters' own locks, held until _leave hands the gate over by releasing one.
        self._starting: deque[threading.Lock] = deque()  # threads beginning a request
        self._returning: deque[threading.Lock] = deque()  # threads coming back from blocking()

    def _enter(self, *, returning: bool) -> None:
        with self._lock:
            if not self._busy:
                self._busy = True
                return
            waiter = threading.Lock()
            waiter.acquire()
            (self._returning if returning else self._starting).append(waiter)
        waiter.acquire()  # released by _leave: the gate is ours (it never became free)

    def _leave(self) -> None:
        with self._lock:
            queue = self._returning or self._starting
            if queue:
                queue.popleft().release()
            else:
                self._busy = False

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the gate (waiting for it) for the body; not re-entrant."""
        if getattr(_local, "gate", None) is not None:
            raise RuntimeError("this thread already holds a processing gate")
        self._enter(returning=False)
        _local.gate = self
        try:
            yield
        finally:
            _local.gate = None
            self._leave()

    @property
    def held(self) -> bool:
        """Whether some thread holds the gate now (for tests and metrics)."""
        return self._busy


@contextmanager
def blocking() -> Iterator[None]:
    """Let the current thread's gate go while the body waits; take it back after."""
    gate: ProcessingGate | None = getattr(_local, "gate", None)
    if gate is None:
        yield
        return
    _local.gate = None
    gate._leave()
    try:
        yield
    finally:
        gate._enter(returning=True)
        _local.gate = gate


def holds_gate() -> bool:
    """Whether the calling thread holds a processing gate."""
    return getattr(_local, "gate", None) is not None
