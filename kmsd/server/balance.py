"""Spreading connections evenly over worker processes (``--workers N``).

Why: the workers share one listening socket and the kernel wakes whichever
of them waits in accept.  KMIP clients keep their connections open, so a
connection stays with the worker that took it, and the first connections
of a burst routinely all landed on one worker: measured with eight
persistent connections on two workers, about one run in two served all
eight from one process (one core busy, the other idle, half the
throughput).

How: the parent maps one shared counter per worker before it forks; each
worker publishes its number of open KMIP connections there.  When the
listening socket becomes readable, a worker that holds more connections
than the least loaded one waits :data:`DEFER_S` before accepting, so a
less loaded worker takes the connection.  The wait is bounded, not a
refusal: if no other worker accepts in that time (busy, or at its
connection limit), the loaded worker takes the connection itself.
"""

from __future__ import annotations

import mmap
import struct

#: How long a worker ahead of the others leaves a pending connection to them.
DEFER_S = 0.02

_SLOT = struct.Struct("=q")


class ConnectionBalance:
    """One connection counter per worker, in memory shared across fork."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("a balance needs at least one worker")
        self.workers = workers
        # Anonymous and MAP_SHARED: the children forked after this see one page.
        self._memory = mmap.mmap(-1, _SLOT.size * workers)

    def worker(self, index: int) -> WorkerShare:
        if not 0 <= index < self.workers:
            raise ValueError(f"worker {index} of {self.workers}")
        return WorkerShare(self, index)

    def counts(self) -> list[int]:
        return [_SLOT.unpack_from(self._memory, i * _SLOT.size)[0] for i in range(self.workers)]

    def _set(self, index: int, count: int) -> None:
        # One writer per slot; aligned 8-byte stores are not torn on the platforms we run on.
        _SLOT.pack_into(self._memory, index * _SLOT.size, count)


class WorkerShare:
    """A worker's view: publish its own count, compare it with the others'."""

    def __init__(self, balance: ConnectionBalance, index: int) -> None:
        self._balance = balance
        self.index = index

    def publish(self, open_connections: int) -> None:
        self._balance._set(self.index, open_connections)

    def ahead(self) -> bool:
        """Whether this worker holds more connections than the least loaded one."""
        counts = self._balance.counts()
        return counts[self.index] > min(counts)
