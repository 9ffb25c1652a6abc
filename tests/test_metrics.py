"""Metrics, health and server logs; and the audit log of a real server under concurrent TLS clients.

``/metrics`` is parsed with ``prometheus_client.parser`` (an implementation
independent of ours) and its counters must move with the requests made.
One real ``kmsd serve`` per module (loopback, ephemeral ports) serves
``--metrics-port 0`` with JSON logs.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from kmsd.audit.cli import audit_group
from kmsd.kmip.enums import CryptographicAlgorithm, CryptographicUsageMask, ObjectType, Operation, ResultStatus
from kmsd.metrics.http import Endpoints, MetricsServer
from kmsd.metrics.registry import Registry
from kmsd.server.config import ServerConfig
from kmsd.server.logfmt import JsonFormatter
from kmsd.server.tls import build_client_context
from kmsd.store.factory import open_store

from .kmip_builders import Response, attributes, enum, integer, request, text
from .server_process import RunningServer, start_server

V2 = (2, 1)


# -- the registry on its own ----------------------------------------------------------------------


def samples(text_format: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text_format):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(parsed: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return parsed.get((name, frozenset(labels.items())), 0.0)


def test_registry_renders_what_prometheus_parses() -> None:
    r = Registry()
    c = r.counter("t_requests_total", "Requests.\nSecond line \\ backslash.", ["op"])
    g = r.gauge("t_open", "Open.")
    h = r.histogram("t_seconds", "Latency.", ["op"], buckets=(0.1, 1.0))
    c.inc(op="Get")
    c.inc(2, op='we"ird\\op\n')
    g.inc()
    g.inc()
    g.dec()
    for v in (0.05, 0.1, 0.5, 3.0):
        h.observe(v, op="Get")
    families = {f.name: f for f in text_string_to_metric_families(r.render())}
    assert families["t_requests"].type == "counter"
    assert families["t_seconds"].type == "histogram"
    parsed = samples(r.render())
    assert value(parsed, "t_requests_total", op="Get") == 1
    assert value(parsed, "t_requests_total", op='we"ird\\op\n') == 2
    assert value(parsed, "t_open") == 1
    assert value(parsed, "t_seconds_bucket", op="Get", le="0.1") == 2  # le is inclusive
    assert value(parsed, "t_seconds_bucket", op="Get", le="1.0") == 3
    assert value(parsed, "t_seconds_bucket", op="Get", le="+Inf") == 4
    assert value(parsed, "t_seconds_count", op="Get") == 4
    assert value(parsed, "t_seconds_sum", op="Get") == pytest.approx(3.65)
    with pytest.raises(ValueError):
        c.inc(-1, op="Get")
    with pytest.raises(ValueError):
        c.inc(op="Get", extra="x")
    with pytest.raises(ValueError):
        r.counter("t_open", "again")


def test_registry_is_thread_safe() -> None:
    r = Registry()
    c = r.counter("n_total", "n", ["k"])
    h = r.histogram("d_seconds", "d")

    def work() -> None:
        for _ in range(5000):
            c.inc(k="a")
            h.observe(0.001)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert c.value(k="a") == 40000 and h.count() == 40000


# -- /health and the HTTP side in process -----------------------------------------------------------


async def _get(port: int, path: str, method: str = "GET") -> tuple[int, bytes]:
    def fetch() -> tuple[int, bytes]:
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    return await trio.to_thread.run_sync(fetch)


async def test_health_reflects_the_store(tmp_path: Path) -> None:
    store = open_store("sqlite", str(tmp_path / "kms.db"))
    server = MetricsServer(Endpoints(lambda: "# nothing\n", store))
    async with trio.open_nursery() as nursery:
        _, port = await nursery.start(server.serve, "127.0.0.1", 0)
        status, body = await _get(port, "/health")
        assert status == 200 and json.loads(body) == {"status": "ok", "store": "ok"}
        store.close()
        status, body = await _get(port, "/health")
        assert status == 503
        answer = json.loads(body)
        assert answer["status"] == "unavailable" and answer["store"]
        assert (await _get(port, "/nope"))[0] == 404
        assert (await _get(port, "/metrics", "POST"))[0] == 405
        status, body = await _get(port, "/metrics")
        assert status == 200 and body == b"# nothing\n"
        nursery.cancel_scope.cancel()


async def test_keep_alive_and_garbage(tmp_path: Path) -> None:
    server = MetricsServer(Endpoints(lambda: "x 1\n"))
    async with trio.open_nursery() as nursery:
        _, port = await nursery.start(server.serve, "127.0.0.1", 0)
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        request_bytes = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        await stream.send_all(request_bytes * 2)
        received = b""
        with trio.fail_after(10):
            while received.count(b"x 1\n") < 2:
                received += await stream.receive_some(65536)
        assert received.count(b"HTTP/1.1 200") == 2
        await stream.aclose()
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(b"\x16\x03\x01 not http\r\n\r\n")
        with trio.fail_after(10):
            while await stream.receive_some(65536):
                pass  # answered (400) or closed, and the server lives on
        await stream.aclose()
        assert (await _get(port, "/metrics"))[0] == 200
        nursery.cancel_scope.cancel()


def test_json_log_lines_mask_secrets() -> None:
    import logging

    config = ServerConfig(database_type="postgresql", database_url="postgresql://kms:pa55word@127.0.0.1/kms")
    record = logging.LogRecord("kmsd.serve", logging.INFO, __file__, 1, "configuration", None, None)
    record.config = config.masked()
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "info" and line["logger"] == "kmsd.serve" and line["message"] == "configuration"
    assert line["config"]["database_url"] == "postgresql://kms:****@127.0.0.1/kms"
    assert "pa55word" not in json.dumps(line)


# -- a real server ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data = tmp_path_factory.mktemp("kmsd-metrics") / "data"
    running = start_server(data, "--metrics-port", "0", "--audit-mac-every", "7", "--log-format", "json")
    yield running
    running.stop()


def metrics_port(server: RunningServer) -> int:
    return int((server.data_dir / "metrics.port").read_text())


def scrape(server: RunningServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port(server)}/metrics", timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return samples(resp.read().decode())


class Client:
    """A blocking KMIP client: one TLS connection, requests answered in order."""

    def __init__(self, server: RunningServer, user: str = "admin") -> None:
        cert, key = (server.admin_cert, server.admin_key) if user == "admin" else server.client_cert(user)
        ctx = build_client_context(Path(server.ca), Path(cert), Path(key))
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")

    def call(self, data: bytes) -> Response:
        self.sock.sendall(data)
        header = self._exact(8)
        return Response(header + self._exact(int.from_bytes(header[4:8], "big")))

    def _exact(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("closed")
            out += chunk
        return out

    def close(self) -> None:
        self.sock.close()


def create(client: Client) -> str:
    attrs = attributes(
        V2,
        enum("Cryptographic Algorithm", CryptographicAlgorithm.AES),
        integer("Cryptographic Length", 128),
        integer("Cryptographic Usage Mask", CryptographicUsageMask.ENCRYPT),
    )
    r = client.call(request(V2, (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), attrs])))
    assert r.status() == ResultStatus.SUCCESS, r.message()
    uid = r.get("Unique Identifier")
    assert isinstance(uid, str)
    return uid


def get(client: Client, uid: str) -> Response:
    return client.call(request(V2, (Operation.GET, [text("Unique Identifier", uid)])))


def audit_records(server: RunningServer) -> list[dict[str, object]]:
    path = server.data_dir / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_counters_move_with_requests(server: RunningServer) -> None:
    before = scrape(server)
    client = Client(server)
    try:
        uids = [create(client) for _ in range(3)]
        for uid in uids:
            assert get(client, uid).status() == ResultStatus.SUCCESS
        assert get(client, "missing").status() == ResultStatus.OPERATION_FAILED
        during = scrape(server)
        assert value(during, "kmsd_connections_open", protocol="kmip") >= 1
    finally:
        client.close()
    after = scrape(server)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    base = {"protocol": "kmip", "version": "2.1"}
    assert moved("kmsd_requests_total", operation="Create", result="success", **base) == 3
    assert moved("kmsd_requests_total", operation="Get", result="success", **base) == 3
    assert moved("kmsd_requests_total", operation="Get", result="failure", **base) == 1
    assert moved("kmsd_request_duration_seconds_count", protocol="kmip", operation="Create") == 3
    assert moved("kmsd_request_duration_seconds_bucket", protocol="kmip", operation="Get", le="+Inf") == 4
    assert moved("kmsd_message_duration_seconds_count", protocol="kmip") == 7
    assert moved("kmsd_connections_total", protocol="kmip") == 1
    assert moved("kmsd_audit_records_total") >= 7
    assert value(after, "kmsd_store_errors_total") == 0
    assert value(after, "kmsd_audit_sink_errors_total", sink="file") == 0
    assert value(after, "kmsd_build_info", version="0.1.0") == 1


def test_refused_handshake_is_counted_and_audited(server: RunningServer) -> None:
    before = scrape(server)
    ctx = build_client_context(Path(server.ca))  # no client certificate
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"\x42" * 8)
                tls.recv(1)  # TLS 1.3: the refusal arrives after the client's handshake
        except (ssl.SSLError, OSError):
            pass
    for _ in range(100):
        after = scrape(server)
        if value(after, "kmsd_tls_handshake_failures_total", protocol="kmip") > value(
            before, "kmsd_tls_handshake_failures_total", protocol="kmip"
        ):
            break
        threading.Event().wait(0.05)
    else:
        pytest.fail("handshake failure not counted")
    refused = [r for r in audit_records(server) if r["event"] == "tls.handshake_failure"]
    assert refused and refused[-1]["result"] == "failure" and "CERTIFICATE" in str(refused[-1]["detail"]).upper()


def test_health_of_a_running_server(server: RunningServer) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port(server)}/health", timeout=10) as resp:
        assert resp.status == 200 and json.loads(resp.read()) == {"status": "ok", "store": "ok"}


def test_concurrent_connections_every_item_audited_once(server: RunningServer) -> None:
    """6 TLS connections (6 users) x 20 mixed requests: the audit log holds each item exactly once."""
    users = [f"conc{n}" for n in range(6)]
    sent: Counter[str] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(user: str) -> None:
        try:
            client = Client(server, user)
            try:
                uid = create(client)
                mine = Counter({f"{user}/Create": 1})
                for i in range(19):
                    if i % 4 == 0:
                        create(client)
                        mine[f"{user}/Create"] += 1
                    elif i % 4 == 3:
                        get_attrs = (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid)])
                        client.call(request(V2, get_attrs, (Operation.GET, [text("Unique Identifier", uid)])))
                        mine.update([f"{user}/Get Attributes", f"{user}/Get"])
                    else:
                        get(client, uid)
                        mine[f"{user}/Get"] += 1
            finally:
                client.close()
            with lock:
                sent.update(mine)
        except BaseException as exc:
            errors.append(exc)

    for user in users:
        server.client_cert(user)  # issued up front: the threads only talk
    threads = [threading.Thread(target=worker, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    # Responses were sent after their records were flushed: the file is complete now.
    records = [r for r in audit_records(server) if r.get("user") in users]
    got = Counter(f"{r['user']}/{r['operation']}" for r in records)
    assert got == sent
    assert all(r["auth"] == "mtls" and r["protocol"] == "kmip" for r in records)
    seqs = [r["seq"] for r in audit_records(server)]
    assert seqs == list(range(1, len(seqs) + 1))


def test_json_logs_and_startup_configuration(server: RunningServer) -> None:
    entries = []
    for line in server.log().splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
        else:
            assert line.startswith("kmsd: KMIP listening"), line  # the one stable line for scripts
    configuration = [e for e in entries if e["message"].startswith("configuration")]
    assert len(configuration) == 1 and configuration[0]["config"]["metrics_port"] == 0
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)


def test_zz_clean_shutdown_seals_the_chain(server: RunningServer) -> None:
    """Last in the module: stop the server, and the whole audit log verifies with its key."""
    server.stop()
    records = audit_records(server)
    assert records[-1]["event"] == "audit.mac"
    result = CliRunner().invoke(audit_group, ["verify", "--data-dir", str(server.data_dir), str(server.data_dir)])
    assert result.exit_code == 0, result.output
    assert f"chain holds over {len(records)} record(s)" in result.output
    assert "follow the last MAC" not in result.output


def test_store_pool_usage_is_exported(tmp_path: Path) -> None:
    """kmsd_store_connections follows the store's pool (read at scrape time)."""
    from kmsd.metrics.catalog import ServerMetrics
    from kmsd.store.factory import open_store

    store = open_store("sqlite", str(tmp_path / "pool.db"))
    try:
        metrics = ServerMetrics()
        metrics.refreshers.append(
            lambda: [metrics.store_connections.set(v, state=k) for k, v in store.pool_stats().items()] and None
        )
        with store.transaction(readonly=True):
            busy = metrics.render()
        idle = metrics.render()
    finally:
        store.close()
    assert 'kmsd_store_connections{state="in_use"} 1' in busy
    assert 'kmsd_store_connections{state="in_use"} 0' in idle
    assert 'kmsd_store_connections{state="idle"} 1' in idle
