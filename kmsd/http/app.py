"""The HTTP application: a route table, authentication, CSRF, audit and metrics around each handler.

Theory of operation: a :class:`Route` is data — method, path pattern,
handler, and the policy that applies to it (authenticated or public, how it
is audited).  :meth:`App.handle` is the listener's handler; for every request
it:

1. finds the route (404, or 405 with ``Allow`` when only the method is wrong);
2. refuses a state-changing request whose ``Origin`` names another site
   (browsers send it on every cross-origin POST);
3. resolves the caller (:func:`kmsd.http.auth.resolve_caller`) for an
   authenticated route: 401 without credentials or with failing ones (the
   same answer for every reason), and, for a request authenticated by the UI
   session cookie, 403 unless its ``X-CSRF-Token`` matches the session's;
4. runs the handler, which returns a :class:`~kmsd.http.wire.Response` or
   raises :class:`~kmsd.http.wire.HttpError`;
5. writes one audit record (``http.operation``, or
   ``http.authentication_failure`` / ``http.permission_denied``) for the
   operation — routes that carry KMIP messages leave the per-item records to
   the executor and only record their own refusals — and counts the request
   in ``kmsd_http_requests_total``.

Handlers run in the trio thread; anything that blocks (store, crypto, the
executor) goes to a worker thread with ``trio.to_thread.run_sync``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from kmsd.audit.pipeline import AuditLogger
from kmsd.auth.access import AccessPolicy
from kmsd.auth.authenticator import Authenticator
from kmsd.auth.errors import PUBLIC_MESSAGE, AuthenticationFailed
from kmsd.kmip.processor import MessageProcessor
from kmsd.metrics.registry import Counter, Histogram, Registry
from kmsd.store.base import Store

from .auth import Caller, resolve_caller
from .listener import Connection
from .sessions import CSRF_HEADER, SessionSigner, csrf_matches
from .wire import HttpError, Request, Response

log = logging.getLogger("kmsd.http")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
AUDIT_ALWAYS, AUDIT_ERRORS, AUDIT_NEVER = "always", "errors", "never"
AUTH_REQUIRED, AUTH_OPTIONAL, AUTH_NONE = "required", "optional", "none"
EVENT_OPERATION = "http.operation"
EVENT_AUTHENTICATION_FAILURE = "http.authentication_failure"
EVENT_PERMISSION_DENIED = "http.permission_denied"


class HttpMetrics:
    """HTTP request counters in the server's one registry (rendered at ``/metrics``)."""

    def __init__(self, registry: Registry) -> None:
        self.requests: Counter = registry.counter(
            "kmsd_http_requests_total", "HTTP requests answered, by route and status.", ["route", "status"]
        )
        self.duration: Histogram = registry.histogram(
            "kmsd_http_request_duration_seconds", "Time to answer one HTTP request.", ["route"]
        )


@dataclass(slots=True)
class Services:
    """Everything the handlers use; built once by :mod:`kmsd.http.service`."""

    store: Store
    executor: MessageProcessor
    authenticator: Authenticator
    access_policy: AccessPolicy = field(default_factory=AccessPolicy)
    sessions: SessionSigner | None = None
    audit: AuditLogger | None = None
    metrics: HttpMetrics | None = None
    render_metrics: Callable[[], str] | None = None
    max_message_size: int = 16 * 1024 * 1024
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Ctx:
    request: Request
    conn: Connection
    services: Services
    caller: Caller | None = None
    params: dict[str, str] = field(default_factory=dict)
    #: Facts a handler adds to its audit record (``object_ids`` …).
    audit: dict[str, Any] = field(default_factory=dict)

    @property
    def user(self) -> str:
        assert self.caller is not None, "route is not authenticated"
        return self.caller.user


Handler = Callable[[Ctx], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: str  # "/access/list/{id}"
    handler: Handler
    name: str  # for audit and metrics: "access.grant"
    #: AUTH_REQUIRED (401 without a caller), AUTH_OPTIONAL (the handler decides), AUTH_NONE (public).
    auth: str = "required"
    audit: str = AUDIT_ALWAYS

    def compile(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.pattern))
        if regex.endswith("\\*"):
            regex = regex[:-2] + "(?P<rest>.*)"
        return re.compile(f"^{regex}$")


class App:
    def __init__(self, services: Services, routes: Sequence[Route]) -> None:
        self.services = services
        self._routes = [(route, route.compile()) for route in routes]

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed: list[str] = []
        for route, regex in self._routes:
            match = regex.match(path)
            if match is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, match.groupdict()
            allowed.append(route.method)
        if allowed:
            raise HttpError(
                405, "method_not_allowed", "method not allowed", (("allow", ", ".join(sorted(set(allowed)))),)
            )
        raise HttpError(404, "not_found", "no such endpoint")

    async def handle(self, request: Request, conn: Connection) -> Response:
        started = time.perf_counter()
        ctx = Ctx(request, conn, self.services)
        route: Route | None = None
        event = EVENT_OPERATION
        try:
            route, ctx.params = self._match(request.method, request.path)
            if request.method not in SAFE_METHODS:
                _check_origin(request)
            if route.auth != AUTH_NONE:
                event = EVENT_AUTHENTICATION_FAILURE
                ctx.caller = await self._authenticate(ctx, optional=route.auth == AUTH_OPTIONAL)
                event = EVENT_OPERATION
                if ctx.caller is not None and ctx.caller.session is not None and request.method not in SAFE_METHODS:
                    if not csrf_matches(ctx.caller.session, request.header(CSRF_HEADER)):
                        event = EVENT_PERMISSION_DENIED
                        raise HttpError(403, "csrf", "missing or wrong X-CSRF-Token")
            response = await route.handler(ctx)
        except HttpError as exc:
            response = exc.response()
        if request.method == "HEAD":
            response = Response(response.status, b"", response.content_type, response.headers)
        self._observe(ctx, route, event, response, time.perf_counter() - started)
        return response

    async def _authenticate(self, ctx: Ctx, *, optional: bool = False) -> Caller | None:
        s = self.services
        try:
            caller = await resolve_caller(ctx.request, ctx.conn, s.authenticator, s.sessions)
        except AuthenticationFailed as exc:
            log.warning("HTTP authentication failed for %s: %s", ctx.conn.address, exc.reason)
            raise unauthorized(PUBLIC_MESSAGE) from None
        if caller is None and not optional:
            raise unauthorized("authentication required: a client certificate, a bearer token or a session")
        return caller

    def _observe(self, ctx: Ctx, route: Route | None, event: str, response: Response, seconds: float) -> None:
        name = route.name if route is not None else "unmatched"
        s = self.services
        if s.metrics is not None:
            s.metrics.requests.inc(route=name, status=str(response.status))
            s.metrics.duration.observe(seconds, route=name)
        if route is None or s.audit is None:
            return
        failed = response.status >= 400
        if response.status == 401:
            event = EVENT_AUTHENTICATION_FAILURE
        if route.audit == AUDIT_NEVER or (route.audit == AUDIT_ERRORS and not failed and event == EVENT_OPERATION):
            return
        record: dict[str, Any] = {
            "event": event,
            "source": ctx.conn.address,
            "protocol": "http",
            "operation": f"{ctx.request.method} {route.pattern}",
            "result": "failure" if failed else "success",
            "duration_ms": round(seconds * 1000.0, 3),
            **ctx.audit,
        }
        if ctx.caller is not None:
            record["user"] = ctx.caller.user
            record["auth"] = ctx.caller.means
        elif ctx.conn.certificate_identity is not None:
            record["user"] = ctx.conn.certificate_identity
        if failed:
            record["reason"] = _error_code(response)
        try:
            s.audit.emit(record)
        except Exception:  # the audit logger counts its own sink errors; never fail the request here
            log.exception("audit record for %s not written", record["operation"])


def unauthorized(message: str) -> HttpError:
    return HttpError(401, "unauthorized", message, (("www-authenticate", 'Bearer realm="kmsd"'),))


def _check_origin(request: Request) -> None:
    origin = request.header("origin")
    if origin is None:  # not a browser, or a same-origin GET
        return
    host = request.header("host") or ""
    if urlsplit(origin).netloc.lower() != host.lower():
        raise HttpError(403, "cross_origin", "cross-origin requests are not accepted")


def _error_code(response: Response) -> str:
    if response.content_type.startswith("application/json"):
        try:
            body = json.loads(response.body)
            code = body.get("error", {}).get("code") if isinstance(body, dict) else None
            if isinstance(code, str):
                return code
        except ValueError:
            pass
    return f"http_{response.status}"
