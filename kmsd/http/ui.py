"""The web console: static files under ``/ui/`` and its sign-in endpoints.

Theory of operation: the console is plain HTML, CSS and one small script
shipped in this package (``kmsd/http/ui/``; nothing from a CDN, nothing
fetched at run time; the CSP forbids inline script).  It talks to the same
API as every other client — ``/kmip/2_1`` for KMIP operations, ``/access/*``
for grants, ``/health`` and ``/version`` — with the session cookie; the one
console-only API is the certificate view (:mod:`kmsd.http.ui_certificates`),
because the browser has no X.509 parser.

Signing in (``POST /ui/api/login``) turns what the browser proved into a
session (:mod:`kmsd.http.sessions`): a JWT or API token pasted once into
the form (sent in the JSON body, checked by the authenticator with the
connection's client certificate, then forgotten), or the client
certificate the browser presented, or, under ``--insecure``, the default
user.  The answer sets the ``HttpOnly; SameSite=Strict; Secure`` cookie
and gives the script the session's CSRF token, which it sends as
``X-CSRF-Token`` on every state-changing call.
"""

from __future__ import annotations

from importlib import resources

import trio

from kmsd.auth.errors import PUBLIC_MESSAGE, AuthenticationFailed

from . import ui_certificates
from .access_routes import may_create
from .app import AUDIT_ALWAYS, AUDIT_NEVER, AUTH_NONE, Ctx, Route, unauthorized
from .auth import Caller, raw_peer
from .sessions import clear_cookie_header, cookie_header
from .wire import HttpError, Response

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
MAX_TOKEN = 16384


def _asset(name: str) -> bytes | None:
    if "/" in name or name.startswith(".") or not any(name.endswith(s) for s in CONTENT_TYPES):
        return None
    resource = resources.files("kmsd.http").joinpath("ui").joinpath(name)
    try:
        return resource.read_bytes()
    except (FileNotFoundError, IsADirectoryError, OSError):
        return None


async def static(ctx: Ctx) -> Response:
    name = ctx.params.get("rest") or "index.html"
    data = _asset(name)
    if data is None:
        raise HttpError(404, "not_found", "no such file")
    suffix = name[name.rfind(".") :]
    return Response(200, data, CONTENT_TYPES[suffix])


async def redirect_ui(ctx: Ctx) -> Response:
    return Response(302, b"", "text/plain; charset=utf-8", [("location", "/ui/")])


async def login(ctx: Ctx) -> Response:
    s = ctx.services
    if s.sessions is None:
        raise HttpError(404, "not_found", "sessions are not enabled")
    body = ctx.request.json() if ctx.request.body else {}
    if not isinstance(body, dict):
        raise HttpError(400, "bad_request", "expected a JSON object")
    token = body.get("token")
    if token is not None and (not isinstance(token, str) or len(token) > MAX_TOKEN):
        raise HttpError(400, "bad_request", "token must be a string")
    peer = raw_peer(ctx.conn)
    try:
        if s.authenticator.settings.insecure:
            caller = Caller(s.authenticator.settings.default_user, "default")
        elif token:
            user = await trio.to_thread.run_sync(s.authenticator.authenticate_bearer, peer, token.strip())
            caller = Caller(user, "mtls+bearer" if ctx.conn.certificate_identity else "bearer")
        elif ctx.conn.certificate_identity is not None:
            caller = Caller(s.authenticator.authenticate_bearer(peer, None), "mtls")
        else:
            raise unauthorized("paste a token, or present a client certificate")
    except AuthenticationFailed:
        raise unauthorized(PUBLIC_MESSAGE) from None
    ctx.caller = caller
    value, session = s.sessions.issue(caller.user, caller.means)
    headers = [cookie_header(value, secure=ctx.conn.tls, max_age=s.sessions.ttl)]
    return Response.json({"user": session.user, "csrf": session.csrf, "expires": session.expires}, headers=headers)


async def logout(ctx: Ctx) -> Response:
    return Response.json({"success": "signed out"}, headers=[clear_cookie_header(secure=ctx.conn.tls)])


async def session_info(ctx: Ctx) -> Response:
    caller = ctx.caller
    assert caller is not None
    return Response.json(
        {
            "user": caller.user,
            "authenticated_by": caller.means,
            "csrf": caller.session.csrf if caller.session is not None else None,
            "may_create": await may_create(ctx, caller.user),
        }
    )


ROUTES = (
    Route("GET", "/", redirect_ui, "ui.redirect", auth=AUTH_NONE, audit=AUDIT_NEVER),
    Route("GET", "/ui", redirect_ui, "ui.redirect", auth=AUTH_NONE, audit=AUDIT_NEVER),
    Route("POST", "/ui/api/login", login, "ui.login", auth=AUTH_NONE, audit=AUDIT_ALWAYS),
    Route("POST", "/ui/api/logout", logout, "ui.logout", audit=AUDIT_ALWAYS),
    Route("GET", "/ui/api/session", session_info, "ui.session", audit=AUDIT_NEVER),
    *ui_certificates.ROUTES,  # before the static catch-all below
    Route("GET", "/ui/*", static, "ui.static", auth=AUTH_NONE, audit=AUDIT_NEVER),
)
