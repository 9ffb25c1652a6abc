"""Browser sessions: HMAC-signed tokens in a cookie, and the CSRF token they carry.

Theory of operation: signing in to the web UI (with a client certificate,
or a JWT / API token pasted once) yields a session token::

    base64url(JSON {"u": user, "m": means, "exp": unix time, "csrf": hex}) "." base64url(HMAC-SHA256)

It is stateless: any kmsd instance holding the same key verifies it, so a
session survives a load balancer sending the next request elsewhere.  The
key is 32 random bytes in ``DATA_DIR/http-session.key`` (created 0600 on
first use; instances behind one balancer share it like they share the
database).  The cookie is ``Secure`` (on TLS), ``HttpOnly`` and
``SameSite=Strict``; the token never reaches JavaScript.

CSRF (double submit, bound to the session): the signed payload holds a
random ``csrf`` value that the UI receives once, in the JSON answer of the
sign-in (and of ``GET /ui/api/session``), and must echo in an
``X-CSRF-Token`` header on every state-changing request made with the
cookie.  Another site can make the browser send the cookie, but it can
neither read the value nor set the header without a CORS preflight, which
this server never approves.  Comparisons are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

COOKIE_NAME = "kmsd_session"
CSRF_HEADER = "x-csrf-token"
KEY_FILENAME = "http-session.key"
KEY_SIZE = 32
#: A working day: long enough not to interrupt an administrator, short enough to bound a stolen cookie.
SESSION_TTL = 8 * 3600


class SessionError(Exception):
    """A session token that is malformed, wrongly signed or expired."""


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    means: str
    expires: int
    csrf: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise SessionError("bad encoding") from None


def load_or_create_key(data_dir: Path) -> bytes:
    """The session key in ``DATA_DIR/http-session.key``, made (0600, atomically) when missing."""
    path = data_dir / KEY_FILENAME
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = secrets.token_bytes(KEY_SIZE)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        try:
            os.link(tmp, path)  # a concurrent instance may have won: keep its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        key = path.read_bytes()
    if len(key) < KEY_SIZE:
        raise SessionError(f"{path} holds {len(key)} bytes, expected {KEY_SIZE}")
    return key


class SessionSigner:
    def __init__(self, key: bytes, ttl: int = SESSION_TTL) -> None:
        self._key = hashlib.sha256(b"kmsd http session v1\0" + key).digest()  # domain-separated
        self.ttl = ttl

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def issue(self, user: str, means: str, *, now: float | None = None) -> tuple[str, Session]:
        issued = int(time.time() if now is None else now)
        session = Session(user, means, issued + self.ttl, secrets.token_hex(16))
        payload = json.dumps(
            {"u": session.user, "m": session.means, "exp": session.expires, "csrf": session.csrf},
            separators=(",", ":"),
        ).encode("utf-8")
        return f"{_b64(payload)}.{_b64(self._mac(payload))}", session

    def verify(self, token: str, *, now: float | None = None) -> Session:
        body, sep, mac = token.partition(".")
        if not sep or len(token) > 4096:
            raise SessionError("malformed")
        payload = _unb64(body)
        if not hmac.compare_digest(_unb64(mac), self._mac(payload)):
            raise SessionError("bad signature")
        try:
            data = json.loads(payload)
            session = Session(str(data["u"]), str(data["m"]), int(data["exp"]), str(data["csrf"]))
        except (ValueError, KeyError, TypeError):
            raise SessionError("malformed payload") from None
        if session.expires <= (time.time() if now is None else now):
            raise SessionError("expired")
        return session


def csrf_matches(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf.encode(), presented.encode("utf-8", "replace"))


def cookie_header(token: str, *, secure: bool, max_age: int) -> tuple[str, str]:
    attributes = [f"{COOKIE_NAME}={token}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Strict"]
    if secure:
        attributes.append("Secure")
    return ("set-cookie", "; ".join(attributes))


def clear_cookie_header(*, secure: bool) -> tuple[str, str]:
    return cookie_header("", secure=secure, max_age=0)
