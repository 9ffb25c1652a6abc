"""Several worker processes sharing the listening sockets (``--workers N``).

Theory of operation: a Python process serves from one core (the GIL), and a
KMS on a multi-core machine should use them all.  With ``--workers N`` the
parent binds the KMIP (and HTTP) sockets, then forks N children *before*
any thread, event loop or database connection exists; each child runs the
ordinary single-process server on the inherited sockets, with its own store
connections and its own audit chain (``audit.jsonl`` for worker 0,
``audit.jsonl.w1`` … for the others, each verifiable on its own).  The
kernel hands each new connection to one of the processes waiting in accept;
a connection stays with its process, so in-memory state such as crypto
streams stays consistent per connection.  Only worker 0 serves the metrics
port.  The parent forwards SIGINT/SIGTERM and waits; when one worker dies,
the others are stopped too, so a supervisor sees the failure.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from kmsd.server.balance import ConnectionBalance

log = logging.getLogger("kmsd.workers")

#: Pending connections the kernel queues per listening socket.
BACKLOG = 1024
#: How long stopping workers may take before they are killed.
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class SharedSockets:
    kmip: socket.socket
    http: socket.socket | None
    # The workers' KMIP connection counts, so that they take connections in turn.
    balance: ConnectionBalance | None = None


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (SO_REUSEADDR), for the workers to inherit."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def worker_cpu(index: int, workers: int, allowed: Collection[int]) -> int | None:
    """The CPU worker ``index`` runs on, or None to leave it to the kernel.

    Why pin: on the 2-core development machine, two workers each kept on a
    core of its own served Create+Get+Destroy 15-20 % faster than two that the
    scheduler moved about (caches stay warm; threads of one worker stop
    chasing each other across cores).  With fewer CPUs than workers some
    would share one, which is worse than letting the kernel balance them.
    """
    cpus = sorted(allowed)
    if workers > len(cpus):
        return None
    return cpus[index]


def pin(index: int, workers: int) -> int | None:
    """Pin the calling (single-threaded, just forked) worker to its CPU; the CPU or None."""
    cpu = worker_cpu(index, workers, os.sched_getaffinity(0))
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})  # threads started later inherit it
    return cpu


def run(count: int, child: Callable[[int], None]) -> int:
    """Fork ``count`` workers running ``child(index)``; return the exit status."""
    pids: dict[int, int] = {}
    for index in range(count):
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                child(index)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                log.exception("worker %d failed", index)
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        pids[pid] = index
    log.info("started %d workers: %s", count, ", ".join(str(p) for p in pids))
    return _supervise(pids)


def _supervise(pids: dict[int, int]) -> int:
    stopping = False
    forwarded: set[int] = set()

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        forwarded.add(signum)
        for pid in list(pids):
            _signal(pid, signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    status = 0
    try:
        while pids:
            try:
                pid, raw = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            index = pids.pop(pid, None)
            code = os.waitstatus_to_exitcode(raw)
            if -code in forwarded:
                code = 0  # stopped by the signal we passed on before it could handle it (still starting)
            if code != 0 and status == 0:
                status = code if code > 0 else 1
            if index is not None and not stopping:
                log.error("worker %d (pid %d) exited with %d: stopping the others", index, pid, code)
                stopping = True
                for other in list(pids):
                    _signal(other, signal.SIGTERM)
                _reap_within(pids, STOP_TIMEOUT_S)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return status


def _reap_within(pids: dict[int, int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        for pid in list(pids):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                pids.pop(pid, None)
        time.sleep(0.05)
    for pid in list(pids):
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
