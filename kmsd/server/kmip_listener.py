"""The KMIP listener: binary TTLV requests over mutual TLS.

Theory of operation: trio owns the listener's life — binding, accepting,
the deadline sweeper and the graceful shutdown — and each accepted
connection is served by its own thread on a blocking TLS socket.  Why not a
trio task per connection, as the HTTP listener does: a KMIP request is
small and its processing is blocking work (the store, the crypto), so a
trio connection paid for TLS in Python (trio's ``SSLStream`` over a memory
BIO), a hop to a worker thread and back, and a cancel scope per read.  With
the ``ssl`` module's own socket, a thread reads, decrypts, processes and
answers with the GIL released around every TLS and socket call: measured on
the 2-core machine, one connection's Get went from 0.47 to 0.30 ms of CPU.
Under load the threads take turns through a :class:`kmsd.gate.ProcessingGate`
(when the store allows it), which is where most of the multi-connection gain
comes from (see that module).

What keeps one connection from hurting another:

* Every connection thread catches every ``Exception`` it meets, logs one
  line and closes its socket in a ``finally``; nothing it raises reaches the
  event loop.
* The TLS handshake must finish within ``handshake_timeout``; a client
  without a certificate, with an untrusted one, or with one that does not
  name exactly one CN is refused there.
* Bytes go into a :class:`ttlv.framer.Framer`, which refuses an oversized
  message from its 8-byte header alone, before any body is buffered.  A
  framing error closes the connection (the stream cannot be resynchronised).
* A connection may be silent for ``idle_timeout`` between messages, and a
  message, once started, must be complete within ``idle_timeout`` of its
  first byte (a slow sender cannot hold a buffer forever).  A response that
  the client does not read within ``idle_timeout`` closes it too.
* Deadlines are enforced by one trio task, the sweeper, every
  :data:`SWEEP_INTERVAL` seconds: a thread declares what it waits for and
  until when; past that, the sweeper shuts the socket down under it, so its
  blocking call returns and it closes with the reason.  (A socket timeout
  alone would restart with every byte of a client that drips its handshake.)
* Each whole message is processed before the next one of that connection is
  looked at, so requests on one connection are answered in order, while
  connections proceed concurrently.  ``None`` from the processor closes the
  connection.
* At most ``max_connections`` connections are served; more are closed at once.

Shutdown (:meth:`KmipListener.shutdown`): stop accepting and close the
listening sockets; connections waiting for a handshake or a request are
closed at once; a connection whose request is being processed gets its
answer sent, then closes.  After ``shutdown_grace`` seconds every socket left
is shut down, but a request already inside the processor always runs to its
end (a store transaction cannot be interrupted), and :meth:`serve` returns
only when every connection thread has ended, so the caller can close the
store safely.
"""

from __future__ import annotations

import errno
import itertools
import logging
import math
import socket
import ssl
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import trio

from kmsd.gate import ProcessingGate
from kmsd.kmip.processor import MessageProcessor
from kmsd.server.balance import DEFER_S, WorkerShare
from kmsd.server.observe import ConnectionObserver, NullConnectionObserver
from kmsd.server.peer import Peer
from kmsd.server.tls import IdentityError, identity_from_certificate
from ttlv.errors import DecodeError, LimitExceeded
from ttlv.framer import Framer

log = logging.getLogger("kmsd.kmip")

#: Bytes asked of the TLS socket per read: one TLS record is at most 16 KiB,
#: and most KMIP requests are far smaller; 64 KiB takes a few records at once.
RECEIVE_SIZE = 65536
#: listen() backlog; trio's default is the OS maximum, which is what a server wants.
BACKLOG: int | None = None
#: How often the sweeper looks for connections past their deadline (seconds).
SWEEP_INTERVAL = 0.05
#: accept() errors that mean "out of resources, try again shortly" (as trio.serve_listeners).
_ACCEPT_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
_ACCEPT_RETRY_S = 0.1
#: accept() errors that concern one pending connection only (the ones trio's listener skips).
_ACCEPT_SKIPPED_ERRORS = frozenset(
    getattr(errno, name)
    for name in (
        "EPERM",
        "ECONNABORTED",
        "EPROTO",
        "ENETDOWN",
        "ENOPROTOOPT",
        "EHOSTDOWN",
        "ENONET",
        "EHOSTUNREACH",
        "EOPNOTSUPP",
        "ENETUNREACH",
    )
    if hasattr(errno, name)
)


@dataclass(frozen=True, slots=True)
class ListenerSettings:
    max_message_size: int
    idle_timeout: float
    handshake_timeout: float
    max_connections: int
    shutdown_grace: float
    # Reads the caller's name from a verified DER client certificate (kmsd.auth.identity).
    identify: Callable[[bytes], str] = identity_from_certificate
    # Taken around each request's processing (kmsd.gate); None: threads process at once.
    gate: ProcessingGate | None = None
    # This worker's place among --workers processes sharing the socket (kmsd.server.balance).
    balance: WorkerShare | None = None


class _Refused(Exception):
    """This connection ends here, for a reason worth one log line (at ``level``)."""

    def __init__(self, reason: str, level: int = logging.INFO) -> None:
        super().__init__(reason)
        self.level = level


#: Ordinary ends of a connection, logged at DEBUG so a busy server's log stays readable.
_ORDINARY_EOF = ("UNEXPECTED_EOF_WHILE_READING", "EOF occurred in violation of protocol")


class _Connection:
    """One connection's socket and what its thread is waiting for (guarded by the listener's lock)."""

    __slots__ = ("deadline", "expired", "number", "sock", "waiting_for")

    def __init__(self, number: int, sock: socket.socket) -> None:
        self.number = number
        self.sock = sock  # the TCP socket, then the TLS socket wrapping it
        self.waiting_for: str | None = None  # why the connection would close if the wait ran out
        self.deadline = math.inf
        self.expired: str | None = None  # set (with the reason) when the wait was cut short

    def cut(self, reason: str) -> None:
        """End the thread's blocking call: shut the socket down under it (the first reason stays)."""
        if self.expired is not None:
            return
        self.expired = reason
        try:
            # socket.socket's own shutdown: SSLSocket.shutdown would also drop
            # the TLS object that the connection's thread is using.
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
        except OSError:
            pass  # already closed or reset


class KmipListener:
    def __init__(
        self,
        processor: MessageProcessor,
        ssl_context: ssl.SSLContext,
        settings: ListenerSettings,
        observer: ConnectionObserver | None = None,
    ) -> None:
        self._processor = processor
        self._observer: ConnectionObserver = observer or NullConnectionObserver()
        self._ssl_context = ssl_context
        self._settings = settings
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._connections: dict[int, _Connection] = {}
        self._draining = False
        self._shutdown_requested = trio.Event()
        self._stopped = trio.Event()

    @property
    def active_connections(self) -> int:
        return len(self._connections)

    def shutdown(self) -> None:
        """Begin a graceful shutdown (idempotent; callable from any trio task)."""
        self._shutdown_requested.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def serve(
        self,
        host: str,
        port: int,
        *,
        sock: socket.socket | None = None,
        task_status: trio.TaskStatus[list[tuple[str, int]]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` (or on ``sock``, a listening socket shared by
        worker processes) until :meth:`shutdown`; reports the bound addresses."""
        if sock is not None:
            sockets = [trio.socket.from_stdlib_socket(sock)]
        else:
            listeners = await trio.open_tcp_listeners(port, host=host, backlog=BACKLOG)
            sockets = [lst.socket for lst in listeners]
        try:
            addresses = [_sockname(s) for s in sockets]
            async with trio.open_nursery() as nursery:
                for listening in sockets:
                    if sock is not None and self._settings.balance is not None:
                        nursery.start_soon(self._accept_balanced, sock, self._settings.balance)
                    else:
                        nursery.start_soon(self._accept, listening)
                nursery.start_soon(self._sweep)
                task_status.started(addresses)
                await self._shutdown_requested.wait()
                nursery.cancel_scope.cancel()
            for listening in sockets:
                listening.close()
            await self._drain()
        finally:
            for listening in sockets:
                listening.close()
            with self._lock:  # cancelled: no grace; threads end on their own
                self._draining = True
            self._cut_overdue(everyone=True)
            self._stopped.set()

    async def _accept(self, listening: trio.socket.SocketType) -> None:
        # trio's listener already skips the errors that concern one connection
        # only (a client that reset before accept: ECONNABORTED, EPROTO, ...).
        listener = trio.SocketListener(listening)
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                await _pause_after_accept_error(exc)
                continue
            accepted = stream.socket
            try:
                address = _format_address(accepted.getpeername())
            except OSError:  # reset already
                accepted.close()
                continue
            raw = socket.socket(accepted.family, accepted.type, accepted.proto, fileno=accepted.detach())
            self._start(raw, address)

    async def _accept_balanced(self, listening: socket.socket, share: WorkerShare) -> None:
        """Accept from a socket shared with other workers, leaving a pending
        connection to a less loaded worker first (:mod:`kmsd.server.balance`)."""
        while True:
            await trio.lowlevel.wait_readable(listening)
            if share.ahead():
                await trio.sleep(DEFER_S)
            try:
                raw, peer = listening.accept()
            except BlockingIOError:  # another worker took it
                continue
            except OSError as exc:
                if exc.errno not in _ACCEPT_SKIPPED_ERRORS:
                    await _pause_after_accept_error(exc)
                continue
            self._start(raw, _format_address(peer))

    def _start(self, raw: socket.socket, address: str) -> None:
        conn = _Connection(next(self._ids), raw)
        with self._lock:
            admitted = len(self._connections) < self._settings.max_connections
            if admitted:
                self._connections[conn.number] = conn
                self._publish()
        if not admitted:
            log.warning(
                "conn %d from %s refused: %d connections already open",
                conn.number,
                address,
                self._settings.max_connections,
            )
            raw.close()
            return
        thread = threading.Thread(
            target=self._serve_connection, args=(conn, address), name=f"kmsd-kmip-{conn.number}", daemon=True
        )
        try:
            thread.start()
        except RuntimeError as exc:  # can't start new thread: out of memory or a ulimit
            log.error("conn %d from %s closed: %s", conn.number, address, exc)
            self._forget(conn)
            raw.close()

    async def _sweep(self) -> None:
        while True:
            await trio.sleep(SWEEP_INTERVAL)
            self._cut_overdue()

    def _cut_overdue(self, *, everyone: bool = False) -> None:
        """Cut every connection past the deadline of what it waits for (``everyone``: all of them)."""
        now = time.monotonic()
        with self._lock:
            for conn in self._connections.values():
                if everyone:
                    conn.cut("server shutting down")
                elif conn.waiting_for is not None and conn.deadline <= now:
                    conn.cut(conn.waiting_for)

    async def _drain(self) -> None:
        settings = self._settings
        with self._lock:
            self._draining = True
            log.info(
                "shutting down: %d connection(s) open, grace %.1fs", len(self._connections), settings.shutdown_grace
            )
            for conn in self._connections.values():
                if conn.waiting_for is not None and conn.waiting_for != _SENDING:
                    conn.cut("server shutting down")
        give_up = trio.current_time() + settings.shutdown_grace
        forced = False
        while self._connections:
            self._cut_overdue(everyone=forced)
            if not forced and trio.current_time() >= give_up:
                forced = True  # a request inside the processor still runs to its end
                continue
            await trio.sleep(SWEEP_INTERVAL)

    # -- one connection, in its own thread --------------------------------------------------------

    def _serve_connection(self, conn: _Connection, address: str) -> None:
        where = f"conn {conn.number} from {address}"
        tls: ssl.SSLSocket | None = None
        try:
            self._observer.connection_opened(address)
            try:
                tls = self._handshake(conn, address)
                self._converse(conn, tls, address, where)
            finally:
                self._observer.connection_closed(address)
        except _Refused as exc:
            log.log(exc.level, "%s closed: %s", where, exc)
        except LimitExceeded as exc:
            log.warning("%s closed: oversized message: %s", where, exc)
        except DecodeError as exc:
            log.warning("%s closed: undecodable framing: %s", where, exc)
        except OSError as exc:
            reason = _describe_os_error(exc)
            log.log(logging.DEBUG if reason.endswith(_ORDINARY_EOF) else logging.INFO, "%s closed: %s", where, reason)
        except Exception:
            log.exception("%s closed: internal error while serving it", where)
        finally:
            self._forget(conn)
            _close(tls, conn.sock)

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            self._connections.pop(conn.number, None)
            conn.waiting_for = None
            self._publish()

    def _publish(self) -> None:
        """Tell the other workers how many connections this one holds (caller holds ``_lock``)."""
        if self._settings.balance is not None:
            self._settings.balance.publish(len(self._connections))

    def _handshake(self, conn: _Connection, address: str) -> ssl.SSLSocket:
        settings = self._settings
        raw = conn.sock
        raw.setblocking(True)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._begin_wait(conn, _HANDSHAKE, settings.handshake_timeout)
        failure: str | None = None
        try:
            tls = self._ssl_context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
            with self._lock:
                conn.sock = tls  # the sweeper now shuts this one down (same descriptor)
            tls.do_handshake()
        except OSError as exc:
            failure = _describe_os_error(exc)
        finally:
            expired = self._end_wait(conn)
        if expired is not None:
            if expired == _HANDSHAKE:
                self._observer.handshake_failed(address, expired)
            raise _Refused(expired)
        if failure is not None:
            self._observer.handshake_failed(address, failure)
            raise _Refused(failure, logging.DEBUG if failure.endswith(_ORDINARY_EOF) else logging.INFO)
        der = tls.getpeercert(binary_form=True)
        if not der and self._ssl_context.verify_mode == ssl.CERT_REQUIRED:
            raise _Refused("no client certificate")  # unreachable, but identity must never be guessed
        return tls

    def _converse(self, conn: _Connection, tls: ssl.SSLSocket, address: str, where: str) -> None:
        settings = self._settings
        der = tls.getpeercert(binary_form=True)
        identity: str | None = None
        if der:
            try:
                identity = settings.identify(der)
            except IdentityError as exc:
                self._observer.authentication_failed(address, str(exc))
                raise _Refused(str(exc)) from None
        # identity None: no certificate (CERT_OPTIONAL); the message layer authenticates by credentials.
        peer = Peer(identity=identity, address=address, transport="kmip", certificate_der=der or None)
        log.debug("%s: %s, %s as %r", where, tls.version(), (tls.cipher() or ("?",))[0], identity)

        process = self._processor.process
        gate: AbstractContextManager[None] = nullcontext()
        framer = Framer(settings.max_message_size)
        message_deadline = math.inf  # when the partly received message must be complete
        while True:
            while (message := framer.next_message()) is not None:
                if settings.gate is not None:
                    gate = settings.gate.turn()
                with gate:
                    response = process(message, peer)
                if response is None:
                    raise _Refused("processor could not decode a request")
                self._begin_wait(conn, _SENDING, settings.idle_timeout, answering=True)
                try:
                    tls.sendall(response)
                finally:
                    self._end_wait_or_refuse(conn)
                if self._draining:
                    raise _Refused("server shutting down")
            now = time.monotonic()
            if framer.buffered == 0:
                message_deadline = math.inf
            elif message_deadline == math.inf:
                message_deadline = now + settings.idle_timeout
            if framer.buffered:
                reason = f"message incomplete after {settings.idle_timeout:g}s ({framer.buffered} bytes)"
                self._begin_wait(conn, reason, min(settings.idle_timeout, message_deadline - now))
            else:
                self._begin_wait(conn, f"idle for {settings.idle_timeout:g}s", settings.idle_timeout)
            try:
                data = tls.recv(RECEIVE_SIZE)
            finally:
                self._end_wait_or_refuse(conn)
            if not data:
                if framer.buffered:
                    raise _Refused(f"client closed mid-message ({framer.buffered} bytes unanswered)")
                raise _Refused("client closed", logging.DEBUG)
            framer.feed(data)

    def _begin_wait(self, conn: _Connection, reason: str, seconds: float, *, answering: bool = False) -> None:
        """From now until :meth:`_end_wait`, the sweeper may cut ``conn`` after ``seconds``."""
        with self._lock:
            if self._draining and not answering:
                raise _Refused("server shutting down")
            if conn.expired is not None:
                raise _Refused(conn.expired)
            conn.waiting_for = reason
            conn.deadline = time.monotonic() + seconds

    def _end_wait(self, conn: _Connection) -> str | None:
        """Leave the wait; the reason it was cut short, if it was."""
        with self._lock:
            conn.waiting_for = None
            return conn.expired

    def _end_wait_or_refuse(self, conn: _Connection) -> None:
        expired = self._end_wait(conn)
        if expired is not None:
            raise _Refused(expired)


_HANDSHAKE = "TLS handshake timed out"
_SENDING = "client did not read its response"


def _close(tls: ssl.SSLSocket | None, raw: socket.socket) -> None:
    """Send close_notify if the socket takes it at once, and close it in any case."""
    if tls is not None:
        try:
            tls.setblocking(False)
            tls.unwrap()  # sends close_notify; does not wait for the client's
        except (OSError, ValueError):
            pass
        tls.close()
    raw.close()


def _sockname(listening: trio.socket.SocketType) -> tuple[str, int]:
    name = listening.getsockname()
    return str(name[0]), int(name[1])


async def _pause_after_accept_error(exc: OSError) -> None:
    """Out of resources (descriptors, memory): wait a little before accepting again; anything else is raised."""
    if exc.errno not in _ACCEPT_RESOURCE_ERRORS:
        raise exc
    log.error("accept failed (%s); retrying in %.1fs", exc.strerror, _ACCEPT_RETRY_S)
    await trio.sleep(_ACCEPT_RETRY_S)


def _format_address(address: object) -> str:
    if not isinstance(address, tuple) or len(address) < 2:
        return "?"
    host, port = str(address[0]), int(address[1])
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _describe_os_error(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the client"
    if isinstance(exc, BrokenPipeError):
        return "connection closed by the client"
    return str(exc) or type(exc).__name__
