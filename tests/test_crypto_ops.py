"""Encrypt, Decrypt, MAC, MAC Verify, Hash and RNG Seed through the executor,
in 1.x and 2.x: modes, server IVs, tags in both shapes, streams, and every
kind of bad input (wrong key type, usage mask, lifecycle, IV length, tampered
tag, foreign or unknown correlation values, usage limits)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, hmac, keywrap
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmsd.crypto.policy import Policy
from kmsd.kmip.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    HashingAlgorithm,
    KeyFormatType,
    ObjectType,
    Operation,
    PaddingMethod,
    ResultReason,
    ResultStatus,
    SecretDataType,
    UsageLimitsUnit,
    ValidityIndicator,
)
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.ops import streams
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.server.peer import Peer
from kmsd.store.factory import open_store
from ttlv import Item, ItemType

from .kmip_builders import Response, attributes, boolean, bstr, enum, integer, request, s, tag, text
from .server_process import RunningServer

ALICE = Peer(identity="alice", address="127.0.0.1:1")
BOB = Peer(identity="bob", address="127.0.0.1:2")
ED = Mask.ENCRYPT | Mask.DECRYPT
MACS = Mask.MAC_GENERATE | Mask.MAC_VERIFY


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


def call(ex: Executor, version: tuple[int, int], op: Operation, *payload: Item, peer: Peer = ALICE) -> Response:
    out = ex.process(request(version, (op, list(payload))), peer)
    assert out is not None
    return Response(out)


def ok(r: Response) -> Response:
    assert r.status() == ResultStatus.SUCCESS, (r.reason(), r.message())
    return r


def failed(r: Response, reason: int) -> None:
    assert r.status() == ResultStatus.OPERATION_FAILED
    assert r.reason() == reason, (ResultReason(r.reason() or 0).name, r.message())


def register(
    ex: Executor,
    material: bytes,
    *,
    version: tuple[int, int] = (2, 1),
    algorithm: int = CryptographicAlgorithm.AES,
    mask: int = ED,
    extra: tuple[Item, ...] = (),
    active: bool = True,
    object_type: ObjectType = ObjectType.SYMMETRIC_KEY,
    peer: Peer = ALICE,
) -> str:
    attrs = [integer("Cryptographic Usage Mask", mask), *extra]
    if active:
        attrs.append(Item(tag("Activation Date"), ItemType.DATE_TIME, datetime.now(UTC) - timedelta(hours=1)))
    block = s(
        "Key Block",
        enum("Key Format Type", KeyFormatType.RAW),
        s("Key Value", bstr("Key Material", material)),
        enum("Cryptographic Algorithm", algorithm),
        integer("Cryptographic Length", len(material) * 8),
    )
    if object_type == ObjectType.SECRET_DATA:
        obj = s("Secret Data", enum("Secret Data Type", SecretDataType.SEED), block)
    else:
        obj = s("Symmetric Key", block)
    r = call(
        ex, version, Operation.REGISTER, enum("Object Type", object_type), attributes(version, *attrs), obj, peer=peer
    )
    uid = ok(r).get("Unique Identifier")
    assert isinstance(uid, str)
    return uid


def params(*children: Item) -> Item:
    return s("Cryptographic Parameters", *children)


def mode(value: int) -> Item:
    return enum("Block Cipher Mode", value)


def uid_item(uid: str) -> Item:
    return text("Unique Identifier", uid)


def data(value: bytes) -> Item:
    return bstr("Data", value)


KEY = bytes(range(32))


# -- modes -------------------------------------------------------------------------
@pytest.mark.parametrize("version", [(1, 2), (1, 4), (2, 0), (2, 1)])
def test_cbc_pkcs5_round_trip(executor: Executor, version: tuple[int, int]) -> None:
    uid = register(executor, KEY, version=version)
    p = params(mode(BlockCipherMode.CBC), enum("Padding Method", PaddingMethod.PKCS5))
    iv = os.urandom(16)
    plaintext = b"seventeen bytes!!"
    enc = ok(
        call(executor, version, Operation.ENCRYPT, uid_item(uid), p, data(plaintext), bstr("IV/Counter/Nonce", iv))
    )
    assert len(enc.get("Data")) == 32
    dec = ok(
        call(
            executor,
            version,
            Operation.DECRYPT,
            uid_item(uid),
            p,
            enc.payload().find(tag("Data")) or data(b""),
            bstr("IV/Counter/Nonce", iv),
        )
    )
    assert dec.get("Data") == plaintext


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_random_iv_is_generated_and_returned(executor: Executor, version: tuple[int, int]) -> None:
    uid = register(executor, KEY, version=version)
    p = params(mode(BlockCipherMode.CTR), boolean("Random IV", True))
    enc = ok(call(executor, version, Operation.ENCRYPT, uid_item(uid), p, data(b"hello")))
    iv = enc.get("IV/Counter/Nonce")
    assert isinstance(iv, bytes) and len(iv) == 16
    dec = call(
        executor,
        version,
        Operation.DECRYPT,
        uid_item(uid),
        params(mode(BlockCipherMode.CTR)),
        data(enc.get("Data")),
        bstr("IV/Counter/Nonce", iv),
    )
    assert ok(dec).get("Data") == b"hello"


def test_gcm_2x_tag_field_and_aad(executor: Executor) -> None:
    uid = register(executor, KEY)
    iv, aad = os.urandom(12), b"header"
    p = params(mode(BlockCipherMode.GCM), integer("Tag Length", 16))
    enc = ok(
        call(
            executor,
            (2, 1),
            Operation.ENCRYPT,
            uid_item(uid),
            p,
            data(b"secret"),
            bstr("IV/Counter/Nonce", iv),
            bstr("Authenticated Encryption Additional Data", aad),
        )
    )
    ct, tag_ = enc.get("Data"), enc.get("Authenticated Encryption Tag")
    assert ct + tag_ == AESGCM(KEY).encrypt(iv, b"secret", aad)
    common = (
        uid_item(uid),
        p,
        data(ct),
        bstr("IV/Counter/Nonce", iv),
        bstr("Authenticated Encryption Additional Data", aad),
    )
    dec = ok(call(executor, (2, 1), Operation.DECRYPT, *common, bstr("Authenticated Encryption Tag", tag_)))
    assert dec.get("Data") == b"secret"
    tampered = bytes([tag_[0] ^ 1]) + tag_[1:]
    failed(
        call(executor, (2, 1), Operation.DECRYPT, *common, bstr("Authenticated Encryption Tag", tampered)),
        ResultReason.CRYPTOGRAPHIC_FAILURE,
    )


def test_gcm_1_2_tag_follows_ciphertext(executor: Executor) -> None:
    """KMIP 1.2/1.3 have no tag field: the tag is appended to Data both ways."""
    uid = register(executor, KEY, version=(1, 2))
    iv = os.urandom(12)
    p = params(mode(BlockCipherMode.GCM), integer("Tag Length", 16))
    enc = ok(call(executor, (1, 2), Operation.ENCRYPT, uid_item(uid), p, data(b"legacy"), bstr("IV/Counter/Nonce", iv)))
    assert enc.payload().find(tag("Authenticated Encryption Tag")) is None
    assert enc.get("Data") == AESGCM(KEY).encrypt(iv, b"legacy", None)
    dec = ok(
        call(executor, (1, 2), Operation.DECRYPT, uid_item(uid), p, data(enc.get("Data")), bstr("IV/Counter/Nonce", iv))
    )
    assert dec.get("Data") == b"legacy"
    bad = bytearray(enc.get("Data"))
    bad[-1] ^= 0x80
    failed(
        call(executor, (1, 2), Operation.DECRYPT, uid_item(uid), p, data(bytes(bad)), bstr("IV/Counter/Nonce", iv)),
        ResultReason.CRYPTOGRAPHIC_FAILURE,
    )


def test_gcm_fixed_and_invocation_fields(executor: Executor) -> None:
    uid = register(executor, KEY)
    fixed = b"\x01\x02\x03\x04"
    p = params(
        mode(BlockCipherMode.GCM),
        integer("Tag Length", 16),
        boolean("Random IV", True),
        integer("Fixed Field Length", 32),
        integer("Invocation Field Length", 64),
    )
    enc = ok(call(executor, (2, 1), Operation.ENCRYPT, uid_item(uid), p, data(b"x"), bstr("IV/Counter/Nonce", fixed)))
    iv = enc.get("IV/Counter/Nonce")
    assert len(iv) == 12 and iv.startswith(fixed)
    bad = params(
        mode(BlockCipherMode.GCM),
        boolean("Random IV", True),
        integer("Fixed Field Length", 32),
        integer("Invocation Field Length", 32),
    )
    failed(
        call(executor, (2, 1), Operation.ENCRYPT, uid_item(uid), bad, data(b"x"), bstr("IV/Counter/Nonce", fixed)),
        ResultReason.INVALID_FIELD,
    )


def test_key_wrap_modes(executor: Executor) -> None:
    uid = register(executor, KEY)
    secret = bytes(range(24))
    for m, wrap in (
        (BlockCipherMode.NISTKEYWRAP, keywrap.aes_key_wrap),
        (BlockCipherMode.AESKEYWRAPPADDING, keywrap.aes_key_wrap_with_padding),
    ):
        enc = ok(call(executor, (2, 1), Operation.ENCRYPT, uid_item(uid), params(mode(m)), data(secret)))
        assert enc.get("Data") == wrap(KEY, secret)
        dec = ok(call(executor, (2, 1), Operation.DECRYPT, uid_item(uid), params(mode(m)), data(enc.get("Data"))))
        assert dec.get("Data") == secret
        bad = bytearray(enc.get("Data"))
        bad[3] ^= 1
        failed(
            call(executor, (2, 1), Operation.DECRYPT, uid_item(uid), params(mode(m)), data(bytes(bad))),
            ResultReason.CRYPTOGRAPHIC_FAILURE,
        )


def test_non_fips_modes_refused_by_default(executor: Executor, nonfips: Executor) -> None:
    for ex, allowed in ((executor, False), (nonfips, True)):
        uid = register(ex, KEY)
        r = call(
            ex,
            (2, 1),
            Operation.ENCRYPT,
            uid_item(uid),
            params(mode(0x80000001)),
            data(b"siv"),
            bstr("IV/Counter/Nonce", bytes(12)),
        )
        if allowed:
            ok(r)
        else:
            failed(r, ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS)


def test_3des_decrypt_only_in_non_fips(nonfips: Executor) -> None:
    uid = register(nonfips, bytes(range(24)), algorithm=CryptographicAlgorithm._3DES)
    p = params(mode(BlockCipherMode.ECB))
    failed(
        call(nonfips, (2, 1), Operation.ENCRYPT, uid_item(uid), p, data(bytes(8))),
        ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
    )
    ok(call(nonfips, (2, 1), Operation.DECRYPT, uid_item(uid), p, data(bytes(8))))


# -- bad input ---------------------------------------------------------------------
@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_wrong_iv_length_and_missing_iv(executor: Executor, version: tuple[int, int]) -> None:
    uid = register(executor, KEY, version=version)
    p = params(mode(BlockCipherMode.CBC))
    failed(
        call(
            executor, version, Operation.ENCRYPT, uid_item(uid), p, data(bytes(16)), bstr("IV/Counter/Nonce", bytes(8))
        ),
        ResultReason.INVALID_FIELD,
    )
    # CS-BC-M-11/13: a missing IV is Invalid Message.
    failed(call(executor, version, Operation.DECRYPT, uid_item(uid), p, data(bytes(16))), ResultReason.INVALID_MESSAGE)


def test_usage_mask_forbids(executor: Executor) -> None:
    uid = register(executor, KEY, mask=Mask.DECRYPT)
    r = call(executor, (2, 1), Operation.ENCRYPT, uid_item(uid), params(mode(BlockCipherMode.ECB)), data(bytes(16)))
    failed(r, ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK)
    r = call(executor, (1, 2), Operation.ENCRYPT, uid_item(uid), params(mode(BlockCipherMode.ECB)), data(bytes(16)))
    failed(r, ResultReason.PERMISSION_DENIED)
    failed(
        call(executor, (2, 1), Operation.MAC, uid_item(uid), data(b"m")),
        ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK,
    )


def test_wrong_key_type(executor: Executor) -> None:
    hmac_key = register(executor, KEY, algorithm=CryptographicAlgorithm.HMAC_SHA256, mask=ED | MACS)
    r = call(
        executor, (2, 1), Operation.ENCRYPT, uid_item(hmac_key), params(mode(BlockCipherMode.ECB)), data(bytes(16))
    )
    failed(r, ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS)
    secret = register(executor, KEY, object_type=ObjectType.SECRET_DATA, mask=ED)
    r = call(executor, (2, 1), Operation.ENCRYPT, uid_item(secret), params(mode(BlockCipherMode.ECB)), data(bytes(16)))
    failed(r, ResultReason.INVALID_OBJECT_TYPE)


def test_lifecycle_protect_and_process(executor: Executor) -> None:
    pre_active = register(executor, KEY, active=False)
    p = params(mode(BlockCipherMode.ECB))
    failed(
        call(executor, (2, 1), Operation.ENCRYPT, uid_item(pre_active), p, data(bytes(16))),
        ResultReason.WRONG_KEY_LIFECYCLE_STATE,
    )
    failed(
        call(executor, (1, 4), Operation.DECRYPT, uid_item(pre_active), p, data(bytes(16))),
        ResultReason.PERMISSION_DENIED,
    )
    uid = register(executor, KEY)
    ct = ok(call(executor, (2, 1), Operation.ENCRYPT, uid_item(uid), p, data(bytes(16)))).get("Data")
    revoke = s("Revocation Reason", enum("Revocation Reason Code", 1))
    ok(call(executor, (2, 1), Operation.REVOKE, uid_item(uid), revoke))
    failed(
        call(executor, (2, 1), Operation.ENCRYPT, uid_item(uid), p, data(bytes(16))),
        ResultReason.WRONG_KEY_LIFECYCLE_STATE,
    )
    assert ok(call(executor, (2, 1), Operation.DECRYPT, uid_item(uid), p, data(ct))).get("Data") == bytes(16)


def test_usage_limits_bytes(executor: Executor) -> None:
    limits = s(
        "Usage Limits",
        Item(tag("Usage Limits Total"), ItemType.LONG_INTEGER, 32),
        enum("Usage Limits Unit", UsageLimitsUnit.BYTE),
    )
    uid = register(executor, KEY, extra=(limits,))
    p = params(mode(BlockCipherMode.ECB))
    ok(call(executor, (2, 1), Operation.ENCRYPT, uid_item(uid), p, data(bytes(16))))
    ok(call(executor, (2, 1), Operation.ENCRYPT, uid_item(uid), p, data(bytes(16))))
    failed(call(executor, (2, 1), Operation.ENCRYPT, uid_item(uid), p, data(bytes(16))), ResultReason.PERMISSION_DENIED)
    ok(call(executor, (2, 1), Operation.DECRYPT, uid_item(uid), p, data(bytes(16))))  # processing is never limited


def test_other_users_key_is_not_found(executor: Executor) -> None:
    uid = register(executor, KEY)
    r = call(
        executor, (2, 1), Operation.ENCRYPT, uid_item(uid), params(mode(BlockCipherMode.ECB)), data(bytes(16)), peer=BOB
    )
    failed(r, ResultReason.OBJECT_NOT_FOUND)  # 2.x's name for Item Not Found


def test_errors_do_not_echo_data(executor: Executor) -> None:
    uid = register(executor, KEY)
    marker = b"\xde\xad\xbe\xef" * 4
    r = call(
        executor,
        (2, 1),
        Operation.ENCRYPT,
        uid_item(uid),
        params(mode(BlockCipherMode.CBC)),
        data(marker[:15]),
        bstr("IV/Counter/Nonce", marker),
    )
    assert r.status() == ResultStatus.OPERATION_FAILED
    message = r.message() or ""
    assert "dead" not in message.lower() and marker.hex() not in message


# -- streams -------------------------------------------------------------------------
def test_streamed_gcm_matches_single_shot(executor: Executor) -> None:
    uid = register(executor, KEY)
    iv = os.urandom(12)
    p = params(mode(BlockCipherMode.GCM), integer("Tag Length", 16))
    chunks = [os.urandom(n) for n in (5, 100, 33)]
    r = ok(
        call(
            executor,
            (2, 1),
            Operation.ENCRYPT,
            uid_item(uid),
            p,
            data(chunks[0]),
            bstr("IV/Counter/Nonce", iv),
            boolean("Init Indicator", True),
        )
    )
    cv = r.get("Correlation Value")
    out = r.get("Data") or b""
    r = ok(call(executor, (2, 1), Operation.ENCRYPT, uid_item(uid), data(chunks[1]), bstr("Correlation Value", cv)))
    out += r.get("Data") or b""
    r = ok(
        call(
            executor,
            (2, 1),
            Operation.ENCRYPT,
            uid_item(uid),
            data(chunks[2]),
            bstr("Correlation Value", cv),
            boolean("Final Indicator", True),
        )
    )
    out += r.get("Data") or b""
    assert out + r.get("Authenticated Encryption Tag") == AESGCM(KEY).encrypt(iv, b"".join(chunks), None)
    # The stream is closed: its value is no longer usable.
    failed(
        call(executor, (2, 1), Operation.ENCRYPT, uid_item(uid), data(b"x"), bstr("Correlation Value", cv)),
        ResultReason.INVALID_CORRELATION_VALUE,
    )


def test_foreign_and_unknown_correlation_values(executor: Executor) -> None:
    uid = register(executor, KEY)
    p = params(mode(BlockCipherMode.ECB))
    r = ok(call(executor, (2, 1), Operation.ENCRYPT, uid_item(uid), p, data(bytes(8)), boolean("Init Indicator", True)))
    cv = r.get("Correlation Value")
    # Another user (even one who could name the key) cannot continue Alice's stream.
    bob_key = register(executor, KEY, peer=BOB)
    failed(
        call(
            executor,
            (2, 1),
            Operation.ENCRYPT,
            uid_item(bob_key),
            data(bytes(8)),
            bstr("Correlation Value", cv),
            peer=BOB,
        ),
        ResultReason.INVALID_CORRELATION_VALUE,
    )
    failed(
        call(
            executor, (2, 1), Operation.ENCRYPT, uid_item(uid), data(bytes(8)), bstr("Correlation Value", cv), peer=BOB
        ),
        ResultReason.OBJECT_NOT_FOUND,
    )
    # Nor can another operation, nor a value that never existed (1.x: Invalid Field).
    failed(
        call(executor, (2, 1), Operation.DECRYPT, uid_item(uid), data(bytes(8)), bstr("Correlation Value", cv)),
        ResultReason.INVALID_CORRELATION_VALUE,
    )
    failed(
        call(
            executor,
            (1, 4),
            Operation.ENCRYPT,
            uid_item(uid),
            data(bytes(8)),
            bstr("Correlation Value", os.urandom(16)),
        ),
        ResultReason.INVALID_FIELD,
    )
    # Alice's stream is intact.
    r = ok(
        call(
            executor,
            (2, 1),
            Operation.ENCRYPT,
            uid_item(uid),
            data(bytes(8)),
            bstr("Correlation Value", cv),
            boolean("Final Indicator", True),
        )
    )
    assert len(r.get("Data")) == 16


def test_stream_limits(executor: Executor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "MAX_STREAMS_PER_USER", 2)
    p = params(enum("Hashing Algorithm", HashingAlgorithm.SHA_256))
    for _ in range(2):
        ok(call(executor, (2, 1), Operation.HASH, p, data(b"a"), boolean("Init Indicator", True)))
    failed(
        call(executor, (2, 1), Operation.HASH, p, data(b"a"), boolean("Init Indicator", True)),
        ResultReason.SERVER_LIMIT_EXCEEDED,
    )
    ok(call(executor, (2, 1), Operation.HASH, p, data(b"a"), boolean("Init Indicator", True), peer=BOB))


def test_streams_expire() -> None:
    now = [0.0]
    table = streams.Streams(clock=lambda: now[0])
    cv = table.open("alice", 1, None, object())
    assert table.get(cv, "alice", 1, None)
    now[0] += streams.IDLE_SECONDS + 1
    with pytest.raises(streams.InvalidCorrelation):
        table.get(cv, "alice", 1, None)
    assert len(table) == 0


# -- MAC, Hash, RNG Seed -------------------------------------------------------------
@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_hmac_and_verify(executor: Executor, version: tuple[int, int]) -> None:
    uid = register(executor, KEY, algorithm=CryptographicAlgorithm.HMAC_SHA256, mask=MACS, version=version)
    r = ok(call(executor, version, Operation.MAC, uid_item(uid), data(b"message")))
    h = hmac.HMAC(KEY, hashes.SHA256())
    h.update(b"message")
    expected = h.finalize()
    assert r.get("MAC Data") == expected
    v = ok(call(executor, version, Operation.MAC_VERIFY, uid_item(uid), data(b"message"), bstr("MAC Data", expected)))
    assert v.get("Validity Indicator") == ValidityIndicator.VALID
    v = ok(call(executor, version, Operation.MAC_VERIFY, uid_item(uid), data(b"messagE"), bstr("MAC Data", expected)))
    assert v.get("Validity Indicator") == ValidityIndicator.INVALID


def test_cmac_streamed(executor: Executor) -> None:
    from cryptography.hazmat.primitives import cmac
    from cryptography.hazmat.primitives.ciphers import algorithms

    uid = register(executor, KEY[:16], mask=MACS)
    r = ok(
        call(
            executor,
            (2, 1),
            Operation.MAC,
            uid_item(uid),
            params(mode(BlockCipherMode.CMAC)),
            data(b"ab"),
            boolean("Init Indicator", True),
        )
    )
    cv = r.get("Correlation Value")
    r = ok(
        call(
            executor,
            (2, 1),
            Operation.MAC,
            uid_item(uid),
            data(b"cd"),
            bstr("Correlation Value", cv),
            boolean("Final Indicator", True),
        )
    )
    c = cmac.CMAC(algorithms.AES(KEY[:16]))
    c.update(b"abcd")
    assert r.get("MAC Data") == c.finalize()


def test_hash_fips_and_non_fips(executor: Executor, nonfips: Executor) -> None:
    r = ok(
        call(
            executor, (2, 1), Operation.HASH, params(enum("Hashing Algorithm", HashingAlgorithm.SHA3_256)), data(b"abc")
        )
    )
    d = hashes.Hash(hashes.SHA3_256())
    d.update(b"abc")
    assert r.get("Data") == d.finalize()
    sha1 = params(enum("Hashing Algorithm", HashingAlgorithm.SHA_1))
    failed(
        call(executor, (2, 1), Operation.HASH, sha1, data(b"abc")), ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS
    )
    ok(call(nonfips, (2, 1), Operation.HASH, sha1, data(b"abc")))


def test_rng_seed_accepted(executor: Executor) -> None:
    r = ok(call(executor, (2, 1), Operation.RNG_SEED, data(os.urandom(32))))
    assert r.get("Data Length") in (0, 32)


# -- PyKMIP's client against a real server ----------------------------------------------
@pytest.mark.parametrize("version_name", ["KMIP_1_2", "KMIP_2_0"])
def test_pykmip_client_encrypt_decrypt_mac(kmsd_server: RunningServer, version_name: str) -> None:
    pytest.importorskip("kmip", reason="PyKMIP is a test dependency")
    from kmip import enums as kenums  # type: ignore[import-untyped]
    from kmip.pie.client import ProxyKmipClient  # type: ignore[import-untyped]

    version = getattr(kenums.KMIPVersion, version_name)
    with ProxyKmipClient(
        hostname="127.0.0.1",
        port=kmsd_server.port,
        cert=kmsd_server.admin_cert,
        key=kmsd_server.admin_key,
        ca=kmsd_server.ca,
        ssl_version="PROTOCOL_TLS",
        kmip_version=version,
    ) as c:
        usage = [kenums.CryptographicUsageMask.ENCRYPT, kenums.CryptographicUsageMask.DECRYPT]
        uid = c.create(kenums.CryptographicAlgorithm.AES, 256, cryptographic_usage_mask=usage)
        c.activate(uid)
        cbc = {
            "block_cipher_mode": kenums.BlockCipherMode.CBC,
            "padding_method": kenums.PaddingMethod.PKCS5,
            "random_iv": True,
        }
        ciphertext, iv = c.encrypt(b"attack at dawn", uid=uid, cryptographic_parameters=cbc)
        assert iv is not None and len(iv) == 16 and len(ciphertext) == 16
        cbc_dec = {"block_cipher_mode": kenums.BlockCipherMode.CBC, "padding_method": kenums.PaddingMethod.PKCS5}
        assert (
            c.decrypt(ciphertext, uid=uid, cryptographic_parameters=cbc_dec, iv_counter_nonce=iv) == b"attack at dawn"
        )

        mac_usage = [kenums.CryptographicUsageMask.MAC_GENERATE, kenums.CryptographicUsageMask.MAC_VERIFY]
        mac_uid = c.create(kenums.CryptographicAlgorithm.HMAC_SHA256, 256, cryptographic_usage_mask=mac_usage)
        c.activate(mac_uid)
        got_uid, mac_data = c.mac(b"message", uid=mac_uid, algorithm=kenums.CryptographicAlgorithm.HMAC_SHA256)
        assert got_uid == mac_uid and len(mac_data) == 32
        # PyKMIP surfaces a tampered message as an operation failure, not a crash.  The
        # IV's last byte turns the padding byte 0x02 into 0x00, never valid padding (a
        # random 16-byte ciphertext decrypts to valid padding about one time in 200).
        from kmip.pie.exceptions import KmipOperationFailure  # type: ignore[import-untyped]

        tampered_iv = iv[:-1] + bytes([iv[-1] ^ 0x02])
        with pytest.raises(KmipOperationFailure):
            c.decrypt(ciphertext, uid=uid, cryptographic_parameters=cbc_dec, iv_counter_nonce=tampered_iv)
