"""X.509 certificate parsing and the certificate attributes, without the server."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from kmsd.crypto import certificates
from kmsd.crypto.asymmetric import Kind
from kmsd.crypto.errors import FormatNotSupported, MalformedMaterial
from kmsd.kmip import tags
from kmsd.kmip.enums import CertificateType, DigitalSignatureAlgorithm, ResultReason
from ttlv import Item, ItemType

NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TEST"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "OASIS"),
        x509.NameAttribute(NameOID.COMMON_NAME, "KMIP"),
    ]
)


def make_cert(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
    *,
    serial: int = 1,
    san: bool = True,
    digest: hashes.HashAlgorithm | None = None,
) -> x509.Certificate:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(NAME)
        .issuer_name(NAME)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365))
    )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("kms.example"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return builder.sign(key, None)
    return builder.sign(key, digest or hashes.SHA256())


def cert_item(der: bytes, cert_type: int = CertificateType.X_509) -> Item:
    return Item(
        tags.Certificate,
        ItemType.STRUCTURE,
        (
            Item(tags.CertificateType, ItemType.ENUMERATION, int(cert_type)),
            Item(tags.CertificateValue, ItemType.BYTE_STRING, der),
        ),
    )


def der_of(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.DER)


RSA_KEY = rsa.generate_private_key(65537, 2048)


def by_tag(attrs: tuple[Item, ...]) -> dict[int, Item]:
    return {a.tag: a for a in attrs}


def test_attributes_of_an_rsa_certificate() -> None:
    cert = make_cert(RSA_KEY, serial=0xD2F5BAD76A5AC8F9)
    der = der_of(cert)
    loaded, value = certificates.load(cert_item(der))
    assert value == der and loaded == cert
    a = by_tag(certificates.attributes(loaded, der))
    assert a[tags.CertificateType].value == CertificateType.X_509
    assert a[tags.CertificateLength].value == len(der)
    assert a[tags.DigitalSignatureAlgorithm].value == DigitalSignatureAlgorithm.SHA_256_WITH_RSA_ENCRYPTION
    ident = a[tags.X_509CertificateIdentifier]
    assert ident.get(tags.IssuerDistinguishedName) == NAME.public_bytes()
    # The DER INTEGER, as the 2.1 test cases carry it (a leading 00 keeps it positive).
    assert ident.get(tags.CertificateSerialNumber) == bytes.fromhex("020900d2f5bad76a5ac8f9")
    subject = a[tags.X_509CertificateSubject]
    assert subject.get(tags.SubjectDistinguishedName) == NAME.public_bytes()
    assert isinstance(subject.get(tags.SubjectAlternativeName), bytes)
    # 1.x forms: RFC 4514 strings (as the 1.0 test cases show them) and hex serials.
    legacy = a[tags.CertificateIdentifier]
    assert legacy.get(tags.Issuer) == "CN=KMIP,OU=OASIS,O=TEST,C=US"
    assert legacy.get(tags.SerialNumber) == "D2F5BAD76A5AC8F9"  # the number, no DER sign octet
    alt = [c.value for c in a[tags.CertificateSubject].children if c.tag == tags.CertificateSubjectAlternativeName]
    assert alt == ["kms.example", "127.0.0.1"]
    assert a[tags.CertificateIssuer].get(tags.CertificateIssuerDistinguishedName) == "CN=KMIP,OU=OASIS,O=TEST,C=US"
    spec = certificates.public_key_spec(loaded)
    assert spec is not None and spec.kind is Kind.RSA and spec.bits == 2048


@pytest.mark.parametrize(
    ("key", "digest", "expected"),
    [
        (ec.generate_private_key(ec.SECP256R1()), hashes.SHA256(), DigitalSignatureAlgorithm.ECDSA_WITH_SHA256),
        (ec.generate_private_key(ec.SECP384R1()), hashes.SHA384(), DigitalSignatureAlgorithm.ECDSA_WITH_SHA384),
        (RSA_KEY, hashes.SHA512(), DigitalSignatureAlgorithm.SHA_512_WITH_RSA_ENCRYPTION),
        (RSA_KEY, hashes.SHA3_256(), DigitalSignatureAlgorithm.SHA3_256_WITH_RSA_ENCRYPTION),
    ],
)
def test_digital_signature_algorithm(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, digest: hashes.HashAlgorithm, expected: int
) -> None:
    cert = make_cert(key, digest=digest, san=False)
    a = by_tag(certificates.attributes(cert, der_of(cert)))
    assert a[tags.DigitalSignatureAlgorithm].value == expected
    assert tags.SubjectAlternativeName not in {c.tag for c in a[tags.X_509CertificateSubject].children}


def test_ed25519_certificate_has_no_signature_enum() -> None:
    cert = make_cert(ed25519.Ed25519PrivateKey.generate())
    a = by_tag(certificates.attributes(cert, der_of(cert)))
    assert tags.DigitalSignatureAlgorithm not in a  # KMIP has no value for it
    spec = certificates.public_key_spec(cert)
    assert spec is not None and spec.kind is Kind.ED25519


@pytest.mark.parametrize(
    "value",
    [b"", b"\x30\x00", b"-----BEGIN CERTIFICATE-----", bytes(64), b"\x30" + bytes(70 * 1024)],
)
def test_malformed_certificates(value: bytes) -> None:
    with pytest.raises(MalformedMaterial) as err:
        certificates.load(cert_item(value))
    assert err.value.reason == ResultReason.INVALID_FIELD


def test_truncated_and_pgp_certificates() -> None:
    der = der_of(make_cert(RSA_KEY))
    with pytest.raises(MalformedMaterial):
        certificates.load(cert_item(der[:-10]))
    with pytest.raises(FormatNotSupported):
        certificates.load(cert_item(der, CertificateType.PGP))
    with pytest.raises(MalformedMaterial):
        certificates.load(Item(tags.Certificate, ItemType.STRUCTURE, ()))
