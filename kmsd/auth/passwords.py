"""Passwords and API tokens: what the server keeps instead of secrets.

Theory of operation.  The server never stores a password or a token, only
something it can check one against:

* **User list** (``--users-file``): lines ``USER:HASH``.  ``HASH`` is
  ``scrypt$N$r$p$SALT$DIGEST`` (RFC 7914; salt and digest base64, made by
  ``kmsd auth hash-password``) or ``pbkdf2_sha256$ITERATIONS$SALT$DIGEST``
  (for hashes made elsewhere).  Passwords are slow to check on purpose; a
  KMIP client sends its credential with every request, so a successful
  check is remembered for :data:`VERIFIED_TTL` seconds under an HMAC of
  (user, password) keyed with a per-process random key — never the
  password itself.  An unknown user costs the same hash as a known one.
* **API tokens** (``--api-token-file``): lines ``USER:SHA256HEX`` where the
  hex is the SHA-256 of the token (``kmsd auth new-token USER`` makes one).
  A token is long and random, so a fast hash is enough; digests are
  compared with :func:`hmac.compare_digest` against *every* entry, so the
  time taken says nothing about which entry (if any) matched.

User names are everything before the *last* ``:`` (so ``spiffe://x/y`` or
an e-mail address works); blank lines and ``#`` comments are ignored; a
malformed line is an error at start-up with its line number, never a
silently ignored user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import AuthConfigError

#: scrypt cost (RFC 7914): N=2^15, r=8, p=1 takes 32 MiB and ~0.1 s, per OWASP's guidance.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SCRYPT_MAXMEM = 128 * 1024 * 1024
SALT_BYTES = 16
DIGEST_BYTES = 32
#: Lower bound on PBKDF2 iterations accepted from a file (OWASP 2023: 600 000 for SHA-256).
PBKDF2_MIN_ITERATIONS = 100_000
#: How long a verified (user, password) pair skips the slow hash.
VERIFIED_TTL = 60.0
VERIFIED_MAX = 1024
TOKEN_PREFIX = "kmsd_"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A ``scrypt$…`` hash of ``password`` for the user list."""
    salt = salt or secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=SCRYPT_MAXMEM, dklen=DIGEST_BYTES
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


@dataclass(frozen=True, slots=True)
class PasswordHash:
    """A parsed hash: ``derive(password)`` must equal ``digest``."""

    derive: Callable[[bytes], bytes]
    digest: bytes

    def verify(self, password: str) -> bool:
        return hmac.compare_digest(self.derive(password.encode()), self.digest)


def parse_hash(text: str) -> PasswordHash:
    """Parse a stored hash; ValueError (without the hash in it) if malformed."""
    parts = text.split("$")
    if parts[0] == "scrypt" and len(parts) == 6:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
        if n < 2**14 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16 or len(digest) < 16:
            raise ValueError("scrypt parameters out of range")

        def scrypt(password: bytes) -> bytes:
            return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=len(digest))

        return PasswordHash(scrypt, digest)
    if parts[0] == "pbkdf2_sha256" and len(parts) == 4:
        iterations = int(parts[1])
        salt, digest = _unb64(parts[2]), _unb64(parts[3])
        if iterations < PBKDF2_MIN_ITERATIONS or len(digest) < 16:
            raise ValueError(f"PBKDF2 needs at least {PBKDF2_MIN_ITERATIONS} iterations")

        def pbkdf2(password: bytes) -> bytes:
            return hashlib.pbkdf2_hmac("sha256", password, salt, iterations, dklen=len(digest))

        return PasswordHash(pbkdf2, digest)
    raise ValueError("expected scrypt$N$r$p$SALT$DIGEST or pbkdf2_sha256$ITERATIONS$SALT$DIGEST")


def _read_lines(path: Path, what: str) -> list[tuple[int, str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AuthConfigError(f"cannot read the {what} {path}: {exc.strerror}") from exc
    out: list[tuple[int, str, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, secret = line.rpartition(":")
        if not sep or not user or not secret:
            raise AuthConfigError(f"{path}:{number}: expected USER:{'HASH' if what == 'user list' else 'SHA256HEX'}")
        out.append((number, user, secret))
    return out


class UserList:
    """Users and their password hashes; :meth:`verify` is safe to call from many threads."""

    def __init__(self, hashes: dict[str, PasswordHash]) -> None:
        self._hashes = hashes
        self._dummy = parse_hash(hash_password(secrets.token_urlsafe(16)))
        self._key = secrets.token_bytes(32)
        self._verified: dict[bytes, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path) -> UserList:
        hashes: dict[str, PasswordHash] = {}
        for number, user, text in _read_lines(path, "user list"):
            if user in hashes:
                raise AuthConfigError(f"{path}:{number}: user {user!r} listed twice")
            try:
                hashes[user] = parse_hash(text)
            except (ValueError, TypeError) as exc:
                raise AuthConfigError(f"{path}:{number}: unusable password hash for {user!r}: {exc}") from None
        return cls(hashes)

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, user: object) -> bool:
        return user in self._hashes

    def verify(self, user: str, password: str) -> bool:
        memo = hmac.new(self._key, user.encode() + b"\0" + password.encode(), hashlib.sha256).digest()
        now = time.monotonic()
        with self._lock:
            expires = self._verified.get(memo)
        if expires is not None and expires > now:
            return True
        stored = self._hashes.get(user)
        ok = (stored or self._dummy).verify(password) and stored is not None
        if ok:
            with self._lock:
                if len(self._verified) >= VERIFIED_MAX:
                    self._verified = {k: v for k, v in self._verified.items() if v > now}
                    if len(self._verified) >= VERIFIED_MAX:
                        self._verified.clear()
                self._verified[memo] = now + VERIFIED_TTL
        return ok


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    """A fresh API token (256 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class ApiTokens:
    """API tokens by SHA-256 digest."""

    def __init__(self, entries: list[tuple[str, bytes]]) -> None:
        self._entries = entries

    @classmethod
    def from_file(cls, path: Path) -> ApiTokens:
        entries: list[tuple[str, bytes]] = []
        for number, user, hexdigest in _read_lines(path, "API token file"):
            try:
                digest = bytes.fromhex(hexdigest)
            except ValueError:
                digest = b""
            if len(digest) != DIGEST_BYTES:
                raise AuthConfigError(f"{path}:{number}: expected the 64 hex digits of a SHA-256 digest")
            entries.append((user, digest))
        return cls(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def user_for(self, token: str) -> str | None:
        """The user a token belongs to, or None.  Compares with every entry."""
        digest = token_digest(token)
        found: str | None = None
        for user, expected in self._entries:
            if hmac.compare_digest(digest, expected) and found is None:
                found = user
        return found

    def verify(self, user: str, token: str) -> bool:
        """Whether ``token`` is one of ``user``'s tokens."""
        digest = token_digest(token)
        ok = False
        for owner, expected in self._entries:
            match = hmac.compare_digest(digest, expected)
            ok |= match and hmac.compare_digest(owner.encode(), user.encode())
        return ok
