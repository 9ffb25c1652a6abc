"""Issuing X.509 certificates (Certify, Re-Certify) and checking chains (Validate).

Theory of operation: the server is a small CA over ``cryptography``'s
``CertificateBuilder``; nothing here parses or signs by hand.

* A request names the subject's public key (a key object, or the key of a
  PKCS#10 request, whose self-signature is checked: RFC 2986 section 3) and
  the subject (the request's, or a DN the client gave as an attribute).
* The issuer is a private key held in the server and, unless the
  certificate is self-signed, the issuer's certificate, whose subject becomes
  the new certificate's issuer (RFC 5280 section 4.1.2.4).
* Serial numbers are 159 random bits (RFC 5280 section 4.1.2.2: positive, at
  most 20 octets; CA/B Forum: at least 64 bits of entropy).
* Extensions: those of the PKCS#10 request, then Subject and Authority Key
  Identifiers; a self-signed certificate is a CA (Basic Constraints cA and
  Key Usage keyCertSign/cRLSign), others are end entities unless the request
  asks for cA.
* The signature hash follows the issuer key: SHA-256 (RSA, P-256), SHA-384
  (P-384), SHA-512 (P-521), none for EdDSA.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from .asymmetric import PrivateKey, PublicKey
from .errors import MalformedMaterial

DEFAULT_VALIDITY = timedelta(days=365)
MAX_REQUEST_BYTES = 64 * 1024
SERIAL_BITS = 159

#: X.509 attribute types by the suffix of KMIP's Certificate Subject/Issuer
#: attributes (KMIP 1.4 section 3.x "Certificate Attributes").
NAME_FIELDS: dict[str, x509.ObjectIdentifier] = {
    "CN": NameOID.COMMON_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "Email": NameOID.EMAIL_ADDRESS,
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "UID": NameOID.USER_ID,
    "Serial Number": NameOID.SERIAL_NUMBER,
    "Title": NameOID.TITLE,
    "DC": NameOID.DOMAIN_COMPONENT,
    "DN Qualifier": NameOID.DN_QUALIFIER,
}


@dataclass(frozen=True, slots=True)
class Issuer:
    key: PrivateKey
    certificate: x509.Certificate | None  # None: self-signed


def load_csr(data: bytes) -> x509.CertificateSigningRequest:
    """A PKCS#10 request (DER, or PEM for Certificate Request Type PEM), its signature checked."""
    if not data or len(data) > MAX_REQUEST_BYTES:
        raise MalformedMaterial(f"a certificate request is 1 to {MAX_REQUEST_BYTES} bytes")
    try:
        csr = x509.load_pem_x509_csr(data) if data.lstrip().startswith(b"-----") else x509.load_der_x509_csr(data)
        csr.public_key()
        _ = csr.extensions
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise MalformedMaterial("the certificate request is not a PKCS#10 request") from None
    return csr


def csr_signature_valid(csr: x509.CertificateSigningRequest) -> bool:
    try:
        return csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm):
        return False


def _hash_for(key: PrivateKey) -> hashes.HashAlgorithm | None:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {384: hashes.SHA384(), 521: hashes.SHA512()}.get(key.curve.key_size, hashes.SHA256())
    if isinstance(key, rsa.RSAPrivateKey):
        return hashes.SHA256()
    raise MalformedMaterial(f"a {type(key).__name__} cannot sign certificates")


def issue(
    subject_key: PublicKey,
    subject: x509.Name,
    issuer: Issuer,
    *,
    not_before: datetime,
    not_after: datetime | None = None,
    extensions: x509.Extensions | None = None,
    serial: int | None = None,
) -> x509.Certificate:
    if not_after is None:
        not_after = not_before + DEFAULT_VALIDITY
    if not_after <= not_before:
        raise MalformedMaterial("the certificate would expire before it starts")
    self_signed = issuer.certificate is None
    if self_signed and issuer.key.public_key() != subject_key:
        raise MalformedMaterial("a self-signed certificate is signed by the subject's own private key")
    issuer_name = subject if issuer.certificate is None else issuer.certificate.subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(subject_key)
        .serial_number(serial if serial is not None else secrets.randbits(SERIAL_BITS) | 1)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    requested = {e.oid: e for e in extensions or ()}
    for oid, ext in requested.items():
        if oid not in (ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.AUTHORITY_KEY_IDENTIFIER):
            builder = builder.add_extension(ext.value, ext.critical)
    if ExtensionOID.BASIC_CONSTRAINTS not in requested:
        builder = builder.add_extension(x509.BasicConstraints(ca=self_signed, path_length=None), critical=True)
    if self_signed and ExtensionOID.KEY_USAGE not in requested:
        builder = builder.add_extension(_ca_key_usage(), critical=True)
    try:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key), critical=False)
    except (TypeError, ValueError):
        pass
    issuer_public = issuer.key.public_key()
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public),  # type: ignore[arg-type]
        critical=False,
    )
    try:
        return builder.sign(issuer.key, _hash_for(issuer.key))  # type: ignore[arg-type]
    except (TypeError, ValueError, UnsupportedAlgorithm) as e:
        raise MalformedMaterial(f"cannot issue this certificate: {e}") from None


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def name_from_fields(fields: list[tuple[str, str]]) -> x509.Name:
    """An X.509 name from (KMIP field suffix, value) pairs, in the order given."""
    attrs = []
    for suffix, value in fields:
        oid = NAME_FIELDS.get(suffix)
        if oid is None:
            raise MalformedMaterial(f"unknown subject field {suffix}")
        try:
            attrs.append(x509.NameAttribute(oid, value))
        except ValueError as e:
            raise MalformedMaterial(f"subject field {suffix}: {e}") from None
    return x509.Name(attrs)


def name_from_rfc4514(text: str) -> x509.Name:
    try:
        return x509.Name.from_rfc4514_string(text)
    except ValueError:
        raise MalformedMaterial(f"{text[:80]!r} is not an RFC 4514 distinguished name") from None


def field_values(name: x509.Name) -> list[tuple[str, str]]:
    """(KMIP field suffix, value) for each attribute of a name KMIP has a field for."""
    by_oid = {oid: suffix for suffix, oid in NAME_FIELDS.items()}
    out = []
    for attr in name:
        suffix = by_oid.get(attr.oid)
        if suffix is not None and isinstance(attr.value, str):
            out.append((suffix, attr.value))
    return out


def verify_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` issued ``cert``: names chain and the signature verifies."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False


def is_ca(cert: x509.Certificate) -> bool:
    try:
        bc = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    except x509.ExtensionNotFound:
        return cert.version == x509.Version.v1  # v1 roots predate the extension
    return isinstance(bc, x509.BasicConstraints) and bc.ca
