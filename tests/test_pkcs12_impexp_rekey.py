"""Register and Get of PKCS#12 bags, the Digests of registered keys, Re-Key of
an expired key, and Derive Key by asymmetric key agreement (ECDH), in process.

PKCS#12 runs at 1.4 (the bag is the Key Value byte string) and 2.1 (the Key
Material); the others at 1.x and 2.x.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

import ttlv
from kmsd.crypto.policy import Policy
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.kmip.enums import (
    DerivationMethod,
    HashingAlgorithm,
    KeyFormatType,
    LinkType,
    ObjectType,
    Operation,
    ResultReason,
    ResultStatus,
    SecretDataType,
    State,
)
from kmsd.kmip.enums import RecommendedCurve as Curve
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.store import Store
from ttlv import Item

from .kmip_builders import Response, attributes, bstr, dt, enum, integer, s, tag, text
from .test_asymmetric_ops import attribute_values, call, count_objects, create_pair, get, key_block, links, ok

PASSWORD = b"correct horse"
PKCS12_CERTIFICATE_LINK = 0x0000010C
PKCS12_PASSWORD_LINK = 0x0000010D
P12_VERSIONS = [(1, 4), (2, 1)]


@pytest.fixture
def executor(executor_store: Store) -> Executor:
    return Executor(executor_store, ExecutorSettings(policy=Policy()))


# -- helpers -----------------------------------------------------------------------------------
def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _certificate(subject: str, key: rsa.RSAPrivateKey, issuer: str, signer: rsa.RSAPrivateKey) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=subject == issuer, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )


class Bag:
    """A PKCS#12 bag: a private key, its certificate, and the issuing CA's."""

    def __init__(self, alias: bytes = b"alias", password: bytes = PASSWORD) -> None:
        self.ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ca = _certificate("test ca", self.ca_key, "test ca", self.ca_key)
        self.leaf = _certificate("leaf", self.key, "test ca", self.ca_key)
        encryption = (
            ser.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(2048)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
            .build(password)
        )
        self.data = pkcs12.serialize_key_and_certificates(alias, self.key, self.leaf, [self.ca], encryption)


def _key_value(version: tuple[int, int], data: bytes) -> Item:
    # KMIP 1.4 carries a PKCS#12 bag as the Key Value byte string itself.
    if version < (2, 0):
        return bstr("Key Value", data)
    return s("Key Value", bstr("Key Material", data))


def register_password(ex: Executor, version: tuple[int, int], password: bytes = PASSWORD, activate: bool = True) -> str:
    secret = s(
        "Secret Data",
        enum("Secret Data Type", SecretDataType.PASSWORD),
        s("Key Block", enum("Key Format Type", KeyFormatType.OPAQUE), s("Key Value", bstr("Key Material", password))),
    )
    payload = [
        enum("Object Type", ObjectType.SECRET_DATA),
        attributes(version, integer("Cryptographic Usage Mask", Mask.DERIVE_KEY)),
        secret,
    ]
    uid = ok(call(ex, version, (Operation.REGISTER, payload))).get("Unique Identifier")
    assert isinstance(uid, str)
    if activate:
        ok(call(ex, version, (Operation.ACTIVATE, [text("Unique Identifier", uid)])))
    return uid


def link_item(link_type: int, uid: str) -> Item:
    return s("Link", enum("Link Type", link_type), text("Linked Object Identifier", uid))


def register_bag(ex: Executor, version: tuple[int, int], data: bytes, *attrs: Item) -> Response:
    block = s("Key Block", enum("Key Format Type", KeyFormatType.PKCS_12), _key_value(version, data))
    payload = [
        enum("Object Type", ObjectType.PRIVATE_KEY),
        attributes(version, integer("Cryptographic Usage Mask", Mask.SIGN | Mask.DECRYPT), *attrs),
        s("Private Key", block),
    ]
    return call(ex, version, (Operation.REGISTER, payload))


def certificate_value(ex: Executor, version: tuple[int, int], uid: str) -> bytes:
    cert = ok(get(ex, version, uid)).payload().find(tag("Certificate"))
    assert cert is not None
    value = cert.get(tag("Certificate Value"))
    assert isinstance(value, bytes)
    return value


def block_bytes(block: Item) -> bytes:
    value = block.find(tag("Key Value"))
    assert value is not None
    if isinstance(value.value, bytes):
        return value.value
    material = value.get(tag("Key Material"))
    assert isinstance(material, bytes)
    return material


def digests(ex: Executor, version: tuple[int, int], uid: str) -> dict[int, bytes]:
    out = {}
    for v in attribute_values(ex, version, uid, "Digest"):
        item = Item(tag("Digest"), ttlv.ItemType.STRUCTURE, v)  # type: ignore[arg-type]
        assert item.get(tag("Hashing Algorithm")) == HashingAlgorithm.SHA_256
        fmt, value = item.get(tag("Key Format Type")), item.get(tag("Digest Value"))
        assert isinstance(fmt, int) and isinstance(value, bytes)
        out[fmt] = value
    return out


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(ser.Encoding.DER)


# -- PKCS#12 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", P12_VERSIONS)
def test_register_pkcs12_stores_key_and_linked_chain(executor: Executor, version: tuple[int, int]) -> None:
    bag = Bag()
    password_uid = register_password(executor, version)
    r = ok(
        register_bag(
            executor,
            version,
            bag.data,
            link_item(PKCS12_PASSWORD_LINK, password_uid),
            text("PKCS#12 Friendly Name", "alias"),
        )
    )
    uid = r.get("Unique Identifier")

    # The key is kept in PKCS#8, the form the bag carried it in.
    block = key_block(ok(get(executor, version, uid)), "Private Key")
    assert block.get(tag("Key Format Type")) == KeyFormatType.PKCS_8
    pkcs8 = bag.key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    assert block_bytes(block) == pkcs8

    # Its certificate, and that certificate's issuer, are objects of their own.
    key_links = links(attribute_values(executor, version, uid, "Link"))
    assert key_links[PKCS12_PASSWORD_LINK] == password_uid
    leaf_uid = key_links[PKCS12_CERTIFICATE_LINK]
    assert certificate_value(executor, version, leaf_uid) == _der(bag.leaf)
    ca_uid = links(attribute_values(executor, version, leaf_uid, "Link"))[LinkType.CERTIFICATE_LINK]
    assert certificate_value(executor, version, ca_uid) == _der(bag.ca)
    assert attribute_values(executor, version, leaf_uid, "PKCS#12 Friendly Name") == ["alias"]

    # Get as PKCS#12 gives back the same key and chain under the same password.
    block = key_block(ok(get(executor, version, uid, KeyFormatType.PKCS_12)), "Private Key")
    assert block.get(tag("Key Format Type")) == KeyFormatType.PKCS_12
    back = pkcs12.load_pkcs12(block_bytes(block), PASSWORD)
    assert back.key is not None and back.cert is not None
    assert back.key.private_numbers() == bag.key.private_numbers()  # type: ignore[union-attr]
    assert back.cert.certificate == bag.leaf
    assert back.cert.friendly_name == b"alias"
    assert [c.certificate for c in back.additional_certs] == [bag.ca]


@pytest.mark.parametrize("version", P12_VERSIONS)
def test_registered_pkcs12_key_has_digests_of_stored_and_default_format(
    executor: Executor, version: tuple[int, int]
) -> None:
    bag = Bag()
    password_uid = register_password(executor, version)
    uid = ok(register_bag(executor, version, bag.data, link_item(PKCS12_PASSWORD_LINK, password_uid))).get(
        "Unique Identifier"
    )
    pkcs8 = bag.key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    pkcs1 = bag.key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.TraditionalOpenSSL, ser.NoEncryption())
    assert digests(executor, version, uid) == {
        KeyFormatType.PKCS_8: hashlib.sha256(pkcs8).digest(),
        KeyFormatType.PKCS_1: hashlib.sha256(pkcs1).digest(),
    }
    # Without a Friendly Name in the request, the alias found in the bag is recorded.
    assert attribute_values(executor, version, uid, "PKCS#12 Friendly Name") == ["alias"]


@pytest.mark.parametrize(
    ("version", "inactive", "wrong_password", "no_link"),
    [
        # 2.x: Bad Password covers all of these (KMIP 2.1 section 11.46).
        ((2, 1), ResultReason.BAD_PASSWORD, ResultReason.BAD_PASSWORD, ResultReason.BAD_PASSWORD),
        # 1.4: Invalid Field for link problems (Table 330); a password in the
        # wrong state is the lifecycle error, Permission Denied in 1.x.
        ((1, 4), ResultReason.PERMISSION_DENIED, ResultReason.INVALID_FIELD, ResultReason.INVALID_FIELD),
    ],
)
def test_pkcs12_password_problems_store_nothing(
    executor: Executor, version: tuple[int, int], inactive: int, wrong_password: int, no_link: int
) -> None:
    bag = Bag()
    pre_active = register_password(executor, version, activate=False)
    wrong = register_password(executor, version, b"not the password")
    before = count_objects(executor, version)
    cases = [
        ((link_item(PKCS12_PASSWORD_LINK, pre_active),), inactive),
        ((link_item(PKCS12_PASSWORD_LINK, wrong),), wrong_password),
        ((), no_link),
        ((link_item(PKCS12_PASSWORD_LINK, wrong), link_item(PKCS12_PASSWORD_LINK, pre_active)), no_link),
    ]
    for attrs, reason in cases:
        r = register_bag(executor, version, bag.data, *attrs)
        assert r.status() == ResultStatus.OPERATION_FAILED
        assert r.reason() == reason, r.message()
        assert PASSWORD.decode() not in (r.message() or "")
    assert count_objects(executor, version) == before  # neither the key nor any certificate


def test_pkcs12_friendly_name_must_name_the_bags_key(executor: Executor) -> None:
    version = (2, 1)
    password_uid = register_password(executor, version)
    r = register_bag(
        executor,
        version,
        Bag(alias=b"mykey").data,
        link_item(PKCS12_PASSWORD_LINK, password_uid),
        text("PKCS#12 Friendly Name", "other"),
    )
    assert r.status() == ResultStatus.OPERATION_FAILED
    assert r.reason() == ResultReason.INVALID_FIELD


def test_malformed_pkcs12_is_refused(executor: Executor) -> None:
    version = (2, 1)
    password_uid = register_password(executor, version)
    r = register_bag(executor, version, b"\x30\x03\x02\x01\x03", link_item(PKCS12_PASSWORD_LINK, password_uid))
    assert r.status() == ResultStatus.OPERATION_FAILED
    assert r.reason() == ResultReason.BAD_PASSWORD  # cryptography cannot tell the two apart


# -- Digests of registered keys ------------------------------------------------------------------
def _transparent_rsa(key: rsa.RSAPrivateKey) -> Item:
    n = key.private_numbers()

    def big(name: str, value: int) -> Item:
        return Item(tag(name), ttlv.ItemType.BIG_INTEGER, value)

    return s(
        "Key Material",
        big("Modulus", n.public_numbers.n),
        big("Private Exponent", n.d),
        big("Public Exponent", n.public_numbers.e),
        big("P", n.p),
        big("Q", n.q),
        big("Prime Exponent P", n.dmp1),
        big("Prime Exponent Q", n.dmq1),
        big("CRT Coefficient", n.iqmp),
    )


@pytest.mark.parametrize("version", [(1, 4), (2, 1)])
def test_register_in_a_non_default_format_adds_the_default_formats_digest(
    executor: Executor, version: tuple[int, int]
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    material = _transparent_rsa(key)
    block = s(
        "Key Block",
        enum("Key Format Type", KeyFormatType.TRANSPARENT_RSA_PRIVATE_KEY),
        s("Key Value", material),
        enum("Cryptographic Algorithm", Alg.RSA),
        integer("Cryptographic Length", 2048),
    )
    payload = [
        enum("Object Type", ObjectType.PRIVATE_KEY),
        attributes(version, integer("Cryptographic Usage Mask", Mask.DECRYPT)),
        s("Private Key", block),
    ]
    uid = ok(call(executor, version, (Operation.REGISTER, payload))).get("Unique Identifier")
    pkcs1 = key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.TraditionalOpenSSL, ser.NoEncryption())
    found = digests(executor, version, uid)
    # KMIP 2.1 section 4.21: a mandatory SHA-256 digest over the default
    # format (PKCS#1 for RSA private keys) and one over the registered format.
    assert found[KeyFormatType.PKCS_1] == hashlib.sha256(pkcs1).digest()
    assert found[KeyFormatType.TRANSPARENT_RSA_PRIVATE_KEY] == hashlib.sha256(ttlv.encode(material)).digest()
    assert len(found) == 2

    # Registered in the default format: the one digest.
    block = s(
        "Key Block",
        enum("Key Format Type", KeyFormatType.PKCS_1),
        s("Key Value", bstr("Key Material", pkcs1)),
        enum("Cryptographic Algorithm", Alg.RSA),
        integer("Cryptographic Length", 2048),
    )
    payload[2] = s("Private Key", block)
    uid = ok(call(executor, version, (Operation.REGISTER, payload))).get("Unique Identifier")
    assert digests(executor, version, uid) == {KeyFormatType.PKCS_1: hashlib.sha256(pkcs1).digest()}


# -- Re-Key of an expired key (TC_92) ------------------------------------------------------------
def _state(ex: Executor, version: tuple[int, int], uid: str) -> object:
    return attribute_values(ex, version, uid, "State")[0]


def _date(ex: Executor, version: tuple[int, int], uid: str, name: str) -> datetime:
    value = attribute_values(ex, version, uid, name)[0]
    assert isinstance(value, datetime)
    return value


@pytest.mark.parametrize("version", [(1, 0), (1, 1), (1, 2), (2, 1)])
def test_re_key_of_an_expired_key_with_offset_zero_is_active(executor: Executor, version: tuple[int, int]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    payload = [
        enum("Object Type", ObjectType.SYMMETRIC_KEY),
        attributes(
            version,
            enum("Cryptographic Algorithm", Alg.AES),
            integer("Cryptographic Length", 128),
            integer("Cryptographic Usage Mask", Mask.ENCRYPT | Mask.DECRYPT),
            dt("Activation Date", now - timedelta(seconds=300)),
            dt("Deactivation Date", now - timedelta(seconds=180)),
        ),
    ]
    old = ok(call(executor, version, (Operation.CREATE, payload))).get("Unique Identifier")
    assert _state(executor, version, old) == State.DEACTIVATED

    # Offset 0: the replacement is active from its Initial Date, for as long
    # as the existing key was (KMIP 1.0-1.2 Re-key, "Computing New Dates from Offset").
    new = ok(call(executor, version, (Operation.RE_KEY, [text("Unique Identifier", old), integer("Offset", 0)])))
    new_uid = new.get("Unique Identifier")
    initial = _date(executor, version, new_uid, "Initial Date")
    assert _date(executor, version, new_uid, "Activation Date") == initial
    assert _date(executor, version, new_uid, "Deactivation Date") == initial + timedelta(seconds=120)
    assert _state(executor, version, new_uid) == State.ACTIVE
    assert _state(executor, version, old) == State.DEACTIVATED

    # Without an Offset the dates are copied: the replacement is expired too.
    copied = ok(call(executor, version, (Operation.RE_KEY, [text("Unique Identifier", old)]))).get("Unique Identifier")
    assert _date(executor, version, copied, "Deactivation Date") == now - timedelta(seconds=180)
    assert _state(executor, version, copied) == State.DEACTIVATED


# -- Derive Key by ECDH ----------------------------------------------------------------------------
def _ec_pair(ex: Executor, version: tuple[int, int], mask: int = Mask.DERIVE_KEY | Mask.SIGN) -> tuple[str, str]:
    common = [
        enum("Cryptographic Algorithm", Alg.EC),
        s("Cryptographic Domain Parameters", enum("Recommended Curve", Curve.P_256)),
        dt("Activation Date", datetime.now(UTC) - timedelta(hours=1)),
    ]
    r = ok(
        create_pair(
            ex,
            version,
            common,
            [integer("Cryptographic Usage Mask", mask)],
            [integer("Cryptographic Usage Mask", Mask.DERIVE_KEY | Mask.VERIFY)],
        )
    )
    return r.get("Private Key Unique Identifier"), r.get("Public Key Unique Identifier")


def _derive(ex: Executor, version: tuple[int, int], uids: tuple[str, ...], length: int = 256, *extra: Item) -> Response:
    payload = [
        enum("Object Type", ObjectType.SYMMETRIC_KEY),
        *(text("Unique Identifier", u) for u in uids),
        enum("Derivation Method", DerivationMethod.ASYMMETRIC_KEY),
        s("Derivation Parameters", s("Cryptographic Parameters", enum("Cryptographic Algorithm", Alg.ECDH)), *extra),
        attributes(
            version,
            enum("Cryptographic Algorithm", Alg.AES),
            integer("Cryptographic Length", length),
            integer("Cryptographic Usage Mask", Mask.ENCRYPT | Mask.DECRYPT),
        ),
    ]
    return call(ex, version, (Operation.DERIVE_KEY, payload))


def _private_key(ex: Executor, version: tuple[int, int], uid: str) -> ec.EllipticCurvePrivateKey:
    der = block_bytes(key_block(ok(get(ex, version, uid, KeyFormatType.PKCS_8)), "Private Key"))
    key = ser.load_der_private_key(der, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


@pytest.mark.parametrize("version", [(1, 4), (2, 1)])
def test_derive_key_by_ecdh_gives_both_sides_the_same_key(executor: Executor, version: tuple[int, int]) -> None:
    private1, public1 = _ec_pair(executor, version)
    private2, public2 = _ec_pair(executor, version)
    a = ok(_derive(executor, version, (private1, public2))).get("Unique Identifier")
    b = ok(_derive(executor, version, (public1, private2))).get("Unique Identifier")  # either order
    material_a = block_bytes(key_block(ok(get(executor, version, a)), "Symmetric Key"))
    material_b = block_bytes(key_block(ok(get(executor, version, b)), "Symmetric Key"))
    key1, key2 = _private_key(executor, version, private1), _private_key(executor, version, private2)
    assert material_a == material_b == key1.exchange(ec.ECDH(), key2.public_key())

    # The Derive Key links (KMIP 2.1 section 6.1.14).
    link_items = [Item(tag("Link"), ttlv.ItemType.STRUCTURE, x) for x in attribute_values(executor, version, a, "Link")]  # type: ignore[arg-type]
    bases = [
        str(v.get(tag("Linked Object Identifier")))
        for v in link_items
        if v.get(tag("Link Type")) == LinkType.DERIVATION_BASE_OBJECT_LINK
    ]
    assert sorted(bases) == sorted([private1, public2])
    assert links(attribute_values(executor, version, private1, "Link"))[LinkType.DERIVED_KEY_LINK] == a
    assert links(attribute_values(executor, version, public2, "Link"))[LinkType.DERIVED_KEY_LINK] == a


def test_derive_key_by_ecdh_refusals(executor: Executor) -> None:
    version = (2, 1)
    private1, public1 = _ec_pair(executor, version)
    private2, _ = _ec_pair(executor, version)
    signer, _ = _ec_pair(executor, version, mask=Mask.SIGN)
    before = count_objects(executor, version)
    cases = [
        ((private1, private2), 256, (), ResultReason.INVALID_OBJECT_TYPE),
        ((private1,), 256, (), ResultReason.INVALID_FIELD),
        ((signer, public1), 256, (), ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK),
        ((private1, public1), 512, (), ResultReason.INVALID_FIELD),  # P-256 gives 256 bits of Z
        ((private1, public1), 128, (bstr("Derivation Data", b"x"),), ResultReason.INVALID_FIELD),
    ]
    for uids, length, extra, reason in cases:
        r = _derive(executor, version, uids, length, *extra)
        assert r.status() == ResultStatus.OPERATION_FAILED
        assert r.reason() == reason, r.message()
    assert count_objects(executor, version) == before
