"""The HTTPS API of a real ``kmsd serve``: every endpoint, authentication, limits and hygiene.

One server per module (loopback, ephemeral ports) with API tokens for
alice and bob; admin connects with the generated client certificate.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

import ttlv
from kmsd.kmip.enums import Operation, ResultReason, ResultStatus
from kmsd.server.tls import build_client_context

from . import kmip_builders as kb
from .http_client import Client, client, create_symmetric_key, http_port, write_token_file
from .server_process import RunningServer, start_server

TESTCASES = Path(__file__).resolve().parents[1].parent / "shared" / "kmip-testcases"
TOKENS = {"alice": "alice-secret-token-0123456789", "bob": "bob-secret-token-9876543210"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    base = tmp_path_factory.mktemp("http")
    tokens = write_token_file(base / "tokens.txt", TOKENS)
    running = start_server(base / "data", "--non-fips", "--api-token-file", str(tokens))
    yield running
    running.stop()


@pytest.fixture
def admin(server: RunningServer) -> Client:
    return client(server)


@pytest.fixture
def alice(server: RunningServer) -> Client:
    return client(server, None, TOKENS["alice"])


@pytest.fixture
def bob(server: RunningServer) -> Client:
    return client(server, None, TOKENS["bob"])


# -- hygiene ----------------------------------------------------------------------------------


def test_security_headers_on_every_answer(admin: Client, server: RunningServer) -> None:
    anonymous = client(server, None)
    for reply in (admin.get("/health"), anonymous.get("/me"), admin.get("/no/such/thing")):
        h = reply.headers
        assert h["content-security-policy"].startswith("default-src 'self'")
        assert h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer"
        assert h["strict-transport-security"].startswith("max-age=")


def test_errors_have_one_shape(admin: Client) -> None:
    for reply, status in (
        (admin.get("/no/such/thing"), 404),
        (admin.request("DELETE", "/access/owned"), 405),
        (admin.request("POST", "/kmip", b"x", {"content-type": "image/png"}), 415),
        (admin.request("POST", "/kmip", b"\x42\x00", {"content-type": "application/octet-stream"}), 400),
        (admin.request("POST", "/access/grant", b"{not json", {"content-type": "application/json"}), 400),
    ):
        assert reply.status == status, reply.body
        body = reply.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
        assert "Traceback" not in reply.body.decode()
    assert admin.request("DELETE", "/access/owned").headers["allow"] == "GET"


def test_401_without_credentials(server: RunningServer) -> None:
    anonymous = client(server, None)
    for method, path in (("GET", "/me"), ("GET", "/access/owned"), ("GET", "/server-info")):
        reply = anonymous.request(method, path)
        assert reply.status == 401
        assert reply.json()["error"]["code"] == "unauthorized"
        assert reply.headers["www-authenticate"].startswith("Bearer")
    message = kb.request((2, 1), (Operation.QUERY, [kb.enum("Query Function", 1)]))
    assert anonymous.request("POST", "/kmip", message, {"content-type": "application/octet-stream"}).status == 401


def test_401_for_a_wrong_token_says_nothing_more(server: RunningServer) -> None:
    for token in ("wrong", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", TOKENS["alice"] + "x"):
        reply = client(server, None, token).get("/me")
        assert reply.status == 401
        assert reply.json()["error"]["message"] == "authentication failed"
    basic = client(server, None)
    assert basic.get("/me", headers={"authorization": "Basic YWxpY2U6eA=="}).status == 401


def test_body_limit_refused_from_the_head(server: RunningServer) -> None:
    ctx = build_client_context(Path(server.ca), Path(server.admin_cert), Path(server.admin_key))
    with socket.create_connection(("127.0.0.1", http_port(server)), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(
                b"POST /kmip HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\n"
                b"content-length: 999999999\r\n\r\n"
            )
            data = _read_all(tls)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def _read_all(sock: ssl.SSLSocket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLError, OSError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_malformed_http_gets_400(server: RunningServer) -> None:
    ctx = build_client_context(Path(server.ca))
    with socket.create_connection(("127.0.0.1", http_port(server)), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GARBAGE\r\n\r\n")
            data = _read_all(tls)
    assert data.startswith(b"HTTP/1.1 400")


def test_keep_alive_serves_several_requests_on_one_connection(server: RunningServer) -> None:
    import http.client

    ctx = build_client_context(Path(server.ca), Path(server.admin_cert), Path(server.admin_key))
    conn = http.client.HTTPSConnection("127.0.0.1", http_port(server), context=ctx, timeout=10)
    try:
        for _ in range(5):
            conn.request("GET", "/me")
            response = conn.getresponse()
            assert response.status == 200 and json.loads(response.read())["user"] == "admin"
    finally:
        conn.close()


def test_cross_origin_post_is_refused(admin: Client) -> None:
    reply = admin.post_json(
        "/access/grant",
        {"unique_identifier": "x", "user_id": "bob", "operation_types": ["get"]},
        headers={"origin": "https://evil.example"},
    )
    assert reply.status == 403 and reply.json()["error"]["code"] == "cross_origin"


# -- identity and information -----------------------------------------------------------------


def test_me_by_certificate_and_by_token(admin: Client, alice: Client) -> None:
    assert admin.get("/me").json() == {
        "user": "admin",
        "authenticated_by": "mtls",
        "certificate_identity": "admin",
        "may_create": True,
    }
    assert alice.get("/me").json()["user"] == "alice"
    assert alice.get("/me").json()["authenticated_by"] == "bearer"


def test_health_version_server_info(admin: Client, server: RunningServer) -> None:
    anonymous = client(server, None)
    assert anonymous.get("/health").json() == {"status": "ok", "store": "ok"}
    assert anonymous.get("/version").json()["server"] == "kmsd"
    info = admin.get("/server-info").json()
    assert "2.1" in info["kmip_versions"] and "1.0" in info["kmip_versions"]
    assert info["tls"] is True and info["database"] == "sqlite"


def test_metrics_on_the_http_port(admin: Client, server: RunningServer) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    admin.get("/me")
    reply = client(server, None).get("/metrics")
    assert reply.status == 200 and reply.content_type.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(reply.body.decode())}
    http_requests = families["kmsd_http_requests"]
    assert any(s.labels.get("route") == "me" and s.value >= 1 for s in http_requests.samples)
    assert "kmsd_requests" in families  # the KMIP counters: one registry


def test_openapi_describes_every_route(server: RunningServer) -> None:
    from kmsd.http.service import ROUTES

    doc = client(server, None).get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    for route in ROUTES:
        if route.name.startswith("ui."):
            continue
        assert (route.method, route.pattern) in documented, route


# -- POST /kmip in three encodings --------------------------------------------------------------


def _msgenc_requests(version: str, profile: str) -> list[ttlv.Item]:
    path = TESTCASES / version / "mandatory" / f"MSGENC-{profile}-M-1-{version.replace('.', '')}.xml"
    if not path.exists():
        pytest.skip(f"{path} not present")
    messages = ttlv.xml.decode_messages(path.read_text())
    return [m for m in messages if m.tag == ttlv.REGISTRY.tag("Request Message")]


ENCODINGS = {
    "binary": ("application/octet-stream", ttlv.encode, ttlv.decode),
    "xml": ("text/xml", lambda item: ttlv.xml.encode(item).encode(), lambda data: ttlv.xml.decode(data)),
    "json": ("application/json", lambda item: ttlv.json.encode(item).encode(), lambda data: ttlv.json.decode(data)),
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("version", ["1.4", "2.1"])
def test_kmip_query_with_maximum_response_size(admin: Client, encoding: str, version: str) -> None:
    content_type, encode, decode = ENCODINGS[encoding]
    too_small, big_enough = _msgenc_requests(version, "HTTPS")[:2]
    results = []
    for message in (too_small, big_enough):
        reply = admin.request("POST", "/kmip", encode(message), {"content-type": content_type})
        assert reply.status == 200
        assert reply.content_type.startswith(content_type)
        response = kb.Response(ttlv.encode(decode(reply.body)))
        assert response.version() == tuple(int(p) for p in version.split("."))
        results.append(response)
    assert results[0].status() == ResultStatus.OPERATION_FAILED
    assert results[0].reason() == ResultReason.RESPONSE_TOO_LARGE
    assert results[1].status() == ResultStatus.SUCCESS
    operations = results[1].payload().find_all(kb.tag("Operation"))
    assert Operation.CREATE in [o.value for o in operations]


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_kmip_1x_create_and_get_over_http(admin: Client, encoding: str) -> None:
    content_type, encode, decode = ENCODINGS[encoding]
    version = (1, 2)
    create = kb.request(
        version,
        (
            Operation.CREATE,
            [
                kb.enum("Object Type", 2),
                kb.attributes(
                    version,
                    kb.enum("Cryptographic Algorithm", 3),
                    kb.integer("Cryptographic Length", 128),
                    kb.integer("Cryptographic Usage Mask", 12),
                ),
            ],
        ),
    )
    reply = admin.request("POST", "/kmip", encode(ttlv.decode(create)), {"content-type": content_type})
    response = kb.Response(ttlv.encode(decode(reply.body)))
    assert response.status() == ResultStatus.SUCCESS, response.message()
    uid = response.get("Unique Identifier")
    get = kb.request(version, (Operation.GET, [kb.text("Unique Identifier", uid)]))
    reply = admin.request("POST", "/kmip", encode(ttlv.decode(get)), {"content-type": content_type})
    got = kb.Response(ttlv.encode(decode(reply.body)))
    assert got.status() == ResultStatus.SUCCESS and got.get("Unique Identifier") == uid


def test_kmip_credentials_in_the_message_are_enough(server: RunningServer) -> None:
    from .auth_helpers import authentication, username_password

    anonymous = client(server, None)
    header = [authentication(username_password("alice", TOKENS["alice"]))]
    message = kb.request((2, 1), (Operation.QUERY, [kb.enum("Query Function", 1)]), header_extra=header)
    reply = anonymous.request("POST", "/kmip", message, {"content-type": "application/octet-stream"})
    assert reply.status == 200
    assert kb.Response(reply.body).status() == ResultStatus.SUCCESS


# -- POST /kmip/2_1: the Cosmian API --------------------------------------------------------------


def test_cosmian_bare_operations(alice: Client) -> None:
    uid = create_symmetric_key(alice, "cosmian-bare")
    reply = alice.post_json(
        "/kmip/2_1",
        {
            "tag": "GetAttributes",
            "type": "Structure",
            "value": [{"tag": "UniqueIdentifier", "type": "TextString", "value": uid}],
        },
    )
    assert reply.status == 200
    body = reply.json()
    assert body["tag"] == "GetAttributesResponse" and body["type"] == "Structure"
    assert {"tag": "UniqueIdentifier", "type": "TextString", "value": uid} in body["value"]


def test_cosmian_errors_are_422_text(alice: Client) -> None:
    reply = alice.post_json(
        "/kmip/2_1",
        {
            "tag": "Get",
            "type": "Structure",
            "value": [{"tag": "UniqueIdentifier", "type": "TextString", "value": "nope"}],
        },
    )
    assert reply.status == 422
    assert reply.content_type.startswith("text/plain")
    assert reply.body.decode().split(":")[0] in ("Item_Not_Found", "Object_Not_Found")
    assert alice.post_json("/kmip/2_1", {"tag": "NoSuchOperation", "value": []}).status == 422
    assert alice.post_json("/kmip/2_1", [1, 2]).status == 422


def test_cosmian_full_message(alice: Client) -> None:
    message = ttlv.json.to_obj(ttlv.decode(kb.request((2, 1), (Operation.QUERY, [kb.enum("Query Function", 1)]))))
    reply = alice.post_json("/kmip/2_1", message)
    assert reply.status == 200
    body = reply.json()
    assert body["tag"] == "ResponseMessage"
    item = ttlv.json.from_obj(body)
    assert kb.Response(ttlv.encode(item)).status() == ResultStatus.SUCCESS


# -- KMIP port and HTTP port see the same objects --------------------------------------------------


def _kmip_port_exchange(server: RunningServer, message: bytes) -> kb.Response:
    ctx = build_client_context(Path(server.ca), Path(server.admin_cert), Path(server.admin_key))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(message)
            framer = ttlv.Framer()
            while (data := framer.next_message()) is None:
                framer.feed(tls.recv(65536))
    return kb.Response(data)


def _attributes_over_kmip(server: RunningServer, uid: str) -> ttlv.Item:
    message = kb.request((2, 1), (Operation.GET_ATTRIBUTES, [kb.text("Unique Identifier", uid)]))
    response = _kmip_port_exchange(server, message)
    assert response.status() == ResultStatus.SUCCESS
    return response.payload()


def _attributes_over_http(admin: Client, uid: str) -> ttlv.Item:
    message = kb.request((2, 1), (Operation.GET_ATTRIBUTES, [kb.text("Unique Identifier", uid)]))
    reply = admin.request("POST", "/kmip", message, {"content-type": "application/octet-stream"})
    response = kb.Response(reply.body)
    assert response.status() == ResultStatus.SUCCESS
    return response.payload()


def test_created_over_kmip_read_over_http_and_back(server: RunningServer, admin: Client) -> None:
    version = (2, 1)
    create = kb.request(
        version,
        (
            Operation.CREATE,
            [
                kb.enum("Object Type", 2),
                kb.attributes(
                    version,
                    kb.enum("Cryptographic Algorithm", 3),
                    kb.integer("Cryptographic Length", 256),
                    kb.integer("Cryptographic Usage Mask", 12),
                ),
            ],
        ),
    )
    uid_kmip = _kmip_port_exchange(server, create).get("Unique Identifier")
    uid_http = create_symmetric_key(admin)
    for uid in (uid_kmip, uid_http):
        over_kmip = _attributes_over_kmip(server, uid)
        over_http = _attributes_over_http(admin, uid)
        assert over_kmip == over_http
    owned = {o["object_id"] for o in admin.get("/access/owned").json()}
    assert {uid_kmip, uid_http} <= owned


# -- access management -----------------------------------------------------------------------------


def test_grant_list_obtained_revoke(alice: Client, bob: Client) -> None:
    uid = create_symmetric_key(alice, "shared-key")
    get = {"tag": "GetAttributes", "value": [{"tag": "UniqueIdentifier", "type": "TextString", "value": uid}]}
    assert bob.post_json("/kmip/2_1", get).status == 422  # not visible
    assert uid not in {o["object_id"] for o in bob.get("/access/obtained").json()}
    assert bob.get(f"/access/list/{uid}").status == 404  # cannot even learn it exists
    grant = {"unique_identifier": uid, "user_id": "bob", "operation_types": ["get_attributes", "get"]}
    assert bob.post_json("/access/grant", grant).status == 404
    reply = alice.post_json("/access/grant", grant)
    assert reply.status == 200 and reply.json() == {"success": "Access for bob successfully added"}
    assert alice.get(f"/access/list/{uid}").json() == [{"user_id": "bob", "operations": ["get", "get_attributes"]}]
    obtained = {o["object_id"]: o for o in bob.get("/access/obtained").json()}
    assert obtained[uid]["owner_id"] == "alice" and obtained[uid]["operations"] == ["get", "get_attributes"]
    assert bob.post_json("/kmip/2_1", get).status == 200
    assert bob.get(f"/access/list/{uid}").status == 403  # sees it, but is not the owner
    revoke = {"unique_identifier": uid, "user_id": "bob", "operation_types": ["get_attributes", "get"]}
    assert alice.post_json("/access/revoke", revoke).json() == {"success": "Access for bob successfully deleted"}
    assert bob.post_json("/kmip/2_1", get).status == 422
    assert alice.get(f"/access/list/{uid}").json() == []


def test_access_validation(alice: Client) -> None:
    uid = create_symmetric_key(alice)
    bad = [
        {"unique_identifier": uid, "user_id": "bob", "operation_types": ["fly"]},
        {"unique_identifier": uid, "user_id": "bob", "operation_types": []},
        {"unique_identifier": "", "user_id": "bob", "operation_types": ["get"]},
        {"unique_identifier": uid, "user_id": 3, "operation_types": ["get"]},
        {"unique_identifier": uid, "user_id": "alice", "operation_types": ["get"]},
        [],
    ]
    for body in bad:
        reply = alice.post_json("/access/grant", body)
        assert reply.status == 400, body
    assert alice.get("/access/privileged").json() == {"has_privileged_access": True}


def test_privileged_users_grant_create(tmp_path: Path) -> None:
    """--privileged-users over HTTPS: alice grants bob ``create`` on ``*`` (the server) and takes it back."""
    tokens = write_token_file(tmp_path / "tokens.txt", {**TOKENS, "carol": "carol-secret-token-0123456789"})
    running = start_server(
        tmp_path / "data", "--non-fips", "--api-token-file", str(tokens), "--privileged-users", "alice"
    )
    try:
        alice, bob = client(running, None, TOKENS["alice"]), client(running, None, TOKENS["bob"])
        carol = client(running, None, "carol-secret-token-0123456789")
        body = {"unique_identifier": "*", "user_id": "bob", "operation_types": ["create"]}
        assert bob.get("/access/privileged").json() == {"has_privileged_access": False}
        assert bob.get("/me").json()["may_create"] is False
        assert carol.post_json("/access/grant", body).status == 403
        assert alice.post_json("/access/grant", {**body, "operation_types": ["get"]}).status == 400
        reply = alice.post_json("/access/grant", body)
        assert reply.status == 200 and reply.json() == {"success": "Access for bob successfully added"}
        assert bob.get("/access/privileged").json() == {"has_privileged_access": True}
        assert bob.get("/me").json()["may_create"] is True
        create_symmetric_key(bob)
        assert bob.post_json("/access/grant", {**body, "user_id": "carol"}).status == 403  # not passed on
        assert alice.get("/access/privileged").json() == {
            "has_privileged_access": True,
            "privileged_users": ["alice"],
            "create_grants": [{"user_id": "bob", "granted_by": "alice"}],
        }
        assert alice.post_json("/access/revoke", body).status == 200
        assert bob.get("/access/privileged").json() == {"has_privileged_access": False}
    finally:
        running.stop()


def test_http_operations_are_audited(server: RunningServer, alice: Client, bob: Client) -> None:
    uid = create_symmetric_key(alice)
    alice.post_json("/access/grant", {"unique_identifier": uid, "user_id": "bob", "operation_types": ["get"]})
    client(server, None, "bad-token").get("/access/owned")
    lines = [json.loads(line) for line in (server.data_dir / "audit.jsonl").read_text().splitlines()]
    grants = [r for r in lines if r.get("operation") == "POST /access/grant" and uid in r.get("object_ids", [])]
    assert grants and grants[-1]["user"] == "alice" and grants[-1]["result"] == "success"
    assert grants[-1]["protocol"] == "http" and grants[-1]["auth"] == "bearer"
    creates = [r for r in lines if r.get("operation") == "Create" and uid in r.get("object_ids", [])]
    assert creates and creates[-1]["protocol"] == "http" and creates[-1]["user"] == "alice"
    assert any(r["event"] == "http.authentication_failure" for r in lines)
    text = (server.data_dir / "audit.jsonl").read_text()
    for token in TOKENS.values():
        assert token not in text


# -- UI sessions and CSRF ------------------------------------------------------------------------------


def test_session_cookie_and_csrf(server: RunningServer) -> None:
    browser = client(server, None)
    reply = browser.post_json("/ui/api/login", {"token": TOKENS["alice"]})
    assert reply.status == 200
    cookie = reply.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=Strict", "Secure", "Path=/"):
        assert attribute in cookie
    csrf = reply.json()["csrf"]
    assert browser.get("/me").json()["authenticated_by"] == "session"
    assert browser.get("/ui/api/session").json()["csrf"] == csrf
    uid = "whatever"
    grant = {"unique_identifier": uid, "user_id": "bob", "operation_types": ["get"]}
    assert browser.post_json("/access/grant", grant).json()["error"]["code"] == "csrf"
    browser.csrf = "0" * 32
    assert browser.post_json("/access/grant", grant).status == 403
    browser.csrf = csrf
    assert browser.post_json("/access/grant", grant).status == 404  # past CSRF: no such object
    tampered = dict(browser.cookies)
    tampered["kmsd_session"] = tampered["kmsd_session"][:-2] + "AA"
    forged = client(server, None)
    forged.cookies = tampered
    assert forged.get("/me").status == 401
    browser.request("POST", "/ui/api/logout")
    assert "kmsd_session" not in browser.cookies


def test_login_with_a_certificate_and_refusals(server: RunningServer) -> None:
    assert client(server).post_json("/ui/api/login", {}).json()["user"] == "admin"
    assert client(server, None).post_json("/ui/api/login", {}).status == 401
    assert client(server, None).post_json("/ui/api/login", {"token": "nope"}).status == 401


def test_ui_assets_are_served(server: RunningServer) -> None:
    anonymous = client(server, None)
    assert anonymous.get("/").status == 302
    index = anonymous.get("/ui/")
    assert index.status == 200 and index.content_type.startswith("text/html")
    assert b"<script" in index.body and b"http://" not in index.body and b"https://" not in index.body
    assert anonymous.get("/ui/../service.py").status == 404
    assert anonymous.get("/ui/app.js").content_type.startswith("text/javascript")
