"""Test helpers for authentication: a JWKS server on loopback, tokens, KMIP credentials."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from ttlv import Item

from .kmip_builders import enum, s, text


@dataclass
class Jwks:
    """A JWKS document served over HTTP on 127.0.0.1 by a thread of the test."""

    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    port: int = 0

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/jwks.json"

    def add_rsa(self, kid: str) -> rsa.RSAPrivateKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        self.keys[kid] = {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}
        return key

    def add_ec(self, kid: str) -> ec.EllipticCurvePrivateKey:
        key = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
        self.keys[kid] = {**jwk, "kid": kid, "use": "sig"}
        return key


@contextmanager
def serve_jwks(jwks: Jwks) -> Iterator[Jwks]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            jwks.requests += 1
            body = json.dumps({"keys": list(jwks.keys.values())}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    jwks.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield jwks
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


ISSUER = "https://idp.test"
AUDIENCE = "kmsd"


def make_token(key: Any, kid: str | None, *, alg: str = "RS256", lifetime: int = 300, **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + lifetime, "email": "alice@test"}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(body, key, algorithm=alg, headers=headers)


def username_password(username: str, password: str | None = None) -> Item:
    value = [text("Username", username)]
    if password is not None:
        value.append(text("Password", password))
    return s("Credential", enum("Credential Type", 1), s("Credential Value", *value))


def authentication(*credentials: Item) -> Item:
    return s("Authentication", *credentials)
