"""The development PKI: a CA, a server certificate and client certificates.

Theory of operation: when no TLS files are configured, ``kmsd serve`` calls
:func:`ensure_dev_pki` before it listens.  On the first start it creates
``DATA_DIR/certs/`` with a self-signed CA (``ca.pem``/``ca.key``), a server
certificate for localhost, 127.0.0.1 and ::1 (``server.pem`` holds the leaf
followed by the CA, so clients get the whole chain; ``server.key``) and an
``admin`` client certificate (``admin.pem``, ``admin.key``, ``admin.p12``).
Later starts reuse whatever exists and only fill in what is missing; a
server certificate close to expiry is re-issued from the same CA, so
clients that trust ``ca.pem`` keep working.

The names are fixed so scripts and docs can rely on them.  Private keys are
written 0600 through a temporary file and an atomic rename, so a crash never
leaves a half-written key and no other user ever can read one.

Keys are RSA 2048: every TLS 1.2 client signs and verifies it, including the
old KMIP clients in storage arrays and databases, and PyKMIP, whose TLS 1.2
cipher list has no AEAD suite for RSA but has ECDHE-RSA CBC-SHA256/384 ones,
which :mod:`kmsd.server.tls` keeps for it.  (P-256 is faster, but a
development PKI should first of all just work.)

Client certificates carry exactly one subject attribute, the CN, which is
the caller's identity, and the clientAuth extended key usage: PyKMIP's
client refuses a certificate without them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERTS_DIRNAME = "certs"
RSA_KEY_SIZE = 2048
RSA_PUBLIC_EXPONENT = 65537
CA_COMMON_NAME = "kmsd development CA"
SERVER_COMMON_NAME = "localhost"
ADMIN_NAME = "admin"
SERVER_DNS_NAMES = ("localhost",)
SERVER_IP_ADDRESSES = ("127.0.0.1", "::1")
#: The CA outlives many leaf renewals.
CA_VALIDITY = dt.timedelta(days=3650)
#: Apple platforms reject TLS server certificates valid for more than 825 days.
LEAF_VALIDITY = dt.timedelta(days=825)
#: Re-issue the server certificate when it expires within this window.
RENEW_BEFORE = dt.timedelta(days=30)
#: Backdate ``not_valid_before`` so a client whose clock is a little behind accepts it.
CLOCK_SKEW = dt.timedelta(minutes=5)
#: The PKCS#12 password of generated client bundles.  It protects nothing the
#: 0600 ``NAME.key`` beside it does not already expose; it exists because some
#: tools (macOS Keychain, older Java keytool) refuse an empty one.
PKCS12_PASSWORD = "kmsd"
#: PKCS#12 iteration count for the legacy SHA1/3DES encryption below.
PKCS12_KDF_ROUNDS = 50_000
#: A client name becomes a CN and file names: keep it to a safe alphabet.
CLIENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class DevPkiError(Exception):
    """The development PKI on disk is inconsistent or a request is invalid."""


@dataclass(frozen=True, slots=True)
class DevPki:
    """Paths of the development PKI files, and which were made by this call."""

    certs_dir: Path
    created: tuple[str, ...] = ()

    @property
    def ca_cert(self) -> Path:
        return self.certs_dir / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.certs_dir / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.certs_dir / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.certs_dir / "server.key"

    @property
    def admin_cert(self) -> Path:
        return self.certs_dir / "admin.pem"

    @property
    def admin_key(self) -> Path:
        return self.certs_dir / "admin.key"

    @property
    def admin_p12(self) -> Path:
        return self.certs_dir / "admin.p12"


@dataclass(frozen=True, slots=True)
class ClientBundle:
    cert: Path
    key: Path
    p12: Path


def ensure_dev_pki(data_dir: Path, *, now: dt.datetime | None = None) -> DevPki:
    """Create the missing parts of ``DATA_DIR/certs`` and return their paths."""
    now = now or dt.datetime.now(dt.UTC)
    pki = DevPki(data_dir / CERTS_DIRNAME)
    pki.certs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    created: list[str] = []

    if pki.ca_cert.exists() and pki.ca_key.exists():
        ca_cert, ca_key = _load_ca(pki)
    else:
        orphans = [p.name for p in (pki.ca_cert, pki.ca_key, pki.server_cert, pki.admin_cert) if p.exists()]
        if orphans:
            raise DevPkiError(
                f"{pki.certs_dir}: {', '.join(orphans)} present but the CA pair is incomplete; "
                "remove the directory to regenerate it, or configure --tls-cert/--tls-key/--client-ca"
            )
        ca_key = _new_key()
        ca_cert = _ca_certificate(ca_key, now)
        _write_private(pki.ca_key, _key_pem(ca_key))
        _write_public(pki.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
        created += [pki.ca_cert.name, pki.ca_key.name]

    if not (pki.server_cert.exists() and pki.server_key.exists()) or _expiring(pki.server_cert, now):
        key = _new_key()
        cert = _leaf_certificate(
            SERVER_COMMON_NAME, key, ca_cert, ca_key, now, ExtendedKeyUsageOID.SERVER_AUTH, server=True
        )
        chain = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
        _write_private(pki.server_key, _key_pem(key))
        _write_public(pki.server_cert, chain)
        created += [pki.server_cert.name, pki.server_key.name]

    if not (pki.admin_cert.exists() and pki.admin_key.exists() and pki.admin_p12.exists()):
        _write_client(ADMIN_NAME, pki.certs_dir, ca_cert, ca_key, now)
        created += [pki.admin_cert.name, pki.admin_key.name, pki.admin_p12.name]

    return DevPki(pki.certs_dir, tuple(created))


def issue_client_cert(data_dir: Path, name: str, out_dir: Path, *, now: dt.datetime | None = None) -> ClientBundle:
    """Issue ``NAME.pem``, ``NAME.key`` and ``NAME.p12`` (CN=NAME) from the development CA.

    Refuses to overwrite an existing certificate of that name.
    """
    if not CLIENT_NAME.match(name):
        raise DevPkiError(f"client name {name!r}: use letters, digits and . _ @ - (at most 64)")
    pki = DevPki(data_dir / CERTS_DIRNAME)
    if not (pki.ca_cert.exists() and pki.ca_key.exists()):
        raise DevPkiError(f"no development CA in {pki.certs_dir}: start `kmsd serve` once to create it")
    bundle = _bundle(out_dir, name)
    existing = [p.name for p in (bundle.cert, bundle.key, bundle.p12) if p.exists()]
    if existing:
        raise DevPkiError(f"{out_dir}: {', '.join(existing)} already exist")
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_cert, ca_key = _load_ca(pki)
    return _write_client(name, out_dir, ca_cert, ca_key, now or dt.datetime.now(dt.UTC))


# -- building blocks ----------------------------------------------------------------------


def _bundle(directory: Path, name: str) -> ClientBundle:
    return ClientBundle(directory / f"{name}.pem", directory / f"{name}.key", directory / f"{name}.p12")


def _write_client(
    name: str, directory: Path, ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey, now: dt.datetime
) -> ClientBundle:
    key = _new_key()
    cert = _leaf_certificate(name, key, ca_cert, ca_key, now, ExtendedKeyUsageOID.CLIENT_AUTH, server=False)
    # Legacy SHA1/3DES PKCS#12 is what every consumer can read (macOS
    # Keychain, Java 8, OpenSSL 1.x and 3.x); its protection is moot here.
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(PKCS12_KDF_ROUNDS)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())
        .build(PKCS12_PASSWORD.encode())
    )
    p12 = pkcs12.serialize_key_and_certificates(name.encode(), key, cert, [ca_cert], encryption)
    bundle = _bundle(directory, name)
    _write_private(bundle.key, _key_pem(key))
    _write_private(bundle.p12, p12)
    _write_public(bundle.cert, cert.public_bytes(serialization.Encoding.PEM))
    return bundle


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=RSA_PUBLIC_EXPONENT, key_size=RSA_KEY_SIZE)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _serial() -> int:
    # RFC 5280 4.1.2.2: positive, at most 20 octets; 159 random bits fit.
    return secrets.randbits(159) | 1


def _ca_certificate(key: rsa.RSAPrivateKey, now: dt.datetime) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kmsd"),
            x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME),
        ]
    )
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(_serial())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _leaf_certificate(
    common_name: str,
    key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    now: dt.datetime,
    usage: x509.ObjectIdentifier,
    *,
    server: bool,
) -> x509.Certificate:
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(_serial())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + LEAF_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                # RSA key transport (TLS 1.2 static-RSA suites) encrypts to the server key.
                key_encipherment=server,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if server:
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_IP_ADDRESSES]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _load_ca(pki: DevPki) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
        key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise DevPkiError(f"cannot load the development CA from {pki.certs_dir}: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DevPkiError(f"{pki.ca_key}: expected an RSA key")
    return cert, key


def _expiring(cert_path: Path, now: dt.datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return True
    return cert.not_valid_after_utc - RENEW_BEFORE <= now


def _write_private(path: Path, data: bytes) -> None:
    _write_atomic(path, data, 0o600)


def _write_public(path: Path, data: bytes) -> None:
    _write_atomic(path, data, 0o644)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a fresh temporary file created with ``mode``, then rename."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed (or a shared one widened) it
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
