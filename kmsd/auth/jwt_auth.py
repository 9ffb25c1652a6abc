"""JWT bearer tokens from one or more OpenID Connect identity providers.

Theory of operation: each provider is an issuer (``iss``), the URI of its
JSON Web Key Set, and optionally the audience (``aud``) its tokens must name.
To check a token the verifier

1. reads the *unverified* ``iss`` claim only to pick the provider (an
   unknown issuer is refused before any key is looked at);
2. reads the header's ``alg``: only asymmetric signatures are accepted
   (RS*, PS*, ES*, EdDSA).  ``none`` and every ``HS*`` are refused outright,
   which also defeats the classic confusion attack of an HMAC "signed" with
   the provider's public key;
3. finds the key by ``kid`` in the provider's cached JWKS.  An unknown
   ``kid`` (the provider rotated its keys) triggers one refresh, at most
   every :data:`MIN_REFRESH_INTERVAL` seconds per provider, so forged
   ``kid``\\ s cannot make us hammer the provider; the cache also expires
   after :data:`JWKS_MAX_AGE`;
4. verifies signature, ``exp`` (required), ``nbf``, ``iat``, ``iss`` and,
   when configured, ``aud`` with :func:`jwt.decode`, with
   :data:`LEEWAY` seconds of clock skew;
5. returns the identity claim (``email`` unless configured otherwise).

JWKS documents are fetched with :mod:`urllib` under a timeout, over HTTPS
(plain HTTP only to a loopback address, for tests and local IdPs), and at
most :data:`MAX_JWKS_BYTES` are read.  A failed refresh keeps the keys
already known.  Nothing here logs a token.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

from .errors import AuthConfigError, AuthenticationFailed

log = logging.getLogger("kmsd.auth.jwt")

ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
#: Seconds of clock skew tolerated on exp/nbf/iat.
LEEWAY = 60
#: An unknown kid refreshes the JWKS at most this often (per provider).
MIN_REFRESH_INTERVAL = 30.0
#: Keys are re-fetched at least this often, so a revoked key does not live forever.
JWKS_MAX_AGE = 3600.0
FETCH_TIMEOUT = 5.0
MAX_JWKS_BYTES = 1 << 20
DEFAULT_IDENTITY_CLAIM = "email"
JWKS_WELL_KNOWN = "/.well-known/jwks.json"

Fetch = Callable[[str, float], bytes]


def looks_like_jwt(text: str) -> bool:
    """Whether ``text`` has the shape of a compact JWS (three base64url parts, a JSON header)."""
    parts = text.split(".")
    if len(parts) != 3 or not parts[0].startswith("eyJ"):
        return False
    try:
        return isinstance(jwt.get_unverified_header(text), dict)
    except jwt.PyJWTError:
        return False


def default_jwks_uri(issuer: str) -> str:
    return issuer.rstrip("/") + JWKS_WELL_KNOWN


def check_fetch_uri(uri: str) -> None:
    """HTTPS, or HTTP to a loopback address only."""
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname:
        host = parts.hostname
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if loopback:
            return
    raise AuthConfigError(f"JWKS URI {uri!r}: use https:// (plain http only to a loopback address)")


def fetch_url(uri: str, timeout: float) -> bytes:
    request = urllib.request.Request(uri, headers={"Accept": "application/json", "User-Agent": "kmsd"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # scheme checked by check_fetch_uri
        data: bytes = response.read(MAX_JWKS_BYTES + 1)
    if len(data) > MAX_JWKS_BYTES:
        raise ValueError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
    return data


class JwksCache:
    """One provider's keys by ``kid``, fetched lazily and refreshed as described above."""

    def __init__(
        self,
        uri: str,
        *,
        fetch: Fetch = fetch_url,
        timeout: float = FETCH_TIMEOUT,
        min_refresh_interval: float = MIN_REFRESH_INTERVAL,
        max_age: float = JWKS_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.uri = uri
        self._fetch = fetch
        self._timeout = timeout
        self._min_refresh = min_refresh_interval
        self._max_age = max_age
        self._clock = clock
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._tried_at: float | None = None  # last attempt
        self._lock = threading.Lock()
        self.fetches = 0

    def key(self, kid: str | None) -> jwt.PyJWK | None:
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at > self._max_age
            if stale and self._may_try(now):
                self._refresh(now)
            found = self._lookup(kid)
            if found is None and self._may_try(now):
                self._refresh(now)
                found = self._lookup(kid)
            return found

    def _may_try(self, now: float) -> bool:
        return self._tried_at is None or now - self._tried_at >= self._min_refresh

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _refresh(self, now: float) -> None:
        self._tried_at = now
        self.fetches += 1
        try:
            document = json.loads(self._fetch(self.uri, self._timeout))
            keys = document["keys"] if isinstance(document, dict) else None
            if not isinstance(keys, list):
                raise ValueError("no 'keys' list")
        except Exception as exc:  # network, JSON, shape: keep what we had
            log.warning("cannot fetch the JWKS %s: %s", self.uri, exc)
            return
        fresh: dict[str | None, jwt.PyJWK] = {}
        for entry in keys:
            # Symmetric ("oct") keys never verify anything here: only public keys are trusted.
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or entry.get("kty") == "oct":
                continue
            try:
                fresh[entry.get("kid")] = jwt.PyJWK(entry)
            except jwt.PyJWTError as exc:  # an unsupported key type among others is not fatal
                log.debug("JWKS %s: skipping key %r: %s", self.uri, entry.get("kid"), exc)
        self._keys = fresh
        self._fetched_at = now
        log.info("JWKS %s: %d signing key(s)", self.uri, len(fresh))


@dataclass(frozen=True, slots=True)
class Provider:
    issuer: str
    jwks: JwksCache
    audience: str | None = None


class JwtVerifier:
    def __init__(self, providers: Sequence[Provider], identity_claim: str = DEFAULT_IDENTITY_CLAIM) -> None:
        if not providers:
            raise AuthConfigError("JWT authentication needs at least one issuer")
        self._providers: Mapping[str, Provider] = {p.issuer: p for p in providers}
        self.identity_claim = identity_claim

    @classmethod
    def from_settings(
        cls,
        issuers: Sequence[str],
        jwks_uris: Sequence[str] = (),
        audiences: Sequence[str] = (),
        identity_claim: str = DEFAULT_IDENTITY_CLAIM,
        **cache_options: Any,
    ) -> JwtVerifier:
        """Pair issuers with JWKS URIs and audiences by position.

        ``jwks_uris``: none (each issuer's ``/.well-known/jwks.json``) or one
        per issuer.  ``audiences``: none, one for all issuers, or one per issuer.
        """
        n = len(issuers)
        if jwks_uris and len(jwks_uris) != n:
            raise AuthConfigError(f"{len(jwks_uris)} JWKS URIs for {n} JWT issuers: give none or one per issuer")
        if len(audiences) not in (0, 1, n):
            raise AuthConfigError(f"{len(audiences)} JWT audiences for {n} issuers: give none, one, or one per issuer")
        providers = []
        for i, issuer in enumerate(issuers):
            uri = jwks_uris[i] if jwks_uris else default_jwks_uri(issuer)
            check_fetch_uri(uri)
            audience = audiences[i] if len(audiences) == n else (audiences[0] if audiences else None)
            providers.append(Provider(issuer, JwksCache(uri, **cache_options), audience))
        return cls(providers, identity_claim)

    @property
    def providers(self) -> tuple[Provider, ...]:
        return tuple(self._providers.values())

    def verify(self, token: str) -> str:
        """The identity a valid token names; :class:`AuthenticationFailed` otherwise."""
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(f"malformed JWT: {exc}") from None
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise AuthenticationFailed(f"JWT algorithm {str(alg)[:16]!r} refused")
        issuer = claims.get("iss")
        provider = self._providers.get(issuer) if isinstance(issuer, str) else None
        if provider is None:
            raise AuthenticationFailed(f"JWT from an unknown issuer {str(issuer)[:200]!r}")
        kid = header.get("kid")
        key = provider.jwks.key(kid if isinstance(kid, str) else None)
        if key is None:
            raise AuthenticationFailed(f"JWT key id {str(kid)[:100]!r} not in the issuer's JWKS")
        # An EC or OKP key fixes its algorithm (by curve); an RSA key serves RS* and PS*,
        # and jwt.decode refuses a key of the wrong family for ``alg``.
        if key.key_type != "RSA" and key.algorithm_name != alg:
            jwk_alg = key.algorithm_name
            raise AuthenticationFailed(f"JWT algorithm {alg} does not match the key's {jwk_alg}")
        try:
            verified = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                issuer=provider.issuer,
                audience=provider.audience,
                leeway=LEEWAY,
                options={"require": ["exp", "iss"], "verify_aud": provider.audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(f"JWT refused: {type(exc).__name__}: {exc}") from None
        identity = verified.get(self.identity_claim)
        if not isinstance(identity, str) or not identity:
            raise AuthenticationFailed(f"JWT has no {self.identity_claim!r} claim")
        return identity
