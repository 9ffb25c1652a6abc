"""The HTTP/1.1 listener: h11 on trio, over TLS with an optional client certificate.

Theory of operation: hypercorn does not hand the TLS client certificate to
the application (DESIGN.md), so this listener owns the socket, like
:mod:`kmsd.server.kmip_listener`, whose rules it follows:

* Every connection task contains every ``Exception`` it meets (an escaping
  one would end the whole server), logs one line, and force-closes its
  stream in a ``finally``.
* The TLS handshake runs under ``handshake_timeout``.  The context asks for
  a client certificate but does not require one (CERT_OPTIONAL): when one is
  presented it has been verified against the client CA, and its name (per
  ``--client-identity``) travels with every request of the connection as
  :attr:`Connection.certificate_identity`.  A certificate that names nobody
  is not fatal here (a browser may send any certificate it has): the
  request then simply carries no certificate identity.
* Requests are read by :func:`kmsd.http.wire.read_request` with a body
  limit and header/body timeouts; a connection may stay idle between
  requests for ``idle_timeout`` and serves at most ``max_requests``
  requests (keep-alive is bounded) before it is closed politely.
* The application (:class:`Handler`) never sees a socket and never makes the
  listener fail: an exception it raises is logged and answered with a
  generic 500 in the one JSON error shape — never a stack trace.
* At most ``max_connections`` connections; more are closed on accept.

``ssl_context=None`` serves plain HTTP (``--insecure`` only).  Shutdown as
in the KMIP listener: stop accepting, end idle connections at once, let a
request in progress finish within ``shutdown_grace``.
"""

from __future__ import annotations

import itertools
import logging
import math
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import h11
import trio

from kmsd.server.observe import ConnectionObserver, NullConnectionObserver
from kmsd.server.tls import IdentityError, identity_from_certificate

from .wire import (
    HttpError,
    ReadLimits,
    Request,
    Response,
    can_send_error,
    error_response,
    read_request,
    send_refusal,
    send_response,
)

log = logging.getLogger("kmsd.http")

#: How long a polite close (TLS close_notify) may take before the socket is simply closed.
CLOSE_TIMEOUT = 1.0


@dataclass(frozen=True, slots=True)
class HttpSettings:
    max_body: int = 16 * 1024 * 1024
    #: The request line and headers must arrive within this many seconds.
    header_timeout: float = 10.0
    #: A body must arrive within this many seconds of its head.
    body_timeout: float = 60.0
    #: A keep-alive connection may wait this long for its next request.
    idle_timeout: float = 30.0
    #: Requests served on one connection before it is closed (bounded keep-alive).
    max_requests: int = 1000
    handshake_timeout: float = 10.0
    max_connections: int = 1000
    shutdown_grace: float = 10.0
    identify: Callable[[bytes], str] = identity_from_certificate


@dataclass(frozen=True, slots=True)
class Connection:
    """What the transport proved about one connection, handed to the application with each request."""

    address: str
    tls: bool
    certificate_der: bytes | None = None
    certificate_identity: str | None = None


Handler = Callable[[Request, Connection], Awaitable[Response]]


class _Closed(Exception):
    """The connection ends here, for a reason worth a DEBUG/INFO line."""


class HttpListener:
    def __init__(
        self,
        handler: Handler,
        ssl_context: ssl.SSLContext | None,
        settings: HttpSettings,
        observer: ConnectionObserver | None = None,
    ) -> None:
        self._handler = handler
        self._ssl_context = ssl_context
        self._settings = settings
        self._observer: ConnectionObserver = observer or NullConnectionObserver()
        self._slots = trio.CapacityLimiter(settings.max_connections)
        self._ids = itertools.count(1)
        self._waiting: set[trio.CancelScope] = set()
        self._draining = False
        self._shutdown_requested = trio.Event()
        self._stopped = trio.Event()
        self._limits = ReadLimits(settings.max_body, settings.header_timeout, settings.body_timeout)

    @property
    def tls(self) -> bool:
        return self._ssl_context is not None

    def shutdown(self) -> None:
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
        """Listen on ``host:port`` (or on ``sock``, shared by worker processes)
        until :meth:`shutdown`; reports the bound addresses when started."""
        listeners: list[trio.abc.Listener[trio.abc.Stream]] = []
        try:
            if sock is not None:
                plain = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
                listeners = [trio.SSLListener(plain, self._ssl_context) if self._ssl_context is not None else plain]
            elif self._ssl_context is not None:
                listeners = list(await trio.open_ssl_over_tcp_listeners(port, self._ssl_context, host=host))
            else:
                listeners = list(await trio.open_tcp_listeners(port, host=host))
            addresses = [_sockname(lst) for lst in listeners]
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
                self._draining = True
                for scope in list(self._waiting):
                    scope.cancel()
                connections.cancel_scope.deadline = trio.current_time() + self._settings.shutdown_grace
        finally:
            for lst in listeners:
                await trio.aclose_forcefully(lst)
            self._stopped.set()

    # -- one connection ---------------------------------------------------------------------

    async def _handle(self, stream: trio.abc.Stream) -> None:
        conn_id = next(self._ids)
        address = _peer_address(stream)
        where = f"http conn {conn_id} from {address}"
        try:
            try:
                self._slots.acquire_on_behalf_of_nowait(conn_id)
            except trio.WouldBlock:
                log.warning("%s refused: %d connections already open", where, self._settings.max_connections)
                return
            self._observer.connection_opened(address)
            try:
                await self._converse(stream, address)
            finally:
                self._slots.release_on_behalf_of(conn_id)
                self._observer.connection_closed(address)
        except _Closed as exc:
            log.debug("%s closed: %s", where, exc)
        except trio.BrokenResourceError as exc:
            log.debug("%s closed: %s", where, exc.__cause__ or exc)
        except (trio.ClosedResourceError, h11.ProtocolError) as exc:
            log.debug("%s closed: %r", where, exc)
        except Exception:
            log.exception("%s closed: internal error while serving it", where)
        finally:
            await _close(stream)

    async def _handshake(self, stream: trio.abc.Stream, address: str) -> Connection:
        if not isinstance(stream, trio.SSLStream):
            return Connection(address=address, tls=False)
        with self._waiting_scope(trio.current_time() + self._settings.handshake_timeout) as scope:
            try:
                await stream.do_handshake()
            except trio.BrokenResourceError as exc:
                self._observer.handshake_failed(address, str(exc.__cause__ or exc))
                raise
        if scope.cancelled_caught:
            if not self._draining:
                self._observer.handshake_failed(address, "TLS handshake timed out")
            raise _Closed("TLS handshake timed out or server shutting down")
        der = stream.getpeercert(binary_form=True)
        identity: str | None = None
        if der:
            try:
                identity = self._settings.identify(der)
            except IdentityError as exc:
                self._observer.authentication_failed(address, str(exc))
        return Connection(address=address, tls=True, certificate_der=der or None, certificate_identity=identity)

    async def _converse(self, stream: trio.abc.Stream, address: str) -> None:
        if self._draining:
            raise _Closed("server shutting down")
        info = await self._handshake(stream, address)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16384)
        settings = self._settings
        for served in itertools.count(1):
            request: Request | None = None
            try:
                # read_request keeps its own clocks; this scope only lets shutdown end the wait.
                with self._waiting_scope(math.inf) as waiting:
                    request = await read_request(
                        conn, stream, self._limits, idle_deadline=trio.current_time() + settings.idle_timeout
                    )
            except HttpError as exc:
                if can_send_error(conn):
                    await send_refusal(conn, stream, exc.response(), tls=info.tls)
                raise _Closed(f"refused: {exc.status} {exc.message}") from None
            if waiting.cancelled_caught:
                raise _Closed("server shutting down")
            if request is None:
                raise _Closed("client closed or idle")
            last = served >= settings.max_requests or self._draining
            try:
                response = await self._handler(request, info)
            except HttpError as exc:
                response = exc.response()
            except Exception:
                log.exception("%s %s from %s: internal error", request.method, request.path, address)
                response = error_response(500, "internal_error", "internal server error")
            keep_alive = conn.their_state is h11.DONE and not last
            await send_response(conn, stream, response, tls=info.tls, close=not keep_alive)
            if not keep_alive or conn.our_state is not h11.DONE:
                raise _Closed("request limit reached" if last else "not keep-alive")
            conn.start_next_cycle()

    @contextmanager
    def _waiting_scope(self, deadline: float) -> Iterator[trio.CancelScope]:
        with trio.CancelScope(deadline=deadline) as scope:
            self._waiting.add(scope)
            try:
                yield scope
            finally:
                self._waiting.discard(scope)


async def _close(stream: trio.abc.Stream) -> None:
    try:
        with trio.move_on_after(CLOSE_TIMEOUT):
            await stream.aclose()
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass
    finally:
        await trio.aclose_forcefully(stream)


def _socket_of(obj: object) -> trio.socket.SocketType | None:
    while obj is not None:
        sock = getattr(obj, "socket", None)
        if sock is not None:
            return sock  # type: ignore[no-any-return]
        obj = getattr(obj, "transport_stream", None) or getattr(obj, "transport_listener", None)
    return None


def _sockname(listener: object) -> tuple[str, int]:
    sock = _socket_of(listener)
    assert sock is not None
    name = sock.getsockname()
    return str(name[0]), int(name[1])


def _peer_address(stream: trio.abc.Stream) -> str:
    sock = _socket_of(stream)
    try:
        name = sock.getpeername() if sock is not None else None
    except OSError:
        name = None
    if not name:
        return "?"
    host, port = str(name[0]), int(name[1])
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
