"""Re-Key, Re-Key Key Pair, Get with a Key Wrapping Specification and Register
of wrapped keys, in process, at 1.x and 2.x."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import keywrap
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.hashes import SHA256

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
    ResultStatus,
    WrappingMethod,
)
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.store import Store
from ttlv import Item

from .kmip_builders import Response, attributes, bstr, dt, enum, integer, name_value, s, tag, text
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
KEK = bytes(range(16))


@pytest.fixture
def executor(executor_store: Store) -> Executor:
    return Executor(executor_store, ExecutorSettings(policy=Policy()))


def names(ex: Executor, version: tuple[int, int], uid: str) -> list[str]:
    out = []
    for v in attribute_values(ex, version, uid, "Name"):
        item = Item(tag("Name"), ttlv.ItemType.STRUCTURE, v)  # type: ignore[arg-type]
        value = item.get(tag("Name Value"))
        assert isinstance(value, str)
        out.append(value)
    return out


def create_aes(ex: Executor, version: tuple[int, int], *attrs: Item, usage: int = Mask.ENCRYPT | Mask.DECRYPT) -> str:
    payload = [
        enum("Object Type", ObjectType.SYMMETRIC_KEY),
        attributes(
            version,
            enum("Cryptographic Algorithm", Alg.AES),
            integer("Cryptographic Length", 256),
            integer("Cryptographic Usage Mask", usage),
            *attrs,
        ),
    ]
    uid = ok(call(ex, version, (Operation.CREATE, payload))).get("Unique Identifier")
    assert isinstance(uid, str)
    return uid


def register_aes(
    ex: Executor,
    version: tuple[int, int],
    key: bytes,
    usage: int,
    *,
    wrapping: Item | None = None,
    value: Item | None = None,
) -> Response:
    block = [
        enum("Key Format Type", KeyFormatType.RAW),
        value if value is not None else s("Key Value", bstr("Key Material", key)),
        enum("Cryptographic Algorithm", Alg.AES),
        integer("Cryptographic Length", 128 if wrapping is None else 256),
    ]
    if wrapping is not None:
        block.append(wrapping)
    payload = [
        enum("Object Type", ObjectType.SYMMETRIC_KEY),
        attributes(
            version,
            integer("Cryptographic Usage Mask", usage),
            dt("Activation Date", datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)),
        ),
        s("Symmetric Key", s("Key Block", *block)),
    ]
    return call(ex, version, (Operation.REGISTER, payload))


def plain_key(ex: Executor, version: tuple[int, int], uid: str) -> bytes:
    km = key_material(key_block(ok(get(ex, version, uid)), "Symmetric Key"))
    assert isinstance(km.value, bytes)
    return km.value


def unwrapped_key(ex: Executor, version: tuple[int, int], uid: str) -> bytes:
    """A key registered wrapped, asked for with Key Wrap Type Not Wrapped (by default it comes as registered)."""
    r = ok(call(ex, version, (Operation.GET, [text("Unique Identifier", uid), enum("Key Wrap Type", 1)])))
    km = key_material(key_block(r, "Symmetric Key"))
    assert isinstance(km.value, bytes)
    return km.value


# -- Re-Key ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_re_key_moves_names_links_and_offsets_dates(executor: Executor, version: tuple[int, int]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    old = create_aes(
        executor,
        version,
        name_value("k1"),
        dt("Activation Date", now - timedelta(hours=1)),
        dt("Deactivation Date", now + timedelta(days=10)),
    )
    payload = [text("Unique Identifier", old), Item(tag("Offset"), ttlv.ItemType.INTERVAL, 3600)]
    new = ok(call(executor, version, (Operation.RE_KEY, payload))).get("Unique Identifier")
    assert isinstance(new, str) and new != old
    assert names(executor, version, new) == ["k1"]
    assert names(executor, version, old) == []
    assert links(attribute_values(executor, version, new, "Link"))[LinkType.REPLACED_OBJECT_LINK] == old
    assert links(attribute_values(executor, version, old, "Link"))[LinkType.REPLACEMENT_OBJECT_LINK] == new
    activation = attribute_values(executor, version, new, "Activation Date")[0]
    deactivation = attribute_values(executor, version, new, "Deactivation Date")[0]
    assert isinstance(activation, datetime) and isinstance(deactivation, datetime)
    assert abs((activation - (now + timedelta(hours=1))).total_seconds()) < 5
    assert deactivation - activation == timedelta(days=10, hours=1)
    assert plain_key(executor, version, new) != plain_key(executor, version, old)
    # Without an Offset the dates are copied; the ID Placeholder is the new key.
    r = ok(call(executor, version, (Operation.RE_KEY, [text("Unique Identifier", new)]), (Operation.GET, [])))
    assert r.get("Unique Identifier", 1) == r.get("Unique Identifier", 0)
    assert attribute_values(executor, version, r.get("Unique Identifier"), "Activation Date") == [activation]


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_re_key_refuses_other_objects_and_stores_nothing(executor: Executor, version: tuple[int, int]) -> None:
    pair = ok(
        create_pair(
            executor, version, [enum("Cryptographic Algorithm", Alg.RSA), integer("Cryptographic Length", 2048)]
        )
    )
    before = count_objects(executor, version)
    r = call(
        executor, version, (Operation.RE_KEY, [text("Unique Identifier", pair.get("Private Key Unique Identifier"))])
    )
    assert r.status() == ResultStatus.OPERATION_FAILED
    assert r.reason() in (ResultReason.INVALID_OBJECT_TYPE, ResultReason.INVALID_FIELD)
    r = call(executor, version, (Operation.RE_KEY, [text("Unique Identifier", "nope")]))
    assert r.reason() in (ResultReason.ITEM_NOT_FOUND, ResultReason.OBJECT_NOT_FOUND)
    assert count_objects(executor, version) == before


@pytest.mark.parametrize("version", [(1, 2), (1, 4), (2, 1)])
def test_re_key_key_pair(executor: Executor, version: tuple[int, int]) -> None:
    common = [enum("Cryptographic Algorithm", Alg.EC), integer("Cryptographic Length", 256)]
    r = ok(create_pair(executor, version, common, [name_value("priv")], [name_value("pub")]))
    old_priv, old_pub = r.get("Private Key Unique Identifier"), r.get("Public Key Unique Identifier")
    r = ok(call(executor, version, (Operation.RE_KEY_KEY_PAIR, [text("Private Key Unique Identifier", old_priv)])))
    priv, pub = r.get("Private Key Unique Identifier"), r.get("Public Key Unique Identifier")
    assert {priv, pub}.isdisjoint({old_priv, old_pub})
    assert names(executor, version, priv) == ["priv"] and names(executor, version, pub) == ["pub"]
    assert names(executor, version, old_priv) == []
    priv_links = links(attribute_values(executor, version, priv, "Link"))
    assert priv_links[LinkType.PUBLIC_KEY_LINK] == pub
    assert priv_links[LinkType.REPLACED_OBJECT_LINK] == old_priv
    assert links(attribute_values(executor, version, pub, "Link"))[LinkType.PRIVATE_KEY_LINK] == priv
    assert links(attribute_values(executor, version, old_pub, "Link"))[LinkType.REPLACEMENT_OBJECT_LINK] == pub


# -- wrapping --------------------------------------------------------------------------------------
def wrapping_spec(uid: str, mode: int | None = BlockCipherMode.NISTKEYWRAP, encoding: int | None = None) -> Item:
    info = [text("Unique Identifier", uid)]
    if mode is not None:
        info.append(s("Cryptographic Parameters", enum("Block Cipher Mode", mode)))
    children = [enum("Wrapping Method", WrappingMethod.ENCRYPT), s("Encryption Key Information", *info)]
    if encoding is not None:
        children.append(enum("Encoding Option", encoding))
    return s("Key Wrapping Specification", *children)


def wrapped_get(ex: Executor, version: tuple[int, int], uid: str, spec: Item) -> Response:
    return call(ex, version, (Operation.GET, [text("Unique Identifier", uid), spec]))


def wrapped_bytes(r: Response) -> bytes:
    block = key_block(r, "Symmetric Key")
    assert block.find(tag("Key Wrapping Data")) is not None
    value = block.find(tag("Key Value"))
    assert value is not None
    if value.type is ttlv.ItemType.STRUCTURE:  # 1.3-1.4 shape
        value = value.find(tag("Key Material"))
        assert value is not None
    assert isinstance(value.value, bytes)
    return value.value


@pytest.mark.parametrize("version", VERSIONS)
def test_get_wrapped_with_aes_kw_and_kwp(executor: Executor, version: tuple[int, int]) -> None:
    kek = ok(register_aes(executor, version, KEK, Mask.WRAP_KEY | Mask.UNWRAP_KEY)).get("Unique Identifier")
    uid = create_aes(executor, version)
    clear = plain_key(executor, version, uid)
    r = ok(wrapped_get(executor, version, uid, wrapping_spec(kek, encoding=EncodingOption.NO_ENCODING)))
    assert keywrap.aes_key_unwrap(KEK, wrapped_bytes(r)) == clear
    r = ok(
        wrapped_get(
            executor, version, uid, wrapping_spec(kek, BlockCipherMode.AESKEYWRAPPADDING, EncodingOption.NO_ENCODING)
        )
    )
    assert keywrap.aes_key_unwrap_with_padding(KEK, wrapped_bytes(r)) == clear
    # The default encoding: the TTLV-encoded Key Value (a multiple of 8 bytes: RFC 3394 by default).
    r = ok(wrapped_get(executor, version, uid, wrapping_spec(kek, None)))
    value = ttlv.decode(keywrap.aes_key_unwrap(KEK, wrapped_bytes(r)))
    assert value.tag == tag("Key Value") and value.get(tag("Key Material")) == clear


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_get_wrapped_with_rsa_oaep(executor: Executor, version: tuple[int, int]) -> None:
    common = [enum("Cryptographic Algorithm", Alg.RSA), integer("Cryptographic Length", 2048)]
    r = ok(
        create_pair(
            executor,
            version,
            common,
            [integer("Cryptographic Usage Mask", Mask.UNWRAP_KEY)],
            [integer("Cryptographic Usage Mask", Mask.WRAP_KEY)],
        )
    )
    priv, pub = r.get("Private Key Unique Identifier"), r.get("Public Key Unique Identifier")
    for uid in (priv, pub):
        ok(call(executor, version, (Operation.ACTIVATE, [text("Unique Identifier", uid)])))
    der = key_material(key_block(ok(get(executor, version, priv, KeyFormatType.PKCS_8)), "Private Key")).value
    assert isinstance(der, bytes)
    private = ser.load_der_private_key(der, None)
    uid = create_aes(executor, version)
    r = ok(wrapped_get(executor, version, uid, wrapping_spec(pub, None, EncodingOption.NO_ENCODING)))
    oaep = padding.OAEP(mgf=padding.MGF1(SHA256()), algorithm=SHA256(), label=None)
    assert private.decrypt(wrapped_bytes(r), oaep) == plain_key(executor, version, uid)  # type: ignore[union-attr]
    # And back: Register of the wrapped key unwraps it with the linked private key.
    kwd = key_block(r, "Symmetric Key").find(tag("Key Wrapping Data"))
    assert kwd is not None
    reg = ok(
        register_aes(executor, version, b"", Mask.ENCRYPT, wrapping=kwd, value=bstr("Key Value", wrapped_bytes(r)))
    )
    assert unwrapped_key(executor, version, reg.get("Unique Identifier")) == plain_key(executor, version, uid)


@pytest.mark.parametrize("version", [(1, 4), (2, 1)])
def test_register_wrapped_key_and_get_as_registered(executor: Executor, version: tuple[int, int]) -> None:
    kek = ok(register_aes(executor, version, KEK, Mask.WRAP_KEY | Mask.UNWRAP_KEY)).get("Unique Identifier")
    secret = bytes(range(32, 64))
    wrapped = keywrap.aes_key_wrap(KEK, secret)
    kwd = s(
        "Key Wrapping Data",
        enum("Wrapping Method", WrappingMethod.ENCRYPT),
        s(
            "Encryption Key Information",
            text("Unique Identifier", kek),
            s("Cryptographic Parameters", enum("Block Cipher Mode", BlockCipherMode.NISTKEYWRAP)),
        ),
        enum("Encoding Option", EncodingOption.NO_ENCODING),
    )
    uid = ok(register_aes(executor, version, b"", Mask.ENCRYPT, wrapping=kwd, value=bstr("Key Value", wrapped))).get(
        "Unique Identifier"
    )
    assert unwrapped_key(executor, version, uid) == secret
    r = ok(call(executor, version, (Operation.GET, [text("Unique Identifier", uid), enum("Key Wrap Type", 2)])))
    assert wrapped_bytes(r) == wrapped
    # A wrong wrapped value: Cryptographic Failure, nothing stored.
    before = count_objects(executor, version)
    bad = register_aes(executor, version, b"", Mask.ENCRYPT, wrapping=kwd, value=bstr("Key Value", bytes(40)))
    assert bad.reason() == ResultReason.CRYPTOGRAPHIC_FAILURE
    assert count_objects(executor, version) == before


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_wrap_key_of_wrong_type_or_usage(executor: Executor, version: tuple[int, int]) -> None:
    no_wrap = ok(register_aes(executor, version, KEK, Mask.ENCRYPT)).get("Unique Identifier")
    uid = create_aes(executor, version)
    r = wrapped_get(executor, version, uid, wrapping_spec(no_wrap))
    expected = ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK if version >= V2 else ResultReason.PERMISSION_DENIED
    assert r.reason() == expected, r.message()
    secret = ok(
        call(
            executor,
            version,
            (
                Operation.REGISTER,
                [
                    enum("Object Type", ObjectType.SECRET_DATA),
                    attributes(version, integer("Cryptographic Usage Mask", Mask.WRAP_KEY)),
                    s(
                        "Secret Data",
                        enum("Secret Data Type", 1),
                        s(
                            "Key Block",
                            enum("Key Format Type", KeyFormatType.OPAQUE),
                            s("Key Value", bstr("Key Material", b"x" * 16)),
                        ),
                    ),
                ],
            ),
        )
    ).get("Unique Identifier")
    ok(call(executor, version, (Operation.ACTIVATE, [text("Unique Identifier", secret)])))
    r = wrapped_get(executor, version, uid, wrapping_spec(secret))
    assert r.reason() in (ResultReason.INVALID_OBJECT_TYPE, ResultReason.INVALID_FIELD), r.message()
    r = wrapped_get(executor, version, uid, wrapping_spec("missing"))
    assert r.status() == ResultStatus.OPERATION_FAILED
    structured = wrapped_get(executor, version, uid, wrapping_spec(no_wrap, encoding=0x7))
    assert structured.status() == ResultStatus.OPERATION_FAILED


# -- Export / Import -------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [(1, 4), (2, 1)])
def test_export_then_import_elsewhere_and_replace(executor: Executor, version: tuple[int, int]) -> None:
    uid = create_aes(executor, version, name_value("exported"))
    r = ok(call(executor, version, (Operation.EXPORT, [text("Unique Identifier", uid)])))
    assert r.get("Unique Identifier") == uid
    obj = r.payload().find(tag("Symmetric Key"))
    attrs_tag = "Attributes" if version >= V2 else "Template-Attribute"
    exported = r.payload().find(tag(attrs_tag))
    assert obj is not None and exported is not None
    clear = plain_key(executor, version, uid)

    def import_(new_uid: str, replace: bool | None) -> Response:
        payload = [text("Unique Identifier", new_uid), enum("Object Type", ObjectType.SYMMETRIC_KEY)]
        if replace is not None:
            payload.append(Item(tag("Replace Existing"), ttlv.ItemType.BOOLEAN, replace))
        payload += [exported, obj]
        return call(executor, version, (Operation.IMPORT, payload))

    assert import_(uid, None).reason() == ResultReason.OBJECT_ALREADY_EXISTS
    ok(import_(uid, True))
    assert plain_key(executor, version, uid) == clear
    ok(import_("restored-" + uid, False))
    assert plain_key(executor, version, "restored-" + uid) == clear
    assert names(executor, version, "restored-" + uid) == ["exported"]
    # Bad material: refused, nothing stored.
    before = count_objects(executor, version)
    bad = s(
        "Symmetric Key",
        s(
            "Key Block",
            enum("Key Format Type", KeyFormatType.RAW),
            s("Key Value", bstr("Key Material", b"x" * 5)),
            enum("Cryptographic Algorithm", Alg.AES),
            integer("Cryptographic Length", 40),
        ),
    )
    r = call(
        executor,
        version,
        (Operation.IMPORT, [text("Unique Identifier", "bad"), enum("Object Type", ObjectType.SYMMETRIC_KEY), bad]),
    )
    assert r.status() == ResultStatus.OPERATION_FAILED
    assert count_objects(executor, version) == before
