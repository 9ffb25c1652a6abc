"""Certificate Request objects (KMIP 2.0+, spec 2.1 §2.2): Register and Get.

A client may keep its PKCS#10 requests in the server and later Certify one by
its Unique Identifier.  PKCS#10 (DER) and PEM requests are parsed and their
self-signature checked on Register, so what is stored is a request a CA could
act on; CRMF is stored as given (the server does not parse RFC 4211).  The
stored object is the request exactly as registered, and Get returns it so.
"""

from __future__ import annotations

from cryptography import x509

from kmsd.kmip import tags
from kmsd.kmip.errors import invalid_field, missing
from ttlv import REGISTRY, Item, ItemType

CRMF = REGISTRY.enum("Certificate Request Type", "CRMF")
PKCS_10 = REGISTRY.enum("Certificate Request Type", "PKCS#10")
PEM = REGISTRY.enum("Certificate Request Type", "PEM")

#: A request is a public key, a name and some extensions: kilobytes, not megabytes.
MAX_REQUEST_BYTES = 64 * 1024


def parse(request_type: int, value: bytes) -> x509.CertificateSigningRequest | None:
    """The parsed request (None for CRMF, stored unparsed); Invalid Field if it is not what it says."""
    if request_type == PKCS_10:
        try:
            csr = x509.load_der_x509_csr(value)
        except ValueError:
            raise invalid_field("Certificate Request Value is not a DER PKCS#10 request") from None
    elif request_type == PEM:
        try:
            csr = x509.load_pem_x509_csr(value)
        except ValueError:
            raise invalid_field("Certificate Request Value is not a PEM PKCS#10 request") from None
    elif request_type == CRMF:
        return None
    else:
        raise invalid_field(f"Certificate Request Type {request_type:#x} is not supported (PKCS#10, PEM, CRMF)")
    try:
        valid = csr.is_signature_valid
    except Exception:  # an algorithm OpenSSL cannot verify: the request cannot be trusted either
        valid = False
    if not valid:
        raise invalid_field("the certificate request's signature does not verify")
    return csr


def register_certificate_request(supplied: Item) -> tuple[Item, bytes]:
    """The object to store (as given) and its bytes (for the Digest)."""
    request_type = supplied.get(tags.CertificateRequestType)
    value = supplied.get(tags.CertificateRequestValue)
    if request_type is None:
        raise missing("Certificate Request Type")
    if value is None:
        raise missing("Certificate Request Value")
    if not isinstance(request_type, int) or not isinstance(value, bytes):
        raise invalid_field("Certificate Request needs an Enumeration type and a Byte String value")
    if not value:
        raise invalid_field("empty Certificate Request Value")
    if len(value) > MAX_REQUEST_BYTES:
        raise invalid_field(f"Certificate Request Value of {len(value)} bytes exceeds {MAX_REQUEST_BYTES}")
    parse(request_type, value)
    obj = Item(
        tags.CertificateRequest,
        ItemType.STRUCTURE,
        (
            Item(tags.CertificateRequestType, ItemType.ENUMERATION, int(request_type)),
            Item(tags.CertificateRequestValue, ItemType.BYTE_STRING, value),
        ),
    )
    return obj, value
