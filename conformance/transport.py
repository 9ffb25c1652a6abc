"""Carrying request bytes to a server: TLS to a KMIP port, or in process.

Theory of operation: a :class:`Transport` opens one :class:`Connection` per
test-case file (the profiles run each case on its own connection) and the
connection answers ``exchange(request_bytes) -> response_bytes | None``.
:class:`TlsTransport` speaks binary TTLV over TLS with a client certificate,
reading each response with :class:`ttlv.Framer`.  :class:`InProcessTransport`
hands the bytes to :class:`kmsd.ops.executor.Executor` directly (no sockets,
for tests and speed), over a fresh SQLite file per state group or over a
given database of any backend, which it empties at each reset.
:class:`ServerProcess` starts ``kmsd serve`` in a temporary data directory on
an ephemeral port and stops it by its PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

import ttlv

#: Seconds to wait for one response; the slowest core operation is far below.
RESPONSE_TIMEOUT = 30.0
#: Seconds ``kmsd serve`` gets to generate certificates and bind its port.
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


class TransportError(Exception):
    """The server could not be reached, or closed the connection."""


class Connection(Protocol):
    def exchange(self, request: bytes) -> bytes | None: ...

    def close(self) -> None: ...


class Transport(Protocol):
    name: str

    def connect(self) -> Connection: ...

    def reset(self) -> bool:
        """Start from an empty store if this transport can; False if it cannot."""
        ...

    def close(self) -> None: ...


# -- in process ------------------------------------------------------------------
class _ExecutorConnection:
    def __init__(self, transport: InProcessTransport) -> None:
        self.transport = transport

    def exchange(self, request: bytes) -> bytes | None:
        try:
            return self.transport.executor.process(request, self.transport.peer)
        except Exception as exc:  # a server bug: over TLS it would close the connection
            raise TransportError(f"the executor raised {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        pass


class InProcessTransport:
    """The executor over a store: by default a fresh SQLite file in a temporary directory.

    With ``database_url`` it runs on that database instead (``database_type``
    ``sqlite``, ``postgresql`` or ``mysql``, as ``kmsd serve`` takes them):
    a scratch database, since every object in it is deleted at the start and
    at each reset.
    """

    name = "in-process"

    def __init__(
        self,
        identity: str = "admin",
        non_fips: bool = False,
        database_type: str = "sqlite",
        database_url: str | None = None,
    ) -> None:
        from kmsd.crypto.policy import Policy
        from kmsd.ops.executor import Executor, ExecutorSettings
        from kmsd.server.peer import Peer
        from kmsd.store.factory import open_store

        self._dir = tempfile.TemporaryDirectory(prefix="kmsd-conformance-")
        self._open_store = open_store
        self._executor_class = Executor
        self._settings = ExecutorSettings(policy=Policy(non_fips=non_fips))
        self._generation = 0
        self._database = (database_type, database_url) if database_url is not None else None
        self.store = open_store(*self._database) if self._database else open_store("sqlite", self._db_path())
        if self._database:
            self._empty()
        self.executor = Executor(self.store, self._settings)
        self.peer = Peer(identity=identity, address="in-process")

    def _db_path(self) -> str:
        return str(Path(self._dir.name) / f"kms-{self._generation}.db")

    def _empty(self) -> None:
        """Delete every object (and with it its index rows and grants) through the store interface."""
        from kmsd.store import LocateFilter

        with self.store.transaction() as tx:
            for uid in [obj.uid for obj in tx.locate(LocateFilter())]:
                tx.delete(uid)

    def connect(self) -> Connection:
        return _ExecutorConnection(self)

    def reset(self) -> bool:
        if self._database:
            self._empty()
            return True
        self.store.close()
        self._generation += 1
        self.store = self._open_store("sqlite", self._db_path())
        self.executor = self._executor_class(self.store, self._settings)
        return True

    def close(self) -> None:
        self.store.close()
        self._dir.cleanup()


# -- TLS ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TlsSettings:
    host: str
    port: int
    ca: Path
    cert: Path
    key: Path


class _TlsConnection:
    def __init__(self, sock: ssl.SSLSocket) -> None:
        self.sock = sock
        self.framer = ttlv.Framer()

    def exchange(self, request: bytes) -> bytes | None:
        try:
            self.sock.sendall(request)
            while (message := self.framer.next_message()) is None:
                data = self.sock.recv(65536)
                if not data:
                    return None
                self.framer.feed(data)
        except (OSError, ttlv.DecodeError) as exc:
            raise TransportError(f"connection failed: {exc}") from exc
        return message

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class TlsTransport:
    name = "tls"

    def __init__(self, settings: TlsSettings) -> None:
        self.settings = settings
        # Built once: a context costs ~17 ms (DESIGN.md).
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(settings.ca))
        context.load_cert_chain(str(settings.cert), str(settings.key))
        self.context = context

    def connect(self) -> Connection:
        s = self.settings
        try:
            raw = socket.create_connection((s.host, s.port), timeout=RESPONSE_TIMEOUT)
            return _TlsConnection(self.context.wrap_socket(raw, server_hostname=s.host))
        except OSError as exc:
            raise TransportError(f"cannot connect to {s.host}:{s.port}: {exc}") from exc

    def reset(self) -> bool:
        return False  # one server for the whole run: state carries over between files

    def close(self) -> None:
        pass


# -- HTTPS (the KMIP HTTPS profile: POST /kmip) ------------------------------------------
#: Content types of POST /kmip per encoding (kmsd.http.kmip_routes).
HTTPS_ENCODINGS = {"binary": "application/octet-stream", "xml": "text/xml", "json": "application/json"}


class _HttpsConnection:
    def __init__(self, transport: HttpsTransport) -> None:
        import http.client

        s = transport.settings
        self.encoding = transport.encoding
        self.conn = http.client.HTTPSConnection(s.host, s.port, context=transport.context, timeout=RESPONSE_TIMEOUT)

    def exchange(self, request: bytes) -> bytes | None:
        import http.client

        body = request
        if self.encoding == "xml":
            body = ttlv.xml.encode(ttlv.decode(request)).encode("utf-8")
        elif self.encoding == "json":
            body = ttlv.json.encode(ttlv.decode(request)).encode("utf-8")
        try:
            self.conn.request("POST", "/kmip", body=body, headers={"content-type": HTTPS_ENCODINGS[self.encoding]})
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError(f"HTTPS request failed: {exc}") from exc
        if response.status != 200:
            raise TransportError(f"HTTP {response.status}: {data[:200]!r}")
        try:
            if self.encoding == "xml":
                return ttlv.encode(ttlv.xml.decode(data))
            if self.encoding == "json":
                return ttlv.encode(ttlv.json.decode(data))
        except ttlv.TTLVError as exc:
            raise TransportError(f"undecodable {self.encoding} response: {exc}") from exc
        return data

    def close(self) -> None:
        self.conn.close()


class HttpsTransport:
    """Requests over HTTPS (``POST /kmip``), re-encoded to ``encoding`` (binary, xml or json) and back."""

    def __init__(self, settings: TlsSettings, encoding: str = "binary") -> None:
        if encoding not in HTTPS_ENCODINGS:
            raise ValueError(f"encoding must be one of {sorted(HTTPS_ENCODINGS)}")
        self.settings = settings
        self.encoding = encoding
        self.name = f"https-{encoding}"
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(settings.ca))
        context.load_cert_chain(str(settings.cert), str(settings.key))
        self.context = context

    def connect(self) -> Connection:
        return _HttpsConnection(self)

    def reset(self) -> bool:
        return False

    def close(self) -> None:
        pass


def parse_server(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--server wants HOST:PORT, not {text!r}")
    return host.strip("[]"), int(port)


# -- a kmsd serve of our own -------------------------------------------------------------
def _kmsd_command() -> list[str]:
    script = Path(sys.executable).parent / "kmsd"
    if script.exists():
        return [str(script)]
    found = shutil.which("kmsd")
    if found:
        return [found]
    return [sys.executable, "-c", "from kmsd.cli import main; main()"]


class ServerProcess:
    """``kmsd serve`` on 127.0.0.1, an ephemeral port and a temporary data directory."""

    def __init__(self, extra_args: tuple[str, ...] = ()) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="kmsd-conformance-")
        self.data_dir = Path(self._dir.name)
        self.log_path = self.data_dir / "serve.log"
        command = [
            *_kmsd_command(),
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--bind",
            "127.0.0.1",
            "--kmip-port",
            "0",
            "--http-bind",
            "127.0.0.1",
            "--http-port",
            "0",
            "--log-level",
            "warning",
            *extra_args,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("KMS_")}
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        try:
            self.port = self._wait_for_port()
        except BaseException:
            self.stop()
            raise

    def _wait_for_port(self) -> int:
        port_file = self.data_dir / "kmip.port"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise TransportError(f"kmsd serve exited ({self.process.returncode}): {self.log()}")
            text = port_file.read_text().strip() if port_file.exists() else ""
            if text.isdigit():
                return int(text)
            time.sleep(0.05)
        raise TransportError(f"kmsd serve did not write {port_file} within {STARTUP_TIMEOUT}s")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]

    def https_settings(self) -> TlsSettings:
        """The HTTP API's port (DATA_DIR/http.port) with the admin certificate, for :class:`HttpsTransport`."""
        certs = self.data_dir / "certs"
        port = int((self.data_dir / "http.port").read_text().strip())
        return TlsSettings("127.0.0.1", port, certs / "ca.pem", certs / "admin.pem", certs / "admin.key")

    def tls_settings(self) -> TlsSettings:
        certs = self.data_dir / "certs"
        return TlsSettings("127.0.0.1", self.port, certs / "ca.pem", certs / "admin.pem", certs / "admin.key")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        self._dir.cleanup()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()
