"""The development PKI: names, permissions, reuse, extensions, verification."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kmsd.server.certs import PKCS12_PASSWORD, DevPki, DevPkiError, ensure_dev_pki, issue_client_cert
from kmsd.server.tls import IdentityError, build_server_context, identity_from_certificate

EXPECTED = ("ca.pem", "ca.key", "server.pem", "server.key", "admin.pem", "admin.key", "admin.p12")
OPENSSL = shutil.which("openssl")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("data"))


def load_pem_chain(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_names_and_permissions(pki: DevPki) -> None:
    assert sorted(p.name for p in pki.certs_dir.iterdir()) == sorted(EXPECTED)
    assert set(pki.created) == set(EXPECTED)
    assert mode(pki.certs_dir) == 0o700
    for name in ("ca.key", "server.key", "admin.key", "admin.p12"):
        assert mode(pki.certs_dir / name) == 0o600, name
    for name in ("ca.pem", "server.pem", "admin.pem"):
        assert mode(pki.certs_dir / name) == 0o644, name
    key = serialization.load_pem_private_key(pki.server_key.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048


def test_second_start_reuses_everything(pki: DevPki) -> None:
    before = {name: (pki.certs_dir / name).read_bytes() for name in EXPECTED}
    again = ensure_dev_pki(pki.certs_dir.parent)
    assert again.created == ()
    assert {name: (pki.certs_dir / name).read_bytes() for name in EXPECTED} == before


def test_admin_certificate_is_what_pykmip_wants(pki: DevPki) -> None:
    cert = x509.load_pem_x509_certificate(pki.admin_cert.read_bytes())
    assert [a.value for a in cert.subject] == ["admin"]  # exactly one attribute, the CN
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["admin"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert identity_from_certificate(cert.public_bytes(serialization.Encoding.DER)) == "admin"


def test_server_certificate_chain_and_names(pki: DevPki) -> None:
    leaf, ca = load_pem_chain(pki.server_cert)
    assert ca == x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    # RFC 5280 path validation, as a TLS client would do it.
    store = verification.Store([ca])
    verifier = verification.PolicyBuilder().store(store).build_server_verifier(x509.DNSName("localhost"))
    assert verifier.verify(leaf, [])[-1] == ca
    ip_verifier = (
        verification.PolicyBuilder()
        .store(store)
        .build_server_verifier(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    )
    ip_verifier.verify(leaf, [])
    client = x509.load_pem_x509_certificate(pki.admin_cert.read_bytes())
    # cryptography's client verifier follows the web PKI profile (a SAN is
    # required); KMIP clients carry their identity in the CN, so check the
    # issuance directly here and the full path with openssl below.
    client.verify_directly_issued_by(ca)


@pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")
def test_openssl_verifies_the_chain(pki: DevPki) -> None:
    assert OPENSSL is not None
    for cert, purpose in ((pki.server_cert, "sslserver"), (pki.admin_cert, "sslclient")):
        run = subprocess.run(
            [OPENSSL, "verify", "-CAfile", str(pki.ca_cert), "-purpose", purpose, str(cert)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.strip().endswith(": OK")
    wrong = subprocess.run(
        [OPENSSL, "verify", "-CAfile", str(pki.ca_cert), "-purpose", "sslserver", str(pki.admin_cert)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert wrong.returncode != 0  # the admin certificate is for clients only


@pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")
def test_openssl_reads_the_pkcs12(pki: DevPki) -> None:
    assert OPENSSL is not None
    run = subprocess.run(
        [OPENSSL, "pkcs12", "-in", str(pki.admin_p12), "-passin", f"pass:{PKCS12_PASSWORD}", "-nokeys"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0, run.stderr
    assert "subject=CN" in run.stdout.replace(" ", "") and "admin" in run.stdout


def test_pkcs12_holds_the_admin_key_and_chain(pki: DevPki) -> None:
    bundle = pkcs12.load_pkcs12(pki.admin_p12.read_bytes(), PKCS12_PASSWORD.encode())
    assert bundle.cert is not None and bundle.key is not None
    assert bundle.cert.certificate == x509.load_pem_x509_certificate(pki.admin_cert.read_bytes())
    key = serialization.load_pem_private_key(pki.admin_key.read_bytes(), password=None)
    assert bundle.key.public_key() == key.public_key()
    assert [c.certificate for c in bundle.additional_certs] == [
        x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ]


def test_server_context_loads(pki: DevPki) -> None:
    ctx = build_server_context(pki.server_cert, pki.server_key, pki.ca_cert)
    assert ctx.verify_mode.name == "CERT_REQUIRED"
    assert ctx.minimum_version.name == "TLSv1_2"


def test_missing_parts_are_filled_in_and_expiring_server_cert_renewed(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path)
    ca_before = pki.ca_cert.read_bytes()
    admin_before = pki.admin_cert.read_bytes()
    server_before = pki.server_cert.read_bytes()
    pki.admin_p12.unlink()
    again = ensure_dev_pki(tmp_path)
    assert set(again.created) == {"admin.pem", "admin.key", "admin.p12"}
    assert pki.ca_cert.read_bytes() == ca_before and pki.server_cert.read_bytes() == server_before
    assert pki.admin_cert.read_bytes() != admin_before

    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=820)
    renewed = ensure_dev_pki(tmp_path, now=later)
    assert set(renewed.created) == {"server.pem", "server.key"}
    assert pki.ca_cert.read_bytes() == ca_before
    leaf = load_pem_chain(pki.server_cert)[0]
    assert leaf.not_valid_after_utc > later + dt.timedelta(days=100)


def test_incomplete_ca_is_an_error(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path)
    pki.ca_key.unlink()
    with pytest.raises(DevPkiError, match="CA pair is incomplete"):
        ensure_dev_pki(tmp_path)


def test_issue_client_cert(pki: DevPki, tmp_path: Path) -> None:
    out = tmp_path / "clients"
    bundle = issue_client_cert(pki.certs_dir.parent, "bob@example", out)
    assert (bundle.cert.name, bundle.key.name, bundle.p12.name) == (
        "bob@example.pem",
        "bob@example.key",
        "bob@example.p12",
    )
    assert mode(bundle.key) == 0o600 and mode(bundle.p12) == 0o600
    cert = x509.load_pem_x509_certificate(bundle.cert.read_bytes())
    assert identity_from_certificate(cert.public_bytes(serialization.Encoding.DER)) == "bob@example"
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    if OPENSSL is not None:
        run = subprocess.run(
            [OPENSSL, "verify", "-CAfile", str(pki.ca_cert), "-purpose", "sslclient", str(bundle.cert)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert run.returncode == 0, run.stdout + run.stderr
    with pytest.raises(DevPkiError, match="already exist"):
        issue_client_cert(pki.certs_dir.parent, "bob@example", out)
    with pytest.raises(DevPkiError, match="client name"):
        issue_client_cert(pki.certs_dir.parent, "../evil", out)
    with pytest.raises(DevPkiError, match="no development CA"):
        issue_client_cert(tmp_path / "empty", "carol", out)


def test_identity_needs_exactly_one_cn() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)

    def cert_with(*attributes: x509.NameAttribute) -> bytes:
        name = x509.Name(list(attributes))
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.DER)

    assert identity_from_certificate(cert_with(x509.NameAttribute(NameOID.COMMON_NAME, "alice"))) == "alice"
    with pytest.raises(IdentityError, match="2 CNs"):
        identity_from_certificate(
            cert_with(x509.NameAttribute(NameOID.COMMON_NAME, "a"), x509.NameAttribute(NameOID.COMMON_NAME, "b"))
        )
    with pytest.raises(IdentityError, match="0 CNs"):
        identity_from_certificate(cert_with(x509.NameAttribute(NameOID.ORGANIZATION_NAME, "org")))
    with pytest.raises(IdentityError, match="unreadable"):
        identity_from_certificate(b"not a certificate")
