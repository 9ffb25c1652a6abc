"""Who is calling: combining certificate, password, API token and JWT.

Theory of operation: :class:`Authenticator` is built once at start-up from
the configuration (:func:`build_authenticator`) and called for every
request, in the worker thread, before the store transaction opens.  It
takes what the transport proved (``Peer.identity``: the verified client
certificate's name, or None) and what the request carries (KMIP
credentials, or an HTTP bearer token) and returns one user name, or raises
:class:`~kmsd.auth.errors.AuthenticationFailed`.

Secrets a request can carry, and what they prove:

* a Username and Password credential whose password is that user's
  password (``--users-file``) or one of that user's API tokens
  (``--api-token-file``), or a JWT (``--jwt-issuer-uri``…), see
  :mod:`.credentials`;
* an HTTP bearer token: a JWT or an API token.

Modes (``--auth-mode``):

* ``any`` (default): a request that carries credentials is the user they
  prove (they must all prove the same one); otherwise the user the client
  certificate names; otherwise it is refused.  Credentials that fail are a
  failure — there is no falling back to the certificate.
* ``cert-and-token``: a client certificate AND a credential naming the same
  user, for every request (the credential is the second factor).

``--insecure`` switches all of this off: every caller is
``--default-username`` and credentials are ignored; the server warns at
every start.

TLS: the listener asks for a client certificate always, but *requires* one
(:attr:`Authenticator.requires_client_certificate`) unless a method that
does not need one is configured and the mode allows it, or ``--insecure``.
That switch is deliberate: configuring a user list, API tokens or JWT
issuers in mode ``any`` is what lets certificate-less clients connect.

Every failure is logged at WARNING on ``kmsd.auth`` with the client address
and a reason that never contains a secret; the client is only ever told
"authentication failed".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kmsd.server.peer import Peer
from ttlv import Item

from .credentials import JWT_USERNAME, UsernamePassword, parse_authentication
from .errors import AuthConfigError, AuthenticationFailed
from .jwt_auth import DEFAULT_IDENTITY_CLAIM, JwtVerifier, looks_like_jwt
from .passwords import ApiTokens, UserList

log = logging.getLogger("kmsd.auth")

AUTH_MODES = ("any", "cert-and-token")
INSECURE_WARNING = (
    "INSECURE MODE: authentication is OFF; every caller is user %r and may use every object that user owns. "
    "Never run like this outside development."
)


@dataclass(frozen=True, slots=True)
class AuthSettings:
    mode: str = "any"
    insecure: bool = False
    default_user: str = "admin"
    users: UserList | None = None
    tokens: ApiTokens | None = None
    jwt: JwtVerifier | None = None

    def __post_init__(self) -> None:
        if self.mode not in AUTH_MODES:
            raise ValueError(f"unknown auth mode {self.mode!r}; use one of {AUTH_MODES}")


class Authenticator:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings

    @property
    def has_secret_methods(self) -> bool:
        s = self.settings
        return bool(s.users is not None or s.tokens is not None or s.jwt is not None)

    @property
    def requires_client_certificate(self) -> bool:
        """Whether the TLS layer must refuse clients without a certificate."""
        if self.settings.insecure:
            return False
        if self.settings.mode == "cert-and-token":
            return True
        return not self.has_secret_methods

    # -- KMIP ------------------------------------------------------------------------------
    def authenticate_kmip(self, peer: Peer, authentication: Item | None) -> str:
        """The caller of a KMIP request: ``peer`` plus the header's Authentication."""
        if self.settings.insecure:
            return self.settings.default_user
        try:
            credentials = parse_authentication(authentication)
            proven = {self._check_credential(c) for c in credentials}
            if len(proven) > 1:
                raise AuthenticationFailed("credentials name different users")
            return self._combine(peer, proven.pop() if proven else None)
        except AuthenticationFailed as exc:
            log.warning("authentication failed for %s (%s): %s", peer.address, peer.transport, exc.reason)
            raise

    # -- HTTP (the listener to come calls this) -------------------------------------------------
    def authenticate_bearer(self, peer: Peer, token: str | None) -> str:
        """The caller of an HTTP request: ``peer`` plus an ``Authorization: Bearer`` token."""
        if self.settings.insecure:
            return self.settings.default_user
        try:
            return self._combine(peer, self._check_bearer(token) if token else None)
        except AuthenticationFailed as exc:
            log.warning("authentication failed for %s (%s): %s", peer.address, peer.transport, exc.reason)
            raise

    # -- internals ------------------------------------------------------------------------------
    def _combine(self, peer: Peer, proven: str | None) -> str:
        certified = peer.identity
        if self.settings.mode == "cert-and-token":
            if certified is None:
                raise AuthenticationFailed("no client certificate (cert-and-token mode)")
            if proven is None:
                raise AuthenticationFailed(f"no second factor for {certified!r} (cert-and-token mode)")
            if proven != certified:
                raise AuthenticationFailed(f"certificate names {certified!r} but the credential {proven!r}")
            return certified
        if proven is not None:
            return proven
        if certified is not None:
            return certified
        raise AuthenticationFailed("no client certificate and no credentials")

    def _check_credential(self, credential: UsernamePassword) -> str:
        s = self.settings
        user, secret = credential.username, credential.password
        if not self.has_secret_methods:
            raise AuthenticationFailed("a credential was sent but no password, token or JWT method is configured")
        if s.jwt is not None and looks_like_jwt(secret):
            identity = s.jwt.verify(secret)
            if user not in (identity, JWT_USERNAME):
                raise AuthenticationFailed(f"Username {user!r} is not the token's identity")
            return identity
        if s.users is not None and s.users.verify(user, secret):
            return user
        if s.tokens is not None and s.tokens.verify(user, secret):
            return user
        raise AuthenticationFailed(f"bad password or token for {user!r}")

    def _check_bearer(self, token: str) -> str:
        s = self.settings
        if s.jwt is not None and looks_like_jwt(token):
            return s.jwt.verify(token)
        if s.tokens is not None:
            user = s.tokens.user_for(token)
            if user is not None:
                return user
        raise AuthenticationFailed("unknown bearer token")


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(str(v) for v in value)


def build_authenticator(config: Any, **jwks_options: Any) -> Authenticator:
    """The authenticator for a :class:`~kmsd.server.config.ServerConfig` (read with defaults).

    Files are read here, so a malformed user list or token file stops the
    start-up with its line number.
    """
    users_file: Path | None = getattr(config, "users_file", None)
    token_file: Path | None = getattr(config, "api_token_file", None)
    issuers: Sequence[str] = _tuple(getattr(config, "jwt_issuer_uri", None))
    verifier = None
    if issuers:
        verifier = JwtVerifier.from_settings(
            issuers,
            _tuple(getattr(config, "jwt_jwks_uri", None)),
            _tuple(getattr(config, "jwt_audience", None)),
            getattr(config, "jwt_identity_claim", None) or DEFAULT_IDENTITY_CLAIM,
            **jwks_options,
        )
    authenticator = Authenticator(
        AuthSettings(
            mode=str(getattr(config, "auth_mode", "any")),
            insecure=bool(getattr(config, "insecure", False)),
            default_user=str(getattr(config, "default_username", "admin")),
            users=UserList.from_file(users_file) if users_file is not None else None,
            tokens=ApiTokens.from_file(token_file) if token_file is not None else None,
            jwt=verifier,
        )
    )
    if authenticator.settings.mode == "cert-and-token" and not authenticator.has_secret_methods:
        raise AuthConfigError(
            "--auth-mode cert-and-token needs a second factor: --users-file, --api-token-file or --jwt-issuer-uri"
        )
    return authenticator


def log_start(authenticator: Authenticator) -> None:
    """One line describing the methods in force; the loud warning for ``--insecure``."""
    s = authenticator.settings
    if s.insecure:
        for _ in range(3):  # hard to miss in a scrolling log
            log.warning(INSECURE_WARNING, s.default_user)
        return
    methods = ["client certificate"]
    if s.users is not None:
        methods.append(f"password ({len(s.users)} users)")
    if s.tokens is not None:
        methods.append(f"API token ({len(s.tokens)})")
    if s.jwt is not None:
        issuers = ", ".join(p.issuer for p in s.jwt.providers)
        methods.append(f"JWT (issuers {issuers}; identity claim {s.jwt.identity_claim!r})")
        for p in s.jwt.providers:
            if p.audience is None:
                log.warning("JWT issuer %s has no audience configured: any token it issues is accepted", p.issuer)
    log.info(
        "authentication mode %s: %s; client certificate %s at the TLS layer",
        s.mode,
        ", ".join(methods),
        "required" if authenticator.requires_client_certificate else "optional",
    )
