"""Certify, Re-Certify, Validate and Locate by certificate attributes, in process;
``openssl verify`` checks what the server issued."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.x509.oid import NameOID

from kmsd.crypto.policy import Policy
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.kmip.enums import KeyFormatType, LinkType, ObjectType, Operation, ResultReason, ResultStatus
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.store import Store
from ttlv import REGISTRY, Item, ItemType

from .kmip_builders import Response, attributes, bstr, enum, integer, name_value, s, text
from .test_asymmetric_ops import (
    V2,
    attribute_values,
    call,
    count_objects,
    create_pair,
    get,
    key_block,
    key_material,
    links,
    ok,
)

VERSIONS = [(1, 0), (1, 2), (1, 4), (2, 0), (2, 1)]
OPENSSL = shutil.which("openssl")
PKCS_10 = 2
_TEXT = ItemType.TEXT_STRING


@pytest.fixture
def executor(executor_store: Store) -> Executor:
    return Executor(executor_store, ExecutorSettings(policy=Policy()))


def pair(ex: Executor, version: tuple[int, int], alg: int = Alg.RSA, length: int = 2048) -> tuple[str, str]:
    common = [enum("Cryptographic Algorithm", alg), integer("Cryptographic Length", length)]
    r = ok(
        create_pair(
            ex,
            version,
            common,
            [integer("Cryptographic Usage Mask", Mask.SIGN | Mask.CERTIFICATE_SIGN)],
            [integer("Cryptographic Usage Mask", Mask.VERIFY)],
        )
    )
    return r.get("Private Key Unique Identifier"), r.get("Public Key Unique Identifier")


def private_key(ex: Executor, version: tuple[int, int], uid: str) -> object:
    der = key_material(key_block(ok(get(ex, version, uid, KeyFormatType.PKCS_8)), "Private Key")).value
    assert isinstance(der, bytes)
    return ser.load_der_private_key(der, None)


def csr_for(key: object, cn: str) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kmsd"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(ser.Encoding.DER)  # type: ignore[arg-type]


def certify(ex: Executor, version: tuple[int, int], uid: str | None, csr: bytes, *attrs: Item) -> Response:
    payload = [text("Unique Identifier", uid)] if uid is not None else []
    payload += [enum("Certificate Request Type", PKCS_10), bstr("Certificate Request", csr)]
    if attrs:
        payload.append(attributes(version, *attrs))
    return call(ex, version, (Operation.CERTIFY, payload))


def cert_der(ex: Executor, version: tuple[int, int], uid: str) -> bytes:
    cert = ok(get(ex, version, uid)).payload().find(REG("Certificate"))
    assert cert is not None
    value = cert.get(REG("Certificate Value"))
    assert isinstance(value, bytes)
    return value


def REG(name: str) -> int:
    return REGISTRY.tag(name)


def link_item(link_type: int, uid: str) -> Item:
    return s("Link", enum("Link Type", link_type), text("Linked Object Identifier", uid))


def issue_chain(ex: Executor, version: tuple[int, int]) -> tuple[str, str, str, str]:
    """(CA certificate, leaf certificate, CA private key, leaf public key) uids."""
    ca_priv, ca_pub = pair(ex, version)
    ca_cert = ok(certify(ex, version, ca_pub, csr_for(private_key(ex, version, ca_priv), "kmsd test CA"))).get(
        "Unique Identifier"
    )
    leaf_priv, leaf_pub = pair(ex, version, Alg.EC, 256)
    leaf_csr = csr_for(private_key(ex, version, leaf_priv), "leaf.example")
    leaf = ok(
        certify(ex, version, leaf_pub, leaf_csr, name_value("leaf-cert"), link_item(LinkType.CERTIFICATE_LINK, ca_cert))
    ).get("Unique Identifier")
    return ca_cert, leaf, ca_priv, leaf_pub


@pytest.mark.parametrize("version", VERSIONS)
def test_certify_self_signed_ca_and_leaf(executor: Executor, version: tuple[int, int], tmp_path: Path) -> None:
    ca_uid, leaf_uid, _, leaf_pub = issue_chain(executor, version)
    ca = x509.load_der_x509_certificate(cert_der(executor, version, ca_uid))
    leaf = x509.load_der_x509_certificate(cert_der(executor, version, leaf_uid))
    assert ca.subject == ca.issuer and leaf.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    leaf.verify_directly_issued_by(ca)
    leaf_links = links(attribute_values(executor, version, leaf_uid, "Link"))
    assert leaf_links[LinkType.PUBLIC_KEY_LINK] == leaf_pub
    assert leaf_links[LinkType.CERTIFICATE_LINK] == ca_uid
    assert links(attribute_values(executor, version, leaf_pub, "Link"))[LinkType.CERTIFICATE_LINK] == leaf_uid
    assert version == (1, 0) or attribute_values(executor, version, leaf_uid, "Certificate Length") == [
        len(leaf.public_bytes(ser.Encoding.DER))
    ]
    if OPENSSL:
        (tmp_path / "ca.pem").write_bytes(ca.public_bytes(ser.Encoding.PEM))
        (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(ser.Encoding.PEM))
        out = subprocess.run(
            [OPENSSL, "verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "leaf.pem")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0 and "OK" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_validate_chain(executor: Executor, version: tuple[int, int]) -> None:
    ca_uid, leaf_uid, _, _ = issue_chain(executor, version)

    def validate(*uids: str) -> int:
        r = ok(call(executor, version, (Operation.VALIDATE, [text("Unique Identifier", u) for u in uids])))
        value = r.get("Validity Indicator")
        assert isinstance(value, int)
        return value

    assert validate(leaf_uid, ca_uid) == 1  # Valid
    assert validate(ca_uid, leaf_uid) == 1
    assert validate(leaf_uid) == 3  # Unknown: no trust anchor
    other_ca, _, _, _ = issue_chain(executor, version)
    assert validate(leaf_uid, other_ca) == 2  # Invalid


@pytest.mark.parametrize("version", [(1, 4), (2, 1)])
def test_re_certify(executor: Executor, version: tuple[int, int], tmp_path: Path) -> None:
    ca_uid, leaf_uid, _, leaf_pub = issue_chain(executor, version)
    r = ok(call(executor, version, (Operation.RE_CERTIFY, [text("Unique Identifier", leaf_uid)])))
    new_uid = r.get("Unique Identifier")
    assert new_uid != leaf_uid
    old = x509.load_der_x509_certificate(cert_der(executor, version, leaf_uid))
    new = x509.load_der_x509_certificate(cert_der(executor, version, new_uid))
    assert new.public_key() == old.public_key() and new.subject == old.subject
    assert new.serial_number != old.serial_number
    new.verify_directly_issued_by(x509.load_der_x509_certificate(cert_der(executor, version, ca_uid)))
    new_links = links(attribute_values(executor, version, new_uid, "Link"))
    assert new_links[LinkType.REPLACED_OBJECT_LINK] == leaf_uid
    assert new_links[LinkType.CERTIFICATE_LINK] == ca_uid
    assert links(attribute_values(executor, version, leaf_uid, "Link"))[LinkType.REPLACEMENT_OBJECT_LINK] == new_uid
    assert links(attribute_values(executor, version, leaf_pub, "Link"))[LinkType.CERTIFICATE_LINK] == new_uid
    assert attribute_values(executor, version, leaf_uid, "Name") == []
    assert len(attribute_values(executor, version, new_uid, "Name")) == 1


def test_certify_from_subject_attributes_and_locate(executor: Executor) -> None:
    version = V2
    _, pub = pair(executor, version)
    payload = [
        text("Unique Identifier", pub),
        attributes(version, Item(REG("Certificate Subject CN"), _TEXT, "attr-ca")),
    ]
    uid = ok(call(executor, version, (Operation.CERTIFY, payload))).get("Unique Identifier")
    cert = x509.load_der_x509_certificate(cert_der(executor, version, uid))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "attr-ca"
    r = ok(
        call(
            executor,
            version,
            (Operation.LOCATE, [attributes(version, Item(REG("Certificate Subject CN"), _TEXT, "attr-ca"))]),
        )
    )
    assert [i.value for i in r.payload().children] == [uid]
    r = ok(
        call(executor, version, (Operation.LOCATE, [attributes(version, enum("Object Type", ObjectType.CERTIFICATE))]))
    )
    assert uid in [i.value for i in r.payload().children]


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_bad_certify_stores_nothing(executor: Executor, version: tuple[int, int]) -> None:
    priv, pub = pair(executor, version)
    csr = csr_for(private_key(executor, version, priv), "x")
    before = count_objects(executor, version)
    cases = [
        (
            certify(executor, version, pub, b"\x30\x03\x02\x01\x00"),
            (ResultReason.INVALID_CSR, ResultReason.INVALID_FIELD),
        ),
        (certify(executor, version, priv, csr), (ResultReason.INVALID_OBJECT_TYPE, ResultReason.INVALID_FIELD)),
        (certify(executor, version, "missing", csr), (ResultReason.ITEM_NOT_FOUND, ResultReason.OBJECT_NOT_FOUND)),
        (
            certify(executor, version, pub, csr, link_item(LinkType.CERTIFICATE_LINK, pub)),
            (ResultReason.INVALID_OBJECT_TYPE, ResultReason.INVALID_FIELD),
        ),
    ]
    # A private key without the Sign usage may not issue.
    common = [enum("Cryptographic Algorithm", Alg.RSA), integer("Cryptographic Length", 2048)]
    r = ok(create_pair(executor, version, common, [integer("Cryptographic Usage Mask", Mask.DECRYPT)], []))
    before += 2
    cases.append(
        (
            certify(executor, version, r.get("Public Key Unique Identifier"), csr),
            (ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK, ResultReason.PERMISSION_DENIED),
        )
    )
    for response, reasons in cases:
        assert response.status() == ResultStatus.OPERATION_FAILED
        assert response.reason() in reasons, response.message()
    assert count_objects(executor, version) == before


@pytest.mark.parametrize("version", [(1, 4), (2, 1)])
def test_get_private_key_as_pkcs12_with_chain(executor: Executor, version: tuple[int, int], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import pkcs12

    ca_priv, ca_pub = pair(executor, version)
    ca_uid = ok(certify(executor, version, ca_pub, csr_for(private_key(executor, version, ca_priv), "p12 CA"))).get(
        "Unique Identifier"
    )
    leaf_priv, leaf_pub = pair(executor, version, Alg.EC, 256)
    leaf_key = private_key(executor, version, leaf_priv)
    leaf_uid = ok(
        certify(
            executor, version, leaf_pub, csr_for(leaf_key, "p12 leaf"), link_item(LinkType.CERTIFICATE_LINK, ca_uid)
        )
    ).get("Unique Identifier")
    password = ok(
        call(
            executor,
            version,
            (
                Operation.REGISTER,
                [
                    enum("Object Type", ObjectType.SECRET_DATA),
                    attributes(version, integer("Cryptographic Usage Mask", Mask.EXPORT)),
                    s(
                        "Secret Data",
                        enum("Secret Data Type", 2),  # Password
                        s(
                            "Key Block",
                            enum("Key Format Type", KeyFormatType.OPAQUE),
                            s("Key Value", bstr("Key Material", b"s3cret")),
                        ),
                    ),
                ],
            ),
        )
    ).get("Unique Identifier")
    ok(call(executor, version, (Operation.ACTIVATE, [text("Unique Identifier", password)])))
    for link_type, target in ((0x10C, leaf_uid), (0x10D, password)):  # PKCS#12 Certificate / Password Link
        link = link_item(link_type, target)
        new = (
            s("New Attribute", link)
            if version >= V2
            else s("Attribute", text("Attribute Name", "Link"), Item(REG("Attribute Value"), link.type, link.value))
        )
        ok(call(executor, version, (Operation.ADD_ATTRIBUTE, [text("Unique Identifier", leaf_priv), new])))
    block = key_block(ok(get(executor, version, leaf_priv, KeyFormatType.PKCS_12)), "Private Key")
    value = block.find(REG("Key Value"))
    assert value is not None
    data = value.value if isinstance(value.value, bytes) else value.get(REG("Key Material"))
    assert isinstance(data, bytes)
    key, cert, cas = pkcs12.load_key_and_certificates(data, b"s3cret")
    assert key is not None and cert is not None
    assert key.public_key() == leaf_key.public_key()  # type: ignore[attr-defined]
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "p12 leaf"
    assert [c.subject for c in cas] == [cert.issuer]
    if OPENSSL:
        (tmp_path / "k.p12").write_bytes(data)
        out = subprocess.run(
            [OPENSSL, "pkcs12", "-in", str(tmp_path / "k.p12"), "-passin", "pass:s3cret", "-nokeys"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0 and "BEGIN CERTIFICATE" in out.stdout, out.stderr
