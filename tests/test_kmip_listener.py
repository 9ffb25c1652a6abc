"""The KMIP TLS listener, in-process with test processors and real TLS clients.

The processors here are test doubles (echo, slow, raising); the real one is
``kmsd.kmip.app.build_processor``.  Everything binds 127.0.0.1 on ephemeral
ports, and every wait is bounded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kmsd.gate import ProcessingGate, blocking
from kmsd.server.certs import DevPki, ensure_dev_pki, issue_client_cert
from kmsd.server.config import ServerConfig
from kmsd.server.kmip_listener import KmipListener, ListenerSettings
from kmsd.server.peer import Peer
from kmsd.server.serve import Running, TlsFiles, serve_async
from kmsd.server.tls import build_client_context, build_server_context

HOST = "127.0.0.1"
TEST_TIMEOUT = 20.0  # no test may hang longer than this


# -- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def info_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kmsd")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def server_ctx(pki: DevPki) -> ssl.SSLContext:
    return build_server_context(pki.server_cert, pki.server_key, pki.ca_cert)


@pytest.fixture(scope="module")
def admin_ctx(pki: DevPki) -> ssl.SSLContext:
    return build_client_context(pki.ca_cert, pki.admin_cert, pki.admin_key)


def message(n: int, *, padding: int = 0) -> bytes:
    """A well-framed TTLV structure (tag 0x420078) holding one Integer ``n`` (+ padding items)."""
    body = bytes.fromhex("42006A0200000004") + struct.pack(">iI", n, 0)
    body += (bytes.fromhex("4200940800000008") + b"\0" * 8) * padding
    return bytes.fromhex("42007801") + struct.pack(">I", len(body)) + body


@dataclass
class EchoProcessor:
    """Answers every request with its own bytes; optional delay, failure and refusal hooks."""

    delay: float = 0.0
    delay_is_a_wait: bool = False  # the delay is marked with kmsd.gate.blocking()
    fail_on: bytes | None = None
    none_on: bytes | None = None
    peers: list[Peer] = field(default_factory=list)
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def process(self, request: bytes, peer: Peer) -> bytes | None:
        with self.lock:
            self.calls += 1
            self.peers.append(peer)
        if self.delay:
            with blocking() if self.delay_is_a_wait else nullcontext():
                time.sleep(self.delay)
        if request == self.fail_on:
            raise RuntimeError("processor bug")
        if request == self.none_on:
            return None
        return request


def settings(**overrides: float) -> ListenerSettings:
    values: dict[str, float] = {
        "max_message_size": 1 << 16,
        "idle_timeout": 5.0,
        "handshake_timeout": 5.0,
        "max_connections": 100,
        "shutdown_grace": 5.0,
    }
    values.update(overrides)
    return ListenerSettings(
        max_message_size=int(values["max_message_size"]),
        idle_timeout=values["idle_timeout"],
        handshake_timeout=values["handshake_timeout"],
        max_connections=int(values["max_connections"]),
        shutdown_grace=values["shutdown_grace"],
    )


@asynccontextmanager
async def running(
    processor: EchoProcessor, server_ctx: ssl.SSLContext, gate: ProcessingGate | None = None, **overrides: float
) -> AsyncIterator[tuple[int, KmipListener]]:
    listener = KmipListener(processor, server_ctx, dataclasses.replace(settings(**overrides), gate=gate))
    async with trio.open_nursery() as nursery:
        addresses = await nursery.start(listener.serve, HOST, 0)
        yield addresses[0][1], listener
        listener.shutdown()
        with trio.fail_after(TEST_TIMEOUT):
            await listener.wait_stopped()


async def connect(port: int, ctx: ssl.SSLContext) -> trio.SSLStream[trio.SocketStream]:
    stream = await trio.open_ssl_over_tcp_stream(HOST, port, ssl_context=ctx)
    with trio.fail_after(TEST_TIMEOUT):
        await stream.do_handshake()
    return stream


async def receive_exactly(stream: trio.abc.ReceiveStream, size: int) -> bytes:
    data = bytearray()
    with trio.fail_after(TEST_TIMEOUT):
        while len(data) < size:
            chunk = await stream.receive_some(size - len(data))
            assert chunk, f"connection closed after {len(data)} of {size} bytes"
            data += chunk
    return bytes(data)


async def roundtrip(stream: trio.SSLStream[trio.SocketStream], n: int) -> None:
    request = message(n)
    await stream.send_all(request)
    assert await receive_exactly(stream, len(request)) == request


async def assert_closed_by_server(stream: trio.abc.Stream, within: float = TEST_TIMEOUT) -> None:
    """The server ends the connection: EOF, or a TLS/TCP error on read or write."""
    with trio.fail_after(within):
        try:
            while True:
                if not await stream.receive_some(65536):
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return


async def check_still_serving(port: int, admin_ctx: ssl.SSLContext) -> None:
    stream = await connect(port, admin_ctx)
    try:
        await roundtrip(stream, 4242)
    finally:
        await trio.aclose_forcefully(stream)


# -- the happy paths -----------------------------------------------------------------------


async def test_answers_in_order_on_one_connection(server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext) -> None:
    processor = EchoProcessor()
    async with running(processor, server_ctx) as (port, _):
        stream = await connect(port, admin_ctx)
        requests = [message(i, padding=i % 5) for i in range(50)]
        # Pipelined: every request is sent before any answer is read, in one write.
        await stream.send_all(b"".join(requests))
        for request in requests:
            assert await receive_exactly(stream, len(request)) == request
        # And split at awkward boundaries: the framer reassembles.
        blob = b"".join(requests[:3])
        for i in range(0, len(blob), 7):
            await stream.send_all(blob[i : i + 7])
        assert await receive_exactly(stream, len(blob)) == blob
        await stream.aclose()
    peer = processor.peers[0]
    assert peer.identity == "admin"
    assert peer.transport == "kmip"
    assert peer.address.startswith("127.0.0.1:")
    assert peer.certificate_der is not None
    assert x509.load_der_x509_certificate(peer.certificate_der).subject.rfc4514_string() == "CN=admin"


async def parallel_roundtrips(port: int, admin_ctx: ssl.SSLContext, connections: int) -> float:
    """Seconds for one request on each of ``connections`` connections, sent at once."""
    streams = [await connect(port, admin_ctx) for _ in range(connections)]
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for i, stream in enumerate(streams):
            nursery.start_soon(roundtrip, stream, i)
    elapsed = trio.current_time() - start
    for stream in streams:
        await stream.aclose()
    return elapsed


async def test_connections_are_served_concurrently(server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext) -> None:
    processor = EchoProcessor(delay=0.5)
    connections = 6
    async with running(processor, server_ctx) as (port, _):
        elapsed = await parallel_roundtrips(port, admin_ctx, connections)
    assert processor.calls == connections
    assert elapsed < connections * 0.5 * 0.6, f"{connections} slow requests took {elapsed:.2f}s: serialised?"


@pytest.mark.parametrize("delay_is_a_wait", [False, True], ids=["work", "marked-wait"])
async def test_gate_runs_one_request_at_a_time_except_during_marked_waits(
    delay_is_a_wait: bool, server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext
) -> None:
    """With a processing gate, four connections' requests take turns, unless
    the time is spent in a wait marked with blocking() (then they overlap)."""
    processor = EchoProcessor(delay=0.3, delay_is_a_wait=delay_is_a_wait)
    connections = 4
    async with running(processor, server_ctx, gate=ProcessingGate()) as (port, _):
        elapsed = await parallel_roundtrips(port, admin_ctx, connections)
    serial = connections * 0.3
    if delay_is_a_wait:
        assert elapsed < serial * 0.6, f"marked waits took {elapsed:.2f}s: the gate was not let go"
    else:
        assert elapsed >= serial * 0.95, f"{elapsed:.2f}s for {serial:.1f}s of gated work: not one at a time"


async def test_identity_from_another_client_certificate(
    pki: DevPki, server_ctx: ssl.SSLContext, tmp_path: Path
) -> None:
    bundle = issue_client_cert(pki.certs_dir.parent, "carol", tmp_path)
    processor = EchoProcessor()
    async with running(processor, server_ctx) as (port, _):
        stream = await connect(port, build_client_context(pki.ca_cert, bundle.cert, bundle.key))
        await roundtrip(stream, 1)
        await stream.aclose()
    assert processor.peers[0].identity == "carol"


async def test_tls_1_2_client_with_pykmip_ciphers(
    pki: DevPki, server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext
) -> None:
    """PyKMIP's TLS 1.2 suite offers only CBC-SHA256/384 suites for an RSA certificate."""
    ctx = build_client_context(pki.ca_cert, pki.admin_cert, pki.admin_key)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-SHA256:AES256-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384")
    async with running(EchoProcessor(), server_ctx) as (port, _):
        stream = await connect(port, ctx)
        assert stream.version() == "TLSv1.2"
        assert (stream.cipher() or ("",))[0] in ("ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES256-SHA384")
        await roundtrip(stream, 1)
        await stream.aclose()


# -- refused clients -------------------------------------------------------------------------


async def test_client_without_certificate_is_refused(
    pki: DevPki, server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    processor = EchoProcessor()
    async with running(processor, server_ctx) as (port, _):
        for maximum in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = build_client_context(pki.ca_cert)
            ctx.maximum_version = maximum
            stream = await trio.open_ssl_over_tcp_stream(HOST, port, ssl_context=ctx)
            with trio.fail_after(TEST_TIMEOUT):
                try:
                    await stream.do_handshake()  # TLS 1.3: completes; the refusal comes on read
                    await stream.send_all(message(1))
                except trio.BrokenResourceError:
                    pass
            await assert_closed_by_server(stream)
            await trio.aclose_forcefully(stream)
        await check_still_serving(port, admin_ctx)
    assert processor.calls == 1  # only the good client's request
    assert "closed: TLS error" in caplog.text


async def test_client_with_untrusted_certificate_is_refused(
    pki: DevPki, server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext, tmp_path: Path
) -> None:
    other = ensure_dev_pki(tmp_path)  # a different CA with its own "admin"
    processor = EchoProcessor()
    async with running(processor, server_ctx) as (port, _):
        ctx = build_client_context(pki.ca_cert, other.admin_cert, other.admin_key)
        stream = await trio.open_ssl_over_tcp_stream(HOST, port, ssl_context=ctx)
        with trio.fail_after(TEST_TIMEOUT):
            try:
                await stream.do_handshake()
                await stream.send_all(message(1))
            except trio.BrokenResourceError:
                pass
        await assert_closed_by_server(stream)
        await trio.aclose_forcefully(stream)
        await check_still_serving(port, admin_ctx)
    assert processor.calls == 1


async def test_certificate_with_two_cns_is_refused(
    pki: DevPki, server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "admin"), x509.NameAttribute(NameOID.COMMON_NAME, "x")]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / "two.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "two.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    processor = EchoProcessor()
    async with running(processor, server_ctx) as (port, _):
        stream = await connect(port, build_client_context(pki.ca_cert, tmp_path / "two.pem", tmp_path / "two.key"))
        with trio.fail_after(TEST_TIMEOUT):
            try:
                await stream.send_all(message(1))
            except trio.BrokenResourceError:
                pass
        await assert_closed_by_server(stream)
        await check_still_serving(port, admin_ctx)
    assert processor.calls == 1
    assert "2 CNs" in caplog.text


# -- hostile and broken input ----------------------------------------------------------------

BAD_STREAMS = {
    "garbage": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad tag prefix": bytes.fromhex("43007801") + struct.pack(">I", 16) + b"\0" * 16,
    "not a structure": bytes.fromhex("42007802") + struct.pack(">I", 8) + b"\0" * 8,
    "length not a multiple of 8": bytes.fromhex("42007801") + struct.pack(">I", 12) + b"\0" * 12,
    "oversized header (1 GiB)": bytes.fromhex("42007801") + struct.pack(">I", 1 << 30),
}


@pytest.mark.parametrize("name", sorted(BAD_STREAMS))
async def test_bad_framing_closes_only_that_connection(
    name: str, server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    processor = EchoProcessor()
    async with running(processor, server_ctx) as (port, _):
        bystander = await connect(port, admin_ctx)
        await roundtrip(bystander, 1)
        bad = await connect(port, admin_ctx)
        # A good request first: it is answered before the bad bytes close the connection.
        await bad.send_all(message(2) + BAD_STREAMS[name])
        assert await receive_exactly(bad, len(message(2))) == message(2)
        await assert_closed_by_server(bad, within=5)
        await roundtrip(bystander, 3)
        await check_still_serving(port, admin_ctx)
        await bystander.aclose()
    assert processor.calls == 4
    expected = "oversized message" if "oversized" in name else "undecodable framing"
    assert expected in caplog.text


async def test_truncated_message_then_close(
    server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    processor = EchoProcessor()
    async with running(processor, server_ctx) as (port, _):
        stream = await connect(port, admin_ctx)
        await stream.send_all(message(1)[:13])
        await stream.aclose()
        with trio.fail_after(TEST_TIMEOUT):
            while "mid-message" not in caplog.text:
                await trio.sleep(0.02)
        await check_still_serving(port, admin_ctx)
    assert processor.calls == 1


async def test_processor_exception_is_contained(
    server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    processor = EchoProcessor(fail_on=message(666))
    async with running(processor, server_ctx) as (port, _):
        bystander = await connect(port, admin_ctx)
        victim = await connect(port, admin_ctx)
        await victim.send_all(message(666))
        await assert_closed_by_server(victim, within=5)
        await roundtrip(bystander, 1)
        await check_still_serving(port, admin_ctx)
        await bystander.aclose()
    assert "internal error" in caplog.text
    assert "processor bug" in caplog.text  # the traceback is logged


async def test_processor_none_closes_the_connection(server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext) -> None:
    processor = EchoProcessor(none_on=message(0))
    async with running(processor, server_ctx) as (port, _):
        stream = await connect(port, admin_ctx)
        await roundtrip(stream, 1)
        await stream.send_all(message(0) + message(2))
        await assert_closed_by_server(stream, within=5)
        await check_still_serving(port, admin_ctx)
    assert processor.calls == 3  # message(2) was never processed


# -- timeouts and limits -----------------------------------------------------------------------


async def test_idle_connection_is_closed(
    server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(EchoProcessor(), server_ctx, idle_timeout=0.3) as (port, _):
        stream = await connect(port, admin_ctx)
        await roundtrip(stream, 1)
        start = trio.current_time()
        await assert_closed_by_server(stream, within=5)
        assert 0.2 < trio.current_time() - start < 3
    assert "idle for 0.3s" in caplog.text


async def test_slow_sender_is_closed(
    server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    """A byte every 0.1 s keeps the connection busy but never completes a message."""
    async with running(EchoProcessor(), server_ctx, idle_timeout=0.5) as (port, _):
        stream = await connect(port, admin_ctx)
        request = message(1, padding=20)
        start = trio.current_time()
        with trio.fail_after(5):
            try:
                for byte in request:
                    await stream.send_all(bytes([byte]))
                    await trio.sleep(0.1)
            except trio.BrokenResourceError:
                pass
        assert trio.current_time() - start < 3
        await assert_closed_by_server(stream, within=5)
    assert "message incomplete" in caplog.text


async def test_handshake_timeout(server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext) -> None:
    async with running(EchoProcessor(), server_ctx, handshake_timeout=0.3) as (port, _):
        silent = await trio.open_tcp_stream(HOST, port)
        await assert_closed_by_server(silent, within=5)
        await silent.aclose()
        await check_still_serving(port, admin_ctx)


async def test_connection_limit(server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext) -> None:
    async with running(EchoProcessor(), server_ctx, max_connections=1) as (port, listener):
        first = await connect(port, admin_ctx)
        await roundtrip(first, 1)
        assert listener.active_connections == 1
        second = await trio.open_ssl_over_tcp_stream(HOST, port, ssl_context=admin_ctx)
        await assert_closed_by_server(second, within=5)
        await roundtrip(first, 2)
        await first.aclose()
        with trio.fail_after(5):
            while listener.active_connections:
                await trio.sleep(0.01)
        await check_still_serving(port, admin_ctx)


# -- shutdown ----------------------------------------------------------------------------------------


async def test_graceful_shutdown_finishes_in_flight_requests(
    server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext
) -> None:
    processor = EchoProcessor(delay=0.5)
    listener = KmipListener(processor, server_ctx, settings())
    with trio.fail_after(TEST_TIMEOUT):
        async with trio.open_nursery() as nursery:
            addresses = await nursery.start(listener.serve, HOST, 0)
            port = addresses[0][1]
            idle = await connect(port, admin_ctx)
            busy = await connect(port, admin_ctx)
            await busy.send_all(message(7))
            while processor.calls == 0:
                await trio.sleep(0.01)
            listener.shutdown()
            await assert_closed_by_server(idle, within=0.4)  # idle: closed at once
            assert await receive_exactly(busy, len(message(7))) == message(7)  # in flight: answered
            await assert_closed_by_server(busy, within=2)
            await listener.wait_stopped()
        with pytest.raises(OSError):
            await trio.open_tcp_stream(HOST, port)  # no longer accepting


async def test_shutdown_grace_bounds_the_wait(server_ctx: ssl.SSLContext, admin_ctx: ssl.SSLContext) -> None:
    """A client that stops reading cannot hold shutdown beyond the grace period."""
    processor = EchoProcessor()
    listener = KmipListener(processor, server_ctx, settings(shutdown_grace=0.5, max_message_size=1 << 22))
    with trio.fail_after(TEST_TIMEOUT):
        async with trio.open_nursery() as nursery:
            addresses = await nursery.start(listener.serve, HOST, 0)
            stream = await connect(port := addresses[0][1], admin_ctx)
            big = message(1, padding=(1 << 21) // 16)  # a 2 MiB echo the client never reads
            await stream.send_all(big)
            while processor.calls == 0:
                await trio.sleep(0.01)
            await trio.sleep(0.2)
            start = trio.current_time()
            listener.shutdown()
            await listener.wait_stopped()
            assert trio.current_time() - start < 3
            assert port


# -- serve_async: the command's trio half ---------------------------------------------------------


class FakeStore:
    local_io = False

    def __init__(self) -> None:
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()


async def test_serve_async_writes_port_file_and_closes_store(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    data_dir = tmp_path / "data"
    config = ServerConfig(data_dir=data_dir, bind=HOST, kmip_port=0, shutdown_grace=1)
    pki = ensure_dev_pki(data_dir)
    tls = TlsFiles(pki.server_cert, pki.server_key, pki.ca_cert, pki)
    ctx = build_server_context(tls.cert_chain, tls.key, tls.client_ca)
    store = FakeStore()
    processor = EchoProcessor()
    with trio.fail_after(TEST_TIMEOUT):
        async with trio.open_nursery() as nursery:
            running_: Running = await nursery.start(
                partial(serve_async, handle_signals=False), config, tls, ctx, processor, store
            )
            assert int(config.port_file.read_text()) == running_.port
            stream = await connect(running_.port, build_client_context(pki.ca_cert, pki.admin_cert, pki.admin_key))
            await roundtrip(stream, 5)
            await stream.aclose()
            running_.listener.shutdown()
    assert store.closed.is_set()
    assert not config.port_file.exists()
    assert "openssl s_client -connect 127.0.0.1:" in caplog.text
    assert str(pki.admin_cert) in caplog.text


# -- the real `kmsd serve` process ----------------------------------------------------------------


def kmsd_command() -> list[str]:
    script = Path(sys.executable).with_name("kmsd")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from kmsd.cli import main; main()"]


def ttlv_item(tag: int, item_type: int, value: bytes) -> bytes:
    return (
        tag.to_bytes(3, "big") + bytes([item_type]) + struct.pack(">I", len(value)) + value + b"\0" * (-len(value) % 8)
    )


def discover_versions_request() -> bytes:
    """A KMIP 1.2 Discover Versions request, encoded by hand (no dependency on the codec)."""

    def st(tag: int, *items: bytes) -> bytes:
        return ttlv_item(tag, 0x01, b"".join(items))

    def integer(tag: int, value: int) -> bytes:
        return ttlv_item(tag, 0x02, struct.pack(">i", value))

    version = st(0x420069, integer(0x42006A, 1), integer(0x42006B, 2))
    header = st(0x420077, version, integer(0x42000D, 1))
    batch = st(0x42000F, ttlv_item(0x42005C, 0x05, struct.pack(">I", 0x1E)), st(0x420079))
    return st(0x420078, header, batch)


def sync_exchange(sock: ssl.SSLSocket, request: bytes) -> bytes:
    sock.sendall(request)
    header = b""
    while len(header) < 8:
        chunk = sock.recv(8 - len(header))
        assert chunk, "server closed the connection"
        header += chunk
    body = b""
    length = struct.unpack(">I", header[4:])[0]
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        assert chunk, "server closed the connection"
        body += chunk
    return header + body


def sync_closed_by_server(sock: ssl.SSLSocket) -> bool:
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ssl.SSLError, ConnectionError):
        return True
    except TimeoutError:
        return False


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    port: int
    certs: Path

    def connect(self, *, cert: bool = True) -> ssl.SSLSocket:
        ctx = build_client_context(
            self.certs / "ca.pem",
            self.certs / "admin.pem" if cert else None,
            self.certs / "admin.key" if cert else None,
        )
        raw = socket.create_connection((HOST, self.port), timeout=10)
        return ctx.wrap_socket(raw, server_hostname=HOST)


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[ServerProcess]:
    pytest.importorskip("kmsd.kmip.app", reason="the KMIP message processor is not built yet")
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        [
            *kmsd_command(),
            *("serve", "--data-dir", str(data_dir), "--bind", HOST, "--kmip-port", "0"),
            *("--http-bind", HOST, "--http-port", "0"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("KMS_")},
    )
    port_file = data_dir / "kmip.port"
    deadline = time.monotonic() + 60  # first start generates three RSA keys
    try:
        while not port_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                out, err = process.communicate(timeout=10) if process.poll() is not None else ("", "")
                pytest.fail(f"kmsd serve did not start (exit {process.returncode}):\n{out}\n{err}")
            time.sleep(0.05)
        yield ServerProcess(process, int(port_file.read_text()), data_dir / "certs")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_real_server_serves_and_survives_bad_clients(server_process: ServerProcess) -> None:
    request = discover_versions_request()
    with server_process.connect() as good:
        response = sync_exchange(good, request)
        assert response[:4] == bytes.fromhex("42007B01")  # a Response Message structure

        bad_inputs = [
            b"\x16\x03\x01garbage that is not TTLV at all",
            bytes.fromhex("43007801") + struct.pack(">I", 8) + b"\0" * 8,  # bad tag prefix
            bytes.fromhex("42007801") + struct.pack(">I", 1 << 30),  # announces 1 GiB
        ]
        for bad_bytes in bad_inputs:
            with server_process.connect() as bad:
                bad.sendall(bad_bytes)
                assert sync_closed_by_server(bad)
            assert sync_exchange(good, request)[:4] == bytes.fromhex("42007B01")

        with server_process.connect() as truncated:
            truncated.sendall(request[: len(request) // 2])
        try:
            with server_process.connect(cert=False) as anonymous:
                anonymous.sendall(request)
                refused = sync_closed_by_server(anonymous)
        except (ssl.SSLError, ConnectionError):
            refused = True
        assert refused
        assert sync_exchange(good, request)[:4] == bytes.fromhex("42007B01")


def test_real_server_stops_on_sigterm(server_process: ServerProcess) -> None:
    process = server_process.process
    with server_process.connect() as client:
        assert sync_exchange(client, discover_versions_request())[:4] == bytes.fromhex("42007B01")
        process.send_signal(signal.SIGTERM)
        assert sync_closed_by_server(client)  # idle connections are closed at once
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"KMIP listening on {HOST}:{server_process.port}" in out
    assert "SIGTERM: shutting down" in err and "stopped" in err
    assert not (server_process.certs.parent / "kmip.port").exists()
    assert (server_process.certs.parent / "kms.db").exists()


def test_serve_fails_clearly_without_a_processor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from kmsd.cli import main
    from kmsd.server import serve

    monkeypatch.setattr(serve, "PROCESSOR_MODULE", "kmsd.kmip.no_such_module")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path / "d"), "--kmip-port", "0"])
    assert result.exit_code == 1
    assert "no KMIP message processor" in result.output
    assert not (tmp_path / "d" / "kms.db").exists()  # nothing opened before the check


def test_configured_tls_files_mean_nothing_is_generated(pki: DevPki, tmp_path: Path) -> None:
    from kmsd.server.serve import prepare_tls

    config = ServerConfig(
        data_dir=tmp_path / "data", tls_cert=pki.server_cert, tls_key=pki.server_key, client_ca=pki.ca_cert
    )
    tls = prepare_tls(config)
    assert (tls.cert_chain, tls.key, tls.client_ca, tls.dev_pki) == (pki.server_cert, pki.server_key, pki.ca_cert, None)
    assert not config.certs_dir.exists()
    generated = prepare_tls(ServerConfig(data_dir=tmp_path / "dev"))
    assert generated.dev_pki is not None and generated.cert_chain == tmp_path / "dev" / "certs" / "server.pem"
