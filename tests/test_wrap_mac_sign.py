"""Key wrapping with MAC/Signature Key Information: the MAC/sign, Encrypt then
MAC/sign and MAC/sign then encrypt Wrapping Methods, in Get/Export (checked
here with ``cryptography`` directly) and in Register/Import (checked by the
server: a MAC or signature that does not match is Cryptographic Failure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, hmac, keywrap
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import ttlv
from kmsd.crypto.policy import Policy
from kmsd.kmip.enums import (
    BlockCipherMode,
    EncodingOption,
    KeyFormatType,
    LinkType,
    ObjectType,
    Operation,
    ResultReason,
    WrappingMethod,
)
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.store import Store
from ttlv import Item

from .kmip_builders import Response, attributes, boolean, bstr, dt, enum, integer, s, tag, text
from .test_asymmetric_ops import attribute_values, call, count_objects, create_pair, get, key_block, ok
from .test_rekey_wrap import create_aes, plain_key, register_aes, unwrapped_key

V = (2, 1)
WRAP_KEY = bytes(range(16))
MAC_KEY = bytes(range(100, 132))


@pytest.fixture
def ex(executor_store: Store) -> Executor:
    return Executor(executor_store, ExecutorSettings(policy=Policy()))


def uid_of(r: Response) -> str:
    value = ok(r).get("Unique Identifier")
    assert isinstance(value, str)
    return value


def hmac_key(ex: Executor, version: tuple[int, int] = V, usage: int = Mask.MAC_GENERATE | Mask.MAC_VERIFY) -> str:
    block = s(
        "Key Block",
        enum("Key Format Type", KeyFormatType.RAW),
        s("Key Value", bstr("Key Material", MAC_KEY)),
        enum("Cryptographic Algorithm", Alg.HMAC_SHA256),
        integer("Cryptographic Length", 256),
    )
    payload = [
        enum("Object Type", ObjectType.SYMMETRIC_KEY),
        attributes(
            version,
            integer("Cryptographic Usage Mask", usage),
            dt("Activation Date", datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)),
        ),
        s("Symmetric Key", block),
    ]
    return uid_of(call(ex, version, (Operation.REGISTER, payload)))


def wrap_key(ex: Executor, version: tuple[int, int] = V) -> str:
    return uid_of(register_aes(ex, version, WRAP_KEY, Mask.WRAP_KEY | Mask.UNWRAP_KEY))


def spec(method: int, enc: str | None = None, mac: str | None = None, encoding: int | None = None) -> Item:
    children = [enum("Wrapping Method", method)]
    if enc is not None:
        params = s("Cryptographic Parameters", enum("Block Cipher Mode", BlockCipherMode.AESKEYWRAPPADDING))
        children.append(s("Encryption Key Information", text("Unique Identifier", enc), params))
    if mac is not None:
        children.append(s("MAC/Signature Key Information", text("Unique Identifier", mac)))
    if encoding is not None:
        children.append(enum("Encoding Option", encoding))
    return s("Key Wrapping Specification", *children)


def wrapped_get(ex: Executor, uid: str, wrapping: Item, version: tuple[int, int] = V) -> Response:
    return call(ex, version, (Operation.GET, [text("Unique Identifier", uid), wrapping]))


def parts(r: Response) -> tuple[bytes, Item]:
    """The wrapped Key Value bytes and the Key Wrapping Data of a Get response."""
    block = key_block(ok(r), "Symmetric Key")
    value = block.find(tag("Key Value"))
    assert value is not None
    if value.type is ttlv.ItemType.STRUCTURE:  # 1.x shape
        value = value.find(tag("Key Material"))
        assert value is not None
    kwd = block.find(tag("Key Wrapping Data"))
    assert isinstance(value.value, bytes) and kwd is not None
    return value.value, kwd


def hmac_sha256(data: bytes) -> bytes:
    h = hmac.HMAC(MAC_KEY, hashes.SHA256())
    h.update(data)
    return h.finalize()


def register_wrapped(ex: Executor, value: bytes, kwd: Item, version: tuple[int, int] = V) -> Response:
    return register_aes(ex, version, b"", Mask.ENCRYPT, wrapping=kwd, value=bstr("Key Value", value))


def with_mac(kwd: Item, signature: bytes) -> Item:
    return Item(
        kwd.tag,
        kwd.type,
        tuple(bstr("MAC/Signature", signature) if c.tag == tag("MAC/Signature") else c for c in kwd.children),
    )


# -- Get -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [(1, 4), (2, 1)])
def test_mac_only_sends_the_key_value_with_its_hmac(ex: Executor, version: tuple[int, int]) -> None:
    mac = hmac_key(ex, version)
    uid = create_aes(ex, version)
    clear = plain_key(ex, version, uid)
    value, kwd = parts(wrapped_get(ex, uid, spec(WrappingMethod.MAC_SIGN, mac=mac), version))
    assert kwd.get(tag("Wrapping Method")) == WrappingMethod.MAC_SIGN
    assert kwd.find(tag("Encryption Key Information")) is None
    info = kwd.find(tag("MAC/Signature Key Information"))
    assert info is not None and info.get(tag("Unique Identifier")) == mac
    assert ttlv.decode(value).get(tag("Key Material")) == clear  # TTLV-encoded Key Value, in the clear
    assert kwd.get(tag("MAC/Signature")) == hmac_sha256(value)


def test_encrypt_then_mac_covers_the_ciphertext(ex: Executor) -> None:
    kek, mac = wrap_key(ex), hmac_key(ex)
    uid = create_aes(ex, V)
    clear = plain_key(ex, V, uid)
    wrapping = spec(WrappingMethod.ENCRYPT_THEN_MAC_SIGN, kek, mac, EncodingOption.NO_ENCODING)
    value, kwd = parts(wrapped_get(ex, uid, wrapping))
    assert keywrap.aes_key_unwrap_with_padding(WRAP_KEY, value) == clear
    assert kwd.get(tag("MAC/Signature")) == hmac_sha256(value)
    assert kwd.get(tag("Encoding Option")) == EncodingOption.NO_ENCODING


def test_mac_then_encrypt_covers_the_plaintext(ex: Executor) -> None:
    kek, mac = wrap_key(ex), hmac_key(ex)
    uid = create_aes(ex, V)
    clear = plain_key(ex, V, uid)
    wrapping = spec(WrappingMethod.MAC_SIGN_THEN_ENCRYPT, kek, mac, EncodingOption.NO_ENCODING)
    value, kwd = parts(wrapped_get(ex, uid, wrapping))
    assert keywrap.aes_key_unwrap_with_padding(WRAP_KEY, value) == clear
    assert kwd.get(tag("MAC/Signature")) == hmac_sha256(clear)


def test_sign_with_rsa_private_key_named_by_its_public_key(ex: Executor) -> None:
    common = [enum("Cryptographic Algorithm", Alg.RSA), integer("Cryptographic Length", 2048)]
    pair = ok(
        create_pair(
            ex,
            V,
            common,
            [integer("Cryptographic Usage Mask", Mask.SIGN)],
            [integer("Cryptographic Usage Mask", Mask.VERIFY)],
        )
    )
    private, public = pair.get("Private Key Unique Identifier"), pair.get("Public Key Unique Identifier")
    for key in (private, public):
        ok(call(ex, V, (Operation.ACTIVATE, [text("Unique Identifier", key)])))
    der = key_block(ok(get(ex, V, public, KeyFormatType.X_509)), "Public Key").find(tag("Key Value"))
    assert der is not None
    material = der.get(tag("Key Material"))
    assert isinstance(material, bytes)
    verifier = ser.load_der_public_key(material)
    assert isinstance(verifier, rsa.RSAPublicKey)
    uid = create_aes(ex, V)
    for signer in (private, public):
        value, kwd = parts(wrapped_get(ex, uid, spec(WrappingMethod.MAC_SIGN, mac=signer)))
        signature = kwd.get(tag("MAC/Signature"))
        assert isinstance(signature, bytes)
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
        verifier.verify(signature, value, pss, hashes.SHA256())  # raises when invalid
        # And the server takes it back, checking the signature with the public half.
        reg = uid_of(register_wrapped(ex, value, kwd))
        assert unwrapped_key(ex, V, reg) == plain_key(ex, V, uid)


# -- Register / Import -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method", [WrappingMethod.MAC_SIGN, WrappingMethod.ENCRYPT_THEN_MAC_SIGN, WrappingMethod.MAC_SIGN_THEN_ENCRYPT]
)
def test_register_checks_the_mac_and_keeps_the_key_as_registered(ex: Executor, method: int) -> None:
    kek, mac = wrap_key(ex), hmac_key(ex)
    uid = create_aes(ex, V)
    clear = plain_key(ex, V, uid)
    enc = None if method == WrappingMethod.MAC_SIGN else kek
    value, kwd = parts(wrapped_get(ex, uid, spec(method, enc, mac)))
    reg = uid_of(register_wrapped(ex, value, kwd))
    assert unwrapped_key(ex, V, reg) == clear
    as_registered, kept = parts(get(ex, V, reg))  # no Key Wrap Type: as registered
    assert as_registered == value and kept.get(tag("MAC/Signature")) == kwd.get(tag("MAC/Signature"))
    link = attribute_values(ex, V, reg, "Link")
    assert any(
        Item(tag("Link"), ttlv.ItemType.STRUCTURE, v).get(tag("Linked Object Identifier")) == (enc or mac)  # type: ignore[arg-type]
        and Item(tag("Link"), ttlv.ItemType.STRUCTURE, v).get(tag("Link Type")) == LinkType.WRAPPING_KEY_LINK  # type: ignore[arg-type]
        for v in link
    )

    before = count_objects(ex, V)
    signature = kwd.get(tag("MAC/Signature"))
    assert isinstance(signature, bytes)
    tampered = with_mac(kwd, bytes([signature[0] ^ 1]) + signature[1:])
    r = register_wrapped(ex, value, tampered)
    assert r.reason() == ResultReason.CRYPTOGRAPHIC_FAILURE and "MAC/Signature" in (r.message() or ""), r.message()
    flipped = bytes([value[0] ^ 1]) + value[1:]  # the wrapped value, with the MAC left as it was
    r = register_wrapped(ex, flipped, kwd)
    assert r.reason() == ResultReason.CRYPTOGRAPHIC_FAILURE, r.message()
    missing_mac = Item(kwd.tag, kwd.type, tuple(c for c in kwd.children if c.tag != tag("MAC/Signature")))
    assert register_wrapped(ex, value, missing_mac).reason() == ResultReason.MISSING_DATA
    assert count_objects(ex, V) == before  # nothing stored by a refused Register


def test_import_checks_the_mac_and_export_applies_it(ex: Executor) -> None:
    kek, mac = wrap_key(ex), hmac_key(ex)
    uid = create_aes(ex, V)
    wrapping = spec(WrappingMethod.ENCRYPT_THEN_MAC_SIGN, kek, mac)
    exported = ok(call(ex, V, (Operation.EXPORT, [text("Unique Identifier", uid), wrapping])))
    obj = exported.payload().find(tag("Symmetric Key"))
    attrs = exported.payload().find(tag("Attributes"))
    assert obj is not None and attrs is not None
    block = obj.find(tag("Key Block"))
    assert block is not None
    kwd = block.find(tag("Key Wrapping Data"))
    value = block.get(tag("Key Value"))
    assert kwd is not None and isinstance(value, bytes) and kwd.get(tag("MAC/Signature")) == hmac_sha256(value)

    def import_(key_obj: Item, new_uid: str) -> Response:
        payload = [text("Unique Identifier", new_uid), enum("Object Type", ObjectType.SYMMETRIC_KEY), attrs, key_obj]
        return call(ex, V, (Operation.IMPORT, payload))

    bad_kwd = with_mac(kwd, bytes(32))
    bad_block = Item(block.tag, block.type, tuple(bad_kwd if c.tag == kwd.tag else c for c in block.children))
    r = import_(Item(obj.tag, obj.type, (bad_block,)), "imported-bad")
    assert r.reason() == ResultReason.CRYPTOGRAPHIC_FAILURE, r.message()
    ok(import_(obj, "imported-good"))
    assert unwrapped_key(ex, V, "imported-good") == plain_key(ex, V, uid)


# -- refusals -----------------------------------------------------------------------------------------
def test_wrapping_method_and_key_information_must_agree(ex: Executor) -> None:
    kek, mac = wrap_key(ex), hmac_key(ex)
    encrypt_only = uid_of(register_aes(ex, V, bytes(16), Mask.ENCRYPT))
    uid = create_aes(ex, V)
    cases = [
        (spec(WrappingMethod.TR_31, kek), ResultReason.FEATURE_NOT_SUPPORTED),
        (spec(WrappingMethod.MAC_SIGN, enc=kek), ResultReason.MISSING_DATA),
        (spec(WrappingMethod.ENCRYPT_THEN_MAC_SIGN, enc=kek), ResultReason.MISSING_DATA),
        (spec(WrappingMethod.ENCRYPT, kek, mac), ResultReason.INVALID_FIELD),
        (spec(WrappingMethod.MAC_SIGN, mac=uid), ResultReason.INVALID_FIELD),  # a key cannot MAC itself
        (spec(WrappingMethod.MAC_SIGN, mac=encrypt_only), ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK),
    ]
    for wrapping, reason in cases:
        r = wrapped_get(ex, uid, wrapping)
        assert r.reason() == reason, (wrapping, r.message())


def test_sensitive_key_never_leaves_only_maced(ex: Executor) -> None:
    kek, mac = wrap_key(ex), hmac_key(ex)
    uid = create_aes(ex, V, boolean("Sensitive", True))
    r = wrapped_get(ex, uid, spec(WrappingMethod.MAC_SIGN, mac=mac))
    assert r.reason() == ResultReason.SENSITIVE, r.message()
    ok(wrapped_get(ex, uid, spec(WrappingMethod.ENCRYPT_THEN_MAC_SIGN, kek, mac)))
