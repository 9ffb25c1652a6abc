"""``GET /metrics`` and ``GET /health`` over plain HTTP/1.1, with h11 on trio.

Theory of operation: until the HTTP listener exists, the operational
endpoints have their own small listener (``--metrics-port``, loopback by
default: the numbers are not secret, but there is no reason to show them to
the world).  Each connection is an h11 state machine fed with the socket's
bytes; requests are answered in order, keep-alive included, and any error
closes that connection only (every connection task contains its
exceptions, as in :mod:`kmsd.server.kmip_listener`).

``/health`` runs the store's ``check()`` in a worker thread under
:data:`HEALTH_TIMEOUT`: 200 ``{"status": "ok", "store": "ok"}``, or 503
with the reason (a hung database counts as down).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import h11
import trio

from kmsd.store.base import Store

from .registry import CONTENT_TYPE

log = logging.getLogger("kmsd.metrics")

#: A scrape is one short request; a client silent for this long is dropped.
READ_TIMEOUT = 10.0
#: How long a health check waits for the store before calling it down.
HEALTH_TIMEOUT = 5.0
#: Scrapers and probes are few; this bounds what a misbehaving one can hold.
MAX_CONNECTIONS = 32
RECEIVE_SIZE = 16384
#: Requests have no body worth reading; headers bigger than this are refused by h11.
MAX_HEADERS = 16384


@dataclass(frozen=True, slots=True)
class Endpoints:
    render_metrics: Callable[[], str]
    store: Store | None = None


async def check_health(store: Store | None) -> tuple[int, dict[str, str]]:
    if store is None:
        return 200, {"status": "ok", "store": "none"}
    try:
        with trio.fail_after(HEALTH_TIMEOUT):
            await trio.to_thread.run_sync(store.check, abandon_on_cancel=True)
    except trio.TooSlowError:
        return 503, {"status": "unavailable", "store": f"no answer within {HEALTH_TIMEOUT:g}s"}
    except Exception as exc:  # StoreError, or anything a broken driver raises
        return 503, {"status": "unavailable", "store": str(exc) or type(exc).__name__}
    return 200, {"status": "ok", "store": "ok"}


class MetricsServer:
    def __init__(self, endpoints: Endpoints) -> None:
        self._endpoints = endpoints
        self._slots = trio.CapacityLimiter(MAX_CONNECTIONS)

    async def serve(
        self, host: str, port: int, *, task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve until cancelled; reports the bound (host, port) when listening."""
        listeners = await trio.open_tcp_listeners(port, host=host)
        name = listeners[0].socket.getsockname()
        task_status.started((str(name[0]), int(name[1])))
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, stream: trio.SocketStream) -> None:
        try:
            try:
                self._slots.acquire_nowait()
            except trio.WouldBlock:
                return
            try:
                await self._converse(stream)
            finally:
                self._slots.release()
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError, h11.ProtocolError) as exc:
            log.debug("metrics connection closed: %r", exc)
        except Exception:
            log.exception("metrics connection failed")
        finally:
            await trio.aclose_forcefully(stream)

    async def _converse(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADERS)
        while True:
            event = await self._next_event(conn, stream)
            if isinstance(event, h11.ConnectionClosed):
                return
            if not isinstance(event, h11.Request):
                return
            # Drain the (unexpected) body so the connection can be reused.
            while not isinstance(ev := await self._next_event(conn, stream), h11.EndOfMessage):
                if isinstance(ev, h11.ConnectionClosed):
                    return
            status, content_type, body = await self._respond(event)
            headers = [("content-type", content_type), ("content-length", str(len(body)))]
            await stream.send_all(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
            await stream.send_all(conn.send(h11.Data(data=body)) or b"")
            await stream.send_all(conn.send(h11.EndOfMessage()) or b"")
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _next_event(self, conn: h11.Connection, stream: trio.SocketStream) -> object:
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            with trio.fail_after(READ_TIMEOUT):
                data = await stream.receive_some(RECEIVE_SIZE)
            conn.receive_data(data)

    async def _respond(self, request: h11.Request) -> tuple[int, str, bytes]:
        target = request.target.decode("ascii", "replace").split("?", 1)[0]
        if request.method != b"GET":
            return 405, "text/plain; charset=utf-8", b"method not allowed\n"
        if target == "/metrics":
            text = await trio.to_thread.run_sync(self._endpoints.render_metrics)
            return 200, CONTENT_TYPE, text.encode("utf-8")
        if target == "/health":
            status, body = await check_health(self._endpoints.store)
            return status, "application/json", json.dumps(body).encode("utf-8") + b"\n"
        return 404, "text/plain; charset=utf-8", b"not found\n"
