"""Certificate Request objects (KMIP 2.0+): Register, Get, Locate, Query; bad requests store nothing."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kmsd.crypto.policy import Policy
from kmsd.kmip.enums import LinkType, ObjectType, Operation, QueryFunction, ResultReason
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.store import Store
from ttlv import Item, ItemType

from .kmip_builders import Response, attributes, bstr, enum, name_value, s, tag, text
from .test_asymmetric_ops import attribute_values, call, count_objects, get, ok

PKCS_10, PEM, CRMF = 2, 3, 1  # Certificate Request Type


@pytest.fixture
def executor(executor_store: Store) -> Executor:
    return Executor(executor_store, ExecutorSettings(policy=Policy()))


def csr(common_name: str = "device-7") -> x509.CertificateSigningRequest:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )


def request_object(request_type: int | None, value: bytes | None) -> Item:
    children = []
    if request_type is not None:
        children.append(enum("Certificate Request Type", request_type))
    if value is not None:
        children.append(bstr("Certificate Request Value", value))
    return s("Certificate Request", *children)


def register(
    ex: Executor, version: tuple[int, int], obj: Item, object_type: int = ObjectType.CERTIFICATE_REQUEST
) -> Response:
    payload = [enum("Object Type", object_type), attributes(version, name_value("req")), obj]
    return call(ex, version, (Operation.REGISTER, payload))


@pytest.mark.parametrize("version", [(2, 0), (2, 1)])
@pytest.mark.parametrize("kind", ["der", "pem"])
def test_register_get_locate_a_pkcs10_request(executor: Executor, version: tuple[int, int], kind: str) -> None:
    encoding = serialization.Encoding.DER if kind == "der" else serialization.Encoding.PEM
    value = csr().public_bytes(encoding)
    request_type = PKCS_10 if kind == "der" else PEM
    uid = ok(register(executor, version, request_object(request_type, value))).get("Unique Identifier")
    r = ok(get(executor, version, uid))
    assert r.get("Object Type") == ObjectType.CERTIFICATE_REQUEST
    obj = r.payload().find(tag("Certificate Request"))
    assert obj is not None
    assert obj.get(tag("Certificate Request Type")) == request_type
    assert obj.get(tag("Certificate Request Value")) == value
    digest = Item(tag("Digest"), ItemType.STRUCTURE, attribute_values(executor, version, uid, "Digest")[0])  # type: ignore[arg-type]
    assert digest.get(tag("Digest Value")) == hashlib.sha256(value).digest()
    by_type = attributes(version, enum("Object Type", ObjectType.CERTIFICATE_REQUEST))
    found = ok(call(executor, version, (Operation.LOCATE, [by_type])))
    assert [u.value for u in found.payload().find_all(tag("Unique Identifier"))] == [uid]
    ok(call(executor, version, (Operation.DESTROY, [text("Unique Identifier", uid)])))
    assert get(executor, version, uid).reason() == ResultReason.OBJECT_DESTROYED


def test_crmf_is_kept_as_given(executor: Executor) -> None:
    value = bytes.fromhex("3082") + b"\x01" * 40  # not parsed: CRMF is stored unread
    uid = ok(register(executor, (2, 1), request_object(CRMF, value))).get("Unique Identifier")
    obj = ok(get(executor, (2, 1), uid)).payload().find(tag("Certificate Request"))
    assert obj is not None and obj.get(tag("Certificate Request Value")) == value


def test_bad_requests_store_nothing(executor: Executor) -> None:
    good = csr().public_bytes(serialization.Encoding.DER)
    tampered = bytearray(good)
    tampered[-5] ^= 0x01  # inside the signature
    cases = [
        (request_object(PKCS_10, b"\x30\x03\x02\x01\x00"), ResultReason.INVALID_FIELD, "not a DER PKCS#10"),
        (request_object(PEM, good), ResultReason.INVALID_FIELD, "not a PEM PKCS#10"),
        (request_object(PKCS_10, bytes(tampered)), ResultReason.INVALID_FIELD, "signature does not verify"),
        (request_object(PKCS_10, b""), ResultReason.INVALID_FIELD, "empty"),
        (request_object(PKCS_10, b"\x30" * (65 * 1024)), ResultReason.INVALID_FIELD, "exceeds"),
        (request_object(0x77, good), ResultReason.INVALID_FIELD, "not supported"),
        (request_object(None, good), ResultReason.MISSING_DATA, "Certificate Request Type"),
        (request_object(PKCS_10, None), ResultReason.MISSING_DATA, "Certificate Request Value"),
    ]
    for obj, reason, words in cases:
        r = register(executor, (2, 1), obj)
        assert (r.reason(), words in (r.message() or "")) == (reason, True), r.message()
    assert count_objects(executor, (2, 1)) == 0


def test_query_lists_certificate_requests_only_where_the_version_has_them(executor: Executor) -> None:
    for version, listed in (((1, 4), False), ((2, 0), True), ((2, 1), True)):
        r = ok(call(executor, version, (Operation.QUERY, [enum("Query Function", QueryFunction.QUERY_OBJECTS)])))
        types = {c.value for c in r.payload().find_all(tag("Object Type"))}
        assert (ObjectType.CERTIFICATE_REQUEST in types) == listed, version


def test_a_1x_client_cannot_register_one(executor: Executor) -> None:
    """KMIP 1.x has no Certificate Request object type (0x0A is 2.0+)."""
    value = csr().public_bytes(serialization.Encoding.DER)
    r = register(executor, (1, 4), request_object(PKCS_10, value))
    assert r.reason() == ResultReason.INVALID_FIELD, r.message()
    assert count_objects(executor, (1, 4)) == 0


# -- Certify and Re-Certify from a stored request -----------------------------------------------------
def _register_csr(ex: Executor, key: object, cn: str) -> tuple[str, bytes]:
    from .test_certify import csr_for

    der = csr_for(key, cn)
    return ok(register(ex, (2, 1), request_object(PKCS_10, der))).get("Unique Identifier"), der


def test_certify_a_stored_request_by_its_identifier(executor: Executor) -> None:
    from .test_certify import cert_der, issue_chain, link_item, private_key
    from .test_certify import pair as key_pair

    version = (2, 1)
    ca_cert, _, _, _ = issue_chain(executor, version)
    priv, _ = key_pair(executor, version)
    req_uid, der = _register_csr(executor, private_key(executor, version, priv), "stored.example")
    payload = [
        text("Unique Identifier", req_uid),
        attributes(version, link_item(LinkType.CERTIFICATE_LINK, ca_cert)),  # the issuer
    ]
    cert_uid = ok(call(executor, version, (Operation.CERTIFY, payload))).get("Unique Identifier")
    cert = x509.load_der_x509_certificate(cert_der(executor, version, cert_uid))
    request = x509.load_der_x509_csr(der)
    assert cert.subject == request.subject and cert.public_key() == request.public_key()
    cert.verify_directly_issued_by(x509.load_der_x509_certificate(cert_der(executor, version, ca_cert)))

    # Re-Certify with the request named by Certificate Request Unique Identifier.
    renewed = ok(
        call(
            executor,
            version,
            (
                Operation.RE_CERTIFY,
                [text("Unique Identifier", cert_uid), text("Certificate Request Unique Identifier", req_uid)],
            ),
        )
    ).get("Unique Identifier")
    new = x509.load_der_x509_certificate(cert_der(executor, version, renewed))
    assert new.subject == request.subject and new.public_key() == request.public_key()


def test_certify_refuses_what_is_not_a_usable_request(executor: Executor) -> None:
    from .test_certify import issue_chain, link_item

    version = (2, 1)
    ca_cert, leaf_cert, _, _ = issue_chain(executor, version)
    crmf = ok(register(executor, version, request_object(CRMF, b"\x30\x00"))).get("Unique Identifier")
    before = count_objects(executor, version)
    cases = [
        ([text("Unique Identifier", crmf)], ResultReason.FEATURE_NOT_SUPPORTED),  # CRMF is kept, not parsed
        ([text("Unique Identifier", leaf_cert)], ResultReason.INVALID_OBJECT_TYPE),  # a certificate
    ]
    issuer = attributes(version, link_item(LinkType.CERTIFICATE_LINK, ca_cert))
    for payload, reason in cases:
        r = call(executor, version, (Operation.CERTIFY, [*payload, issuer]))
        assert r.reason() == reason, r.message()
    r = call(
        executor,
        version,
        (
            Operation.RE_CERTIFY,
            [text("Unique Identifier", leaf_cert), text("Certificate Request Unique Identifier", leaf_cert)],
        ),
    )
    assert r.reason() == ResultReason.INVALID_OBJECT_TYPE, r.message()
    assert count_objects(executor, version) == before
