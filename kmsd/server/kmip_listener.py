"""The KMIP listener: binary TTLV requests over mutual TLS, on trio.

Theory of operation: :meth:`KmipListener.serve` binds the TLS listeners and
runs ``trio.serve_listeners`` in one nursery, whose handlers run in a second
nursery owned by the listener.  ``serve_listeners`` already survives
EMFILE/ENOMEM on accept (it logs and sleeps); everything below is about
making sure one connection can never hurt another:

* Every connection task catches every ``Exception`` it meets, logs one line
  and force-closes its stream in a ``finally``.  This is not optional: an
  exception escaping a handler would cancel the nursery and end the server.
* The TLS handshake runs under ``handshake_timeout``; a client without a
  certificate, with an untrusted one, or with one that does not name exactly
  one CN is refused there.
* Bytes go into a :class:`ttlv.framer.Framer`, which refuses an oversized
  message from its 8-byte header alone, before any body is buffered.  A
  framing error closes the connection (the stream cannot be resynchronised).
* A connection may be silent for ``idle_timeout`` between messages, and a
  message, once started, must be complete within ``idle_timeout`` of its
  first byte (a slow sender cannot hold a buffer forever).  A response that
  the client does not read within ``idle_timeout`` closes it too.
* Each whole message goes to ``processor.process`` in a thread of the
  listener's :class:`~kmsd.server.workpool.WorkerPool`; the
  response is sent before the next message of that connection is looked at,
  so requests on one connection are answered in order, while connections
  proceed concurrently.  ``None`` from the processor closes the connection.
* At most ``max_connections`` connections are served; more are closed at once.

Shutdown (:meth:`KmipListener.shutdown`): stop accepting and close the
listening sockets; connections waiting for a handshake or a request are
closed at once; a connection whose request is in a worker thread gets its
answer sent, then closes.  After ``shutdown_grace`` seconds whatever is left
is cancelled, but a request already inside the processor always runs to its
end (a store transaction cannot be interrupted from here), so the caller
can close the store safely once :meth:`serve` returns.
"""

from __future__ import annotations

import itertools
import logging
import math
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import trio

from kmsd.kmip.processor import MessageProcessor
from kmsd.server.observe import ConnectionObserver, NullConnectionObserver
from kmsd.server.peer import Peer
from kmsd.server.tls import IdentityError, identity_from_certificate
from kmsd.server.workpool import WorkerPool
from ttlv.errors import DecodeError, LimitExceeded
from ttlv.framer import Framer

log = logging.getLogger("kmsd.kmip")

#: Bytes asked of the TLS stream per read: one TLS record is at most 16 KiB,
#: and most KMIP requests are far smaller; 64 KiB takes a few records at once.
RECEIVE_SIZE = 65536
#: How long a polite close (TLS close_notify) may take before the socket is simply closed.
CLOSE_TIMEOUT = 1.0
#: listen() backlog; trio's default is the OS maximum, which is what a server wants.
BACKLOG: int | None = None


@dataclass(frozen=True, slots=True)
class ListenerSettings:
    max_message_size: int
    idle_timeout: float
    handshake_timeout: float
    max_connections: int
    shutdown_grace: float
    # Reads the caller's name from a verified DER client certificate (kmsd.auth.identity).
    identify: Callable[[bytes], str] = identity_from_certificate
    # Requests processed at once (the store's pool and the GIL are the real limits).
    worker_threads: int = 32


class _Refused(Exception):
    """This connection ends here, for a reason worth one log line (at ``level``)."""

    def __init__(self, reason: str, level: int = logging.INFO) -> None:
        super().__init__(reason)
        self.level = level


#: Ordinary ends of a connection, logged at DEBUG so a busy server's log stays readable.
_ORDINARY_EOF = ("UNEXPECTED_EOF_WHILE_READING",)


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
        self._slots = trio.CapacityLimiter(settings.max_connections)
        self._workers = WorkerPool(settings.worker_threads, name="kmsd-kmip")
        self._ids = itertools.count(1)
        self._waiting: set[trio.CancelScope] = set()  # connections idle in a handshake or a read
        self._draining = False
        self._shutdown_requested = trio.Event()
        self._stopped = trio.Event()

    @property
    def active_connections(self) -> int:
        return int(self._slots.borrowed_tokens)

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
            transport = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
            listeners = [trio.SSLListener(transport, self._ssl_context, https_compatible=False)]
        else:
            listeners = await trio.open_ssl_over_tcp_listeners(port, self._ssl_context, host=host, backlog=BACKLOG)
        try:
            addresses = [_sockname(lst.transport_listener) for lst in listeners]
            async with trio.open_nursery() as connections:
                async with trio.open_nursery() as acceptor:
                    acceptor.start_soon(
                        partial(trio.serve_listeners, self._handle, listeners, handler_nursery=connections)
                    )
                    task_status.started(addresses)
                    await self._shutdown_requested.wait()
                    acceptor.cancel_scope.cancel()
                for lst in listeners:
                    await trio.aclose_forcefully(lst)
                pending = self.active_connections
                log.info("shutting down: %d connection(s) open, grace %.1fs", pending, self._settings.shutdown_grace)
                self._draining = True
                for scope in list(self._waiting):
                    scope.cancel()
                connections.cancel_scope.deadline = trio.current_time() + self._settings.shutdown_grace
        finally:
            for lst in listeners:
                await trio.aclose_forcefully(lst)
            # Every connection has ended; idle threads exit on their own (no join on the event loop).
            self._workers.close(join=False)
            self._stopped.set()

    # -- one connection --------------------------------------------------------------------

    async def _handle(self, stream: trio.SSLStream[trio.SocketStream]) -> None:
        conn = next(self._ids)
        address = _peer_address(stream)
        where = f"conn {conn} from {address}"
        try:
            try:
                self._slots.acquire_on_behalf_of_nowait(conn)
            except trio.WouldBlock:
                log.warning("%s refused: %d connections already open", where, self._settings.max_connections)
                return
            self._observer.connection_opened(address)
            try:
                await self._converse(stream, address, where)
            finally:
                self._slots.release_on_behalf_of(conn)
                self._observer.connection_closed(address)
        except _Refused as exc:
            log.log(exc.level, "%s closed: %s", where, exc)
        except LimitExceeded as exc:
            log.warning("%s closed: oversized message: %s", where, exc)
        except DecodeError as exc:
            log.warning("%s closed: undecodable framing: %s", where, exc)
        except trio.BrokenResourceError as exc:
            reason = _describe_broken(exc)
            log.log(logging.DEBUG if reason.endswith(_ORDINARY_EOF) else logging.INFO, "%s closed: %s", where, reason)
        except trio.ClosedResourceError:
            log.debug("%s closed", where)
        except Exception:
            log.exception("%s closed: internal error while serving it", where)
        finally:
            await _close(stream)

    async def _converse(self, stream: trio.SSLStream[trio.SocketStream], address: str, where: str) -> None:
        settings = self._settings
        if self._draining:
            raise _Refused("server shutting down")
        with self._waiting_scope(deadline=trio.current_time() + settings.handshake_timeout) as scope:
            try:
                await stream.do_handshake()
            except trio.BrokenResourceError as exc:
                self._observer.handshake_failed(address, _describe_broken(exc))
                raise
        if scope.cancelled_caught:
            if not self._draining:
                self._observer.handshake_failed(address, "TLS handshake timed out")
            raise _Refused("server shutting down" if self._draining else "TLS handshake timed out")
        der = stream.getpeercert(binary_form=True)
        identity: str | None = None
        if der:
            try:
                identity = settings.identify(der)
            except IdentityError as exc:
                self._observer.authentication_failed(address, str(exc))
                raise _Refused(str(exc)) from None
        elif self._ssl_context.verify_mode == ssl.CERT_REQUIRED:  # unreachable, but identity must never be guessed
            raise _Refused("no client certificate")
        # identity None: no certificate (CERT_OPTIONAL); the message layer authenticates by credentials.
        peer = Peer(identity=identity, address=address, transport="kmip", certificate_der=der or None)
        log.debug("%s: %s, %s as %r", where, stream.version(), (stream.cipher() or ("?",))[0], identity)

        framer = Framer(settings.max_message_size)
        message_deadline = math.inf  # when the partly received message must be complete
        while True:
            while (message := framer.next_message()) is not None:
                response = await self._workers.run(self._processor.process, message, peer)
                if response is None:
                    raise _Refused("processor could not decode a request")
                with trio.move_on_after(settings.idle_timeout) as send_scope:
                    await stream.send_all(response)
                if send_scope.cancelled_caught:
                    raise _Refused("client did not read its response")
                if self._draining:
                    raise _Refused("server shutting down")
            if self._draining:
                raise _Refused("server shutting down")
            now = trio.current_time()
            if framer.buffered == 0:
                message_deadline = math.inf
            elif message_deadline == math.inf:
                message_deadline = now + settings.idle_timeout
            with self._waiting_scope(deadline=min(now + settings.idle_timeout, message_deadline)) as scope:
                data = await stream.receive_some(RECEIVE_SIZE)
            if scope.cancelled_caught:
                if self._draining:
                    raise _Refused("server shutting down")
                if framer.buffered:
                    raise _Refused(f"message incomplete after {settings.idle_timeout:g}s ({framer.buffered} bytes)")
                raise _Refused(f"idle for {settings.idle_timeout:g}s")
            if not data:
                if framer.buffered:
                    raise _Refused(f"client closed mid-message ({framer.buffered} bytes unanswered)")
                raise _Refused("client closed", logging.DEBUG)
            framer.feed(data if isinstance(data, bytes) else bytes(data))

    @contextmanager
    def _waiting_scope(self, *, deadline: float) -> Iterator[trio.CancelScope]:
        """A cancel scope registered while the connection waits on its client, so shutdown can end the wait."""
        with trio.CancelScope(deadline=deadline) as scope:
            self._waiting.add(scope)
            try:
                yield scope
            finally:
                self._waiting.discard(scope)


async def _close(stream: trio.SSLStream[trio.SocketStream]) -> None:
    """Send close_notify if that is quick, and close the socket in any case."""
    try:
        with trio.move_on_after(CLOSE_TIMEOUT):
            await stream.aclose()
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass
    finally:
        await trio.aclose_forcefully(stream)


def _sockname(listener: trio.abc.Listener[trio.SocketStream]) -> tuple[str, int]:
    assert isinstance(listener, trio.SocketListener)
    name = listener.socket.getsockname()
    return str(name[0]), int(name[1])


def _peer_address(stream: trio.SSLStream[trio.SocketStream]) -> str:
    try:
        name = stream.transport_stream.socket.getpeername()
    except OSError:
        return "?"
    host, port = str(name[0]), int(name[1])
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _describe_broken(exc: trio.BrokenResourceError) -> str:
    cause = exc.__cause__
    if isinstance(cause, ssl.SSLError):
        return f"TLS error: {cause.reason or cause}"
    if isinstance(cause, ConnectionResetError):
        return "connection reset by the client"
    return str(cause or exc) or "connection broken"
