"""``kmsd serve --workers 2``: two processes share the sockets, the store and the work."""

from __future__ import annotations

import json
import os
import signal
import ssl
from pathlib import Path

import pytest

import ttlv
from kmsd.kmip.enums import CryptographicAlgorithm, ObjectType, Operation, ResultStatus
from kmsd.server.workers import worker_cpu

from .kmip_builders import Response, attributes, enum, integer, request, text
from .server_process import start_server

CONNECTIONS = 24
MAX_CONNECTIONS = 400


def _client_context(data: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(data / "certs" / "ca.pem"))
    context.load_cert_chain(str(data / "certs" / "admin.pem"), str(data / "certs" / "admin.key"))
    return context


def _exchange(port: int, context: ssl.SSLContext, message: bytes) -> Response:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return _roundtrip(tls, message)


def _roundtrip(tls: ssl.SSLSocket, message: bytes) -> Response:
    tls.sendall(message)
    framer = ttlv.Framer()
    while (answer := framer.next_message()) is None:
        chunk = tls.recv(65536)
        assert chunk, "connection closed before the response"
        framer.feed(chunk)
    return Response(answer)


def test_two_workers_share_the_work(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--workers", "2")
    try:
        context = _client_context(server.data_dir)
        attrs = attributes(
            (2, 1), enum("Cryptographic Algorithm", CryptographicAlgorithm.AES), integer("Cryptographic Length", 256)
        )
        create = request((2, 1), (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), attrs]))
        files = [server.data_dir / "audit.jsonl", server.data_dir / "audit.jsonl.w1"]

        def creates_in(f: Path) -> int:
            if not f.exists():
                return 0
            records = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
            return sum(1 for r in records if r.get("operation") == "Create")

        uids = []
        # A new connection each time: the kernel hands each to one worker.
        # Keep going (bounded) until both have served some.
        while len(uids) < MAX_CONNECTIONS and (len(uids) < CONNECTIONS or not all(creates_in(f) for f in files)):
            r = _exchange(server.port, context, create)
            assert r.status() == ResultStatus.SUCCESS, r.message()
            uids.append(r.get("Unique Identifier"))
        # Every worker sees every object (one shared database).
        for uid in uids[:6]:
            r = _exchange(server.port, context, request((2, 1), (Operation.GET, [text("Unique Identifier", uid)])))
            assert r.status() == ResultStatus.SUCCESS, r.message()
        # Both workers served, each keeping its own audit chain; none lost, none doubled.
        assert all(creates_in(f) for f in files), [creates_in(f) for f in files]
        assert sum(creates_in(f) for f in files) == len(uids)
    finally:
        # One SIGTERM to the parent stops every worker cleanly.
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0, server.log()
    assert not (server.data_dir / "kmip.port").exists()
    assert "not waiting for in-flight requests" not in server.log()


def test_workers_option_is_validated(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="workers"):
        start_server(tmp_path / "data", "--workers", "0")
    assert os.path.exists(tmp_path / "data")


PERSISTENT = 8


def test_persistent_connections_spread_over_workers(tmp_path: Path) -> None:
    """Connections kept open are shared out in turn, not left to whichever worker wakes first."""
    import socket

    server = start_server(tmp_path / "data", "--workers", "2")
    context = _client_context(server.data_dir)
    discover = request((1, 4), (Operation.DISCOVER_VERSIONS, []))
    held: list[ssl.SSLSocket] = []
    try:
        # One after the other, each answered before the next opens (as a client pool starts up).
        for _ in range(PERSISTENT):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            tls = context.wrap_socket(raw, server_hostname="localhost")
            held.append(tls)
            assert _roundtrip(tls, discover).status() == ResultStatus.SUCCESS
        ports = {str(t.getsockname()[1]) for t in held}

        def sources_in(f: Path) -> set[str]:
            records = [json.loads(line) for line in f.read_text().splitlines() if line.strip()] if f.exists() else []
            return {r["source"].rsplit(":", 1)[1] for r in records if r.get("operation") == "Discover Versions"}

        served = [sources_in(server.data_dir / name) & ports for name in ("audit.jsonl", "audit.jsonl.w1")]
        assert served[0] | served[1] == ports and not served[0] & served[1]
        # Even, give or take one connection whose turn outlasted the deferral on a busy machine.
        assert abs(len(served[0]) - len(served[1])) <= 2, [len(s) for s in served]
    finally:
        for tls in held:
            tls.close()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0, server.log()


def test_worker_cpus_are_distinct_or_left_to_the_kernel() -> None:
    assert [worker_cpu(i, 2, {3, 1}) for i in range(2)] == [1, 3]
    assert worker_cpu(0, 1, {0, 1}) == 0
    assert worker_cpu(0, 3, {0, 1}) is None  # more workers than CPUs: not pinned at all


def _worker_pids(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return sorted(int(pid) for pid in children)


@pytest.mark.parametrize("affinity", ["auto", "off"])
def test_workers_run_on_cpus_of_their_own(tmp_path: Path, affinity: str) -> None:
    allowed = os.sched_getaffinity(0)
    server = start_server(tmp_path / "data", "--workers", "2", "--worker-affinity", affinity)
    try:
        cpus = [os.sched_getaffinity(pid) for pid in _worker_pids(server.process.pid)]
        threads = [
            os.sched_getaffinity(int(tid))
            for pid in _worker_pids(server.process.pid)
            for tid in os.listdir(f"/proc/{pid}/task")
        ]
        assert len(cpus) == 2
        if affinity == "auto" and len(allowed) >= 2:
            ordered = sorted(allowed)
            assert cpus == [{ordered[0]}, {ordered[1]}]
            assert all(len(t) == 1 for t in threads)  # every thread of a worker stays on its CPU
            assert "worker 0 on CPU" in server.log()
        else:
            assert cpus == [allowed, allowed]
    finally:
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0, server.log()
