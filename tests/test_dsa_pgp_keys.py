"""DSA keys, encrypted PKCS#8 keys and PGP Key objects, through the executor.

DSA: Register and Get in Transparent DSA, PKCS#8 and X.509 (converted on
Get), 512-bit keys like the KMIP 2.1 baseline tests' (non-FIPS), Create Key
Pair, Sign and Signature Verify checked against ``cryptography`` and
``openssl``, the FIPS policy's refusal, and malformed values (Invalid Field,
nothing stored, no key values in the message).  Encrypted PKCS#8
(EncryptedPrivateKeyInfo, which KMIP's PKCS#8 format admits) is kept and
returned as registered.  PGP Keys are opaque blobs kept as given.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import dsa, ec

from kmsd.crypto import dsa as dsa_keys
from kmsd.crypto.certificates import serial_text
from kmsd.crypto.policy import Policy
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.kmip.enums import (
    DigitalSignatureAlgorithm,
    HashingAlgorithm,
    KeyFormatType,
    ObjectType,
    Operation,
    QueryFunction,
    ResultReason,
    ResultStatus,
    ValidityIndicator,
)
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.store import Store
from ttlv import Item, ItemType

from .kmip_builders import Response, attributes, bstr, enum, integer, name_value, s, tag, text
from .test_asymmetric_ops import (
    attribute_values,
    call,
    count_objects,
    create_pair,
    get,
    key_block,
    key_material,
    km_bytes,
    ok,
    register_key,
)
from .test_sign_ops import params, sig, sign, verify
from .test_sign_ops import register_key as register_usable

OPENSSL = shutil.which("openssl")
F = KeyFormatType


@pytest.fixture
def non_fips(executor_store: Store) -> Executor:
    """On every backend (``executor_store`` from tests/db_fixtures.py)."""
    return Executor(executor_store, ExecutorSettings(policy=Policy(non_fips=True)))


@pytest.fixture
def fips(executor_store: Store) -> Executor:
    return Executor(executor_store, ExecutorSettings(policy=Policy()))


# -- DSA numbers --------------------------------------------------------------------------------
def _probable_prime(n: int, rng: random.Random) -> bool:
    """Miller-Rabin, 40 rounds (enough for test domains)."""
    if n < 4:
        return n in (2, 3)
    if n % 2 == 0:
        return False
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(40):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def small_domain(bits: int = 512, q_bits: int = 160, seed: int = 5) -> tuple[int, int, int]:
    """A (P, Q, G) of ``bits`` bits: OpenSSL 3 no longer makes domains under 1024 bits."""
    rng = random.Random(seed)
    while True:
        q = rng.getrandbits(q_bits) | (1 << (q_bits - 1)) | 1
        if _probable_prime(q, rng):
            break
    while True:
        k = (rng.getrandbits(bits - q_bits) | (1 << (bits - q_bits - 1))) & ~1
        p = k * q + 1
        if p.bit_length() == bits and _probable_prime(p, rng):
            break
    h = 2
    while (g := pow(h, (p - 1) // q, p)) == 1:
        h += 1
    return p, q, g


P512, Q160, G512 = small_domain()
X512 = 0x1234567890ABCDEF1234567890ABCDEF12345  # < Q
Y512 = pow(G512, X512, P512)


def big(name: str, value: int) -> Item:
    return Item(tag(name), ItemType.BIG_INTEGER, value)


def transparent(last: str, p: int, q: int, g: int, v: int) -> Item:
    return s("Key Material", big("P", p), big("Q", q), big("G", g), big(last, v))


def register_dsa(
    ex: Executor, version: tuple[int, int], private: bool, material: Item, length: int | None = 512
) -> Response:
    object_type, fmt = (
        (ObjectType.PRIVATE_KEY, F.TRANSPARENT_DSA_PRIVATE_KEY)
        if private
        else (ObjectType.PUBLIC_KEY, F.TRANSPARENT_DSA_PUBLIC_KEY)
    )
    return register_key(ex, version, object_type, fmt, material, Alg.DSA, length)


def numbers(km: Item) -> tuple[object, ...]:
    return tuple(c.value for c in km.children)


# -- DSA Register / Get --------------------------------------------------------------------------
@pytest.mark.parametrize("version", [(1, 0), (1, 2), (2, 1)])
def test_512_bit_transparent_dsa_pair_in_every_format(
    non_fips: Executor, version: tuple[int, int], tmp_path: Path
) -> None:
    pub = ok(register_dsa(non_fips, version, False, transparent("Y", P512, Q160, G512, Y512))).get("Unique Identifier")
    pri = ok(register_dsa(non_fips, version, True, transparent("X", P512, Q160, G512, X512))).get("Unique Identifier")

    # As registered: the same numbers, in the same format.
    block = key_block(ok(get(non_fips, version, pub)), "Public Key")
    assert block.get(tag("Key Format Type")) == F.TRANSPARENT_DSA_PUBLIC_KEY
    assert numbers(key_material(block)) == (P512, Q160, G512, Y512)
    assert block.get(tag("Cryptographic Algorithm")) == Alg.DSA and block.get(tag("Cryptographic Length")) == 512
    block = key_block(ok(get(non_fips, version, pri)), "Private Key")
    assert numbers(key_material(block)) == (P512, Q160, G512, X512)

    # Converted: SubjectPublicKeyInfo and PKCS#8 that cryptography (and openssl) read back.
    spki = key_material(key_block(ok(get(non_fips, version, pub, F.X_509)), "Public Key")).value
    loaded_pub = ser.load_der_public_key(spki)
    assert isinstance(loaded_pub, dsa.DSAPublicKey) and loaded_pub.public_numbers().y == Y512
    pkcs8 = key_material(key_block(ok(get(non_fips, version, pri, F.PKCS_8)), "Private Key")).value
    loaded = ser.load_der_private_key(pkcs8, None)
    assert isinstance(loaded, dsa.DSAPrivateKey) and loaded.private_numbers().x == X512
    assert loaded.private_numbers().public_numbers.parameter_numbers.p == P512
    if OPENSSL:
        path = tmp_path / "dsa.p8"
        path.write_bytes(pkcs8)
        done = subprocess.run(
            [OPENSSL, "pkey", "-inform", "DER", "-in", str(path), "-noout", "-text"], capture_output=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert b"512 bit" in done.stdout
        assert b"priv:" in done.stdout

    # Formats that cannot hold a DSA key, and private formats for a public key.
    for uid, fmt in ((pub, F.PKCS_1), (pub, F.RAW), (pub, F.TRANSPARENT_DSA_PRIVATE_KEY), (pri, F.X_509)):
        assert get(non_fips, version, uid, fmt).reason() == ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, fmt
    assert attribute_values(non_fips, version, pri, "Cryptographic Algorithm") == [Alg.DSA]
    assert attribute_values(non_fips, version, pub, "Cryptographic Length") == [512]


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_dsa_registered_as_der_gets_transparent(non_fips: Executor, version: tuple[int, int]) -> None:
    key = dsa.generate_private_key(1024)
    pkcs8 = key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    spki = key.public_key().public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)
    pri = ok(register_key(non_fips, version, ObjectType.PRIVATE_KEY, F.PKCS_8, km_bytes(pkcs8), Alg.DSA, None))
    pub = ok(register_key(non_fips, version, ObjectType.PUBLIC_KEY, F.X_509, km_bytes(spki), Alg.DSA, 1024))
    pri_uid, pub_uid = pri.get("Unique Identifier"), pub.get("Unique Identifier")
    assert key_material(key_block(ok(get(non_fips, version, pri_uid)), "Private Key")).value == pkcs8
    n = key.private_numbers()
    d = n.public_numbers.parameter_numbers
    tr = key_material(key_block(ok(get(non_fips, version, pri_uid, F.TRANSPARENT_DSA_PRIVATE_KEY)), "Private Key"))
    assert numbers(tr) == (d.p, d.q, d.g, n.x)
    tr = key_material(key_block(ok(get(non_fips, version, pub_uid, F.TRANSPARENT_DSA_PUBLIC_KEY)), "Public Key"))
    assert numbers(tr) == (d.p, d.q, d.g, n.public_numbers.y)
    assert attribute_values(non_fips, version, pri_uid, "Cryptographic Length") == [1024]


def test_fips_policy_refuses_dsa(fips: Executor) -> None:
    version = (2, 1)
    key = dsa.generate_private_key(2048)
    spki = key.public_key().public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)
    cases = [
        register_dsa(fips, version, False, transparent("Y", P512, Q160, G512, Y512)),
        register_key(fips, version, ObjectType.PUBLIC_KEY, F.X_509, km_bytes(spki), Alg.DSA, 2048),
        create_pair(fips, version, [enum("Cryptographic Algorithm", Alg.DSA), integer("Cryptographic Length", 2048)]),
    ]
    for r in cases:
        assert r.reason() == ResultReason.INVALID_FIELD
        assert "FIPS" in (r.message() or "")
    assert count_objects(fips, version) == 0


def test_malformed_dsa_values_are_invalid_field(non_fips: Executor) -> None:
    version = (2, 1)
    p, q, g = P512, Q160, G512
    bad_public = [
        s("Key Material", big("P", p), big("Q", q), big("Y", Y512)),  # no G
        transparent("Y", p, q, g, 1),  # Y of order 1
        transparent("Y", p, q, g, p + 1),  # Y out of range
        transparent("Y", p, q, 2, Y512),  # G of the wrong order
        transparent("Y", p, (1 << 99) + 1, g, Y512),  # Q of no DSA size
        transparent("Y", p + 1, q, g, Y512),  # P even
        transparent("Y", p, q, g, -Y512),  # negative
        transparent("Y", 1 << 9000, q, g, Y512),  # P too large to be worth reading
        transparent("Y", 3 * q * 2 + 1, q, g, Y512),  # P far too small
        s("Key Material", big("P", p), big("Q", q), big("G", g), big("Y", Y512), big("Y", Y512)),  # repeated
        bstr("Key Material", b"\x30\x00"),  # not a structure
    ]
    for material in bad_public:
        r = register_dsa(non_fips, version, False, material)
        assert r.status() == ResultStatus.OPERATION_FAILED
        assert r.reason() == ResultReason.INVALID_FIELD, r.message()
        assert f"{Y512:x}"[:16] not in (r.message() or "").lower()
    for x in (0, q, q + 5):
        r = register_dsa(non_fips, version, True, transparent("X", p, q, g, x))
        assert r.reason() == ResultReason.INVALID_FIELD, (x, r.message())
    # The Key Block's length must be the key's.
    r = register_dsa(non_fips, version, False, transparent("Y", p, q, g, Y512), length=1024)
    assert r.reason() == ResultReason.INVALID_FIELD
    # PKCS#8 whose X is out of range: OpenSSL loads it, kmsd refuses it.
    der = dsa_keys.pkcs8_der(p, q, g, q + 5)
    r = register_key(non_fips, version, ObjectType.PRIVATE_KEY, F.PKCS_8, km_bytes(der), Alg.DSA, 512)
    assert r.reason() == ResultReason.INVALID_FIELD, r.message()
    # A DSA key named as an RSA one.
    named_rsa = transparent("Y", p, q, g, Y512)
    r = register_key(non_fips, version, ObjectType.PUBLIC_KEY, F.TRANSPARENT_DSA_PUBLIC_KEY, named_rsa, Alg.RSA, 512)
    assert r.reason() == ResultReason.INVALID_FIELD
    assert count_objects(non_fips, version) == 0


# -- DSA Create Key Pair, Sign, Signature Verify (non-FIPS) ----------------------------------------------
def test_create_dsa_key_pair(non_fips: Executor) -> None:
    version = (2, 1)
    common = [
        enum("Cryptographic Algorithm", Alg.DSA),
        integer("Cryptographic Length", 1024),
        integer("Cryptographic Usage Mask", Mask.SIGN | Mask.VERIFY),
    ]
    r = ok(create_pair(non_fips, version, common))
    pri, pub = r.get("Private Key Unique Identifier"), r.get("Public Key Unique Identifier")
    block = key_block(ok(get(non_fips, version, pri)), "Private Key")
    assert block.get(tag("Key Format Type")) == F.TRANSPARENT_DSA_PRIVATE_KEY  # KMIP 2.1 Table 81
    p, q, g, x = numbers(key_material(block))
    block = key_block(ok(get(non_fips, version, pub)), "Public Key")
    assert numbers(key_material(block)) == (p, q, g, pow(g, x, p))  # type: ignore[call-overload]
    assert block.get(tag("Cryptographic Length")) == 1024
    # Not generated: sizes OpenSSL does not make, and cipher usage.
    small = [enum("Cryptographic Algorithm", Alg.DSA), integer("Cryptographic Length", 512)]
    assert create_pair(non_fips, version, small).reason() == ResultReason.INVALID_FIELD
    encrypt = [*common[:2], integer("Cryptographic Usage Mask", Mask.ENCRYPT)]
    assert create_pair(non_fips, version, encrypt).reason() == ResultReason.INVALID_FIELD


@pytest.mark.parametrize("size", [512, 2048])
def test_dsa_sign_and_verify_both_ways(non_fips: Executor, size: int) -> None:
    if size == 512:
        key = ser.load_der_private_key(dsa_keys.pkcs8_der(P512, Q160, G512, X512), None)
    else:
        key = dsa.generate_private_key(size)
    assert isinstance(key, dsa.DSAPrivateKey)
    pri = register_usable(non_fips, key, private=True)
    pub = register_usable(non_fips, key, private=False)
    message = b"signed by DSA, outside FIPS"
    signature = sign(non_fips, pri, bstr("Data", message))
    key.public_key().verify(signature, message, hashes.SHA256())  # SHA-256 by default
    named = params(enum("Digital Signature Algorithm", DigitalSignatureAlgorithm.DSA_WITH_SHA224))
    signature = sign(non_fips, pri, bstr("Data", message), named)
    key.public_key().verify(signature, message, hashes.SHA224())
    outside = key.sign(message, hashes.SHA256())
    assert verify(non_fips, pub, bstr("Data", message), sig(outside)) == ValidityIndicator.VALID
    assert verify(non_fips, pub, bstr("Data", message + b"!"), sig(outside)) == ValidityIndicator.INVALID
    assert verify(non_fips, pub, bstr("Data", message), sig(outside[:-2])) == ValidityIndicator.INVALID
    digest = hashlib.sha384(message).digest()
    signature = sign(non_fips, pri, bstr("Digested Data", digest))  # the hash of its length
    key.public_key().verify(signature, message, hashes.SHA384())
    # SHA-1: verified (legacy), never made.
    sha1 = params(enum("Hashing Algorithm", HashingAlgorithm.SHA_1))
    old = key.sign(message, hashes.SHA1())
    assert verify(non_fips, pub, bstr("Data", message), sig(old), sha1) == ValidityIndicator.VALID
    r = call(non_fips, (2, 1), (Operation.SIGN, [text("Unique Identifier", pri), bstr("Data", message), sha1]))
    assert r.reason() == ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS
    ecdsa = params(enum("Digital Signature Algorithm", DigitalSignatureAlgorithm.ECDSA_WITH_SHA256))
    r = call(non_fips, (2, 1), (Operation.SIGN, [text("Unique Identifier", pri), bstr("Data", message), ecdsa]))
    assert r.reason() == ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS


# -- Encrypted PKCS#8 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [(1, 0), (2, 1)])
def test_encrypted_pkcs8_is_kept_as_registered(fips: Executor, version: tuple[int, int]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    encrypted = key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.BestAvailableEncryption(b"pw"))
    r = ok(register_key(fips, version, ObjectType.PRIVATE_KEY, F.PKCS_8, km_bytes(encrypted), Alg.ECDSA, 256))
    uid = r.get("Unique Identifier")
    for fmt in (None, F.PKCS_8):
        block = key_block(ok(get(fips, version, uid, fmt)), "Private Key")
        assert key_material(block).value == encrypted
        assert block.get(tag("Cryptographic Algorithm")) == Alg.ECDSA
    assert get(fips, version, uid, F.ECPRIVATEKEY).reason() == ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED
    assert attribute_values(fips, version, uid, "Cryptographic Length") == [256]
    digest = Item(tag("Digest"), ItemType.STRUCTURE, attribute_values(fips, version, uid, "Digest")[0])  # type: ignore[arg-type]
    assert digest.get(tag("Digest Value")) == hashlib.sha256(encrypted).digest()


def test_bad_encrypted_pkcs8(fips: Executor) -> None:
    version = (2, 1)
    key = ec.generate_private_key(ec.SECP256R1())
    encrypted = key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.BestAvailableEncryption(b"pw"))
    not_oid = bytes.fromhex("3009300302010004020102")  # AlgorithmIdentifier without an OID
    empty = bytes.fromhex("300d300906052b0e03021a05000400")  # no encrypted data
    cases = [
        (encrypted, Alg.EC, None, ResultReason.INVALID_FIELD),  # length unknown: must be declared
        (encrypted, Alg.EC, 200, ResultReason.INVALID_FIELD),  # no curve of that size
        (encrypted, Alg.RSA, 1024, ResultReason.INVALID_FIELD),  # the policy still applies
        (encrypted, Alg.DSA, 2048, ResultReason.INVALID_FIELD),  # FIPS: no DSA
        (not_oid, Alg.EC, 256, ResultReason.INVALID_FIELD),
        (empty, Alg.EC, 256, ResultReason.INVALID_FIELD),
    ]
    for der, alg, length, reason in cases:
        r = register_key(fips, version, ObjectType.PRIVATE_KEY, F.PKCS_8, km_bytes(der), alg, length)
        assert r.reason() == reason, (alg, length, r.message())
    assert count_objects(fips, version) == 0


# -- PGP Key -------------------------------------------------------------------------------------------------
ARMORED = (
    b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBFHA/dQBCADed9e6tib8\n=Ab12\n-----END PGP PUBLIC KEY BLOCK-----\n"
)


def pgp_key(version_value: int | None = 4, fmt: int = F.RAW, material: bytes = ARMORED, alg: int = Alg.RSA) -> Item:
    block = s(
        "Key Block",
        enum("Key Format Type", fmt),
        s("Key Value", bstr("Key Material", material)),
        enum("Cryptographic Algorithm", alg),
        integer("Cryptographic Length", 2048),
    )
    children = [] if version_value is None else [integer("PGP Key Version", version_value)]
    return s("PGP Key", *children, block)


def register_pgp(ex: Executor, version: tuple[int, int], obj: Item, *attrs: Item) -> Response:
    payload = [enum("Object Type", ObjectType.PGP_KEY), attributes(version, name_value("pgp"), *attrs), obj]
    return call(ex, version, (Operation.REGISTER, payload))


@pytest.mark.parametrize("version", [(1, 2), (1, 4), (2, 1)])
def test_pgp_key_register_get_locate_destroy(fips: Executor, version: tuple[int, int]) -> None:
    uid = ok(register_pgp(fips, version, pgp_key())).get("Unique Identifier")
    for fmt in (None, F.RAW):
        r = ok(get(fips, version, uid, fmt))
        assert r.get("Object Type") == ObjectType.PGP_KEY
        obj = r.payload().find(tag("PGP Key"))
        assert obj is not None and obj.get(tag("PGP Key Version")) == 4
        block = key_block(r, "PGP Key")
        assert key_material(block).value == ARMORED
        assert block.get(tag("Cryptographic Algorithm")) == Alg.RSA and block.get(tag("Cryptographic Length")) == 2048
    assert get(fips, version, uid, F.PKCS_8).reason() == ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED
    assert attribute_values(fips, version, uid, "Cryptographic Algorithm") == [Alg.RSA]
    assert attribute_values(fips, version, uid, "Cryptographic Length") == [2048]
    digest = Item(tag("Digest"), ItemType.STRUCTURE, attribute_values(fips, version, uid, "Digest")[0])  # type: ignore[arg-type]
    assert digest.get(tag("Digest Value")) == hashlib.sha256(ARMORED).digest()
    locate = [attributes(version, enum("Object Type", ObjectType.PGP_KEY), template="Template-Attribute")]
    if version < (2, 0):  # 1.x Locate takes bare Attribute structures
        locate = list(locate[0].children)
    found = ok(call(fips, version, (Operation.LOCATE, locate))).payload().find_all(tag("Unique Identifier"))
    assert [f.value for f in found] == [uid]
    ok(call(fips, version, (Operation.DESTROY, [text("Unique Identifier", uid)])))
    gone = ResultReason.OBJECT_DESTROYED if version >= (2, 0) else ResultReason.ITEM_NOT_FOUND  # 1.x has no such reason
    assert get(fips, version, uid).reason() == gone


def test_bad_pgp_keys_store_nothing(fips: Executor) -> None:
    version = (2, 1)
    cases = [
        (pgp_key(version_value=None), ResultReason.MISSING_DATA),
        (pgp_key(version_value=5), ResultReason.INVALID_FIELD),
        (pgp_key(fmt=F.PKCS_8), ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED),
        (pgp_key(material=b""), ResultReason.INVALID_FIELD),
        (pgp_key(material=b"x" * (300 * 1024)), ResultReason.INVALID_FIELD),
        (s("PGP Key", integer("PGP Key Version", 4)), ResultReason.MISSING_DATA),  # no Key Block
    ]
    for obj, reason in cases:
        r = register_pgp(fips, version, obj)
        assert r.reason() == reason, r.message()
    contradicts = enum("Cryptographic Algorithm", Alg.DSA)
    assert register_pgp(fips, version, pgp_key(), contradicts).reason() == ResultReason.INVALID_FIELD
    assert count_objects(fips, version) == 0


# -- 1.x Certificate Identifier serial numbers ---------------------------------------------------------------
def test_serial_number_text_is_the_number_in_hex() -> None:
    """KMIP 1.0 section 3.9 / the 1.0-1.2 test cases: the number's octets, no DER sign octet."""
    assert serial_text(0x9BBA23D1B6A48F97) == "9BBA23D1B6A48F97"
    assert serial_text(0xDADA16A58D2924D9) == "DADA16A58D2924D9"
    assert serial_text(1) == "01"
    assert serial_text(0) == "00"
    assert serial_text(0x7F) == "7F"
    assert serial_text(0x0100) == "0100"
    assert serial_text(-1) == "FF"  # a (forbidden) negative serial keeps its DER octets


@pytest.mark.parametrize("version", [(1, 1), (1, 2), (2, 1)])
def test_query_lists_pgp_keys_where_the_version_has_them(fips: Executor, version: tuple[int, int]) -> None:
    r = ok(call(fips, version, (Operation.QUERY, [enum("Query Function", QueryFunction.QUERY_OBJECTS)])))
    types = {c.value for c in r.payload().find_all(tag("Object Type"))}
    assert ObjectType.PRIVATE_KEY in types
    assert (ObjectType.PGP_KEY in types) == (version >= (1, 2))  # PGP Key is a 1.2 object type
