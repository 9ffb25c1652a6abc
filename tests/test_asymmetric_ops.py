"""Create Key Pair, and Register/Get of Public and Private Keys, in process.

Each flow runs at 1.x and 2.x: 1.x Template-Attributes and 2.x Attributes
must give the same objects, and responses come back in the request's version.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import ttlv
from kmsd.crypto.policy import Policy
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.kmip.enums import (
    KeyFormatType,
    LinkType,
    ObjectType,
    Operation,
    QueryFunction,
    ResultReason,
    ResultStatus,
)
from kmsd.kmip.enums import RecommendedCurve as Curve
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.server.peer import Peer
from kmsd.store import Store
from ttlv import Item

from .kmip_builders import Response, attributes, bstr, enum, integer, name_value, request, s, tag, text
from .server_process import RunningServer

VERSIONS = [(1, 0), (1, 2), (1, 4), (2, 0), (2, 1)]
V2 = (2, 0)
ALICE = Peer(identity="alice", address="127.0.0.1:1")
OPENSSL = shutil.which("openssl")
TEMPLATES = {
    "common": ("Common Template-Attribute", "Common Attributes"),
    "private": ("Private Key Template-Attribute", "Private Key Attributes"),
    "public": ("Public Key Template-Attribute", "Public Key Attributes"),
}


@pytest.fixture
def executor(executor_store: Store) -> Executor:
    """On every backend (``executor_store`` from tests/db_fixtures.py)."""
    return Executor(executor_store, ExecutorSettings(policy=Policy()))


@pytest.fixture
def non_fips(executor_store: Store) -> Executor:
    return Executor(executor_store, ExecutorSettings(policy=Policy(non_fips=True)))


def call(ex: Executor, version: tuple[int, int], *items: tuple[Operation, list[Item]]) -> Response:
    out = ex.process(request(version, *items), ALICE)
    assert out is not None
    r = Response(out)
    assert r.version() == version
    return r


def kp_attrs(version: tuple[int, int], which: str, *attrs: Item) -> Item:
    v1, v2 = TEMPLATES[which]
    built = attributes(version, *attrs, template=v1)
    return built if version < V2 else s(v2, *built.children)


def create_pair(
    ex: Executor,
    version: tuple[int, int],
    common: list[Item],
    private: list[Item] | None = None,
    public: list[Item] | None = None,
) -> Response:
    payload = [kp_attrs(version, "common", *common)]
    if private is not None:
        payload.append(kp_attrs(version, "private", *private))
    if public is not None:
        payload.append(kp_attrs(version, "public", *public))
    return call(ex, version, (Operation.CREATE_KEY_PAIR, payload))


def ok(r: Response, i: int = 0) -> Response:
    assert r.status(i) == ResultStatus.SUCCESS, (r.reason(i), r.message(i))
    return r


def get(ex: Executor, version: tuple[int, int], uid: str, fmt: int | None = None) -> Response:
    payload = [text("Unique Identifier", uid)]
    if fmt is not None:
        payload.append(enum("Key Format Type", fmt))
    return call(ex, version, (Operation.GET, payload))


def key_block(r: Response, object_tag: str) -> Item:
    obj = r.payload().find(tag(object_tag))
    assert obj is not None
    block = obj.find(tag("Key Block"))
    assert block is not None
    return block


def key_material(block: Item) -> Item:
    value = block.find(tag("Key Value"))
    assert value is not None
    km = value.find(tag("Key Material"))
    assert km is not None
    return km


def attribute_values(ex: Executor, version: tuple[int, int], uid: str, name: str) -> list[object]:
    if version >= V2:
        r = ok(call(ex, version, (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid)])))
        attrs = r.payload().find(tag("Attributes"))
        assert attrs is not None
        return [a.value for a in attrs.children if a.tag == tag(name)]
    r = ok(call(ex, version, (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid)])))
    return [
        a.get(tag("Attribute Value"))
        for a in r.payload().find_all(tag("Attribute"))
        if a.get(tag("Attribute Name")) == name
    ]


def count_objects(ex: Executor, version: tuple[int, int]) -> int:
    r = ok(call(ex, version, (Operation.LOCATE, [])))
    return len(r.payload().find_all(tag("Unique Identifier")))


def links(values: list[object]) -> dict[int, str]:
    out = {}
    for v in values:
        item = Item(tag("Link"), ttlv.ItemType.STRUCTURE, v)  # type: ignore[arg-type]
        lt, uid = item.get(tag("Link Type")), item.get(tag("Linked Object Identifier"))
        assert isinstance(lt, int) and isinstance(uid, str)
        out[lt] = uid
    return out


# -- Create Key Pair ------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_create_rsa_key_pair(executor: Executor, version: tuple[int, int]) -> None:
    r = ok(
        create_pair(
            executor,
            version,
            [enum("Cryptographic Algorithm", Alg.RSA), integer("Cryptographic Length", 2048)],
            [name_value("rsa-private"), integer("Cryptographic Usage Mask", Mask.SIGN)],
            [name_value("rsa-public"), integer("Cryptographic Usage Mask", Mask.VERIFY)],
        )
    )
    private_uid, public_uid = r.get("Private Key Unique Identifier"), r.get("Public Key Unique Identifier")
    assert isinstance(private_uid, str) and isinstance(public_uid, str) and private_uid != public_uid

    # Default format: PKCS#1 for both halves (KMIP 2.1 Table 81).
    block = key_block(ok(get(executor, version, private_uid)), "Private Key")
    assert block.get(tag("Key Format Type")) == KeyFormatType.PKCS_1
    assert block.get(tag("Cryptographic Algorithm")) == Alg.RSA
    assert block.get(tag("Cryptographic Length")) == 2048
    der = key_material(block).value
    assert isinstance(der, bytes)
    private_key = ser.load_der_private_key(der, None)
    assert isinstance(private_key, rsa.RSAPrivateKey) and private_key.key_size == 2048

    pub_block = key_block(ok(get(executor, version, public_uid)), "Public Key")
    assert pub_block.get(tag("Key Format Type")) == KeyFormatType.PKCS_1
    pub_der = key_material(pub_block).value
    assert isinstance(pub_der, bytes)
    assert ser.load_der_public_key(pub_der).public_numbers() == private_key.public_key().public_numbers()  # type: ignore[union-attr]

    # Attributes: per-half names and masks, links both ways, digest over the PKCS#1 bytes.
    assert attribute_values(executor, version, private_uid, "Cryptographic Usage Mask") == [Mask.SIGN]
    assert attribute_values(executor, version, public_uid, "Cryptographic Usage Mask") == [Mask.VERIFY]
    assert links(attribute_values(executor, version, private_uid, "Link")) == {LinkType.PUBLIC_KEY_LINK: public_uid}
    assert links(attribute_values(executor, version, public_uid, "Link")) == {LinkType.PRIVATE_KEY_LINK: private_uid}
    digests = attribute_values(executor, version, private_uid, "Digest")
    digest = Item(tag("Digest"), ttlv.ItemType.STRUCTURE, digests[0])  # type: ignore[arg-type]
    assert digest.get(tag("Digest Value")) == hashlib.sha256(der).digest()
    assert digest.get(tag("Key Format Type")) == KeyFormatType.PKCS_1
    assert attribute_values(executor, version, public_uid, "Cryptographic Algorithm") == [Alg.RSA]


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_id_placeholder_is_the_private_key(executor: Executor, version: tuple[int, int]) -> None:
    common = kp_attrs(
        version, "common", enum("Cryptographic Algorithm", Alg.RSA), integer("Cryptographic Length", 2048)
    )
    r = call(executor, version, (Operation.CREATE_KEY_PAIR, [common]), (Operation.GET, []))
    ok(r, 0)
    ok(r, 1)
    assert r.payload(1).get(tag("Unique Identifier")) == r.get("Private Key Unique Identifier")
    assert r.payload(1).get(tag("Object Type")) == ObjectType.PRIVATE_KEY


def curve_params(curve: int) -> Item:
    return s("Cryptographic Domain Parameters", enum("Recommended Curve", curve))


@pytest.mark.parametrize("version", [(1, 2), (1, 4), (2, 1)])
@pytest.mark.parametrize("curve", [Curve.P_256, Curve.P_384, Curve.P_521])
def test_create_ec_key_pair(executor: Executor, version: tuple[int, int], curve: int) -> None:
    r = ok(create_pair(executor, version, [enum("Cryptographic Algorithm", Alg.EC), curve_params(curve)]))
    private_uid, public_uid = r.get("Private Key Unique Identifier"), r.get("Public Key Unique Identifier")
    block = key_block(ok(get(executor, version, private_uid)), "Private Key")
    assert block.get(tag("Key Format Type")) == KeyFormatType.PKCS_8
    key = ser.load_der_private_key(key_material(block).value, None)  # type: ignore[arg-type]
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert block.get(tag("Cryptographic Length")) == key.curve.key_size
    # SEC1 and the Transparent form on request.
    sec1 = key_block(ok(get(executor, version, private_uid, KeyFormatType.ECPRIVATEKEY)), "Private Key")
    assert ser.load_der_private_key(key_material(sec1).value, None).private_numbers() == key.private_numbers()  # type: ignore[arg-type,union-attr]
    if version >= (1, 4):
        tr = key_block(ok(get(executor, version, public_uid, KeyFormatType.TRANSPARENT_EC_PUBLIC_KEY)), "Public Key")
        assert key_material(tr).get(tag("Recommended Curve")) == curve
    else:  # the 1.x form
        tr = key_block(ok(get(executor, version, public_uid, KeyFormatType.TRANSPARENT_ECDSA_PUBLIC_KEY)), "Public Key")
        assert key_material(tr).get(tag("Q String")) == key.public_key().public_bytes(
            ser.Encoding.X962, ser.PublicFormat.UncompressedPoint
        )


@pytest.mark.parametrize("version", [(1, 2), (2, 0)])
def test_ec_curve_from_length_only(executor: Executor, version: tuple[int, int]) -> None:
    # PyKMIP sends ECDSA with a length and no curve.
    r = ok(
        create_pair(
            executor, version, [enum("Cryptographic Algorithm", Alg.ECDSA), integer("Cryptographic Length", 384)]
        )
    )
    block = key_block(ok(get(executor, version, r.get("Public Key Unique Identifier"))), "Public Key")
    assert block.get(tag("Key Format Type")) == KeyFormatType.X_509
    assert block.get(tag("Cryptographic Algorithm")) == Alg.ECDSA
    assert block.get(tag("Cryptographic Length")) == 384


@pytest.mark.parametrize("version", [(2, 0), (2, 1)])
def test_create_ed25519_and_x25519(executor: Executor, version: tuple[int, int]) -> None:
    r = ok(
        create_pair(
            executor,
            version,
            [enum("Cryptographic Algorithm", Alg.ED25519)],
            [integer("Cryptographic Usage Mask", Mask.SIGN)],
        )
    )
    uid = r.get("Private Key Unique Identifier")
    raw = key_block(ok(get(executor, version, uid, KeyFormatType.RAW)), "Private Key")
    seed = key_material(raw).value
    assert isinstance(seed, bytes) and len(seed) == 32
    pkcs8 = key_material(key_block(ok(get(executor, version, uid)), "Private Key")).value
    key = ser.load_der_private_key(pkcs8, None)  # type: ignore[arg-type]
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    assert key.private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw, ser.NoEncryption()) == seed

    r = ok(create_pair(executor, version, [enum("Cryptographic Algorithm", Alg.ECDH), curve_params(Curve.CURVE25519)]))
    pub = key_block(ok(get(executor, version, r.get("Public Key Unique Identifier"), KeyFormatType.RAW)), "Public Key")
    assert len(key_material(pub).value) == 32  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "common",
    [
        [enum("Cryptographic Algorithm", Alg.RSA), integer("Cryptographic Length", 1024)],
        [enum("Cryptographic Algorithm", Alg.ED448)],
        [enum("Cryptographic Algorithm", Alg.EC), curve_params(Curve.SECP256K1)],
        [enum("Cryptographic Algorithm", Alg.ECDH), curve_params(Curve.CURVE448)],
    ],
    ids=["rsa1024", "ed448", "secp256k1", "x448"],
)
def test_fips_policy_refuses_and_non_fips_allows(executor: Executor, non_fips: Executor, common: list[Item]) -> None:
    r = create_pair(executor, (2, 1), common)
    assert r.status() == ResultStatus.OPERATION_FAILED
    assert r.reason() == ResultReason.INVALID_FIELD
    assert "FIPS policy" in (r.message() or "")
    assert count_objects(executor, (2, 1)) == 0
    ok(create_pair(non_fips, (2, 1), common))
    assert count_objects(non_fips, (2, 1)) == 2


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_create_key_pair_bad_requests(executor: Executor, version: tuple[int, int]) -> None:
    cases = [
        ([integer("Cryptographic Length", 2048)], None, ResultReason.MISSING_DATA),
        ([enum("Cryptographic Algorithm", Alg.RSA)], None, ResultReason.MISSING_DATA),
        (
            [enum("Cryptographic Algorithm", Alg.AES), integer("Cryptographic Length", 256)],
            None,
            ResultReason.INVALID_FIELD,
        ),
        (
            [enum("Cryptographic Algorithm", Alg.RSA), integer("Cryptographic Length", 2050)],
            None,
            ResultReason.INVALID_FIELD,
        ),
        # Table 191: the halves must agree on the length.
        ([enum("Cryptographic Algorithm", Alg.RSA)], integer("Cryptographic Length", 2048), ResultReason.INVALID_FIELD),
    ]
    for common, private_only, reason in cases:
        r = create_pair(executor, version, common, [private_only] if private_only is not None else None)
        assert r.status() == ResultStatus.OPERATION_FAILED, common
        assert r.reason() == reason, (common, r.message())
    if version >= V2:  # X25519 cannot sign
        r = create_pair(
            executor,
            version,
            [enum("Cryptographic Algorithm", Alg.EC), curve_params(Curve.CURVE25519)],
            [integer("Cryptographic Usage Mask", Mask.SIGN)],
        )
        assert r.reason() == ResultReason.INVALID_FIELD
    assert count_objects(executor, version) == 0


def test_specific_attributes_override_common(executor: Executor) -> None:
    version = (2, 1)
    r = ok(
        create_pair(
            executor,
            version,
            [
                enum("Cryptographic Algorithm", Alg.RSA),
                integer("Cryptographic Length", 2048),
                integer("Cryptographic Usage Mask", Mask.SIGN | Mask.VERIFY),
                name_value("common"),
            ],
            [integer("Cryptographic Usage Mask", Mask.SIGN), name_value("priv")],
        )
    )
    uid = r.get("Private Key Unique Identifier")
    assert attribute_values(executor, version, uid, "Cryptographic Usage Mask") == [Mask.SIGN]
    names = attribute_values(executor, version, uid, "Name")
    assert len(names) == 2  # multi-valued: the union
    pub = r.get("Public Key Unique Identifier")
    assert attribute_values(executor, version, pub, "Cryptographic Usage Mask") == [Mask.SIGN | Mask.VERIFY]


# -- Register and Get ----------------------------------------------------------------------------
def register_key(
    ex: Executor,
    version: tuple[int, int],
    object_type: ObjectType,
    fmt: int,
    material: Item,
    alg: int,
    length: int | None,
) -> Response:
    block = [enum("Key Format Type", fmt), s("Key Value", material), enum("Cryptographic Algorithm", alg)]
    if length is not None:
        block.append(integer("Cryptographic Length", length))
    obj_tag = "Private Key" if object_type == ObjectType.PRIVATE_KEY else "Public Key"
    payload = [
        enum("Object Type", object_type),
        attributes(version, name_value("reg")),
        s(obj_tag, s("Key Block", *block)),
    ]
    return call(ex, version, (Operation.REGISTER, payload))


def km_bytes(data: bytes) -> Item:
    return bstr("Key Material", data)


@pytest.mark.parametrize("version", VERSIONS)
def test_register_and_get_private_key_in_every_format(executor: Executor, version: tuple[int, int]) -> None:
    key = rsa.generate_private_key(65537, 2048)
    pkcs8 = key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    r = ok(
        register_key(executor, version, ObjectType.PRIVATE_KEY, KeyFormatType.PKCS_8, km_bytes(pkcs8), Alg.RSA, 2048)
    )
    uid = r.get("Unique Identifier")
    # No format asked: the bytes as registered.
    assert key_material(key_block(ok(get(executor, version, uid)), "Private Key")).value == pkcs8
    pkcs1 = key_material(key_block(ok(get(executor, version, uid, KeyFormatType.PKCS_1)), "Private Key")).value
    assert pkcs1 == key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.TraditionalOpenSSL, ser.NoEncryption())
    tr = key_material(
        key_block(ok(get(executor, version, uid, KeyFormatType.TRANSPARENT_RSA_PRIVATE_KEY)), "Private Key")
    )
    assert tr.get(tag("Modulus")) == key.private_numbers().public_numbers.n
    assert tr.get(tag("Prime Exponent Q")) == key.private_numbers().dmq1
    # A private key is not in a public-key format, nor Raw.
    for fmt in (KeyFormatType.X_509, KeyFormatType.RAW, KeyFormatType.ECPRIVATEKEY):
        r = get(executor, version, uid, fmt)
        assert r.reason() == ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, fmt
    assert attribute_values(executor, version, uid, "Cryptographic Length") == [2048]
    digest = Item(tag("Digest"), ttlv.ItemType.STRUCTURE, attribute_values(executor, version, uid, "Digest")[0])  # type: ignore[arg-type]
    assert digest.get(tag("Digest Value")) == hashlib.sha256(pkcs8).digest()


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_register_transparent_public_key_and_get_as_der(executor: Executor, version: tuple[int, int]) -> None:
    key = rsa.generate_private_key(65537, 3072).public_key()
    numbers = key.public_numbers()
    material = s(
        "Key Material",
        Item(tag("Modulus"), ttlv.ItemType.BIG_INTEGER, numbers.n),
        Item(tag("Public Exponent"), ttlv.ItemType.BIG_INTEGER, numbers.e),
    )
    r = ok(
        register_key(
            executor, version, ObjectType.PUBLIC_KEY, KeyFormatType.TRANSPARENT_RSA_PUBLIC_KEY, material, Alg.RSA, None
        )
    )
    uid = r.get("Unique Identifier")
    block = key_block(ok(get(executor, version, uid)), "Public Key")
    assert block.get(tag("Cryptographic Length")) == 3072  # filled in from the key
    spki = key_material(key_block(ok(get(executor, version, uid, KeyFormatType.X_509)), "Public Key")).value
    assert spki == key.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_register_ec_private_key_sec1(executor: Executor, version: tuple[int, int]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    sec1 = key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.TraditionalOpenSSL, ser.NoEncryption())
    r = ok(
        register_key(executor, version, ObjectType.PRIVATE_KEY, KeyFormatType.ECPRIVATEKEY, km_bytes(sec1), Alg.EC, 256)
    )
    uid = r.get("Unique Identifier")
    assert key_material(key_block(ok(get(executor, version, uid)), "Private Key")).value == sec1
    fmt = KeyFormatType.TRANSPARENT_EC_PRIVATE_KEY if version >= (1, 3) else KeyFormatType.TRANSPARENT_ECDSA_PRIVATE_KEY
    tr = key_material(key_block(ok(get(executor, version, uid, fmt)), "Private Key"))
    assert tr.get(tag("D")) == key.private_numbers().private_value


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_bad_register_stores_nothing(executor: Executor, version: tuple[int, int]) -> None:
    rsa_key = rsa.generate_private_key(65537, 2048)
    pkcs1 = rsa_key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.TraditionalOpenSSL, ser.NoEncryption())
    small = rsa.generate_private_key(65537, 1024).private_bytes(
        ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption()
    )
    spki = rsa_key.public_key().public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)
    cases = [
        (
            ObjectType.PRIVATE_KEY,
            KeyFormatType.PKCS_1,
            km_bytes(b"\x30\x03\x02\x01\x00"),
            Alg.RSA,
            2048,
            ResultReason.INVALID_FIELD,
        ),
        (ObjectType.PRIVATE_KEY, KeyFormatType.PKCS_8, km_bytes(pkcs1), Alg.RSA, 2048, ResultReason.INVALID_FIELD),
        (ObjectType.PRIVATE_KEY, KeyFormatType.PKCS_1, km_bytes(pkcs1), Alg.EC, 2048, ResultReason.INVALID_FIELD),
        (ObjectType.PRIVATE_KEY, KeyFormatType.PKCS_1, km_bytes(pkcs1), Alg.RSA, 4096, ResultReason.INVALID_FIELD),
        (ObjectType.PRIVATE_KEY, KeyFormatType.PKCS_8, km_bytes(small), Alg.RSA, 1024, ResultReason.INVALID_FIELD),
        (
            ObjectType.PRIVATE_KEY,
            KeyFormatType.X_509,
            km_bytes(spki),
            Alg.RSA,
            2048,
            ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED,
        ),
        (ObjectType.PUBLIC_KEY, KeyFormatType.PKCS_1, km_bytes(spki), Alg.RSA, 2048, ResultReason.INVALID_FIELD),
        (ObjectType.PUBLIC_KEY, KeyFormatType.X_509, km_bytes(pkcs1), Alg.RSA, 2048, ResultReason.INVALID_FIELD),
        (ObjectType.PUBLIC_KEY, 0x7777, km_bytes(spki), Alg.RSA, 2048, ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED),
    ]
    for object_type, fmt, material, alg, length, reason in cases:
        r = register_key(executor, version, object_type, fmt, material, alg, length)
        assert r.status() == ResultStatus.OPERATION_FAILED, (fmt, alg)
        assert r.reason() == reason, (fmt, alg, r.message())
        assert "3082" not in (r.message() or "")
    assert count_objects(executor, version) == 0


def test_query_lists_key_objects(executor: Executor) -> None:
    r = ok(
        call(
            executor,
            (2, 1),
            (
                Operation.QUERY,
                [
                    enum("Query Function", QueryFunction.QUERY_OBJECTS),
                    enum("Query Function", QueryFunction.QUERY_OPERATIONS),
                ],
            ),
        )
    )
    types = {c.value for c in r.payload().find_all(tag("Object Type"))}
    assert {ObjectType.PUBLIC_KEY, ObjectType.PRIVATE_KEY} <= types
    ops = {c.value for c in r.payload().find_all(tag("Operation"))}
    assert Operation.CREATE_KEY_PAIR in ops


# -- Certificates ----------------------------------------------------------------------------------
def _certificate_der() -> bytes:
    from .test_crypto_certificates import RSA_KEY, der_of, make_cert

    return der_of(make_cert(RSA_KEY, serial=0x9BBA23D1B6A48F97))


def register_certificate(ex: Executor, version: tuple[int, int], der: bytes, cert_type: int = 1) -> Response:
    cert = s("Certificate", enum("Certificate Type", cert_type), bstr("Certificate Value", der))
    payload = [enum("Object Type", ObjectType.CERTIFICATE), attributes(version, name_value("cert")), cert]
    return call(ex, version, (Operation.REGISTER, payload))


@pytest.mark.parametrize("version", VERSIONS)
def test_register_and_get_certificate(executor: Executor, version: tuple[int, int], tmp_path: Path) -> None:
    der = _certificate_der()
    uid = ok(register_certificate(executor, version, der)).get("Unique Identifier")
    r = ok(get(executor, version, uid))
    assert r.get("Object Type") == ObjectType.CERTIFICATE
    cert = r.payload().find(tag("Certificate"))
    assert cert is not None and cert.get(tag("Certificate Value")) == der and cert.get(tag("Certificate Type")) == 1
    path = tmp_path / "cert.der"
    path.write_bytes(der)
    if OPENSSL:
        done = subprocess.run(
            [OPENSSL, "x509", "-inform", "DER", "-in", str(path), "-noout"], capture_output=True, check=False
        )
        assert done.returncode == 0, done.stderr

    assert attribute_values(executor, version, uid, "Cryptographic Algorithm") == [Alg.RSA]
    assert attribute_values(executor, version, uid, "Cryptographic Length") == [2048]
    assert attribute_values(executor, version, uid, "Certificate Type") == [1]
    legacy = attribute_values(executor, version, uid, "Certificate Identifier")
    modern = attribute_values(executor, version, uid, "X.509 Certificate Identifier")
    if version == (1, 0):
        assert len(legacy) == 1 and modern == []
    elif version < V2:  # 1.1-1.4 define both
        assert len(legacy) == 1 and len(modern) == 1
    else:
        assert legacy == [] and len(modern) == 1
    if legacy:
        ident = Item(tag("Certificate Identifier"), ttlv.ItemType.STRUCTURE, legacy[0])  # type: ignore[arg-type]
        assert ident.get(tag("Serial Number")) == "9BBA23D1B6A48F97"  # the number, no DER sign octet
        assert ident.get(tag("Issuer")) == "CN=KMIP,OU=OASIS,O=TEST,C=US"
    if version >= (1, 1):
        assert attribute_values(executor, version, uid, "Certificate Length") == [len(der)]
        assert attribute_values(executor, version, uid, "Digital Signature Algorithm") == [5]  # SHA-256 with RSA


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_bad_certificates_store_nothing(executor: Executor, version: tuple[int, int]) -> None:
    der = _certificate_der()
    for value, cert_type, reason in (
        (der[:-1], 1, ResultReason.INVALID_FIELD),
        (b"not a certificate", 1, ResultReason.INVALID_FIELD),
        (der, 2, ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED),  # PGP
    ):
        r = register_certificate(executor, version, value, cert_type)
        assert r.status() == ResultStatus.OPERATION_FAILED
        assert r.reason() == reason, r.message()
    assert count_objects(executor, version) == 0


# -- PyKMIP's client against a real server -----------------------------------------------------------
@pytest.mark.parametrize("kmip_version", ["KMIP_1_2", "KMIP_2_0"])
def test_pykmip_key_pair_and_certificate(kmsd_server: RunningServer, kmip_version: str) -> None:
    pytest.importorskip("kmip", reason="PyKMIP is a test dependency (pip install -e .[test])")
    from kmip import enums as kenums
    from kmip.pie import objects as kobjects

    from .test_pykmip_interop import client

    version = getattr(kenums.KMIPVersion, kmip_version)
    with client(kmsd_server, version) as c:
        public_uid, private_uid = c.create_key_pair(
            kenums.CryptographicAlgorithm.RSA,
            2048,
            public_name=f"pub-{kmip_version}",
            private_name=f"priv-{kmip_version}",
            public_usage_mask=[kenums.CryptographicUsageMask.VERIFY],
            private_usage_mask=[kenums.CryptographicUsageMask.SIGN],
        )
        public = c.get(public_uid)
        private = c.get(private_uid)
        assert isinstance(public, kobjects.PublicKey) and isinstance(private, kobjects.PrivateKey)
        assert public.key_format_type == kenums.KeyFormatType.PKCS_1
        assert private.cryptographic_length == 2048
        private_key = ser.load_der_private_key(private.value, None)
        assert isinstance(private_key, rsa.RSAPrivateKey)
        public_key = ser.load_der_public_key(public.value)
        assert isinstance(public_key, rsa.RSAPublicKey)
        assert public_key.public_numbers() == private_key.public_key().public_numbers()

        # Register keys in PKCS#8 / X.509 and a certificate; get them back unchanged.
        key = rsa.generate_private_key(65537, 2048)
        pkcs8 = key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption())
        spki = key.public_key().public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)
        priv_uid = c.register(
            kobjects.PrivateKey(kenums.CryptographicAlgorithm.RSA, 2048, pkcs8, kenums.KeyFormatType.PKCS_8)
        )
        pub_uid = c.register(
            kobjects.PublicKey(kenums.CryptographicAlgorithm.RSA, 2048, spki, kenums.KeyFormatType.X_509)
        )
        assert c.get(priv_uid).value == pkcs8
        assert c.get(pub_uid).value == spki
        der = _certificate_der()
        cert_uid = c.register(kobjects.X509Certificate(der, name=f"cert-{kmip_version}"))
        cert = c.get(cert_uid)
        assert isinstance(cert, kobjects.X509Certificate) and cert.value == der
