"""X.509 certificates: parse what a client registers, derive its attributes.

Theory of operation: a Certificate object is (Certificate Type, Certificate
Value) with the value the DER certificate (RFC 5280 section 4.1).  It is
parsed once, on Register, by ``cryptography``; the bytes are stored as given
(a certificate is signed: re-encoding must not change a byte).  From the
parsed certificate the server sets the attributes KMIP defines for it:

* 2.x / 1.1+ (KMIP 2.1 sections 4.8, 4.22, 4.61-4.63): Certificate Type,
  Certificate Length, Digital Signature Algorithm, X.509 Certificate
  Identifier (Issuer DN and Certificate Serial Number, DER), X.509
  Certificate Issuer, X.509 Certificate Subject (DNs as DER, alternative
  names as the DER of the extension value);
* 1.0-1.4 (KMIP 1.0 sections 3.9-3.11, deprecated in 1.1, gone in 2.0):
  Certificate Identifier, Certificate Subject, Certificate Issuer, with
  DNs as RFC 4514 strings and the serial number in hex;
* Cryptographic Algorithm and Length of the certified public key.

Both generations are stored; the response layer shows a client only the
attributes its protocol version defines.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

from kmsd.kmip import tags
from kmsd.kmip.enums import CertificateType
from kmsd.kmip.enums import DigitalSignatureAlgorithm as DSA
from ttlv import Item, ItemType

from .asymmetric import KeySpec, spec_of
from .errors import FormatNotSupported, MalformedMaterial

MAX_CERTIFICATE_BYTES = 64 * 1024  # far above any real certificate; bounds the parser's work

# Signature algorithm OID -> Digital Signature Algorithm (KMIP 2.1 section 11.15).
SIGNATURE_ALGORITHMS: dict[x509.ObjectIdentifier, DSA] = {
    SignatureAlgorithmOID.RSA_WITH_MD5: DSA.MD5_WITH_RSA_ENCRYPTION,
    SignatureAlgorithmOID.RSA_WITH_SHA1: DSA.SHA_1_WITH_RSA_ENCRYPTION,
    SignatureAlgorithmOID.RSA_WITH_SHA224: DSA.SHA_224_WITH_RSA_ENCRYPTION,
    SignatureAlgorithmOID.RSA_WITH_SHA256: DSA.SHA_256_WITH_RSA_ENCRYPTION,
    SignatureAlgorithmOID.RSA_WITH_SHA384: DSA.SHA_384_WITH_RSA_ENCRYPTION,
    SignatureAlgorithmOID.RSA_WITH_SHA512: DSA.SHA_512_WITH_RSA_ENCRYPTION,
    SignatureAlgorithmOID.RSASSA_PSS: DSA.RSASSA_PSS,
    SignatureAlgorithmOID.DSA_WITH_SHA1: DSA.DSA_WITH_SHA_1,
    SignatureAlgorithmOID.DSA_WITH_SHA224: DSA.DSA_WITH_SHA224,
    SignatureAlgorithmOID.DSA_WITH_SHA256: DSA.DSA_WITH_SHA256,
    SignatureAlgorithmOID.ECDSA_WITH_SHA1: DSA.ECDSA_WITH_SHA_1,
    SignatureAlgorithmOID.ECDSA_WITH_SHA224: DSA.ECDSA_WITH_SHA224,
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: DSA.ECDSA_WITH_SHA256,
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: DSA.ECDSA_WITH_SHA384,
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: DSA.ECDSA_WITH_SHA512,
    SignatureAlgorithmOID.RSA_WITH_SHA3_256: DSA.SHA3_256_WITH_RSA_ENCRYPTION,
    SignatureAlgorithmOID.RSA_WITH_SHA3_384: DSA.SHA3_384_WITH_RSA_ENCRYPTION,
    SignatureAlgorithmOID.RSA_WITH_SHA3_512: DSA.SHA3_512_WITH_RSA_ENCRYPTION,
}


def load(certificate: Item) -> tuple[x509.Certificate, bytes]:
    """The parsed certificate of a Certificate object item, and its DER."""
    cert_type = certificate.get(tags.CertificateType)
    value = certificate.get(tags.CertificateValue)
    if not isinstance(cert_type, int):
        raise MalformedMaterial("Certificate without a Certificate Type")
    if cert_type != CertificateType.X_509:
        raise FormatNotSupported("only X.509 certificates are supported")
    if not isinstance(value, bytes) or not value:
        raise MalformedMaterial("Certificate without a Certificate Value")
    if len(value) > MAX_CERTIFICATE_BYTES:
        raise MalformedMaterial(f"Certificate Value of {len(value)} bytes exceeds {MAX_CERTIFICATE_BYTES}")
    try:
        cert = x509.load_der_x509_certificate(value)
        # Parse the key and the extensions now: a broken one fails here, not at first use.
        cert.public_key()
        _ = cert.extensions
    except (ValueError, TypeError):
        raise MalformedMaterial("Certificate Value is not a DER X.509 certificate") from None
    except UnsupportedAlgorithm:
        raise FormatNotSupported("the certificate's public key algorithm is not supported") from None
    return cert, value


def certificate_object(der: bytes) -> Item:
    return Item(
        tags.Certificate,
        ItemType.STRUCTURE,
        (
            Item(tags.CertificateType, ItemType.ENUMERATION, int(CertificateType.X_509)),
            Item(tags.CertificateValue, ItemType.BYTE_STRING, der),
        ),
    )


def public_key_spec(cert: x509.Certificate) -> KeySpec | None:
    """The certified key's kind and size, or None if kmsd has no such keys."""
    try:
        key = cert.public_key()
        return spec_of(key)  # type: ignore[arg-type]  # DSA/DH keys raise below
    except (MalformedMaterial, ValueError):
        return None


def attributes(cert: x509.Certificate, der: bytes) -> tuple[Item, ...]:
    """Every server-set certificate attribute, in both generations."""
    issuer_der = cert.issuer.public_bytes()
    subject_der = cert.subject.public_bytes()
    serial_der = _der_integer(cert.serial_number)
    out = [
        Item(tags.CertificateType, ItemType.ENUMERATION, int(CertificateType.X_509)),
        Item(tags.CertificateLength, ItemType.INTEGER, len(der)),
        _struct(
            tags.X_509CertificateIdentifier,
            Item(tags.IssuerDistinguishedName, ItemType.BYTE_STRING, issuer_der),
            Item(tags.CertificateSerialNumber, ItemType.BYTE_STRING, serial_der),
        ),
        _struct(
            tags.X_509CertificateSubject,
            Item(tags.SubjectDistinguishedName, ItemType.BYTE_STRING, subject_der),
            *(Item(tags.SubjectAlternativeName, ItemType.BYTE_STRING, v) for v in _alt_der(cert, True)),
        ),
        _struct(
            tags.X_509CertificateIssuer,
            Item(tags.IssuerDistinguishedName, ItemType.BYTE_STRING, issuer_der),
            *(Item(tags.IssuerAlternativeName, ItemType.BYTE_STRING, v) for v in _alt_der(cert, False)),
        ),
        # The 1.x forms.
        _struct(
            tags.CertificateIdentifier,
            Item(tags.Issuer, ItemType.TEXT_STRING, cert.issuer.rfc4514_string()),
            Item(tags.SerialNumber, ItemType.TEXT_STRING, serial_text(cert.serial_number)),
        ),
        _struct(
            tags.CertificateSubject,
            Item(tags.CertificateSubjectDistinguishedName, ItemType.TEXT_STRING, cert.subject.rfc4514_string()),
            *(Item(tags.CertificateSubjectAlternativeName, ItemType.TEXT_STRING, n) for n in _alt_text(cert, True)),
        ),
        _struct(
            tags.CertificateIssuer,
            Item(tags.CertificateIssuerDistinguishedName, ItemType.TEXT_STRING, cert.issuer.rfc4514_string()),
            *(Item(tags.CertificateIssuerAlternativeName, ItemType.TEXT_STRING, n) for n in _alt_text(cert, False)),
        ),
    ]
    out.extend(name_fields(cert))
    signature = SIGNATURE_ALGORITHMS.get(cert.signature_algorithm_oid)
    if signature is not None:
        out.append(Item(tags.DigitalSignatureAlgorithm, ItemType.ENUMERATION, int(signature)))
    return tuple(out)


def name_fields(cert: x509.Certificate) -> list[Item]:
    """The Certificate Subject/Issuer CN, O, OU … attributes (KMIP 1.4 section
    3.x Certificate Attributes, used as attributes by the 2.1 baseline tests)."""
    from ttlv import REGISTRY

    from .issuing import field_values

    out = []
    for prefix, name in (("Certificate Subject", cert.subject), ("Certificate Issuer", cert.issuer)):
        for suffix, value in field_values(name):
            out.append(Item(REGISTRY.tag(f"{prefix} {suffix}"), ItemType.TEXT_STRING, value))
    return out


def _struct(tag: int, *children: Item) -> Item:
    return Item(tag, ItemType.STRUCTURE, children)


def serial_text(value: int) -> str:
    """The 1.x Certificate Identifier's Serial Number: the number in hex, whole
    octets, upper case.  KMIP 1.0 section 3.9 takes it "from the Serial Number
    field of the certificate" as a Text String and fixes no spelling; the
    1.0-1.2 test cases spell 0x9BBA23D1B6A48F97 "9BBA23D1B6A48F97" and 1 "01":
    the number's octets, without the 0x00 that DER puts before a high bit
    (a sign octet, not part of the number).  A negative serial (RFC 5280
    4.1.2.2 forbids them; some certificates have one) keeps its DER octets."""
    if value < 0:
        return _der_integer(value)[2:].hex().upper()
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big").hex().upper()


def _der_integer(value: int) -> bytes:
    """DER INTEGER (X.690 8.3): the form KMIP's Certificate Serial Number carries."""
    content = value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True)
    if len(content) >= 128:
        raise MalformedMaterial("certificate serial number is too long")  # RFC 5280 4.1.2.2: at most 20 octets
    return bytes((0x02, len(content))) + content


def _alt_extension(cert: x509.Certificate, subject: bool) -> x509.Extension[x509.ExtensionType] | None:
    oid = ExtensionOID.SUBJECT_ALTERNATIVE_NAME if subject else ExtensionOID.ISSUER_ALTERNATIVE_NAME
    try:
        return cert.extensions.get_extension_for_oid(oid)
    except (x509.ExtensionNotFound, ValueError):
        return None


def _alt_der(cert: x509.Certificate, subject: bool) -> list[bytes]:
    ext = _alt_extension(cert, subject)
    return [ext.value.public_bytes()] if ext is not None else []


def _alt_text(cert: x509.Certificate, subject: bool) -> list[str]:
    ext = _alt_extension(cert, subject)
    if ext is None or not isinstance(ext.value, x509.SubjectAlternativeName | x509.IssuerAlternativeName):
        return []
    names = []
    for name in ext.value:
        value = name.value
        names.append(value.rfc4514_string() if isinstance(value, x509.Name) else str(value))
    return names
