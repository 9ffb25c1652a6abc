"""The console's certificate view: ``GET /ui/api/objects/{id}/certificate``, its downloads, and the page.

Alice builds a small chain on a real server with Certify (a self-signed CA,
then an EC leaf whose Certificate Link names the CA) and registers an
expired certificate made here with SAN, key usage and extended key usage.
In headless Chromium (as in ``test_ui_browser.py``) she opens each one; what
the page shows — subject, issuer, serial, fingerprints, validity — must be
what ``cryptography`` computes from the DER that a KMIP Get returns, the
chain links must lead to the linked objects, and the downloaded PEM must be
read by ``openssl x509``.  Bob, without a grant, sees nothing (404); with
``get_attributes`` only, the attributes but not the certificate (404, as
for a KMIP Get); with ``get``, the details.  Screenshots go to
``test-output/ui/``.  The summary builder is also checked without a server
on certificates made for the edge cases (not yet valid, Ed25519, encipherOnly).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kmsd.http import cert_details

from .http_client import Client, client, create_symmetric_key, http_port, write_token_file
from .server_process import RunningServer, start_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "ui"
TOKENS = {"alice": "alice-cert-token-" + secrets.token_hex(8), "bob": "bob-cert-token-" + secrets.token_hex(8)}
NEEDS_BROWSER = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true", reason="Debian's chromium is not installed"
)


# -- helpers: KMIP through the Cosmian JSON API -------------------------------------------------------


def _t(tag: str, kind: str, value: Any) -> dict[str, Any]:
    return {"tag": tag, "type": kind, "value": value}


def _s(tag: str, *value: dict[str, Any]) -> dict[str, Any]:
    return {"tag": tag, "type": "Structure", "value": list(value)}


def _kmip(c: Client, op: str, *payload: dict[str, Any]) -> dict[str, Any]:
    reply = c.post_json("/kmip/2_1", _s(op, *payload))
    assert reply.status == 200, reply.body
    body = reply.json()
    assert isinstance(body, dict)
    return body


def _value(obj: dict[str, Any], tag: str) -> Any:
    return next(v["value"] for v in obj["value"] if v["tag"] == tag)


def _uid(uid: str) -> dict[str, Any]:
    return _t("UniqueIdentifier", "TextString", uid)


def _key_pair(c: Client, *algorithm: dict[str, Any]) -> tuple[str, str]:
    r = _kmip(c, "CreateKeyPair", _s("CommonAttributes", *algorithm))
    return _value(r, "PrivateKeyUniqueIdentifier"), _value(r, "PublicKeyUniqueIdentifier")


def _certify(c: Client, public: str, cn: str, *extra: dict[str, Any]) -> str:
    attrs = _s(
        "Attributes",
        _t("CertificateSubjectCN", "TextString", cn),
        _t("CertificateSubjectO", "TextString", "kmsd"),
        *extra,
    )
    return str(_value(_kmip(c, "Certify", _uid(public), attrs), "UniqueIdentifier"))


def _link(kind: str, uid: str) -> dict[str, Any]:
    return _s("Link", _t("LinkType", "Enumeration", kind), _t("LinkedObjectIdentifier", "TextString", uid))


def _der_by_get(c: Client, uid: str) -> bytes:
    """The certificate as a plain KMIP Get returns it: what the page must describe."""
    got = _kmip(c, "Get", _uid(uid))
    return bytes.fromhex(_value(_value_struct(got, "Certificate"), "CertificateValue"))


def _value_struct(obj: dict[str, Any], tag: str) -> dict[str, Any]:
    return next(v for v in obj["value"] if v["tag"] == tag)


def _register_certificate(c: Client, der: bytes, name: str) -> str:
    r = _kmip(
        c,
        "Register",
        _t("ObjectType", "Enumeration", "Certificate"),
        _s(
            "Attributes",
            _s("Name", _t("NameValue", "TextString", name), _t("NameType", "Enumeration", "UninterpretedTextString")),
        ),
        _s(
            "Certificate",
            _t("CertificateType", "Enumeration", "X_509"),
            _t("CertificateValue", "ByteString", der.hex()),
        ),
    )
    return str(_value(r, "UniqueIdentifier"))


def _colon(data: bytes) -> str:
    return ":".join(f"{b:02X}" for b in data)


def _serial_hex(serial: int) -> str:
    return _colon(serial.to_bytes((serial.bit_length() + 7) // 8 or 1, "big"))


# -- certificates made here ------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def _make_certificate(
    not_before: datetime,
    not_after: datetime,
    *,
    key: Any = None,
    key_usage: x509.KeyUsage | None = None,
    serial: int | None = None,
) -> bytes:
    """A self-signed certificate with SAN, EKU and basic constraints (an end entity)."""
    key = key or ec.generate_private_key(ec.SECP384R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("expired.example"))
        .issuer_name(_name("expired.example"))
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("expired.example"), x509.IPAddress(ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.DER)


def _usage(**on: bool) -> x509.KeyUsage:
    names = (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
        "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
    )  # fmt: skip
    return x509.KeyUsage(**{n: on.get(n, False) for n in names})


# -- the summary builder, without a server -----------------------------------------------------------


def test_summary_flags_validity_and_reads_the_extensions() -> None:
    now = datetime.now(UTC)
    der = _make_certificate(
        now - timedelta(days=10), now - timedelta(days=1), key_usage=_usage(key_agreement=True, encipher_only=True)
    )
    cert = cert_details.parse(der)
    summary = cert_details.describe(cert, der, now)
    assert summary["validity"] == "expired"
    assert summary["subject"] == cert.subject.rfc4514_string() == summary["issuer"] and summary["self_issued"]
    assert summary["serial_number"] == str(cert.serial_number)
    assert summary["fingerprints"]["sha256"] == _colon(cert.fingerprint(hashes.SHA256()))
    assert summary["fingerprints"]["sha1"] == _colon(cert.fingerprint(hashes.SHA1()))
    assert summary["public_key"] == {"algorithm": "EC", "size": 384, "curve": "secp384r1"}
    assert summary["signature_algorithm"] == "ecdsa-with-SHA256"
    assert summary["key_usage"] == {"critical": True, "usages": ["keyAgreement", "encipherOnly"]}
    assert summary["extended_key_usage"]["usages"] == ["serverAuth", "clientAuth"]
    assert summary["subject_alternative_names"] == [
        {"type": "DNS", "value": "expired.example"},
        {"type": "IP", "value": "127.0.0.1"},
    ]
    assert summary["basic_constraints"] == {"critical": True, "ca": False, "path_length": None}
    assert cert_details.describe(cert, der, now - timedelta(days=5))["validity"] == "valid"
    assert cert_details.describe(cert, der, now - timedelta(days=11))["validity"] == "not_yet_valid"


def test_summary_of_an_ed25519_certificate_and_a_high_bit_serial() -> None:
    now = datetime.now(UTC)
    der = _make_certificate(
        now + timedelta(days=1), now + timedelta(days=30), key=ed25519.Ed25519PrivateKey.generate(), serial=0x80FF
    )
    summary = cert_details.describe(cert_details.parse(der), der, now)
    assert summary["validity"] == "not_yet_valid"
    assert summary["public_key"] == {"algorithm": "Ed25519", "size": 256}
    assert summary["signature_algorithm"] == "ed25519"
    assert summary["serial_hex"] == "80:FF" and summary["serial_number"] == str(0x80FF)
    assert summary["key_usage"] is None
    with pytest.raises(cert_details.CertificateUnreadable):
        cert_details.parse(der[:-10])
    with pytest.raises(cert_details.CertificateUnreadable):
        cert_details.parse(b"\x30" * (cert_details.MAX_CERTIFICATE_BYTES + 1))


# -- a server with a chain --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    base = tmp_path_factory.mktemp("ui-cert")
    tokens = write_token_file(base / "tokens.txt", TOKENS)
    running = start_server(base / "data", "--non-fips", "--api-token-file", str(tokens))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def chain(server: RunningServer) -> dict[str, str]:
    """Alice's objects: a CA certificate, a leaf certified by it (with its key pair), an expired certificate."""
    alice = client(server, None, TOKENS["alice"])
    _, ca_public = _key_pair(
        alice, _t("CryptographicAlgorithm", "Enumeration", "RSA"), _t("CryptographicLength", "Integer", 2048)
    )
    ca = _certify(alice, ca_public, "UI Test CA")  # no issuer link: self-signed
    leaf_private, leaf_public = _key_pair(
        alice,
        _t("CryptographicAlgorithm", "Enumeration", "ECDSA"),
        _s("CryptographicDomainParameters", _t("RecommendedCurve", "Enumeration", "P_256")),
    )
    leaf = _certify(alice, leaf_public, "leaf.example", _link("CertificateLink", ca))
    now = datetime.now(UTC)
    expired = _register_certificate(
        alice, _make_certificate(now - timedelta(days=400), now - timedelta(days=35)), "expired-" + secrets.token_hex(3)
    )
    return {"ca": ca, "leaf": leaf, "leaf_private": leaf_private, "leaf_public": leaf_public, "expired": expired}


def _api(c: Client, uid: str, suffix: str = "") -> Any:
    return c.get(f"/ui/api/objects/{uid}/certificate{suffix}")


def test_endpoint_answers_the_details_and_the_downloads(server: RunningServer, chain: dict[str, str]) -> None:
    alice = client(server, None, TOKENS["alice"])
    der = _der_by_get(alice, chain["leaf"])
    cert = x509.load_der_x509_certificate(der)
    reply = _api(alice, chain["leaf"])
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["object_id"] == chain["leaf"]
    assert body["subject"] == cert.subject.rfc4514_string() and "CN=leaf.example" in body["subject"]
    assert body["issuer"] == cert.issuer.rfc4514_string() and "CN=UI Test CA" in body["issuer"]
    assert body["serial_number"] == str(cert.serial_number)
    assert body["fingerprints"]["sha256"] == _colon(hashlib.sha256(der).digest())
    assert body["public_key"] == {"algorithm": "EC", "size": 256, "curve": "secp256r1"}
    assert body["validity"] == "valid"
    assert {"type": "CertificateLink", "id": chain["ca"]} in body["links"]
    assert {"type": "PublicKeyLink", "id": chain["leaf_public"]} in body["links"]

    pem = _api(alice, chain["leaf"], ".pem")
    assert pem.status == 200 and pem.content_type == "application/x-pem-file"
    assert x509.load_pem_x509_certificate(pem.body).public_bytes(serialization.Encoding.DER) == der
    assert pem.headers["content-disposition"] == f'attachment; filename="{chain["leaf"]}.pem"'
    raw = _api(alice, chain["leaf"], ".der")
    assert raw.status == 200 and raw.body == der and raw.content_type == "application/pkix-cert"

    # Not a certificate, missing, or hidden: the same 404 — and a key is never fetched for it.
    key = create_symmetric_key(alice, "not-a-cert-" + secrets.token_hex(3))
    for uid in (key, "no-such-object", chain["ca"]):
        who = alice if uid != chain["ca"] else client(server, None, TOKENS["bob"])
        for suffix in ("", ".pem", ".der"):
            missing = _api(who, uid, suffix)
            assert missing.status == 404, (uid, suffix, missing.body)
            assert missing.json()["error"]["message"] == "no such certificate"
    attrs = _kmip(alice, "GetAttributes", _uid(key))
    assert {"tag": "Fresh", "type": "Boolean", "value": True} in _value(attrs, "Attributes")  # no Get happened
    assert client(server, None).get(f"/ui/api/objects/{chain['leaf']}/certificate").status == 401


# -- in the browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if os.environ.get("CI") == "true" and not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed (scripts/_provision.sh installs it)", pytrace=False)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


def _page(browser: Any, server: RunningServer, user: str) -> Any:
    ctx = browser.new_context(ignore_https_errors=True, viewport={"width": 1200, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    page.set_default_timeout(15000)
    page.goto(f"https://127.0.0.1:{http_port(server)}/ui/")
    page.wait_for_selector("#view-login:not([hidden])")
    page.fill("#token", TOKENS[user])
    page.click("#login-token button[type=submit]")
    page.wait_for_selector(f"#user:text('{user}')")
    return page


def _open(page: Any, server: RunningServer, uid: str) -> None:
    page.goto(f"https://127.0.0.1:{http_port(server)}/ui/#object/{uid}")
    page.wait_for_selector(f"#object-id:text('{uid}')")


def _shown(page: Any, field: str) -> str:
    return str(page.inner_text(f"#cert-details tr[data-field={field}] td")).strip()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@NEEDS_BROWSER
def test_certificate_page_shows_what_cryptography_reads(
    browser: Any, server: RunningServer, chain: dict[str, str]
) -> None:
    page = _page(browser, server, "alice")
    der = _der_by_get(client(server, None, TOKENS["alice"]), chain["leaf"])
    cert = x509.load_der_x509_certificate(der)

    _open(page, server, chain["leaf"])
    page.wait_for_selector("#certificate:not([hidden]) #cert-details tr[data-field=subject]")
    assert _shown(page, "subject") == cert.subject.rfc4514_string()
    assert _shown(page, "issuer") == cert.issuer.rfc4514_string()
    assert _shown(page, "serial") == f"{_serial_hex(cert.serial_number)} ({cert.serial_number})"
    assert _shown(page, "sha256") == _colon(cert.fingerprint(hashes.SHA256()))
    assert _shown(page, "sha1") == _colon(cert.fingerprint(hashes.SHA1()))
    assert _shown(page, "not_after") == cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _shown(page, "validity") == "valid" and page.is_hidden("#cert-flag")
    assert _shown(page, "public_key") == "EC 256 bits (secp256r1)"
    assert page.inner_text("#cert-heading").strip() == "Certificate"
    _shot(page, "cert-01-leaf-certificate")

    # PEM download: openssl reads it, and it is the same certificate.
    with page.expect_download() as info:
        page.click("#cert-pem")
    pem_path = Path(info.value.path())
    assert info.value.suggested_filename == f"{chain['leaf']}.pem"
    out = subprocess.run(
        ["openssl", "x509", "-in", str(pem_path), "-noout", "-fingerprint", "-sha256", "-serial"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"Fingerprint={_colon(cert.fingerprint(hashes.SHA256()))}" in out
    assert f"serial={_serial_hex(cert.serial_number).replace(':', '')}" in out
    with page.expect_download() as info:
        page.click("#cert-der")
    assert Path(info.value.path()).read_bytes() == der

    # The chain: the Certificate Link leads to the CA's page, the Public Key Link to the key.
    assert page.inner_text("#cert-details a[data-link-type=PublicKeyLink]") == chain["leaf_public"]
    page.click("#cert-details a[data-link-type=CertificateLink]")
    page.wait_for_selector(f"#object-id:text('{chain['ca']}')")
    page.wait_for_selector("#certificate:not([hidden]) #cert-details tr[data-field=subject] td:has-text('UI Test CA')")
    ca = x509.load_der_x509_certificate(_der_by_get(client(server, None, TOKENS["alice"]), chain["ca"]))
    assert (
        _shown(page, "subject") == ca.subject.rfc4514_string() == _shown(page, "issuer").removesuffix(" (self-issued)")
    )
    assert _shown(page, "basic_constraints").startswith("CA")
    _shot(page, "cert-02-issuer-ca")

    # A private key shows the certificate of its public key.
    _open(page, server, chain["leaf_private"])
    page.wait_for_selector("#certificate:not([hidden]) #cert-details tr[data-field=subject]")
    assert page.inner_text("#cert-heading").strip() == f"Linked certificate {chain['leaf']}"
    assert _shown(page, "sha256") == _colon(cert.fingerprint(hashes.SHA256()))
    _shot(page, "cert-03-private-key-linked-certificate")

    # An expired certificate is flagged.
    _open(page, server, chain["expired"])
    page.wait_for_selector("#certificate:not([hidden]) #cert-flag:not([hidden])")
    assert "expired" in page.inner_text("#cert-flag")
    assert _shown(page, "validity") == "EXPIRED"
    assert page.get_attribute("#cert-details tr[data-field=not_after]", "class") == "bad"
    assert _shown(page, "subject_alternative_names") == "DNS: expired.example, IP: 127.0.0.1"
    assert _shown(page, "extended_key_usage") == "serverAuth, clientAuth"
    assert _shown(page, "basic_constraints") == "not a CA (critical)"
    _shot(page, "cert-04-expired-certificate")

    # A symmetric key has no certificate panel.
    key = create_symmetric_key(client(server, None, TOKENS["alice"]), "plain-" + secrets.token_hex(3))
    _open(page, server, key)
    page.wait_for_selector("#attributes tbody tr")
    page.wait_for_load_state("networkidle")
    assert page.is_hidden("#certificate")


@NEEDS_BROWSER
def test_a_user_without_get_does_not_see_the_certificate(
    browser: Any, server: RunningServer, chain: dict[str, str]
) -> None:
    page = _page(browser, server, "bob")
    fetch = "(path) => fetch(path).then((r) => r.status)"
    base = f"/ui/api/objects/{chain['expired']}/certificate"

    _open(page, server, chain["expired"])
    page.wait_for_selector("#status.error")
    assert page.is_hidden("#certificate")
    assert [page.evaluate(fetch, base + s) for s in ("", ".pem", ".der")] == [404, 404, 404]
    _shot(page, "cert-05-bob-without-grant")

    alice = client(server, None, TOKENS["alice"])
    grant = {"unique_identifier": chain["expired"], "user_id": "bob", "operation_types": ["get_attributes"]}
    assert alice.post_json("/access/grant", grant).status == 200
    page.reload()
    page.wait_for_selector("#attributes tbody tr td:text('Certificate')")
    page.wait_for_selector("#certificate:not([hidden]) #cert-flag:not([hidden])")
    # The attributes are visible, the certificate is not: Get refuses as for any object (Object Not Found).
    assert "you may not Get it" in page.inner_text("#cert-flag")
    assert page.query_selector_all("#cert-details tbody tr") == []
    assert [page.evaluate(fetch, base + s) for s in ("", ".pem", ".der")] == [404, 404, 404]
    _shot(page, "cert-06-bob-with-get-attributes-only")

    # Get alone (certificates are public): the details and the downloads, though not the attributes.
    assert alice.post_json("/access/revoke", grant).status == 200
    grant["operation_types"] = ["get"]
    assert alice.post_json("/access/grant", grant).status == 200
    page.reload()
    page.wait_for_selector("#certificate:not([hidden]) #cert-details tr[data-field=subject]")
    der = _der_by_get(alice, chain["expired"])
    expected = x509.load_der_x509_certificate(der)
    assert _shown(page, "subject") == expected.subject.rfc4514_string()
    assert _shown(page, "sha256") == _colon(hashlib.sha256(der).digest())
    assert _shown(page, "links") == "(none)"  # links are attributes: Get Attributes was not granted
    assert "Attributes not shown" in page.inner_text("#status")
    with page.expect_download() as info:
        page.click("#cert-pem")
    out = subprocess.run(
        ["openssl", "x509", "-in", info.value.path(), "-noout", "-subject"], capture_output=True, text=True, check=True
    ).stdout
    assert "expired.example" in out
    _shot(page, "cert-07-bob-with-get")
