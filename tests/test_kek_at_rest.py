"""Key material at rest under the server's key-encryption key (--key-encryption-key).

The SQLite file is read directly, as someone holding a copy of it would:
with a KEK configured no key's material may appear in its row, while Get,
Encrypt and Locate behave exactly as without one.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import keywrap
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmsd.crypto import at_rest
from kmsd.crypto.policy import Policy
from kmsd.kmip.app import build_processor
from kmsd.kmip.enums import (
    BlockCipherMode,
    EncodingOption,
    KeyFormatType,
    ObjectType,
    Operation,
    ResultReason,
    WrappingMethod,
)
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.ops import kek
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.server.serve import serve_command
from kmsd.store import Store
from kmsd.store.factory import open_store
from ttlv import Item

from .kmip_builders import Response, attributes, boolean, bstr, enum, integer, name_value, s, tag, text
from .test_asymmetric_ops import call, create_pair, get, key_block, key_material, ok
from .test_rekey_wrap import create_aes, plain_key, register_aes, unwrapped_key

V = (2, 1)
SECRET = b"correct horse battery staple, 32"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[Store, Path]]:
    path = tmp_path / "kms.db"
    store = open_store("sqlite", str(path))
    yield store, path
    store.close()


def server(store: Store, kek_uid: str | None = None) -> Executor:
    """An executor as ``kmsd serve`` builds it, with or without a KEK."""
    return Executor(store, ExecutorSettings(policy=Policy(), at_rest=kek.configure(store, kek_uid, Policy())))


def raw(path: Path, uid: str) -> bytes:
    with closing(sqlite3.connect(path)) as conn:
        row = conn.execute("SELECT payload FROM objects WHERE id = ?", (uid,)).fetchone()
    return bytes(row[0])


def write_raw(path: Path, uid: str, payload: bytes) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE objects SET payload = ? WHERE id = ?", (payload, uid))


def uid_of(r: Response) -> str:
    value = ok(r).get("Unique Identifier")
    assert isinstance(value, str)
    return value


def register_secret(ex: Executor, data: bytes, *extra: Item) -> str:
    payload = [
        enum("Object Type", ObjectType.SECRET_DATA),
        attributes(V, integer("Cryptographic Usage Mask", Mask.DERIVE_KEY), *extra),
        s(
            "Secret Data",
            enum("Secret Data Type", 1),
            s("Key Block", enum("Key Format Type", KeyFormatType.OPAQUE), s("Key Value", bstr("Key Material", data))),
        ),
    ]
    return uid_of(call(ex, V, (Operation.REGISTER, payload)))


def secret_of(ex: Executor, uid: str) -> bytes:
    value = key_material(key_block(ok(get(ex, V, uid)), "Secret Data")).value
    assert isinstance(value, bytes)
    return value


def rsa_pair(ex: Executor) -> tuple[str, str]:
    common = [enum("Cryptographic Algorithm", Alg.RSA), integer("Cryptographic Length", 2048)]
    r = ok(
        create_pair(
            ex,
            V,
            common,
            [integer("Cryptographic Usage Mask", Mask.UNWRAP_KEY | Mask.SIGN)],
            [integer("Cryptographic Usage Mask", Mask.WRAP_KEY | Mask.VERIFY)],
        )
    )
    return r.get("Private Key Unique Identifier"), r.get("Public Key Unique Identifier")


def private_der(ex: Executor, uid: str, fmt: int | None = None) -> bytes:
    """The private key's material as Get returns it (by default in the format it is kept in)."""
    value = key_material(key_block(ok(get(ex, V, uid, fmt)), "Private Key")).value
    assert isinstance(value, bytes)
    return value


def gcm_encrypt(ex: Executor, uid: str, data: bytes, iv: bytes) -> bytes:
    ok(call(ex, V, (Operation.ACTIVATE, [text("Unique Identifier", uid)])))
    p = s("Cryptographic Parameters", enum("Block Cipher Mode", BlockCipherMode.GCM), integer("Tag Length", 16))
    payload = [text("Unique Identifier", uid), p, bstr("Data", data), bstr("IV/Counter/Nonce", iv)]
    r = ok(call(ex, V, (Operation.ENCRYPT, payload)))
    return bytes(r.get("Data")) + bytes(r.get("Authenticated Encryption Tag"))


# -- without a KEK: the baseline the other tests contrast with ----------------------------------
def test_without_a_kek_material_is_in_the_row(db: tuple[Store, Path]) -> None:
    store, path = db
    ex = server(store)
    uid = create_aes(ex, V)
    assert plain_key(ex, V, uid) in raw(path, uid)
    assert SECRET in raw(path, register_secret(ex, SECRET))
    assert not at_rest.is_sealed(raw(path, uid))


# -- sealing --------------------------------------------------------------------------------------
def test_kek_seals_existing_and_new_keys_and_they_still_work(
    db: tuple[Store, Path], caplog: pytest.LogCaptureFixture
) -> None:
    store, path = db
    before = server(store)
    kek_uid = create_aes(before, V, usage=Mask.WRAP_KEY | Mask.UNWRAP_KEY)
    aes_uid = create_aes(before, V, name_value("old key"))
    aes_key = plain_key(before, V, aes_uid)
    secret_uid = register_secret(before, SECRET)
    private_uid, public_uid = rsa_pair(before)
    der = private_der(before, private_uid)
    assert aes_key in raw(path, aes_uid) and der in raw(path, private_uid)

    ex = server(store, kek_uid)  # start-up seals what is there
    for uid, material in ((aes_uid, aes_key), (secret_uid, SECRET), (private_uid, der)):
        row = raw(path, uid)
        assert material not in row and at_rest.is_sealed(row)
        assert at_rest.envelope_kek(row) == kek_uid
    # Public keys hold nothing secret and stay readable; the KEK itself is kept in the clear.
    assert not at_rest.is_sealed(raw(path, public_uid))
    assert plain_key(ex, V, kek_uid) in raw(path, kek_uid)

    # Get returns the same material as before, in the same form.
    assert plain_key(ex, V, aes_uid) == aes_key
    assert secret_of(ex, secret_uid) == SECRET
    assert private_der(ex, private_uid) == der
    # Keys made now are sealed when first written.
    new_uid = create_aes(ex, V)
    new_key = plain_key(ex, V, new_uid)
    assert new_key not in raw(path, new_uid) and at_rest.is_sealed(raw(path, new_uid))
    new_secret = register_secret(ex, b"another secret value")
    assert b"another secret value" not in raw(path, new_secret)
    # Encrypt uses the real key: the client decrypts with the material Get gave.
    iv = os.urandom(12)
    assert AESGCM(aes_key).decrypt(iv, gcm_encrypt(ex, aes_uid, b"hello", iv), None) == b"hello"
    # Locate (which does not open payloads) and attribute changes leave rows sealed.
    found = ok(call(ex, V, (Operation.LOCATE, [attributes(V, name_value("old key"))])))
    assert found.get("Unique Identifier") == aes_uid
    assert at_rest.is_sealed(raw(path, aes_uid)) and aes_key not in raw(path, aes_uid)
    # A restart with the same KEK has nothing left to seal and reads everything.
    with caplog.at_level(logging.INFO, logger="kmsd.kek"):
        again = server(store, kek_uid)
    assert "(0 rows sealed now)" in caplog.text
    assert plain_key(again, V, new_uid) == new_key


def test_registered_wrapped_key_is_sealed_and_kept_as_registered(db: tuple[Store, Path]) -> None:
    store, path = db
    kek_uid = create_aes(server(store), V, usage=Mask.WRAP_KEY | Mask.UNWRAP_KEY)
    ex = server(store, kek_uid)
    client_kek = bytes(range(16))
    wrapper = uid_of(register_aes(ex, V, client_kek, Mask.WRAP_KEY | Mask.UNWRAP_KEY))
    wrapped = keywrap.aes_key_wrap(client_kek, SECRET)
    kwd = s(
        "Key Wrapping Data",
        enum("Wrapping Method", WrappingMethod.ENCRYPT),
        s(
            "Encryption Key Information",
            text("Unique Identifier", wrapper),
            s("Cryptographic Parameters", enum("Block Cipher Mode", BlockCipherMode.NISTKEYWRAP)),
        ),
        enum("Encoding Option", EncodingOption.NO_ENCODING),
    )
    uid = uid_of(register_aes(ex, V, b"", Mask.ENCRYPT, wrapping=kwd, value=bstr("Key Value", wrapped)))
    row = raw(path, uid)
    assert at_rest.is_sealed(row) and SECRET not in row and wrapped not in row
    assert unwrapped_key(ex, V, uid) == SECRET
    as_registered = key_block(ok(get(ex, V, uid)), "Symmetric Key")
    assert as_registered.get(tag("Key Value")) == wrapped


# -- the KEK itself -------------------------------------------------------------------------------
def test_kek_cannot_be_destroyed_or_replaced_while_configured(db: tuple[Store, Path]) -> None:
    store, _ = db
    kek_uid = create_aes(server(store), V, usage=Mask.WRAP_KEY | Mask.UNWRAP_KEY)
    ex = server(store, kek_uid)
    other = create_aes(ex, V)
    # Permission Denied: the server's policy refuses the client, whatever its rights on the object
    # (2.1 lists it among Destroy's errors; Illegal Operation is 1.x only).
    r = call(ex, V, (Operation.DESTROY, [text("Unique Identifier", kek_uid)]))
    assert r.reason() == ResultReason.PERMISSION_DENIED, r.message()
    assert "key-encryption key" in (r.message() or "")
    exported = ok(call(ex, V, (Operation.EXPORT, [text("Unique Identifier", other)])))
    replace = [
        text("Unique Identifier", kek_uid),
        enum("Object Type", ObjectType.SYMMETRIC_KEY),
        boolean("Replace Existing", True),
        exported.payload().find(tag("Attributes")),
        exported.payload().find(tag("Symmetric Key")),
    ]
    r = call(ex, V, (Operation.IMPORT, [i for i in replace if i is not None]))
    assert r.reason() == ResultReason.PERMISSION_DENIED, r.message()
    assert plain_key(ex, V, other) == plain_key(server(store, kek_uid), V, other)  # still readable
    # Without the option it is an ordinary key again.
    plain = server(store)
    ok(call(plain, V, (Operation.DESTROY, [text("Unique Identifier", create_aes(plain, V))])))


UNUSABLE: dict[str, Callable[[Executor], str]] = {
    "no such object": lambda ex: "no-such-uid",
    "must be an AES key": lambda ex: register_secret(ex, SECRET),
    "Usage Mask lacks": lambda ex: create_aes(ex, V, usage=Mask.ENCRYPT | Mask.DECRYPT),
}


@pytest.mark.parametrize("message", sorted(UNUSABLE))
def test_unusable_kek_stops_start_up_with_one_clear_line(db: tuple[Store, Path], message: str) -> None:
    store, _ = db
    uid = UNUSABLE[message](server(store))
    with pytest.raises(kek.KekConfigError, match=message):
        build_processor(SimpleNamespace(key_encryption_key=uid, insecure=True), store)


def test_destroyed_kek_stops_start_up(db: tuple[Store, Path]) -> None:
    store, _ = db
    ex = server(store)
    uid = create_aes(ex, V, usage=Mask.WRAP_KEY | Mask.UNWRAP_KEY)
    ok(call(ex, V, (Operation.DESTROY, [text("Unique Identifier", uid)])))
    with pytest.raises(kek.KekConfigError, match="destroyed"):
        kek.configure(store, uid, Policy())


def test_serve_refuses_a_missing_kek(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["--data-dir", str(tmp_path / "data"), "--kmip-port", "0", "--key-encryption-key", "nope"]
    result = CliRunner().invoke(serve_command, args)
    assert result.exit_code == 1
    assert "--key-encryption-key nope: no such object in the store" in result.output


# -- integrity ------------------------------------------------------------------------------------
def test_tampered_or_swapped_rows_fail_cleanly(db: tuple[Store, Path]) -> None:
    store, path = db
    kek_uid = create_aes(server(store), V, usage=Mask.WRAP_KEY | Mask.UNWRAP_KEY)
    ex = server(store, kek_uid)
    a, b = create_aes(ex, V), create_aes(ex, V)
    key_a = plain_key(ex, V, a)
    write_raw(path, b, raw(path, a))  # a's envelope in b's row must not open as b
    r = get(ex, V, b)
    assert r.reason() == ResultReason.CRYPTOGRAPHIC_FAILURE and "another object" in (r.message() or "")
    flipped = bytearray(raw(path, a))
    flipped[-20] ^= 1
    write_raw(path, a, bytes(flipped))
    r = get(ex, V, a)
    assert r.reason() == ResultReason.CRYPTOGRAPHIC_FAILURE, r.message()
    assert key_a.hex() not in (r.message() or "")


def test_sealed_rows_without_the_kek_give_a_clear_error(db: tuple[Store, Path]) -> None:
    store, _ = db
    kek_uid = create_aes(server(store), V, usage=Mask.WRAP_KEY | Mask.UNWRAP_KEY)
    uid = create_aes(server(store, kek_uid), V, name_value("sealed"))
    plain = server(store)
    r = get(plain, V, uid)
    assert r.reason() == ResultReason.GENERAL_FAILURE and "--key-encryption-key" in (r.message() or "")
    found = ok(call(plain, V, (Operation.LOCATE, [attributes(V, name_value("sealed"))])))
    assert found.get("Unique Identifier") == uid  # metadata stays usable


# -- rotation and RSA -----------------------------------------------------------------------------
def test_restarting_with_another_kek_rewraps_everything(db: tuple[Store, Path]) -> None:
    store, path = db
    first = server(store)
    kek_a = create_aes(first, V, usage=Mask.WRAP_KEY | Mask.UNWRAP_KEY)
    kek_b = create_aes(first, V, usage=Mask.WRAP_KEY | Mask.UNWRAP_KEY)
    under_a = server(store, kek_a)
    uid = create_aes(under_a, V)
    key = plain_key(under_a, V, uid)
    assert at_rest.envelope_kek(raw(path, kek_b)) == kek_a  # B is an ordinary key while A is the KEK
    under_b = server(store, kek_b)
    assert at_rest.envelope_kek(raw(path, uid)) == kek_b
    assert at_rest.envelope_kek(raw(path, kek_a)) == kek_b  # the old KEK is sealed like any key
    assert not at_rest.is_sealed(raw(path, kek_b))
    assert plain_key(under_b, V, uid) == key
    back = server(store, kek_a)  # and back again
    assert at_rest.envelope_kek(raw(path, uid)) == kek_a
    assert plain_key(back, V, uid) == key


def test_rsa_key_pair_as_kek(db: tuple[Store, Path]) -> None:
    store, path = db
    before = server(store)
    private_uid, public_uid = rsa_pair(before)
    uid = create_aes(before, V)
    key = plain_key(before, V, uid)
    ex = server(store, public_uid)  # the public key names the pair
    row = raw(path, uid)
    assert key not in row and at_rest.envelope_kek(row) == public_uid
    assert plain_key(ex, V, uid) == key
    assert not at_rest.is_sealed(raw(path, private_uid))  # both halves stay in the clear
    ser.load_der_private_key(private_der(ex, private_uid, KeyFormatType.PKCS_8), None)
    r = call(ex, V, (Operation.DESTROY, [text("Unique Identifier", private_uid)]))
    assert r.reason() == ResultReason.PERMISSION_DENIED, r.message()
