"""Operational endpoints: ``/health``, ``/version``, ``/server-info``, ``/me``, ``/metrics``, ``/openapi.json``.

``/health``, ``/version``, ``/metrics`` and ``/openapi.json`` are public
(probes and scrapers carry no credentials; none of them reveals an object
or a user).  ``/health`` is the same check as the ``--metrics-port``
listener's (:func:`kmsd.metrics.http.check_health`): 200 or 503 with the
store's state.  ``/metrics`` renders the server's one registry — the KMIP
counters and the HTTP ones.  ``/server-info`` and ``/me`` need a caller.
"""

from __future__ import annotations

import trio

from kmsd import __version__
from kmsd.metrics.http import check_health
from kmsd.metrics.registry import CONTENT_TYPE

from .access_routes import may_create
from .app import AUDIT_NEVER, AUTH_NONE, Ctx, Route
from .openapi import openapi_document
from .wire import HttpError, Response


async def health(ctx: Ctx) -> Response:
    status, body = await check_health(ctx.services.store)
    return Response.json(body, status)


async def version(ctx: Ctx) -> Response:
    return Response.json({"version": __version__, "server": "kmsd"})


async def server_info(ctx: Ctx) -> Response:
    return Response.json({"version": __version__, **ctx.services.info})


async def me(ctx: Ctx) -> Response:
    caller = ctx.caller
    assert caller is not None
    return Response.json(
        {
            "user": caller.user,
            "authenticated_by": caller.means,
            "certificate_identity": ctx.conn.certificate_identity,
            "may_create": await may_create(ctx, caller.user),
        }
    )


async def metrics(ctx: Ctx) -> Response:
    render = ctx.services.render_metrics
    if render is None:
        raise HttpError(404, "not_found", "metrics are not enabled")
    text = await trio.to_thread.run_sync(render)
    return Response(200, text.encode("utf-8"), CONTENT_TYPE)


async def openapi(ctx: Ctx) -> Response:
    return Response.json(openapi_document(__version__))


ROUTES = (
    Route("GET", "/health", health, "health", auth=AUTH_NONE, audit=AUDIT_NEVER),
    Route("GET", "/version", version, "version", auth=AUTH_NONE, audit=AUDIT_NEVER),
    Route("GET", "/metrics", metrics, "metrics", auth=AUTH_NONE, audit=AUDIT_NEVER),
    Route("GET", "/openapi.json", openapi, "openapi", auth=AUTH_NONE, audit=AUDIT_NEVER),
    Route("GET", "/server-info", server_info, "server_info", audit=AUDIT_NEVER),
    Route("GET", "/me", me, "me", audit=AUDIT_NEVER),
)
