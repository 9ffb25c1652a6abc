"""Sign, Signature Verify, RSA Encrypt/Decrypt and Derive Key through the executor.

Signatures are checked both ways against ``cryptography`` itself (the server's
signature verifies outside, an outside signature verifies inside), single-part,
on a Digested Data and streamed, in 1.x and 2.x; and every kind of bad input:
wrong key type, usage mask, lifecycle, tampered signature (Invalid, not an
error), unknown or foreign correlation values, the FIPS policy."""

from __future__ import annotations

import hashlib
import hmac as std_hmac
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kmsd.crypto.policy import Policy
from kmsd.kmip.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    DerivationMethod,
    DigitalSignatureAlgorithm,
    HashingAlgorithm,
    KeyFormatType,
    ObjectType,
    Operation,
    PaddingMethod,
    ResultReason,
    ValidityIndicator,
)
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.ops import streams
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.server.peer import Peer
from kmsd.store.factory import open_store
from ttlv import Item

from .kmip_builders import attributes, boolean, bstr, dt, enum, integer, s, tag
from .test_crypto_ops import ALICE, BOB, call, data, failed, ok, params, register, uid_item

SV = Mask.SIGN | Mask.VERIFY
VERSIONS = [(1, 2), (1, 4), (2, 0), (2, 1)]
_KEYS: dict[str, object] = {}


def _key(name: str) -> object:
    """Generated once per test session (RSA generation is slow)."""
    if name not in _KEYS:
        _KEYS[name] = {
            "rsa": lambda: rsa.generate_private_key(65537, 2048),
            "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
            "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
            "p521": lambda: ec.generate_private_key(ec.SECP521R1()),
            "ed25519": ed25519.Ed25519PrivateKey.generate,
            "ed448": ed448.Ed448PrivateKey.generate,
        }[name]()
    return _KEYS[name]


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[Executor]:
    store = open_store("sqlite", str(tmp_path / "kms.db"))
    streams.STREAMS.clear()
    yield Executor(store, ExecutorSettings())
    store.close()


@pytest.fixture
def nonfips(tmp_path: Path) -> Iterator[Executor]:
    store = open_store("sqlite", str(tmp_path / "kms-nf.db"))
    yield Executor(store, ExecutorSettings(policy=Policy(non_fips=True)))
    store.close()


def register_key(
    ex: Executor,
    key: object,
    *,
    private: bool,
    version: tuple[int, int] = (2, 1),
    mask: int = SV,
    extra: tuple[Item, ...] = (),
    active: bool = True,
    peer: Peer = ALICE,
) -> str:
    """Register a private key (PKCS#8) or its public key (X.509 SPKI) over Register."""
    if private:
        der = key.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fmt, object_type, name = KeyFormatType.PKCS_8, ObjectType.PRIVATE_KEY, "Private Key"
    else:
        der = key.public_key().public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        fmt, object_type, name = KeyFormatType.X_509, ObjectType.PUBLIC_KEY, "Public Key"
    attrs = [integer("Cryptographic Usage Mask", mask), *extra]
    if active:
        attrs.append(dt("Activation Date", datetime.now(UTC) - timedelta(hours=1)))
    obj = s(name, s("Key Block", enum("Key Format Type", fmt), s("Key Value", bstr("Key Material", der))))
    r = call(
        ex, version, Operation.REGISTER, enum("Object Type", object_type), attributes(version, *attrs), obj, peer=peer
    )
    uid = ok(r).get("Unique Identifier")
    assert isinstance(uid, str)
    return uid


def pair(ex: Executor, name: str, **kw: object) -> tuple[str, str, object]:
    key = _key(name)
    return register_key(ex, key, private=True, **kw), register_key(ex, key, private=False, **kw), key  # type: ignore[arg-type]


def sign(ex: Executor, uid: str, *items: Item, version: tuple[int, int] = (2, 1), peer: object = ALICE) -> bytes:
    value = ok(call(ex, version, Operation.SIGN, uid_item(uid), *items, peer=peer)).get("Signature Data")  # type: ignore[arg-type]
    assert isinstance(value, bytes)
    return value


def verify(ex: Executor, uid: str, *items: Item, version: tuple[int, int] = (2, 1)) -> int:
    value = ok(call(ex, version, Operation.SIGNATURE_VERIFY, uid_item(uid), *items)).get("Validity Indicator")
    assert isinstance(value, int)
    return value


def sig(value: bytes) -> Item:
    return bstr("Signature Data", value)


PSS_256 = params(enum("Padding Method", PaddingMethod.PSS), enum("Hashing Algorithm", HashingAlgorithm.SHA_256))
PKCS1_384 = params(enum("Digital Signature Algorithm", DigitalSignatureAlgorithm.SHA_384_WITH_RSA_ENCRYPTION))


# -- round trips -----------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_rsa_pss_round_trip_and_interop(executor: Executor, version: tuple[int, int]) -> None:
    priv, pub, key = pair(executor, "rsa", version=version)
    message = b"attack at dawn"
    signature = sign(executor, priv, PSS_256, data(message), version=version)
    pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)
    key.public_key().verify(signature, message, pss, hashes.SHA256())  # type: ignore[attr-defined]
    assert verify(executor, pub, PSS_256, data(message), sig(signature), version=version) == ValidityIndicator.VALID
    outside = key.sign(b"other", pss, hashes.SHA256())  # type: ignore[attr-defined]
    assert verify(executor, pub, PSS_256, data(b"other"), sig(outside), version=version) == ValidityIndicator.VALID


def test_rsa_pkcs1v15_and_default_parameters(executor: Executor) -> None:
    priv, pub, key = pair(executor, "rsa")
    signature = sign(executor, priv, PKCS1_384, data(b"m"))
    key.public_key().verify(signature, b"m", padding.PKCS1v15(), hashes.SHA384())  # type: ignore[attr-defined]
    assert verify(executor, pub, PKCS1_384, data(b"m"), sig(signature)) == ValidityIndicator.VALID
    # No parameters at all: RSA-PSS with SHA-256.
    default = sign(executor, priv, data(b"m"))
    assert verify(executor, pub, PSS_256, data(b"m"), sig(default)) == ValidityIndicator.VALID


def test_key_attribute_parameters_are_used(executor: Executor) -> None:
    key = _key("rsa")
    extra = (PKCS1_384,)
    priv = register_key(executor, key, private=True, extra=extra)
    pub = register_key(executor, key, private=False, extra=extra)
    signature = sign(executor, priv, data(b"m"))
    key.public_key().verify(signature, b"m", padding.PKCS1v15(), hashes.SHA384())  # type: ignore[attr-defined]
    assert verify(executor, pub, data(b"m"), sig(signature)) == ValidityIndicator.VALID


@pytest.mark.parametrize(
    ("name", "algorithm"), [("p256", hashes.SHA256), ("p384", hashes.SHA384), ("p521", hashes.SHA512)]
)
def test_ecdsa_curves_default_hash(executor: Executor, name: str, algorithm: type[hashes.HashAlgorithm]) -> None:
    priv, pub, key = pair(executor, name)
    signature = sign(executor, priv, data(b"ecdsa"))
    key.public_key().verify(signature, b"ecdsa", ec.ECDSA(algorithm()))  # type: ignore[attr-defined]
    assert verify(executor, pub, data(b"ecdsa"), sig(signature)) == ValidityIndicator.VALID
    named = params(enum("Digital Signature Algorithm", DigitalSignatureAlgorithm.ECDSA_WITH_SHA256))
    other = sign(executor, priv, named, data(b"x"))
    key.public_key().verify(other, b"x", ec.ECDSA(hashes.SHA256()))  # type: ignore[attr-defined]


def test_ed25519(executor: Executor) -> None:
    priv, pub, key = pair(executor, "ed25519")
    signature = sign(executor, priv, data(b"edwards"))
    key.public_key().verify(signature, b"edwards")  # type: ignore[attr-defined]
    assert verify(executor, pub, data(b"edwards"), sig(signature)) == ValidityIndicator.VALID
    failed(
        call(executor, (2, 1), Operation.SIGN, uid_item(priv), bstr("Digested Data", bytes(32))),
        ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
    )


def test_ed448_only_non_fips(nonfips: Executor) -> None:
    priv, pub, key = pair(nonfips, "ed448")
    signature = sign(nonfips, priv, data(b"goldilocks"))
    key.public_key().verify(signature, b"goldilocks")  # type: ignore[attr-defined]
    assert verify(nonfips, pub, data(b"goldilocks"), sig(signature)) == ValidityIndicator.VALID


def test_digested_data_both_ways(executor: Executor) -> None:
    priv, pub, _ = pair(executor, "p256")
    digest = hashlib.sha256(b"big file").digest()
    signature = sign(executor, priv, bstr("Digested Data", digest))
    assert verify(executor, pub, data(b"big file"), sig(signature)) == ValidityIndicator.VALID
    signature = sign(executor, priv, data(b"big file"))
    assert verify(executor, pub, bstr("Digested Data", digest), sig(signature)) == ValidityIndicator.VALID
    failed(
        call(executor, (2, 1), Operation.SIGN, uid_item(priv), bstr("Digested Data", digest[:20])),
        ResultReason.INVALID_FIELD,
    )


@pytest.mark.parametrize("name", ["rsa", "p384", "ed25519"])
@pytest.mark.parametrize("signature_first", [True, False])
def test_streamed_sign_and_verify(executor: Executor, name: str, signature_first: bool) -> None:
    priv, pub, _ = pair(executor, name)
    chunks = [b"one ", b"two ", b"three"]
    r = ok(call(executor, (2, 1), Operation.SIGN, uid_item(priv), data(chunks[0]), boolean("Init Indicator", True)))
    cv = r.get("Correlation Value")
    assert r.get("Signature Data") is None
    ok(call(executor, (2, 1), Operation.SIGN, uid_item(priv), data(chunks[1]), bstr("Correlation Value", cv)))
    last = ok(
        call(
            executor,
            (2, 1),
            Operation.SIGN,
            uid_item(priv),
            data(chunks[2]),
            bstr("Correlation Value", cv),
            boolean("Final Indicator", True),
        )
    )
    signature = last.get("Signature Data")
    assert verify(executor, pub, data(b"".join(chunks)), sig(signature)) == ValidityIndicator.VALID
    first = [sig(signature)] if signature_first else []
    final = [] if signature_first else [sig(signature)]
    r = ok(
        call(
            executor,
            (2, 1),
            Operation.SIGNATURE_VERIFY,
            uid_item(pub),
            data(chunks[0]),
            *first,
            boolean("Init Indicator", True),
        )
    )
    cv = r.get("Correlation Value")
    assert r.get("Validity Indicator") is None
    ok(
        call(
            executor, (2, 1), Operation.SIGNATURE_VERIFY, uid_item(pub), data(chunks[1]), bstr("Correlation Value", cv)
        )
    )
    assert (
        verify(executor, pub, data(chunks[2]), bstr("Correlation Value", cv), boolean("Final Indicator", True), *final)
        == ValidityIndicator.VALID
    )
    # The stream is gone once final.
    failed(
        call(executor, (2, 1), Operation.SIGN, uid_item(priv), data(b"x"), bstr("Correlation Value", cv)),
        ResultReason.INVALID_CORRELATION_VALUE,
    )


# -- bad input --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["rsa", "p256", "ed25519"])
def test_tampered_signature_is_invalid_not_an_error(executor: Executor, name: str) -> None:
    priv, pub, _ = pair(executor, name)
    signature = bytearray(sign(executor, priv, data(b"m")))
    signature[len(signature) // 2] ^= 1
    assert verify(executor, pub, data(b"m"), sig(bytes(signature))) == ValidityIndicator.INVALID
    assert verify(executor, pub, data(b"m"), sig(b"")) == ValidityIndicator.INVALID
    assert verify(executor, pub, data(b"m"), sig(bytes(signature[:-3]))) == ValidityIndicator.INVALID
    assert verify(executor, pub, data(b"other"), sig(sign(executor, priv, data(b"m")))) == ValidityIndicator.INVALID


def test_wrong_key_types(executor: Executor) -> None:
    priv, pub, _ = pair(executor, "p256")
    aes = register(executor, bytes(32), mask=SV)
    for uid in (pub, aes):
        failed(call(executor, (2, 1), Operation.SIGN, uid_item(uid), data(b"m")), ResultReason.INVALID_OBJECT_TYPE)
    failed(
        call(executor, (2, 1), Operation.SIGNATURE_VERIFY, uid_item(aes), data(b"m"), sig(b"x")),
        ResultReason.INVALID_OBJECT_TYPE,
    )
    failed(
        call(executor, (2, 1), Operation.SIGN, uid_item(priv), data(b"m"), PKCS1_384),
        ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
    )


def test_usage_mask_and_lifecycle(executor: Executor) -> None:
    key = _key("p256")
    no_sign = register_key(executor, key, private=True, mask=Mask.VERIFY)
    failed(
        call(executor, (2, 1), Operation.SIGN, uid_item(no_sign), data(b"m")),
        ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK,
    )
    no_verify = register_key(executor, key, private=False, mask=Mask.SIGN)
    failed(
        call(executor, (2, 1), Operation.SIGNATURE_VERIFY, uid_item(no_verify), data(b"m"), sig(b"x")),
        ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK,
    )
    failed(call(executor, (1, 4), Operation.SIGN, uid_item(no_sign), data(b"m")), ResultReason.PERMISSION_DENIED)
    pre_active = register_key(executor, key, private=True, active=False)
    failed(
        call(executor, (2, 1), Operation.SIGN, uid_item(pre_active), data(b"m")),
        ResultReason.WRONG_KEY_LIFECYCLE_STATE,
    )


def test_unknown_and_foreign_correlation_values(executor: Executor) -> None:
    priv, _, _ = pair(executor, "p256")
    failed(
        call(executor, (2, 1), Operation.SIGN, uid_item(priv), data(b"m"), bstr("Correlation Value", os.urandom(16))),
        ResultReason.INVALID_CORRELATION_VALUE,
    )
    cv = ok(call(executor, (2, 1), Operation.SIGN, uid_item(priv), data(b"m"), boolean("Init Indicator", True))).get(
        "Correlation Value"
    )
    bob_key = register_key(executor, _key("p256"), private=True, peer=BOB)
    failed(
        call(executor, (2, 1), Operation.SIGN, uid_item(bob_key), data(b"m"), bstr("Correlation Value", cv), peer=BOB),
        ResultReason.INVALID_CORRELATION_VALUE,
    )
    # A Sign stream is not a Signature Verify stream.
    failed(
        call(executor, (2, 1), Operation.SIGNATURE_VERIFY, uid_item(priv), data(b"m"), bstr("Correlation Value", cv)),
        ResultReason.INVALID_CORRELATION_VALUE,
    )


def test_sha1_verify_only_non_fips(executor: Executor, nonfips: Executor) -> None:
    key = _key("rsa")
    sha1 = params(enum("Digital Signature Algorithm", DigitalSignatureAlgorithm.SHA_1_WITH_RSA_ENCRYPTION))
    signature = key.sign(b"old", padding.PKCS1v15(), hashes.SHA1())  # type: ignore[attr-defined]
    for ex, expected in ((executor, None), (nonfips, ValidityIndicator.VALID)):
        pub = register_key(ex, key, private=False)
        priv = register_key(ex, key, private=True)
        r = call(ex, (2, 1), Operation.SIGNATURE_VERIFY, uid_item(pub), sha1, data(b"old"), sig(signature))
        if expected is None:
            failed(r, ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS)
        else:
            assert ok(r).get("Validity Indicator") == expected
        failed(
            call(ex, (2, 1), Operation.SIGN, uid_item(priv), sha1, data(b"old")),
            ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
        )


# -- RSA encryption ---------------------------------------------------------------------
ENC = Mask.ENCRYPT | Mask.DECRYPT


@pytest.mark.parametrize("version", VERSIONS)
def test_rsa_oaep_round_trip_and_interop(executor: Executor, version: tuple[int, int]) -> None:
    key = _key("rsa")
    priv = register_key(executor, key, private=True, mask=ENC, version=version)
    pub = register_key(executor, key, private=False, mask=ENC, version=version)
    oaep = params(
        enum("Padding Method", PaddingMethod.OAEP),
        enum("Hashing Algorithm", HashingAlgorithm.SHA_256),
        *([enum("Mask Generator Hashing Algorithm", HashingAlgorithm.SHA_1)] if version >= (1, 4) else []),
    )
    mgf = hashes.SHA1() if version >= (1, 4) else hashes.SHA256()
    outside = padding.OAEP(padding.MGF1(mgf), hashes.SHA256(), None)
    ct = ok(call(executor, version, Operation.ENCRYPT, uid_item(pub), oaep, data(b"secret"))).get("Data")
    assert key.decrypt(ct, outside) == b"secret"  # type: ignore[attr-defined]
    ct2 = key.public_key().encrypt(b"inbound", outside)  # type: ignore[attr-defined]
    assert ok(call(executor, version, Operation.DECRYPT, uid_item(priv), oaep, data(ct2))).get("Data") == b"inbound"
    tampered = bytes([ct2[0] ^ 1]) + ct2[1:]
    failed(
        call(executor, version, Operation.DECRYPT, uid_item(priv), oaep, data(tampered)),
        ResultReason.CRYPTOGRAPHIC_FAILURE,
    )


def test_rsa_oaep_defaults_to_sha1(executor: Executor) -> None:
    key = _key("rsa")
    pub = register_key(executor, key, private=False, mask=ENC)
    ct = ok(call(executor, (2, 1), Operation.ENCRYPT, uid_item(pub), data(b"s"))).get("Data")
    assert key.decrypt(ct, padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)) == b"s"  # type: ignore[attr-defined]


def test_rsa_pkcs1v15_encryption_only_non_fips(executor: Executor, nonfips: Executor) -> None:
    key = _key("rsa")
    p = params(enum("Padding Method", PaddingMethod.PKCS1_V1_5))
    pub = register_key(executor, key, private=False, mask=ENC)
    failed(
        call(executor, (2, 1), Operation.ENCRYPT, uid_item(pub), p, data(b"s")),
        ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
    )
    pub = register_key(nonfips, key, private=False, mask=ENC)
    priv = register_key(nonfips, key, private=True, mask=ENC)
    ct = ok(call(nonfips, (2, 1), Operation.ENCRYPT, uid_item(pub), p, data(b"s"))).get("Data")
    assert ok(call(nonfips, (2, 1), Operation.DECRYPT, uid_item(priv), p, data(ct))).get("Data") == b"s"


def test_rsa_encryption_bad_input(executor: Executor) -> None:
    key = _key("rsa")
    pub = register_key(executor, key, private=False, mask=Mask.VERIFY)
    failed(
        call(executor, (2, 1), Operation.ENCRYPT, uid_item(pub), data(b"s")),
        ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK,
    )
    pub = register_key(executor, key, private=False, mask=ENC)
    failed(call(executor, (2, 1), Operation.ENCRYPT, uid_item(pub), data(bytes(300))), ResultReason.INVALID_FIELD)
    ec_pub = register_key(executor, _key("p256"), private=False, mask=ENC)
    failed(call(executor, (2, 1), Operation.ENCRYPT, uid_item(ec_pub), data(b"s")), ResultReason.INVALID_OBJECT_TYPE)


# -- Derive Key -------------------------------------------------------------------------
def derive(
    ex: Executor, uid: str, method: int, *dp: Item, length: int = 128, version: tuple[int, int] = (2, 1)
) -> bytes:
    r = ok(
        call(
            ex,
            version,
            Operation.DERIVE_KEY,
            enum("Object Type", ObjectType.SYMMETRIC_KEY),
            uid_item(uid),
            enum("Derivation Method", method),
            s("Derivation Parameters", *dp),
            attributes(
                version,
                enum("Cryptographic Algorithm", CryptographicAlgorithm.AES),
                integer("Cryptographic Length", length),
                integer("Cryptographic Usage Mask", ENC),
            ),
        )
    )
    new = r.get("Unique Identifier")
    got = ok(call(ex, version, Operation.GET, uid_item(new)))
    for item in got.payload().walk():
        if item.tag == tag("Key Material") and isinstance(item.value, bytes):
            return item.value
    raise AssertionError("no key material")


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_derive_pbkdf2_rfc6070(executor: Executor, version: tuple[int, int]) -> None:
    base = register(executor, b"password", mask=Mask.DERIVE_KEY, object_type=ObjectType.SECRET_DATA, version=version)
    got = derive(
        executor,
        base,
        DerivationMethod.PBKDF2,
        bstr("Salt", b"salt"),
        integer("Iteration Count", 4096),
        version=version,
    )
    assert got == bytes.fromhex("4b007901b765489abead49d926f721d0")  # RFC 6070, 4096 iterations, first 16 bytes
    sha256 = params(enum("Hashing Algorithm", HashingAlgorithm.SHA_256))
    got = derive(
        executor,
        base,
        DerivationMethod.PBKDF2,
        sha256,
        bstr("Salt", b"salt"),
        integer("Iteration Count", 4096),
        length=256,
        version=version,
    )
    assert got.hex() == "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"


def test_derive_hkdf_hash_hmac_encrypt(executor: Executor) -> None:
    ikm = bytes.fromhex("0b" * 22)
    base = register(executor, ikm, mask=Mask.DERIVE_KEY, algorithm=CryptographicAlgorithm.HMAC_SHA256)
    salt, info = bytes(range(13)), bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
    got = derive(executor, base, DerivationMethod.HKDF, bstr("Salt", salt), bstr("Derivation Data", info), length=256)
    assert got == HKDF(hashes.SHA256(), 32, salt, info).derive(ikm)  # RFC 5869 A.1
    assert got.hex().startswith("3cb25f25faacd57a90434f64d0362f2a")
    aes = register(executor, bytes(range(16)), mask=Mask.DERIVE_KEY)
    assert derive(executor, aes, DerivationMethod.HASH) == hashlib.sha256(bytes(range(16))).digest()[:16]
    mac = std_hmac.new(bytes(range(16)), b"\x01\x02", "sha256").digest()[:16]
    assert derive(executor, aes, DerivationMethod.HMAC, bstr("Derivation Data", b"\x01\x02")) == mac
    enc = Cipher(algorithms.AES(bytes(range(16))), modes.ECB()).encryptor().update(bytes(16))
    ecb = params(enum("Block Cipher Mode", BlockCipherMode.ECB), enum("Padding Method", PaddingMethod.NONE))
    assert derive(executor, aes, DerivationMethod.ENCRYPT, ecb, bstr("Derivation Data", bytes(16))) == enc


def test_derive_bad_input(executor: Executor) -> None:
    no_derive = register(executor, bytes(16), mask=ENC)
    r = call(
        executor,
        (2, 1),
        Operation.DERIVE_KEY,
        enum("Object Type", ObjectType.SYMMETRIC_KEY),
        uid_item(no_derive),
        enum("Derivation Method", DerivationMethod.HASH),
        s("Derivation Parameters"),
        attributes(
            (2, 1), enum("Cryptographic Algorithm", CryptographicAlgorithm.AES), integer("Cryptographic Length", 128)
        ),
    )
    failed(r, ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK)
    base = register(executor, bytes(16), mask=Mask.DERIVE_KEY)
    r = call(
        executor,
        (2, 1),
        Operation.DERIVE_KEY,
        enum("Object Type", ObjectType.SYMMETRIC_KEY),
        uid_item(base),
        enum("Derivation Method", DerivationMethod.HASH),
        s("Derivation Parameters"),
        attributes(
            (2, 1), enum("Cryptographic Algorithm", CryptographicAlgorithm.AES), integer("Cryptographic Length", 512)
        ),
    )
    failed(r, ResultReason.INVALID_FIELD)
