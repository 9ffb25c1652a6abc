"""Digested Data signing, 3DES key lengths, and 2.x Data references with
Ephemeral batch items, through the executor.

Signatures made by the server are checked with ``cryptography`` directly: a
Digested Data whose hash nobody named is signed as the SHA-2 digest of its
length, or (non-FIPS) as given — RSA PKCS#1 v1.5 over the bytes as the
DigestInfo, ECDSA over the bytes (FIPS 186-5 §6.4.1 truncation)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers import Cipher, modes

import ttlv
from kmsd.crypto.policy import Policy
from kmsd.kmip.enums import (
    BatchErrorContinuation,
    BlockCipherMode,
    CryptographicAlgorithm,
    HashingAlgorithm,
    ObjectType,
    Operation,
    PaddingMethod,
    ResultReason,
    ResultStatus,
    ValidityIndicator,
)
from kmsd.kmip.enums import DataEnum as D
from kmsd.ops import streams
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.store.factory import open_store
from ttlv import Item, ItemType

from .kmip_builders import Response, attributes, boolean, bstr, dt, enum, integer, s, tag, text
from .test_crypto_ops import ALICE, call, data, failed, ok, params, register, uid_item
from .test_sign_ops import pair, sig, sign, verify

# The DER DigestInfo prefix for SHA-256 (RFC 8017 §9.2, note 1).
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
ECB = params(enum("Block Cipher Mode", BlockCipherMode.ECB))
CBC_PKCS5 = params(enum("Block Cipher Mode", BlockCipherMode.CBC), enum("Padding Method", PaddingMethod.PKCS5))


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[Executor]:
    store = open_store("sqlite", str(tmp_path / "kms.db"))
    streams.STREAMS.clear()
    yield Executor(store, ExecutorSettings())
    store.close()


@pytest.fixture
def nonfips(tmp_path: Path) -> Iterator[Executor]:
    store = open_store("sqlite", str(tmp_path / "kms-nf.db"))
    streams.STREAMS.clear()
    yield Executor(store, ExecutorSettings(policy=Policy(non_fips=True)))
    store.close()


def digested(value: bytes) -> Item:
    return bstr("Digested Data", value)


# -- Digested Data: RSA ------------------------------------------------------------------
def test_rsa_unnamed_short_digest_is_pkcs1_over_the_bytes(nonfips: Executor) -> None:
    priv, pub, key = pair(nonfips, "rsa")
    assert isinstance(key, rsa.RSAPrivateKey)
    value = bytes(range(1, 17))
    signature = sign(nonfips, priv, digested(value))
    recovered = key.public_key().recover_data_from_signature(signature, padding.PKCS1v15(), utils.NoDigestInfo())
    assert recovered == value
    assert verify(nonfips, pub, digested(value), sig(signature)) == ValidityIndicator.VALID
    assert verify(nonfips, pub, digested(value[::-1]), sig(signature)) == ValidityIndicator.INVALID
    # The OASIS case's last step: the same bytes as Data under RSA-PSS/SHA-1 do not verify.
    pss_sha1 = params(enum("Padding Method", PaddingMethod.PSS), enum("Hashing Algorithm", HashingAlgorithm.SHA_1))
    assert verify(nonfips, pub, pss_sha1, data(value), sig(signature)) == ValidityIndicator.INVALID


def test_rsa_client_encoded_digest_info_gives_the_standard_signature(nonfips: Executor) -> None:
    priv, pub, key = pair(nonfips, "rsa")
    assert isinstance(key, rsa.RSAPrivateKey)
    message = b"the client hashed and encoded this"
    encoded = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    signature = sign(nonfips, priv, digested(encoded))
    key.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    pkcs1 = params(
        enum("Padding Method", PaddingMethod.PKCS1_V1_5), enum("Hashing Algorithm", HashingAlgorithm.SHA_256)
    )
    assert verify(nonfips, pub, pkcs1, data(message), sig(signature)) == ValidityIndicator.VALID


@pytest.mark.parametrize(("size", "algorithm"), [(32, hashes.SHA256()), (48, hashes.SHA384()), (64, hashes.SHA512())])
def test_rsa_unnamed_digest_takes_the_sha2_hash_of_its_length(
    executor: Executor, size: int, algorithm: hashes.HashAlgorithm
) -> None:
    priv, _, key = pair(executor, "rsa")
    assert isinstance(key, rsa.RSAPrivateKey)
    value = os.urandom(size)
    signature = sign(executor, priv, digested(value))
    pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=padding.PSS.AUTO)
    key.public_key().verify(signature, value, pss, utils.Prehashed(algorithm))


def test_rsa_digest_refusals(executor: Executor, nonfips: Executor) -> None:
    priv, _, _ = pair(executor, "rsa")
    short = digested(bytes(16))
    # FIPS: a digest no approved hash has cannot be signed.
    failed(call(executor, (2, 1), Operation.SIGN, uid_item(priv), short), ResultReason.INVALID_FIELD)
    npriv, _, _ = pair(nonfips, "rsa")
    pss = params(enum("Padding Method", PaddingMethod.PSS))
    sha256 = params(enum("Hashing Algorithm", HashingAlgorithm.SHA_256))
    for extra in (pss, sha256):  # PSS needs its hash; a named hash needs its length
        failed(call(nonfips, (2, 1), Operation.SIGN, uid_item(npriv), extra, short), ResultReason.INVALID_FIELD)
    too_long = digested(bytes(250))  # over k - 11 bytes of a 2048-bit modulus
    failed(call(nonfips, (2, 1), Operation.SIGN, uid_item(npriv), too_long), ResultReason.INVALID_FIELD)
    failed(call(nonfips, (2, 1), Operation.SIGN, uid_item(npriv), digested(b"")), ResultReason.INVALID_FIELD)


# -- Digested Data: ECDSA ----------------------------------------------------------------
def test_ecdsa_unnamed_short_digest_is_signed_as_given(nonfips: Executor) -> None:
    priv, pub, key = pair(nonfips, "p256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    value = bytes(range(1, 17))
    signature = sign(nonfips, priv, digested(value))
    # 128 bits, below the order's 256: the integer is the same as the zero-padded 32 bytes.
    key.public_key().verify(signature, bytes(16) + value, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    assert verify(nonfips, pub, digested(value), sig(signature)) == ValidityIndicator.VALID
    assert verify(nonfips, pub, digested(bytes(16)), sig(signature)) == ValidityIndicator.INVALID


def test_ecdsa_long_digest_is_truncated_to_the_order(executor: Executor) -> None:
    priv, _, key = pair(executor, "p256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    value = os.urandom(64)
    signature = sign(executor, priv, digested(value))
    key.public_key().verify(signature, value[:32], ec.ECDSA(utils.Prehashed(hashes.SHA256())))


def test_ecdsa_short_digest_refused_by_fips(executor: Executor) -> None:
    priv, _, _ = pair(executor, "p256")
    failed(call(executor, (2, 1), Operation.SIGN, uid_item(priv), digested(bytes(16))), ResultReason.INVALID_FIELD)


def test_rsa_parameters_against_an_ec_key(nonfips: Executor) -> None:
    priv, pub, _ = pair(nonfips, "p256")
    signature = sign(nonfips, priv, data(b"message"))
    rsa_params = params(
        enum("Padding Method", PaddingMethod.PSS),
        enum("Hashing Algorithm", HashingAlgorithm.SHA_1),
        enum("Cryptographic Algorithm", CryptographicAlgorithm.RSA),
    )
    # No signature by an EC key is an RSA-PSS signature: Invalid, not an error …
    assert verify(nonfips, pub, rsa_params, data(b"message"), sig(signature)) == ValidityIndicator.INVALID
    # … but the server cannot make one.
    failed(call(nonfips, (2, 1), Operation.SIGN, uid_item(priv), rsa_params, data(b"m")), ResultReason.INVALID_FIELD)


# -- 3DES key lengths --------------------------------------------------------------------
def register_3des(ex: Executor, material: bytes, length: int) -> Response:
    block = s(
        "Key Block",
        enum("Key Format Type", 1),  # Raw
        s("Key Value", bstr("Key Material", material)),
        enum("Cryptographic Algorithm", CryptographicAlgorithm._3DES),
        integer("Cryptographic Length", length),
    )
    mask = integer("Cryptographic Usage Mask", 0x0C)  # Encrypt | Decrypt
    active = dt("Activation Date", datetime.now(UTC) - timedelta(hours=1))
    return call(
        ex,
        (2, 1),
        Operation.REGISTER,
        enum("Object Type", ObjectType.SYMMETRIC_KEY),
        attributes((2, 1), mask, active),
        s("Symmetric Key", block),
    )


@pytest.mark.parametrize(
    ("size", "length", "accepted"),
    [(24, 168, True), (24, 192, True), (24, 112, False), (16, 112, True), (16, 128, True), (16, 168, False)],
)
def test_3des_lengths_count_key_bits_or_parity_bits(nonfips: Executor, size: int, length: int, accepted: bool) -> None:
    r = register_3des(nonfips, os.urandom(size), length)
    if not accepted:
        failed(r, ResultReason.INVALID_FIELD)
        return
    uid = ok(r).get("Unique Identifier")
    got = ok(call(nonfips, (2, 1), Operation.GET_ATTRIBUTES, uid_item(uid)))  # all of them
    assert got.payload().find(tag("Attributes")).get(tag("Cryptographic Length")) == length  # type: ignore[union-attr]


def test_3des_168_key_decrypts_like_the_library(nonfips: Executor) -> None:
    material = os.urandom(24)
    uid = register(nonfips, material, algorithm=CryptographicAlgorithm._3DES)  # length 192
    other = ok(register_3des(nonfips, material, 168)).get("Unique Identifier")
    ciphertext = os.urandom(16)
    expected = Cipher(TripleDES(material), modes.ECB()).decryptor().update(ciphertext)
    for key in (uid, other):
        r = ok(call(nonfips, (2, 1), Operation.DECRYPT, uid_item(key), ECB, data(ciphertext)))
        assert r.get("Data") == expected


@pytest.mark.parametrize(("length", "size"), [(168, 24), (112, 16)])
def test_created_3des_key_has_parity_material(nonfips: Executor, length: int, size: int) -> None:
    attrs = attributes(
        (2, 1),
        enum("Cryptographic Algorithm", CryptographicAlgorithm._3DES),
        integer("Cryptographic Length", length),
        integer("Cryptographic Usage Mask", 0x0C),
    )
    uid = ok(call(nonfips, (2, 1), Operation.CREATE, enum("Object Type", ObjectType.SYMMETRIC_KEY), attrs)).get(
        "Unique Identifier"
    )
    block = ok(call(nonfips, (2, 1), Operation.GET, uid_item(uid))).payload().find(tag("Symmetric Key"))
    material = block.find(tag("Key Block")).find(tag("Key Value")).get(tag("Key Material"))  # type: ignore[union-attr]
    assert isinstance(material, bytes) and len(material) == size
    assert all(bin(b).count("1") % 2 == 1 for b in material)  # odd parity (FIPS 46-3)


# -- Data references and Ephemeral ---------------------------------------------------------
def batch(
    ex: Executor, version: tuple[int, int], *items: tuple[Operation, Iterable[Item], bool], go_on: bool = False
) -> Response:
    """A request whose items carry Unique Batch Item IDs and, when asked,
    Ephemeral; ``go_on``: Batch Error Continuation Option Continue."""
    option = [enum("Batch Error Continuation Option", BatchErrorContinuation.CONTINUE)] if go_on else []
    pv = s(
        "Protocol Version", integer("Protocol Version Major", version[0]), integer("Protocol Version Minor", version[1])
    )
    header = s("Request Header", pv, *option, integer("Batch Count", len(items)))
    body = []
    for i, (op, payload, ephemeral) in enumerate(items):
        flag = [boolean("Ephemeral", True)] if ephemeral else []
        body.append(
            s(
                "Batch Item",
                enum("Operation", op),
                *flag,
                bstr("Unique Batch Item ID", bytes([i])),
                s("Request Payload", *payload),
            )
        )
    out = ex.process(ttlv.encode(s("Request Message", header, *body)), ALICE)
    assert out is not None
    return Response(out)


def ref(value: int, *, enumerated: bool) -> Item:
    return Item(tag("Data"), ItemType.ENUMERATION if enumerated else ItemType.INTEGER, int(value))


def test_reencrypt_with_ephemeral_decrypt(executor: Executor) -> None:
    key1, key2 = register(executor, os.urandom(32)), register(executor, os.urandom(32))
    iv = bstr("IV/Counter/Nonce", bytes(16))
    plaintext = b"never leaves the server in this batch"
    ciphertext = ok(call(executor, (2, 1), Operation.ENCRYPT, uid_item(key1), CBC_PKCS5, data(plaintext), iv)).get(
        "Data"
    )
    r = batch(
        executor,
        (2, 1),
        (Operation.DECRYPT, [uid_item(key1), CBC_PKCS5, data(ciphertext), iv], True),
        (Operation.ENCRYPT, [uid_item(key2), CBC_PKCS5, ref(D.DECRYPT, enumerated=True), iv], False),
    )
    assert [r.status(0), r.status(1)] == [ResultStatus.SUCCESS, ResultStatus.SUCCESS]
    assert r.payload(0).children == ()  # Ephemeral: nothing returned, not even the plaintext
    again = r.get("Data", 1)
    back = ok(call(executor, (2, 1), Operation.DECRYPT, uid_item(key2), CBC_PKCS5, data(again), iv))
    assert back.get("Data") == plaintext


def test_data_by_position_and_chained(executor: Executor) -> None:
    key = register(executor, os.urandom(32))
    r = batch(
        executor,
        (2, 1),
        (Operation.RNG_RETRIEVE, [integer("Data Length", 32)], False),
        (Operation.ENCRYPT, [uid_item(key), ECB, ref(-1, enumerated=False)], True),
        (Operation.DECRYPT, [uid_item(key), ECB, ref(D.ENCRYPT, enumerated=True)], False),
        (
            Operation.HASH,
            [params(enum("Hashing Algorithm", HashingAlgorithm.SHA_256)), ref(0, enumerated=False)],
            False,
        ),
    )
    random = r.get("Data", 0)
    assert isinstance(random, bytes) and len(random) == 32
    assert r.payload(1).children == ()
    assert r.get("Data", 2) == random
    assert r.get("Data", 3) == hashlib.sha256(random).digest()


def test_bad_data_references(executor: Executor) -> None:
    key = register(executor, os.urandom(32))
    cases: list[Item] = [
        ref(D.DECRYPT, enumerated=True),  # no Decrypt earlier in the batch
        ref(0x7F, enumerated=True),  # not a Data Enumeration value
        ref(5, enumerated=False),  # beyond the items so far
        ref(0, enumerated=False),  # names this very item
        text("Data", "text"),
    ]
    for bad in cases:
        r = batch(executor, (2, 1), (Operation.ENCRYPT, [uid_item(key), ECB, bad], False))
        failed(r, ResultReason.INVALID_FIELD)
    # An item that failed has no output to refer to.
    r = batch(
        executor,
        (2, 1),
        (Operation.DECRYPT, [uid_item(key), ECB, data(b"not a block")], False),
        (Operation.ENCRYPT, [uid_item(key), ECB, ref(-1, enumerated=False)], False),
        go_on=True,
    )
    assert [r.status(0), r.status(1)] == [ResultStatus.OPERATION_FAILED, ResultStatus.OPERATION_FAILED]
    assert r.reason(1) == ResultReason.INVALID_FIELD, r.message(1)
    # 1.x has no references: Data must be bytes.
    r = batch(executor, (1, 4), (Operation.ENCRYPT, [uid_item(key), ECB, ref(D.DECRYPT, enumerated=True)], False))
    failed(r, ResultReason.INVALID_FIELD)
