"""Who is calling over HTTP: bearer token, session cookie, client certificate.

Theory of operation: :func:`resolve_caller` turns what a request carries
into a :class:`Caller`, in this order, first match wins:

1. ``--insecure``: everyone is ``--default-username`` (means ``default``).
2. ``Authorization: Bearer TOKEN``: a JWT or an API token, checked by the
   one :class:`~kmsd.auth.authenticator.Authenticator` together with the
   connection's client certificate (so ``--auth-mode cert-and-token`` holds
   over HTTP too).  Any other ``Authorization`` scheme is refused.
3. The web UI's session cookie (:mod:`kmsd.http.sessions`).
4. The client certificate alone (refused in ``cert-and-token`` mode).

No credentials at all gives ``None`` (the route answers 401); credentials
that fail raise :class:`~kmsd.auth.errors.AuthenticationFailed`, whose
private reason is logged by the authenticator and never sent.

KMIP over HTTP: the executor authenticates every request message itself
(:meth:`Authenticator.authenticate_kmip`).  The HTTP layer has already
proved the caller, so it hands the executor an :class:`HttpPeer` carrying
that user, and :class:`HttpKmipAuthenticator` accepts it — unless the
message brings its own Authentication structure, which is then checked
exactly as on the KMIP port.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from kmsd.auth.authenticator import Authenticator
from kmsd.auth.errors import AuthenticationFailed
from kmsd.server.peer import Peer
from ttlv import Item

from .listener import Connection
from .sessions import COOKIE_NAME, Session, SessionError, SessionSigner
from .wire import Request


@dataclass(frozen=True, slots=True)
class HttpPeer(Peer):
    """A peer whose caller the HTTP layer already authenticated (``user``)."""

    user: str | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    user: str
    means: str  # "default", "bearer", "mtls+bearer", "session", "mtls"
    session: Session | None = None

    def peer(self, conn: Connection) -> HttpPeer:
        return HttpPeer(
            identity=conn.certificate_identity,
            address=conn.address,
            transport="http",
            certificate_der=conn.certificate_der,
            user=self.user,
        )


class HttpKmipAuthenticator(Authenticator):
    """The executor's authenticator for messages that arrived over HTTP."""

    def __init__(self, inner: Authenticator) -> None:
        super().__init__(inner.settings)
        self.inner = inner

    def authenticate_kmip(self, peer: Peer, authentication: Item | None) -> str:
        if isinstance(peer, HttpPeer) and peer.user is not None and authentication is None:
            return peer.user
        return self.inner.authenticate_kmip(peer, authentication)


def raw_peer(conn: Connection) -> Peer:
    return Peer(
        identity=conn.certificate_identity,
        address=conn.address,
        transport="http",
        certificate_der=conn.certificate_der,
    )


def bearer_token(request: Request) -> str | None:
    """The bearer token, None without an Authorization header; a failure for any other scheme."""
    value = request.header("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("unsupported Authorization scheme")
    return token.strip()


async def resolve_caller(
    request: Request, conn: Connection, authenticator: Authenticator, sessions: SessionSigner | None
) -> Caller | None:
    settings = authenticator.settings
    if settings.insecure:
        return Caller(settings.default_user, "default")
    token = bearer_token(request)
    peer = raw_peer(conn)
    if token is not None:
        user = await trio.to_thread.run_sync(authenticator.authenticate_bearer, peer, token)
        return Caller(user, "mtls+bearer" if conn.certificate_identity else "bearer")
    cookie = request.cookies().get(COOKIE_NAME)
    if cookie and sessions is not None:
        try:
            session = sessions.verify(cookie)
        except SessionError as exc:
            raise AuthenticationFailed(f"session cookie: {exc}") from None
        return Caller(session.user, "session", session)
    if conn.certificate_identity is not None:
        user = authenticator.authenticate_bearer(peer, None)
        return Caller(user, "mtls")
    return None
