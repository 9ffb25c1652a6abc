"""Authentication: JWT (against a JWKS served by the test on 127.0.0.1), passwords,
API tokens, KMIP credentials, combining modes and --insecure.

Most tests drive the Executor in process (fast); the last ones run a real
``kmsd serve`` and PyKMIP clients without client certificates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kmsd.auth.authenticator import Authenticator, AuthSettings, build_authenticator
from kmsd.auth.credentials import UsernamePassword, parse_authentication
from kmsd.auth.errors import AuthConfigError, AuthenticationFailed
from kmsd.auth.identity import certificate_identity
from kmsd.auth.jwt_auth import JwksCache, JwtVerifier, Provider, check_fetch_uri, looks_like_jwt
from kmsd.auth.passwords import ApiTokens, UserList, hash_password, new_token, parse_hash, token_digest
from kmsd.cli import main
from kmsd.kmip.enums import Operation, ResultReason, ResultStatus
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.server.config import config_from_args
from kmsd.server.peer import Peer
from kmsd.server.tls import IdentityError
from kmsd.store.factory import open_store

from .auth_helpers import AUDIENCE, ISSUER, Jwks, authentication, make_token, serve_jwks, username_password
from .kmip_builders import Response, enum, request, s, text
from .test_executor import create_aes

ANON = Peer(identity=None, address="127.0.0.1:9")
ALICE_CERT = Peer(identity="alice", address="127.0.0.1:1")
BOB_CERT = Peer(identity="bob", address="127.0.0.1:2")
V = (1, 4)


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    with serve_jwks(Jwks()) as served:
        yield served


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users"
    path.write_text(
        "# users\n"
        f"alice:{hash_password('alice-pw')}\n"
        f"bob:{hash_password('bob-pw')}\n"
        f"spiffe://x/carol:{hash_password('carol-pw')}\n"
    )
    return path


@pytest.fixture(scope="module")
def tokens() -> tuple[str, str]:
    return new_token(), new_token()


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory, tokens: tuple[str, str]) -> Path:
    path = tmp_path_factory.mktemp("tokens") / "tokens"
    path.write_text(f"alice:{token_digest(tokens[0]).hex()}\nci-bot:{token_digest(tokens[1]).hex()}\n")
    return path


def verifier(jwks: Jwks, *, min_refresh: float = 0.0, audience: str | None = AUDIENCE) -> JwtVerifier:
    cache = JwksCache(jwks.uri, min_refresh_interval=min_refresh)
    return JwtVerifier([Provider(ISSUER, cache, audience)])


def executor(tmp_path: Path, authenticator: Authenticator) -> Executor:
    store = open_store("sqlite", str(tmp_path / "kms.db"))
    return Executor(store, ExecutorSettings(authenticator=authenticator))


def create(ex: Executor, peer: Peer, *creds: object) -> Response:
    extra = [authentication(*creds)] if creds else []  # type: ignore[arg-type]
    data = request(V, (Operation.CREATE, [enum("Object Type", 2), _aes_attrs()]), header_extra=extra)
    out = ex.process(data, peer)
    assert out is not None
    return Response(out)


def _aes_attrs() -> object:
    from .kmip_builders import attributes, integer

    return attributes(V, enum("Cryptographic Algorithm", 3), integer("Cryptographic Length", 128))


def assert_denied(r: Response) -> None:
    assert r.status() == ResultStatus.OPERATION_FAILED
    assert r.reason() == ResultReason.PERMISSION_DENIED
    assert r.message() == "authentication failed"


# -- JWT ---------------------------------------------------------------------------------


def test_jwt_valid_token(jwks: Jwks) -> None:
    key = jwks.add_rsa("k1")
    assert verifier(jwks).verify(make_token(key, "k1")) == "alice@test"


def test_jwt_ec_key_and_custom_claim(jwks: Jwks) -> None:
    key = jwks.add_ec("e1")
    v = JwtVerifier([Provider(ISSUER, JwksCache(jwks.uri), AUDIENCE)], identity_claim="sub")
    assert v.verify(make_token(key, "e1", alg="ES256", sub="svc-1")) == "svc-1"
    with pytest.raises(AuthenticationFailed):  # claim missing
        v.verify(make_token(key, "e1", alg="ES256"))


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"lifetime": -600}, "expired"),
        ({"iss": "https://evil.test"}, "wrong issuer"),
        ({"aud": "someone-else"}, "wrong audience"),
        ({"aud": None}, "no audience"),
        ({"exp": None}, "no expiry"),
        ({"nbf": 2**40}, "not yet valid"),
        ({"email": None}, "no identity claim"),
    ],
)
def test_jwt_refused_claims(jwks: Jwks, claims: dict[str, object], why: str) -> None:
    key = jwks.add_rsa("k1")
    lifetime = claims.pop("lifetime", 300)
    token = make_token(key, "k1", lifetime=int(lifetime), **claims)  # type: ignore[arg-type]
    with pytest.raises(AuthenticationFailed):
        verifier(jwks).verify(token)


def test_jwt_bad_signature(jwks: Jwks) -> None:
    jwks.add_rsa("k1")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(AuthenticationFailed):
        verifier(jwks).verify(make_token(other, "k1"))
    # A valid token with one byte of its signature changed.
    good = make_token(jwks_key := jwks.add_rsa("k2"), "k2")
    del jwks_key
    head, body, sig = good.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[0] ^= 1
    tampered = ".".join((head, body, base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()))
    with pytest.raises(AuthenticationFailed):
        verifier(jwks).verify(tampered)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_jwt_alg_none_refused(jwks: Jwks) -> None:
    jwks.add_rsa("k1")
    claims = json.loads(base64.urlsafe_b64decode(make_token(jwks.add_rsa("k2"), "k2").split(".")[1] + "=="))
    unsigned = _b64(json.dumps({"alg": "none", "kid": "k1"}).encode()) + "." + _b64(json.dumps(claims).encode()) + "."
    assert looks_like_jwt(unsigned)
    with pytest.raises(AuthenticationFailed):
        verifier(jwks).verify(unsigned)


def test_jwt_hmac_signed_with_public_key_refused(jwks: Jwks) -> None:
    """The algorithm-confusion attack: HS256 keyed with the provider's public key."""
    key = jwks.add_rsa("k1")
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    claims = json.loads(base64.urlsafe_b64decode(make_token(key, "k1").split(".")[1] + "=="))
    signing_input = _b64(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode()) + "."
    signing_input += _b64(json.dumps(claims).encode())
    sig = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(AuthenticationFailed):
        verifier(jwks).verify(signing_input + "." + _b64(sig))


def test_jwt_unknown_kid_refreshes_the_jwks(jwks: Jwks) -> None:
    jwks.add_rsa("old")
    v = verifier(jwks, min_refresh=0.0)
    assert v.verify(make_token(jwks.add_rsa("k0"), "k0"))  # first fetch
    fetched = jwks.requests
    rotated = jwks.add_rsa("new")  # the provider rotates its keys
    assert v.verify(make_token(rotated, "new")) == "alice@test"
    assert jwks.requests == fetched + 1
    assert v.verify(make_token(rotated, "new"))  # cached now
    assert jwks.requests == fetched + 1


def test_jwt_unknown_kid_refresh_is_rate_limited(jwks: Jwks) -> None:
    key = jwks.add_rsa("k1")
    v = verifier(jwks, min_refresh=3600.0)
    v.verify(make_token(key, "k1"))
    before = jwks.requests
    for i in range(5):
        with pytest.raises(AuthenticationFailed):
            v.verify(make_token(key, f"forged-{i}"))
    assert jwks.requests == before  # forged kids cannot make us hammer the provider


def test_jwt_several_providers(jwks: Jwks) -> None:
    with serve_jwks(Jwks()) as second:
        k1, k2 = jwks.add_rsa("a"), second.add_rsa("b")
        v = JwtVerifier.from_settings([ISSUER, "https://other.test"], [jwks.uri, second.uri], [AUDIENCE, "other-aud"])
        assert v.verify(make_token(k1, "a")) == "alice@test"
        assert (
            v.verify(make_token(k2, "b", iss="https://other.test", aud="other-aud", email="bob@other")) == "bob@other"
        )
        with pytest.raises(AuthenticationFailed):  # issuer 2's token signed by issuer 1's key
            v.verify(make_token(k1, "a", iss="https://other.test", aud="other-aud"))
        with pytest.raises(AuthenticationFailed):  # right key, but issuer 1's audience
            v.verify(make_token(k2, "b", iss="https://other.test"))


def test_jwks_unreachable_fails_closed() -> None:
    v = JwtVerifier([Provider(ISSUER, JwksCache("http://127.0.0.1:9/jwks.json", timeout=0.5))])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(AuthenticationFailed):
        v.verify(make_token(key, "k"))


def test_jwks_uri_must_be_https_or_loopback() -> None:
    check_fetch_uri("https://idp.example/jwks")
    check_fetch_uri("http://127.0.0.1:8080/jwks")
    check_fetch_uri("http://localhost/jwks")
    for bad in ("http://idp.example/jwks", "file:///etc/passwd", "ftp://x/y"):
        with pytest.raises(AuthConfigError):
            check_fetch_uri(bad)
    with pytest.raises(AuthConfigError):
        JwtVerifier.from_settings([ISSUER, "https://b"], ["https://a/j"])  # 1 JWKS for 2 issuers


# -- passwords and tokens -----------------------------------------------------------------------


def test_password_hashes() -> None:
    stored = hash_password("correct horse")
    assert "correct horse" not in stored and stored.startswith("scrypt$")
    assert parse_hash(stored).verify("correct horse")
    assert not parse_hash(stored).verify("correct horsE")
    salt = b"0123456789abcdef"
    digest = hashlib.pbkdf2_hmac("sha256", b"pw", salt, 200_000)
    pbkdf2 = f"pbkdf2_sha256$200000${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    assert parse_hash(pbkdf2).verify("pw")
    for bad in ("plaintext", "pbkdf2_sha256$10$AAAA$AAAA", "scrypt$1024$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA=="):
        with pytest.raises(ValueError):
            parse_hash(bad)


def test_user_list(users_file: Path, tmp_path: Path) -> None:
    users = UserList.from_file(users_file)
    assert len(users) == 3 and "spiffe://x/carol" in users
    assert users.verify("alice", "alice-pw")
    assert users.verify("alice", "alice-pw")  # the remembered path
    assert not users.verify("alice", "bob-pw")
    assert not users.verify("mallory", "alice-pw")
    assert users.verify("spiffe://x/carol", "carol-pw")
    bad = tmp_path / "bad"
    bad.write_text("alice:plaintext-password\n")
    with pytest.raises(AuthConfigError) as info:
        UserList.from_file(bad)
    assert "plaintext-password" not in str(info.value) and ":1:" in str(info.value)


def test_api_tokens(token_file: Path, tokens: tuple[str, str], tmp_path: Path) -> None:
    t = ApiTokens.from_file(token_file)
    assert t.user_for(tokens[0]) == "alice" and t.user_for(tokens[1]) == "ci-bot"
    assert t.user_for("kmsd_nope") is None
    assert t.verify("alice", tokens[0]) and not t.verify("ci-bot", tokens[0])
    assert tokens[0] not in token_file.read_text()
    bad = tmp_path / "bad"
    bad.write_text(f"alice:{tokens[0]}\n")  # a plaintext token instead of its digest
    with pytest.raises(AuthConfigError):
        ApiTokens.from_file(bad)


def test_credential_parsing() -> None:
    assert parse_authentication(None) == []
    creds = parse_authentication(authentication(username_password("alice", "pw")))
    assert creds == [UsernamePassword("alice", "pw")] and "pw" not in repr(creds)
    for kind in (2, 3, 4, 5, 6, 0x80000001):
        item = authentication(s("Credential", enum("Credential Type", kind), s("Credential Value")))
        with pytest.raises(AuthenticationFailed):
            parse_authentication(item)
    with pytest.raises(AuthenticationFailed):
        parse_authentication(s("Authentication"))


# -- the authenticator through the executor -----------------------------------------------------


@pytest.fixture
def full_auth(users_file: Path, token_file: Path, jwks: Jwks) -> Authenticator:
    return Authenticator(
        AuthSettings(users=UserList.from_file(users_file), tokens=ApiTokens.from_file(token_file), jwt=verifier(jwks))
    )


def test_username_password_credentials(tmp_path: Path, full_auth: Authenticator) -> None:
    ex = executor(tmp_path, full_auth)
    assert create(ex, ANON, username_password("alice", "alice-pw")).status() == ResultStatus.SUCCESS
    assert_denied(create(ex, ANON, username_password("alice", "bob-pw")))
    assert_denied(create(ex, ANON, username_password("mallory", "alice-pw")))
    assert_denied(create(ex, ANON, username_password("alice")))
    assert_denied(create(ex, ANON))  # no certificate, no credential
    # Two credentials for different users are refused, even if both are right.
    assert_denied(create(ex, ANON, username_password("alice", "alice-pw"), username_password("bob", "bob-pw")))


def test_api_token_and_jwt_as_password(
    tmp_path: Path, full_auth: Authenticator, tokens: tuple[str, str], jwks: Jwks
) -> None:
    ex = executor(tmp_path, full_auth)
    assert create(ex, ANON, username_password("ci-bot", tokens[1])).status() == ResultStatus.SUCCESS
    assert_denied(create(ex, ANON, username_password("alice", tokens[1])))  # someone else's token
    token = make_token(jwks.add_rsa("k1"), "k1")
    assert create(ex, ANON, username_password("jwt", token)).status() == ResultStatus.SUCCESS
    assert create(ex, ANON, username_password("alice@test", token)).status() == ResultStatus.SUCCESS
    assert_denied(create(ex, ANON, username_password("admin", token)))  # Username is not the token's identity
    expired = make_token(jwks.keys and jwks.add_rsa("k2"), "k2", lifetime=-600)
    assert_denied(create(ex, ANON, username_password("jwt", expired)))


def test_unsupported_credential_types_are_refused(tmp_path: Path, full_auth: Authenticator) -> None:
    ex = executor(tmp_path, full_auth)
    device = s("Credential", enum("Credential Type", 2), s("Credential Value", text("Device Identifier", "d")))
    assert_denied(create(ex, ALICE_CERT, device))  # even with a good certificate


def test_any_mode_certificate_or_credentials(tmp_path: Path, full_auth: Authenticator) -> None:
    ex = executor(tmp_path, full_auth)
    assert create(ex, ALICE_CERT).status() == ResultStatus.SUCCESS
    # Credentials that fail are a failure: no falling back to the certificate.
    assert_denied(create(ex, ALICE_CERT, username_password("alice", "wrong")))


def test_cert_and_token_mode(tmp_path: Path, users_file: Path, token_file: Path, tokens: tuple[str, str]) -> None:
    auth = Authenticator(
        AuthSettings(
            mode="cert-and-token", users=UserList.from_file(users_file), tokens=ApiTokens.from_file(token_file)
        )
    )
    assert auth.requires_client_certificate
    ex = executor(tmp_path, auth)
    assert create(ex, ALICE_CERT, username_password("alice", "alice-pw")).status() == ResultStatus.SUCCESS
    assert create(ex, ALICE_CERT, username_password("alice", tokens[0])).status() == ResultStatus.SUCCESS
    assert_denied(create(ex, ALICE_CERT))  # no second factor
    assert_denied(create(ex, ANON, username_password("alice", "alice-pw")))  # no certificate
    assert_denied(create(ex, BOB_CERT, username_password("alice", "alice-pw")))  # someone else's factor
    assert_denied(create(ex, ALICE_CERT, username_password("alice", "bob-pw")))


def test_insecure_mode(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    auth = Authenticator(AuthSettings(insecure=True, default_user="admin"))
    assert not auth.requires_client_certificate
    ex = executor(tmp_path, auth)
    uid = create_aes(ex, V, peer=ANON)
    # Everyone is admin: a "different" caller sees the same objects.
    r = Response(ex.process(request(V, (Operation.GET, [text("Unique Identifier", uid)])), BOB_CERT) or b"")
    assert r.status() == ResultStatus.SUCCESS
    from kmsd.auth.authenticator import log_start

    with caplog.at_level(logging.WARNING, logger="kmsd.auth"):
        log_start(auth)
    assert "INSECURE" in caplog.text and "'admin'" in caplog.text


def test_tls_requirement_follows_the_methods(users_file: Path) -> None:
    assert Authenticator(AuthSettings()).requires_client_certificate
    assert not Authenticator(AuthSettings(users=UserList.from_file(users_file))).requires_client_certificate
    assert Authenticator(AuthSettings(mode="cert-and-token", users=UserList({}))).requires_client_certificate


def test_failures_never_log_secrets(
    tmp_path: Path, full_auth: Authenticator, caplog: pytest.LogCaptureFixture, jwks: Jwks
) -> None:
    ex = executor(tmp_path, full_auth)
    token = make_token(jwks.add_rsa("k1"), "k1", aud="elsewhere")
    with caplog.at_level(logging.DEBUG):
        r1 = create(ex, ANON, username_password("alice", "S3cret-Guess"))
        r2 = create(ex, ANON, username_password("jwt", token))
        r3 = create(ex, ANON, username_password("nobody", "S3cret-Guess"))
    assert "S3cret-Guess" not in caplog.text and token not in caplog.text
    assert "authentication failed for 127.0.0.1:9" in caplog.text  # audited
    # The three failures look the same to the client.
    assert r1.message() == r2.message() == r3.message() == "authentication failed"


def test_bearer_tokens_for_http(full_auth: Authenticator, tokens: tuple[str, str], jwks: Jwks) -> None:
    http = Peer(identity=None, address="127.0.0.1:7", transport="http")
    assert full_auth.authenticate_bearer(http, tokens[1]) == "ci-bot"
    assert full_auth.authenticate_bearer(http, make_token(jwks.add_rsa("k"), "k")) == "alice@test"
    for bad in (None, "kmsd_wrong", "a.b.c"):
        with pytest.raises(AuthenticationFailed):
            full_auth.authenticate_bearer(http, bad)


# -- configuration ----------------------------------------------------------------------------


def test_auth_options(tmp_path: Path, users_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = config_from_args(
        [
            "--jwt-issuer-uri", "https://a.test", "--jwt-issuer-uri", "https://b.test,https://c.test",
            "--jwt-audience", "kmsd", "--privileged-users", "alice,bob", "--users-file", str(users_file),
            "--auth-mode", "CERT-AND-TOKEN", "--client-identity", "san-email",
        ]
    )  # fmt: skip
    assert config.jwt_issuer_uri == ("https://a.test", "https://b.test", "https://c.test")
    assert config.jwt_audience == ("kmsd",) and config.privileged_users == ("alice", "bob")
    assert (config.auth_mode, config.client_identity, config.users_file) == ("cert-and-token", "san-email", users_file)
    auth = build_authenticator(config)
    assert auth.settings.jwt is not None and len(auth.settings.jwt.providers) == 3
    assert auth.settings.jwt.providers[2].jwks.uri == "https://c.test/.well-known/jwks.json"

    toml = tmp_path / "kms.toml"
    toml.write_text(
        'jwt_issuer_uri = ["https://a.test", "https://b.test"]\nprivileged_users = "carol"\ninsecure = true\n'
    )
    config = config_from_args(["--config", str(toml)])
    assert config.jwt_issuer_uri == ("https://a.test", "https://b.test") and config.privileged_users == ("carol",)
    assert config.insecure
    with pytest.raises(AuthConfigError):  # cert-and-token without a second factor
        build_authenticator(config_from_args(["--auth-mode", "cert-and-token"]))


def test_auth_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["auth", "hash-password", "dave", "--stdin"], input="dave-pw\n")
    assert out.exit_code == 0, out.output
    users = tmp_path / "users"
    users.write_text(out.output)
    assert UserList.from_file(users).verify("dave", "dave-pw")
    out = runner.invoke(main, ["auth", "new-token", "dave"])
    assert out.exit_code == 0
    token = out.output.split("give it to dave): ")[1].split()[0]
    line = out.output.split("--api-token-file: ")[1].strip()
    (tmp_path / "tokens").write_text(line + "\n")
    assert ApiTokens.from_file(tmp_path / "tokens").user_for(token) == "dave"


# -- certificate identities ------------------------------------------------------------------------


def test_certificate_identity_sources(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from kmsd.server.certs import ensure_dev_pki
    from kmsd.tools.certs_cli import sign_csr

    ensure_dev_pki(tmp_path)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "erin")]))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.RFC822Name("erin@corp.test"), x509.UniformResourceIdentifier("spiffe://corp/erin")]
            ),
            critical=False,
        )
        .sign(key, __import__("cryptography.hazmat.primitives.hashes", fromlist=["SHA256"]).SHA256())
    )
    der = sign_csr(tmp_path, csr.public_bytes(serialization.Encoding.PEM)).public_bytes(serialization.Encoding.DER)
    assert certificate_identity("cn")(der) == "erin"
    assert certificate_identity("san-email")(der) == "erin@corp.test"
    assert certificate_identity("san-uri")(der) == "spiffe://corp/erin"
    admin = x509.load_pem_x509_certificate((tmp_path / "certs" / "admin.pem").read_bytes())
    with pytest.raises(IdentityError):  # no SAN: identifies nobody under san-email
        certificate_identity("san-email")(admin.public_bytes(serialization.Encoding.DER))
    with pytest.raises(ValueError):
        certificate_identity("serial")


def test_jwt_token_shape() -> None:
    assert not looks_like_jwt("alice-pw") and not looks_like_jwt("a.b.c") and not looks_like_jwt("kmsd_x.y.z")
    assert looks_like_jwt(jwt.encode({"a": 1}, "k" * 32, algorithm="HS256"))


# -- end to end: a real server, PyKMIP clients without certificates -------------------------------

kmip = pytest.importorskip("kmip", reason="PyKMIP is a test dependency")

from kmip import enums as kenums  # noqa: E402
from kmip.pie.client import ProxyKmipClient  # noqa: E402
from kmip.pie.exceptions import KmipOperationFailure  # noqa: E402

from .server_process import RunningServer, start_server  # noqa: E402


def pykmip(server: RunningServer, *, username: str | None = None, password: str | None = None) -> ProxyKmipClient:
    return ProxyKmipClient(
        hostname="127.0.0.1", port=server.port, cert=None, key=None, ca=server.ca, ssl_version="PROTOCOL_TLS",
        username=username, password=password, kmip_version=kenums.KMIPVersion.KMIP_1_2,
    )  # fmt: skip


@pytest.fixture(scope="module")
def module_jwks() -> Iterator[Jwks]:
    with serve_jwks(Jwks()) as served:
        yield served


@pytest.fixture(scope="module")
def password_server(
    tmp_path_factory: pytest.TempPathFactory, users_file: Path, module_jwks: Jwks
) -> Iterator[RunningServer]:
    server = start_server(
        tmp_path_factory.mktemp("kmsd-auth") / "data",
        "--users-file", str(users_file),
        "--jwt-issuer-uri", ISSUER, "--jwt-jwks-uri", module_jwks.uri, "--jwt-audience", AUDIENCE,
    )  # fmt: skip
    yield server
    server.stop()


def test_e2e_password_without_client_certificate(password_server: RunningServer) -> None:
    with pykmip(password_server, username="alice", password="alice-pw") as alice:
        uid = alice.create(kenums.CryptographicAlgorithm.AES, 128, name="pw-key")
        assert len(alice.get(uid).value) == 16
    with pykmip(password_server, username="bob", password="bob-pw") as bob:
        with pytest.raises(KmipOperationFailure) as failure:
            bob.get(uid)
        assert failure.value.reason == kenums.ResultReason.ITEM_NOT_FOUND
    with pykmip(password_server, username="alice", password="wrong") as mallory:
        with pytest.raises(KmipOperationFailure) as failure:
            mallory.get(uid)
        assert failure.value.reason == kenums.ResultReason.PERMISSION_DENIED
        assert failure.value.message == "authentication failed"
    with pykmip(password_server) as nobody:
        with pytest.raises(KmipOperationFailure) as failure:
            nobody.locate()
        assert failure.value.reason == kenums.ResultReason.PERMISSION_DENIED
    assert "wrong" not in password_server.log().replace("wrong password", "")
    assert "client certificate optional" in password_server.log()


def test_e2e_jwt_as_password(password_server: RunningServer, module_jwks: Jwks) -> None:
    key = module_jwks.add_rsa("e2e")
    with pykmip(password_server, username="jwt", password=make_token(key, "e2e", email="jwt-user@test")) as c:
        uid = c.create(kenums.CryptographicAlgorithm.AES, 256)
        assert c.get(uid).value
    forged = make_token(rsa.generate_private_key(public_exponent=65537, key_size=2048), "e2e")
    with pykmip(password_server, username="jwt", password=forged) as c:
        with pytest.raises(KmipOperationFailure) as failure:
            c.get(uid)
        assert failure.value.reason == kenums.ResultReason.PERMISSION_DENIED


def test_e2e_certificates_still_work_beside_passwords(password_server: RunningServer) -> None:
    cert, key = password_server.client_cert("carl")
    with ProxyKmipClient(
        hostname="127.0.0.1", port=password_server.port, cert=cert, key=key, ca=password_server.ca,
        ssl_version="PROTOCOL_TLS", kmip_version=kenums.KMIPVersion.KMIP_2_0,
    ) as c:  # fmt: skip
        assert c.create(kenums.CryptographicAlgorithm.AES, 128)


def test_e2e_insecure_mode(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--insecure")
    try:
        with pykmip(server) as anyone:
            uid = anyone.create(kenums.CryptographicAlgorithm.AES, 128)
        with ProxyKmipClient(
            hostname="127.0.0.1", port=server.port, cert=server.admin_cert, key=server.admin_key, ca=server.ca,
            ssl_version="PROTOCOL_TLS", kmip_version=kenums.KMIPVersion.KMIP_1_2,
        ) as admin:  # fmt: skip
            assert admin.get(uid).value  # the same user: admin
    finally:
        server.stop()
    assert server.log().count("INSECURE MODE") >= 1


def test_e2e_default_server_refuses_clients_without_certificates(kmsd_server: RunningServer) -> None:
    with pykmip(kmsd_server, username="alice", password="alice-pw") as c:
        with pytest.raises(Exception):  # noqa: B017 (the TLS handshake fails: CERT_REQUIRED)
            c.locate()
