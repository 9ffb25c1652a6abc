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

from kmsd.http.wire import (
    HttpError,
    ReadLimits,
    Request,
    Response,
    can_send_error,
    read_request,
    send_refusal,
    send_response,
)
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
_LIMITS = ReadLimits(max_body=MAX_HEADERS, header_timeout=READ_TIMEOUT, body_timeout=READ_TIMEOUT)


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
        # The one h11 loop of the code base (kmsd.http.wire): limits, timeouts, security headers.
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADERS)
        while True:
            try:
                request = await read_request(conn, stream, _LIMITS, idle_deadline=trio.current_time() + READ_TIMEOUT)
            except HttpError as exc:
                if can_send_error(conn):
                    await send_refusal(conn, stream, exc.response(), tls=False)
                return
            if request is None:
                return
            status, content_type, body = await self._respond(request)
            await send_response(conn, stream, Response(status, body, content_type), tls=False)
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _respond(self, request: Request) -> tuple[int, str, bytes]:
        target = request.path
        if request.method != "GET":
            return 405, "text/plain; charset=utf-8", b"method not allowed\n"
        if target == "/metrics":
            text = await trio.to_thread.run_sync(self._endpoints.render_metrics)
            return 200, CONTENT_TYPE, text.encode("utf-8")
        if target == "/health":
            status, body = await check_health(self._endpoints.store)
            return status, "application/json", json.dumps(body).encode("utf-8") + b"\n"
        return 404, "text/plain; charset=utf-8", b"not found\n"
