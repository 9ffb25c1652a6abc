"""A tiny HTTPS client for the HTTP API tests (http.client over our own TLS contexts)."""

from __future__ import annotations

import hashlib
import http.client
import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kmsd.server.tls import build_client_context

from .server_process import RunningServer


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass
class Client:
    host: str
    port: int
    context: ssl.SSLContext | None
    token: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str | None = None

    def request(
        self, method: str, path: str, body: bytes | str | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        if self.context is None:
            conn: http.client.HTTPConnection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        else:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=30)
        all_headers = dict(headers or {})
        if self.token is not None:
            all_headers.setdefault("authorization", f"Bearer {self.token}")
        if self.cookies:
            all_headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.csrf is not None and method != "GET":
            all_headers.setdefault("x-csrf-token", self.csrf)
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            conn.close()
        cookie = reply.headers.get("set-cookie")
        if cookie:
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0]
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return reply

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post_json(self, path: str, value: Any, headers: dict[str, str] | None = None) -> Reply:
        return self.request(
            "POST", path, json.dumps(value).encode(), {"content-type": "application/json", **(headers or {})}
        )


def http_port(server: RunningServer) -> int:
    return int((server.data_dir / "http.port").read_text().strip())


def client(server: RunningServer, user: str | None = "admin", token: str | None = None) -> Client:
    """A client of ``server``'s HTTPS port with ``user``'s certificate (None: no certificate)."""
    ca = Path(server.ca)
    if user is None:
        context = build_client_context(ca)
    elif user == "admin":
        context = build_client_context(ca, Path(server.admin_cert), Path(server.admin_key))
    else:
        cert, key = server.client_cert(user)
        context = build_client_context(ca, Path(cert), Path(key))
    return Client("127.0.0.1", http_port(server), context, token=token)


def write_token_file(path: Path, tokens: dict[str, str]) -> Path:
    """An --api-token-file: USER:SHA256HEX lines for {user: token}."""
    lines = [f"{user}:{hashlib.sha256(token.encode()).hexdigest()}" for user, token in tokens.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def create_symmetric_key(c: Client, name: str | None = None) -> str:
    """Create an AES-256 key through the Cosmian API; its unique identifier."""
    attrs: list[dict[str, Any]] = [
        {"tag": "CryptographicAlgorithm", "type": "Enumeration", "value": "AES"},
        {"tag": "CryptographicLength", "type": "Integer", "value": 256},
        {"tag": "CryptographicUsageMask", "type": "Integer", "value": 12},
    ]
    if name is not None:
        attrs.append(
            {
                "tag": "Name",
                "type": "Structure",
                "value": [
                    {"tag": "NameValue", "type": "TextString", "value": name},
                    {"tag": "NameType", "type": "Enumeration", "value": "UninterpretedTextString"},
                ],
            }
        )
    reply = c.post_json(
        "/kmip/2_1",
        {
            "tag": "Create",
            "type": "Structure",
            "value": [
                {"tag": "ObjectType", "type": "Enumeration", "value": "SymmetricKey"},
                {"tag": "Attributes", "type": "Structure", "value": attrs},
            ],
        },
    )
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["tag"] == "CreateResponse"
    uid = next(v["value"] for v in body["value"] if v["tag"] == "UniqueIdentifier")
    assert isinstance(uid, str)
    return uid
