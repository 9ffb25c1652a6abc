"""``kmsd certs``: client certificates from the server's development CA.

Theory of operation: the development CA (``DATA_DIR/certs/ca.pem`` and
``ca.key``, made by the first ``kmsd serve``) issues client certificates, the
way Vault's KMIP secrets engine hands out client credentials:

* ``kmsd certs client NAME`` makes a key pair and a certificate with
  ``CN=NAME`` (the user name under ``--client-identity cn``) and writes
  ``NAME.pem``, ``NAME.key`` (0600) and ``NAME.p12`` (password ``kmsd``)
  into ``--out`` (default ``DATA_DIR/clients``).
* ``kmsd certs sign-csr CSR --out CERT`` signs a client's own certificate
  signing request, so its private key never leaves the client.  The CSR's
  signature must verify and its subject must carry exactly one CN, which is
  the only subject attribute copied; a subjectAltName with e-mail addresses
  or URIs (for ``--client-identity san-email|san-uri``) is copied too.  The
  certificate is always a leaf (CA:FALSE) for clientAuth, whatever the CSR
  asks for.

Neither command ever overwrites a file.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kmsd.server.certs import (
    CLIENT_NAME,
    CLOCK_SKEW,
    LEAF_VALIDITY,
    PKCS12_PASSWORD,
    DevPki,
    DevPkiError,
    issue_client_cert,
)
from kmsd.server.config import ServerConfig

DEFAULT_DATA_DIR = ServerConfig.__dataclass_fields__["data_dir"].default
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256

_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=str(DEFAULT_DATA_DIR),
    envvar="KMS_DATA_DIR",
    show_envvar=True,
    show_default=True,
    help="The server's data directory (its CA is in DATA_DIR/certs).",
)


@click.group("certs")
def certs_group() -> None:
    """Client certificates from the server's development CA."""


@certs_group.command("client")
@click.argument("name")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for NAME.pem, NAME.key, NAME.p12  [default: DATA_DIR/clients]",
)
@_data_dir_option
def client_command(name: str, out: Path | None, data_dir: Path) -> None:
    """Issue a client certificate for user NAME (CN=NAME)."""
    try:
        bundle = issue_client_cert(data_dir, name, out or data_dir / "clients")
    except DevPkiError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"certificate: {bundle.cert}")
    click.echo(f"key:         {bundle.key}")
    click.echo(f"PKCS#12:     {bundle.p12} (password {PKCS12_PASSWORD!r})")
    click.echo(f"CA:          {DevPki(data_dir / 'certs').ca_cert}")


@certs_group.command("sign-csr")
@click.argument("csr", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Certificate PEM to write.")
@_data_dir_option
def sign_csr_command(csr: Path, out: Path, data_dir: Path) -> None:
    """Sign a client's certificate signing request (PEM or DER) with the development CA."""
    try:
        cert = sign_csr(data_dir, csr.read_bytes())
    except (DevPkiError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise click.ClickException(f"{out} already exists") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    name = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    click.echo(f"certificate for {name!s}: {out}")


def _load_csr(data: bytes) -> x509.CertificateSigningRequest:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_csr(data)
        return x509.load_der_x509_csr(data)
    except ValueError as exc:
        raise DevPkiError(f"not a certificate signing request: {exc}") from exc


def _check_key(key: object) -> None:
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise DevPkiError(f"RSA keys must have at least {MIN_RSA_BITS} bits")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < MIN_EC_BITS:
        raise DevPkiError(f"EC keys must be on a curve of at least {MIN_EC_BITS} bits")
    if not isinstance(
        key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
    ):
        raise DevPkiError("the CSR's key must be RSA, EC, Ed25519 or Ed448")


def sign_csr(data_dir: Path, csr_bytes: bytes, *, now: dt.datetime | None = None) -> x509.Certificate:
    """A clientAuth leaf certificate for the CSR, from the development CA of ``data_dir``."""
    csr = _load_csr(csr_bytes)
    if not csr.is_signature_valid:
        raise DevPkiError("the CSR's signature does not verify")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        raise DevPkiError(f"the CSR's subject has {len(names)} CNs, expected exactly one")
    cn = names[0].value if isinstance(names[0].value, str) else names[0].value.decode()
    if not CLIENT_NAME.match(cn):
        raise DevPkiError(f"CN {cn[:80]!r}: use letters, digits and . _ @ - (at most 64)")
    public = csr.public_key()
    _check_key(public)
    pki = DevPki(data_dir / "certs")
    try:
        ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
        ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    except FileNotFoundError:
        raise DevPkiError(f"no development CA in {pki.certs_dir}: start `kmsd serve` once to create it") from None
    except ValueError as exc:
        raise DevPkiError(f"cannot load the development CA from {pki.certs_dir}: {exc}") from exc
    if not isinstance(ca_key, rsa.RSAPrivateKey):
        raise DevPkiError(f"{pki.ca_key}: expected an RSA key")
    now = now or dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + LEAF_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    try:
        requested = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        requested = None
    if requested is not None:
        kept: list[x509.GeneralName] = [
            n for n in requested if isinstance(n, x509.RFC822Name | x509.UniformResourceIdentifier)
        ]
        if kept:
            builder = builder.add_extension(x509.SubjectAlternativeName(kept), critical=False)
    return builder.sign(ca_key, hashes.SHA256())
