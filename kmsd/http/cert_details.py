"""What the console shows of an X.509 certificate: a JSON-ready summary, parsed with ``cryptography``.

Pure (no I/O): DER in, a dict of display strings out, so it is tested
without a server.  Parsing happens on the server because the browser has
no X.509 parser and shipping one would mean shipping a large script; the
summary holds public information only (a certificate is public).

Big integers (the serial) travel as strings: JSON numbers lose precision in
JavaScript past 2**53, and serials are up to 20 octets (RFC 5280 §4.1.2.2).
Fingerprints and the serial are upper-case hex in colon-separated octets,
as ``openssl x509 -fingerprint`` and ``-serial`` show them, so an operator
can compare them by eye.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID

#: Far above any real certificate (the object store's own bound is the same); bounds the parser's work.
MAX_CERTIFICATE_BYTES = 64 * 1024

#: RFC 5280 §4.2.1.3 names, in the order of the bit string.
KEY_USAGE_BITS = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)
KEY_AGREEMENT_BITS = (("encipher_only", "encipherOnly"), ("decipher_only", "decipherOnly"))
#: RFC 5280 §4.2.1.12 names of the common purposes; others are shown as their dotted OID.
EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}
SAN_KINDS: tuple[tuple[type[x509.GeneralName], str], ...] = (
    (x509.DNSName, "DNS"),
    (x509.IPAddress, "IP"),
    (x509.RFC822Name, "email"),
    (x509.UniformResourceIdentifier, "URI"),
    (x509.DirectoryName, "DirName"),
    (x509.RegisteredID, "RID"),
    (x509.OtherName, "otherName"),
)


class CertificateUnreadable(ValueError):
    """The Certificate Value is not a DER X.509 certificate (or is too large to try)."""


def colon_hex(data: bytes) -> str:
    return ":".join(f"{b:02X}" for b in data)


def serial_hex(serial: int) -> str:
    # The DER INTEGER's content octets without the sign byte: what ``openssl x509 -serial`` prints, with colons.
    length = max(1, (serial.bit_length() + 7) // 8)
    return colon_hex(serial.to_bytes(length, "big", signed=False)) if serial >= 0 else f"-{-serial:X}"


def parse(der: bytes) -> x509.Certificate:
    if len(der) > MAX_CERTIFICATE_BYTES:
        raise CertificateUnreadable(f"the certificate is {len(der)} bytes, over {MAX_CERTIFICATE_BYTES}")
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        raise CertificateUnreadable("the Certificate Value is not a DER X.509 certificate") from None


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def validity_status(cert: x509.Certificate, now: datetime) -> str:
    if now < cert.not_valid_before_utc:
        return "not_yet_valid"
    if now > cert.not_valid_after_utc:
        return "expired"
    return "valid"


def public_key_summary(cert: x509.Certificate) -> dict[str, Any]:
    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        oid = cert.public_key_algorithm_oid
        return {"algorithm": oid._name if oid._name != "Unknown OID" else oid.dotted_string, "size": None}
    if isinstance(key, rsa.RSAPublicKey):
        return {"algorithm": "RSA", "size": key.key_size}
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"algorithm": "EC", "size": key.curve.key_size, "curve": key.curve.name}
    if isinstance(key, dsa.DSAPublicKey):
        return {"algorithm": "DSA", "size": key.key_size}
    sizes: dict[type, tuple[str, int]] = {
        ed25519.Ed25519PublicKey: ("Ed25519", 256),
        ed448.Ed448PublicKey: ("Ed448", 448),
        x25519.X25519PublicKey: ("X25519", 256),
        x448.X448PublicKey: ("X448", 448),
    }
    for kind, (name, bits) in sizes.items():
        if isinstance(key, kind):
            return {"algorithm": name, "size": bits}
    return {"algorithm": cert.public_key_algorithm_oid.dotted_string, "size": None}


def signature_algorithm(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    # ``_name`` is cryptography's OID name table (typed in its stubs): the names openssl prints.
    return oid._name if oid._name != "Unknown OID" else oid.dotted_string


def _key_usage(value: x509.KeyUsage) -> list[str]:
    names = [name for attr, name in KEY_USAGE_BITS if getattr(value, attr)]
    if value.key_agreement:  # encipher_only/decipher_only are only defined with keyAgreement (they raise otherwise)
        names += [n for attr, n in KEY_AGREEMENT_BITS if getattr(value, attr)]
    return names


def _general_name(name: x509.GeneralName) -> dict[str, str]:
    kind = next((label for cls, label in SAN_KINDS if isinstance(name, cls)), "other")
    value = name.value
    if isinstance(value, x509.Name):
        text = value.rfc4514_string()
    elif isinstance(value, x509.ObjectIdentifier):
        text = value.dotted_string
    elif isinstance(value, bytes):  # otherName: the DER of its value
        text = value.hex()
    else:
        text = str(value)
    return {"type": kind, "value": text}


def extensions_summary(cert: x509.Certificate) -> dict[str, Any]:
    """Key usage, extended key usage, subject alternative names, basic constraints (None when absent)."""
    out: dict[str, Any] = {
        "key_usage": None,
        "extended_key_usage": None,
        "subject_alternative_names": [],
        "basic_constraints": None,
    }
    try:
        extensions = cert.extensions
    except ValueError as exc:  # duplicate or malformed extensions: show the rest of the certificate anyway
        out["extensions_error"] = str(exc)[:200]
        return out
    for ext in extensions:
        value = ext.value
        if isinstance(value, x509.KeyUsage):
            out["key_usage"] = {"critical": ext.critical, "usages": _key_usage(value)}
        elif isinstance(value, x509.ExtendedKeyUsage):
            usages = [EKU_NAMES.get(oid, oid.dotted_string) for oid in value]
            out["extended_key_usage"] = {"critical": ext.critical, "usages": usages}
        elif isinstance(value, x509.SubjectAlternativeName):
            out["subject_alternative_names"] = [_general_name(name) for name in value]
        elif isinstance(value, x509.BasicConstraints):
            out["basic_constraints"] = {"critical": ext.critical, "ca": value.ca, "path_length": value.path_length}
    return out


def describe(cert: x509.Certificate, der: bytes, now: datetime) -> dict[str, Any]:
    """The console's certificate view (``now`` is timezone-aware UTC; it decides expired / not yet valid)."""
    return {
        "version": cert.version.name,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "self_issued": cert.subject == cert.issuer,
        "serial_number": str(cert.serial_number),
        "serial_hex": serial_hex(cert.serial_number),
        "not_before": _iso(cert.not_valid_before_utc),
        "not_after": _iso(cert.not_valid_after_utc),
        "validity": validity_status(cert, now),
        "public_key": public_key_summary(cert),
        "signature_algorithm": signature_algorithm(cert),
        "fingerprints": {
            "sha256": colon_hex(hashlib.sha256(der).digest()),
            "sha1": colon_hex(hashlib.sha1(der, usedforsecurity=False).digest()),
        },
        **extensions_summary(cert),
    }
