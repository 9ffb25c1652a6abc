"""Key wrapping in Get (Key Wrapping Specification) and Register (Key Wrapping Data).

KMIP 2.1 sections 2.1.5-2.1.6 (Key Wrapping Data / Specification) and
11.x; 1.x section 2.1.5.  A wrapped Key Block carries its Key Value as a
Byte String — the wrapped bytes — and a Key Wrapping Data structure naming
the method, the wrapping key and its Cryptographic Parameters, and the
Encoding Option:

* No Encoding: the Key Material byte string itself is wrapped (a
  structured, transparent Key Material cannot be: Encoding Option Error);
* TTLV Encoding (the default when the option is absent): the TTLV encoding
  of the Key Value structure is wrapped — with the attributes the
  specification names (1.x/2.x Attribute Name) when it names some.

Wrapping keys: an AES key (Wrap Key usage) by AES Key Wrap, RFC 3394
(Block Cipher Mode NIST Key Wrap, the default when the key is a multiple of
8 bytes) or with padding, RFC 5649 (AES Key Wrap Padding); an RSA public
key — or the public key of a certificate — by RSA-OAEP, or RSA-OAEP + AES-KWP
(Block Cipher Mode AES Key Wrap Padding, or automatically when the key is
too long for one OAEP block).  Unwrapping uses the matching private key
(the public key's Private Key Link) with Unwrap Key usage.

Register of a wrapped block: it is unwrapped with the key the server holds,
checked like any other key, and stored in the clear (one canonical form);
the block as registered is kept beside it so that a Get with Key Wrap Type
As Registered returns it byte for byte.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

import ttlv
from kmsd.crypto import certificates, wrap
from kmsd.kmip import tags
from kmsd.kmip.enums import (
    BlockCipherMode,
    CryptographicUsageMask,
    EncodingOption,
    HashingAlgorithm,
    LinkType,
    ObjectType,
    PaddingMethod,
    ResultReason,
    State,
    WrappingMethod,
)
from kmsd.kmip.errors import KmipError, invalid_field, missing
from ttlv import Item, ItemType

from . import objects
from .context import Context
from .keyblock import material_of

HASH_NAMES = {
    HashingAlgorithm.SHA_1: "SHA-1",
    HashingAlgorithm.SHA_224: "SHA-224",
    HashingAlgorithm.SHA_256: "SHA-256",
    HashingAlgorithm.SHA_384: "SHA-384",
    HashingAlgorithm.SHA_512: "SHA-512",
}
DEFAULT_OAEP_HASH = HashingAlgorithm.SHA_256
AES = 0x00000003  # Cryptographic Algorithm AES
RSA = 0x00000004  # Cryptographic Algorithm RSA
WRAPPABLE = frozenset(
    {
        ObjectType.SYMMETRIC_KEY,
        ObjectType.PRIVATE_KEY,
        ObjectType.PUBLIC_KEY,
        ObjectType.SECRET_DATA,
        ObjectType.SPLIT_KEY,
    }
)


# -- the wrapping key ---------------------------------------------------------------------
def _wrapping_object(ctx: Context, info: Item, *, unwrap: bool) -> objects.ManagedObject:
    uid = info.get(tags.UniqueIdentifier)
    if not isinstance(uid, str):
        raise missing("Unique Identifier of the wrapping key")
    try:
        mo = objects.load(ctx, uid, "get")
    except KmipError:
        raise KmipError(ResultReason.WRAPPING_OBJECT_NOT_FOUND, f"wrapping key {uid} not found") from None
    if mo.obj is None:
        raise KmipError(ResultReason.WRAPPING_OBJECT_DESTROYED, f"wrapping key {uid} has been destroyed")
    if mo.state not in (State.ACTIVE,) and not unwrap:
        raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, f"wrapping key {uid} is not Active")
    return mo


def _require_usage(mo: objects.ManagedObject, bit: CryptographicUsageMask, also: int = 0) -> None:
    mask = mo.get(tags.CryptographicUsageMask)
    if not isinstance(mask, int) or not mask & (bit | also):
        raise KmipError(
            ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK,
            f"key {mo.uid} does not have the {bit.name} usage",
        )


def _params(info: Item, mo: objects.ManagedObject) -> Item | None:
    found = info.find(tags.CryptographicParameters)
    if found is not None:
        return found
    stored = mo.get(tags.CryptographicParameters)
    return Item(tags.CryptographicParameters, ItemType.STRUCTURE, stored) if isinstance(stored, tuple) else None


def _symmetric_key(mo: objects.ManagedObject) -> bytes:
    assert mo.obj is not None
    block = mo.obj.find(tags.KeyBlock)
    if block is None:
        raise missing("Key Block of the wrapping key")
    if block.get(tags.CryptographicAlgorithm) != AES:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"wrapping key {mo.uid} is not an AES key")
    material, _ = material_of(block)
    return material


def _mode(params: Item | None) -> int | None:
    mode = params.get(tags.BlockCipherMode) if params is not None else None
    return mode if isinstance(mode, int) else None


def _hash(params: Item | None) -> HashingAlgorithm:
    value = params.get(tags.HashingAlgorithm) if params is not None else None
    if value is None:
        return DEFAULT_OAEP_HASH
    for algorithm in HASH_NAMES:
        if algorithm == value:
            return algorithm
    raise KmipError(ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS, f"RSA-OAEP hash {value!r} is not supported")


def _rsa_public(ctx: Context, mo: objects.ManagedObject) -> rsa.RSAPublicKey:
    from .asymkeys import read_block

    assert mo.obj is not None
    if mo.object_type == ObjectType.CERTIFICATE:
        cert: x509.Certificate = certificates.load(mo.obj)[0]
        key = cert.public_key()
    else:
        key = read_block(ObjectType.PUBLIC_KEY, mo.obj)[0]  # type: ignore[assignment]
    if not isinstance(key, rsa.RSAPublicKey):
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"wrapping key {mo.uid} is not an RSA key")
    ctx.policy.check_rsa(key.key_size)
    return key


def _rsa_private(ctx: Context, mo: objects.ManagedObject) -> rsa.RSAPrivateKey:
    from .asymkeys import read_block

    if mo.object_type in (ObjectType.PUBLIC_KEY, ObjectType.CERTIFICATE):
        link = next(
            (
                a.get(tags.LinkedObjectIdentifier)
                for a in mo.attrs
                if a.tag == tags.Link and a.get(tags.LinkType) == LinkType.PRIVATE_KEY_LINK
            ),
            None,
        )
        if not isinstance(link, str):
            raise KmipError(ResultReason.WRAPPING_OBJECT_NOT_FOUND, f"no private key is linked to {mo.uid}")
        mo = objects.load(ctx, link, "get")
        if mo.obj is None:
            raise KmipError(ResultReason.WRAPPING_OBJECT_DESTROYED, f"unwrapping key {link} has been destroyed")
    if mo.object_type != ObjectType.PRIVATE_KEY:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"key {mo.uid} cannot unwrap")
    _require_usage(mo, CryptographicUsageMask.UNWRAP_KEY)
    assert mo.obj is not None
    key = read_block(ObjectType.PRIVATE_KEY, mo.obj)[0]
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"unwrapping key {mo.uid} is not an RSA key")
    return key


# -- Get: wrap ------------------------------------------------------------------------------
def wrap_object(ctx: Context, mo: objects.ManagedObject, obj: Item, spec: Item) -> Item:
    """``obj`` (a key object in the clear) with its Key Block wrapped as ``spec`` says."""
    if mo.object_type not in WRAPPABLE:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"a {mo.object_type.name} cannot be wrapped")
    method = spec.get(tags.WrappingMethod)
    if method != WrappingMethod.ENCRYPT:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "only the Encrypt wrapping method is supported")
    info = spec.find(tags.EncryptionKeyInformation)
    if info is None:
        raise missing("Encryption Key Information")
    if spec.find(tags.MACSignatureKeyInformation) is not None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "MAC/Signature wrapping is not supported")
    block = obj.find(tags.KeyBlock)
    if block is None:
        raise missing("Key Block")
    given_encoding = spec.get(tags.EncodingOption)
    encoding = given_encoding if isinstance(given_encoding, int) else EncodingOption.TTLV_ENCODING
    value = block.find(tags.KeyValue)
    if value is None:
        raise KmipError(ResultReason.KEY_VALUE_NOT_PRESENT, f"object {mo.uid} has no Key Value")
    names = [n for n in spec.find_all(tags.AttributeName) if isinstance(n.value, str)]
    if encoding == EncodingOption.NO_ENCODING:
        material = value.find(tags.KeyMaterial) if value.type is ItemType.STRUCTURE else value
        if material is None or not isinstance(material.value, bytes):
            raise KmipError(ResultReason.ENCODING_OPTION_ERROR, "structured Key Material needs TTLV encoding")
        plaintext = material.value
    elif encoding == EncodingOption.TTLV_ENCODING:
        attrs = tuple(a for a in mo.attrs if _named(a, names))
        plaintext = ttlv.encode(Item(tags.KeyValue, ItemType.STRUCTURE, (*value.children, *attrs)))
    else:
        raise KmipError(ResultReason.ENCODING_OPTION_ERROR, f"unknown Encoding Option {encoding!r}")

    wrapper = _wrapping_object(ctx, info, unwrap=False)
    if wrapper.uid == mo.uid:
        raise invalid_field("a key cannot wrap itself")
    params = _params(info, wrapper)
    used: list[Item] = []
    if wrapper.object_type == ObjectType.SYMMETRIC_KEY:
        _require_usage(wrapper, CryptographicUsageMask.WRAP_KEY)
        kek = _symmetric_key(wrapper)
        mode = _mode(params)
        if mode is None:
            mode = BlockCipherMode.NISTKEYWRAP if len(plaintext) % 8 == 0 and len(plaintext) >= 16 else None
            mode = mode or BlockCipherMode.AESKEYWRAPPADDING
        if mode == BlockCipherMode.NISTKEYWRAP:
            wrapped = wrap.aes_key_wrap(kek, plaintext)
        elif mode == BlockCipherMode.AESKEYWRAPPADDING:
            wrapped = wrap.aes_key_wrap_pad(kek, plaintext)
        else:
            raise KmipError(ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS, f"Block Cipher Mode {mode} cannot wrap keys")
        used.append(Item(tags.BlockCipherMode, ItemType.ENUMERATION, int(mode)))
    elif wrapper.object_type in (ObjectType.PUBLIC_KEY, ObjectType.CERTIFICATE):
        if wrapper.object_type == ObjectType.PUBLIC_KEY:
            _require_usage(wrapper, CryptographicUsageMask.WRAP_KEY)
        public = _rsa_public(ctx, wrapper)
        hashing = _hash(params)
        name = HASH_NAMES[hashing]
        mode = _mode(params)
        if mode is None and len(plaintext) > wrap.oaep_capacity(public, name):
            mode = BlockCipherMode.AESKEYWRAPPADDING
        if mode == BlockCipherMode.AESKEYWRAPPADDING:
            wrapped = wrap.rsa_aes_kwp_wrap(public, plaintext, name)
            used.append(Item(tags.BlockCipherMode, ItemType.ENUMERATION, int(mode)))
        else:
            wrapped = wrap.rsa_oaep_wrap(public, plaintext, name)
        used.append(Item(tags.PaddingMethod, ItemType.ENUMERATION, int(PaddingMethod.OAEP)))
        used.append(Item(tags.HashingAlgorithm, ItemType.ENUMERATION, int(hashing)))
    else:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"a {wrapper.object_type.name} cannot wrap keys")

    info_out = Item(
        tags.EncryptionKeyInformation,
        ItemType.STRUCTURE,
        (
            Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, wrapper.uid),
            params if params is not None else Item(tags.CryptographicParameters, ItemType.STRUCTURE, tuple(used)),
        ),
    )
    kwd: list[Item] = [Item(tags.WrappingMethod, ItemType.ENUMERATION, int(WrappingMethod.ENCRYPT)), info_out]
    if spec.get(tags.EncodingOption) is not None:
        kwd.append(Item(tags.EncodingOption, ItemType.ENUMERATION, int(encoding)))
    wrapped_value = Item(tags.KeyValue, ItemType.BYTE_STRING, wrapped)
    registered = _registered(mo.obj) if mo.obj is not None else None
    registered_value = registered.find(tags.KeyValue) if registered is not None else None
    if registered_value is not None and registered_value.type is ItemType.STRUCTURE:
        # The client registered its wrapped key as Key Value { Key Material }
        # (a 1.x form): answer in the shape it uses.
        wrapped_value = Item(
            tags.KeyValue, ItemType.STRUCTURE, (Item(tags.KeyMaterial, ItemType.BYTE_STRING, wrapped),)
        )
    new_block = _replace_value(block, wrapped_value)
    new_block = Item(
        tags.KeyBlock,
        ItemType.STRUCTURE,
        (*new_block.children, Item(tags.KeyWrappingData, ItemType.STRUCTURE, tuple(kwd))),
    )
    return Item(obj.tag, ItemType.STRUCTURE, tuple(new_block if c.tag == tags.KeyBlock else c for c in obj.children))


def _named(attr: Item, names: list[Item]) -> bool:
    from ttlv import REGISTRY

    name = REGISTRY.tag_name(attr.tag) or ""
    wanted = {str(n.value).replace(" ", "").replace("-", "").lower() for n in names}
    return name.replace(" ", "").replace("-", "").lower() in wanted


def _replace_value(block: Item, value: Item) -> Item:
    return Item(
        tags.KeyBlock, ItemType.STRUCTURE, tuple(value if c.tag == tags.KeyValue else c for c in block.children)
    )


# -- Register: unwrap -------------------------------------------------------------------------
def unwrap_block(ctx: Context, block: Item) -> Item:
    """A wrapped Key Block, unwrapped with a key the server holds (nothing is
    stored here: a failure leaves the store as it was)."""
    kwd = block.find(tags.KeyWrappingData)
    assert kwd is not None
    if kwd.get(tags.WrappingMethod) != WrappingMethod.ENCRYPT:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "only the Encrypt wrapping method is supported")
    info = kwd.find(tags.EncryptionKeyInformation)
    if info is None:
        raise missing("Encryption Key Information")
    if kwd.find(tags.MACSignatureKeyInformation) is not None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "MAC/Signature wrapping is not supported")
    value = block.find(tags.KeyValue)
    if value is not None and value.type is ItemType.STRUCTURE:
        value = value.find(tags.KeyMaterial)  # 1.x cases carry it as the Key Material of a Key Value
    wrapped = value.value if value is not None else None
    if not isinstance(wrapped, bytes):
        raise invalid_field("a wrapped Key Block carries its Key Value as a Byte String")
    wrapper = _wrapping_object(ctx, info, unwrap=True)
    params = _params(info, wrapper)
    if wrapper.object_type == ObjectType.SYMMETRIC_KEY:
        # The 1.4 test cases register keys wrapped under a Wrap Key-only KEK: the
        # server taking in a key it wrapped itself is accepted as well.
        _require_usage(wrapper, CryptographicUsageMask.UNWRAP_KEY, CryptographicUsageMask.WRAP_KEY)
        kek = _symmetric_key(wrapper)
        mode = _mode(params) or BlockCipherMode.NISTKEYWRAP
        if mode == BlockCipherMode.NISTKEYWRAP:
            plaintext = wrap.aes_key_unwrap(kek, wrapped)
        elif mode == BlockCipherMode.AESKEYWRAPPADDING:
            plaintext = wrap.aes_key_unwrap_pad(kek, wrapped)
        else:
            raise KmipError(ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS, f"Block Cipher Mode {mode} cannot unwrap keys")
    elif wrapper.object_type in (ObjectType.PUBLIC_KEY, ObjectType.PRIVATE_KEY, ObjectType.CERTIFICATE):
        private = _rsa_private(ctx, wrapper)
        name = HASH_NAMES[_hash(params)]
        if _mode(params) == BlockCipherMode.AESKEYWRAPPADDING:
            plaintext = wrap.rsa_aes_kwp_unwrap(private, wrapped, name)
        else:
            plaintext = wrap.rsa_oaep_unwrap(private, wrapped, name)
    else:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"a {wrapper.object_type.name} cannot unwrap keys")

    encoding = kwd.get(tags.EncodingOption)
    if encoding == EncodingOption.NO_ENCODING:
        clear = Item(tags.KeyValue, ItemType.STRUCTURE, (Item(tags.KeyMaterial, ItemType.BYTE_STRING, plaintext),))
    else:
        try:
            clear = ttlv.decode(plaintext)
        except Exception:  # any parse failure is the client's bad data
            raise KmipError(ResultReason.ENCODING_OPTION_ERROR, "the unwrapped Key Value is not TTLV") from None
        if clear.tag != tags.KeyValue:
            raise KmipError(ResultReason.ENCODING_OPTION_ERROR, "the unwrapped TTLV is not a Key Value")
        # Attributes wrapped with the key are not applied: keep the Key Material.
        clear = Item(tags.KeyValue, ItemType.STRUCTURE, tuple(c for c in clear.children if c.tag == tags.KeyMaterial))
    children = tuple(c for c in _replace_value(block, clear).children if c.tag != tags.KeyWrappingData)
    return Item(tags.KeyBlock, ItemType.STRUCTURE, children)


# -- the registered form --------------------------------------------------------------------
def keep_registered(obj: Item, registered_block: Item) -> Item:
    """The stored object with the block as registered kept beside the clear one
    (an internal child, never sent: see :func:`strip` and :func:`as_registered`)."""
    return Item(
        obj.tag,
        ItemType.STRUCTURE,
        (*obj.children, Item(tags.KeyWrappingData, ItemType.STRUCTURE, (registered_block,))),
    )


def _registered(obj: Item) -> Item | None:
    side = next((c for c in obj.children if c.tag == tags.KeyWrappingData), None)
    return side.find(tags.KeyBlock) if side is not None else None


def strip(obj: Item) -> Item:
    return Item(obj.tag, ItemType.STRUCTURE, tuple(c for c in obj.children if c.tag != tags.KeyWrappingData))


def as_registered(obj: Item) -> Item:
    registered = _registered(obj)
    clean = strip(obj)
    if registered is None:
        return clean
    return Item(obj.tag, ItemType.STRUCTURE, tuple(registered if c.tag == tags.KeyBlock else c for c in clean.children))


def registered_block(supplied: Item) -> Item | None:
    """The Key Block of a Register request's object when it is wrapped."""
    block = supplied.find(tags.KeyBlock)
    return block if block is not None and block.find(tags.KeyWrappingData) is not None else None


def with_block(obj: Item, block: Item) -> Item:
    return Item(obj.tag, ItemType.STRUCTURE, tuple(block if c.tag == tags.KeyBlock else c for c in obj.children))
