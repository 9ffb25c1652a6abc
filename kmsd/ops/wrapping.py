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

Wrapping Methods: Encrypt; MAC/sign, Encrypt then MAC/sign and MAC/sign
then encrypt, whose MAC/signature half is :mod:`kmsd.ops.wrap_mac`; TR-31 is
not supported (Feature Not Supported).

Register (and Import) of a wrapped block: it is unwrapped with the key the
server holds and checked like any other key, then *kept as registered*
(KMIP 2.1 Import: "Otherwise the server SHALL store the object as
provided"): the store holds the wrapped block, and the server unwraps it
again in memory whenever it needs the key (:class:`kmsd.ops.objects.ManagedObject`).
Get and Export (Key Wrap Type, KMIP 1.4 section 4.11, 2.1 section 6.1.19)
return it as registered unless the client asks Key Wrap Type Not Wrapped or
gives a Key Wrapping Specification — the spec names no default, and "as
registered" is the one that never hands out more than the client gave.  In
2.x, the registered object gets a Wrapping Key Link to the key that wrapped
it (2.1 section 6.1.43).
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
    KeyWrapType,
    LinkType,
    ObjectType,
    PaddingMethod,
    ResultReason,
    State,
    WrappingMethod,
)
from kmsd.kmip.errors import KmipError, invalid_field, missing
from ttlv import Item, ItemType

from . import objects, wrap_mac
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
def _loader(ctx: Context, internal: bool) -> wrap_mac.Loader:
    """Loads the keys a wrapping uses: with the caller's "get" right, or
    (``internal``: the server unwrapping a key it keeps as registered) without."""

    def load(uid: str) -> objects.ManagedObject:
        if internal:
            found = objects.load_internal(ctx, uid)
        else:
            try:
                found = objects.load(ctx, uid, "get")
            except KmipError:
                found = None
        if found is None:
            raise KmipError(ResultReason.WRAPPING_OBJECT_NOT_FOUND, f"wrapping key {uid} not found")
        if not found.has_object:
            raise KmipError(ResultReason.WRAPPING_OBJECT_DESTROYED, f"wrapping key {uid} has been destroyed")
        return found

    return load


def _wrapping_object(ctx: Context, info: Item, *, unwrap: bool, internal: bool = False) -> objects.ManagedObject:
    uid = info.get(tags.UniqueIdentifier)
    if not isinstance(uid, str):
        raise missing("Unique Identifier of the wrapping key")
    mo = _loader(ctx, internal)(uid)
    if mo.state not in (State.ACTIVE,) and not unwrap:
        raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, f"wrapping key {uid} is not Active")
    return mo


_require_usage = wrap_mac.require_usage


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


def _rsa_private(ctx: Context, mo: objects.ManagedObject, load: wrap_mac.Loader) -> rsa.RSAPrivateKey:
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
        mo = load(link)
    if mo.object_type != ObjectType.PRIVATE_KEY:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"key {mo.uid} cannot unwrap")
    _require_usage(mo, CryptographicUsageMask.UNWRAP_KEY)
    assert mo.obj is not None
    key = read_block(ObjectType.PRIVATE_KEY, mo.obj)[0]
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"unwrapping key {mo.uid} is not an RSA key")
    return key


# -- the Wrapping Method ------------------------------------------------------------------------
#: Which key informations each Wrapping Method takes: (encryption, MAC/signature).
METHODS: dict[int, tuple[bool, bool]] = {
    WrappingMethod.ENCRYPT: (True, False),
    WrappingMethod.MAC_SIGN: (False, True),
    WrappingMethod.ENCRYPT_THEN_MAC_SIGN: (True, True),
    WrappingMethod.MAC_SIGN_THEN_ENCRYPT: (True, True),
}


def _method(item: Item) -> tuple[WrappingMethod, Item | None, Item | None]:
    """The Wrapping Method of a Key Wrapping Specification or Key Wrapping
    Data, and its Encryption / MAC/Signature Key Information, checked."""
    value = item.get(tags.WrappingMethod)
    if value is None:
        raise missing("Wrapping Method")
    if value == WrappingMethod.TR_31:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "the TR-31 wrapping method is not supported")
    if not isinstance(value, int) or value not in METHODS:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, f"Wrapping Method {value!r} is not supported")
    method = WrappingMethod(value)
    enc, mac = item.find(tags.EncryptionKeyInformation), item.find(tags.MACSignatureKeyInformation)
    needs_enc, needs_mac = METHODS[method]
    if needs_enc and enc is None:
        raise missing(f"Encryption Key Information (Wrapping Method {method.name})")
    if needs_mac and mac is None:
        raise missing(f"MAC/Signature Key Information (Wrapping Method {method.name})")
    if (enc is not None and not needs_enc) or (mac is not None and not needs_mac):
        unused = "Encryption" if enc is not None and not needs_enc else "MAC/Signature"
        raise invalid_field(f"Wrapping Method {method.name} takes no {unused} Key Information")
    return method, enc, mac


# -- Get: wrap ------------------------------------------------------------------------------
def wrap_object(ctx: Context, mo: objects.ManagedObject, obj: Item, spec: Item) -> Item:
    """``obj`` (a key object in the clear) with its Key Block wrapped as ``spec`` says."""
    if mo.object_type not in WRAPPABLE:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"a {mo.object_type.name} cannot be wrapped")
    method, enc_info, mac_info = _method(spec)
    if method == WrappingMethod.MAC_SIGN and mo.get(tags.Sensitive) is True:
        # MAC/sign alone protects integrity, not secrecy: the key would leave in the clear.
        raise KmipError(ResultReason.SENSITIVE, f"object {mo.uid} is sensitive: wrap it with an encryption key")
    block = obj.find(tags.KeyBlock)
    if block is None:
        raise missing("Key Block")
    encoding, plaintext = _plaintext(mo, block, spec)

    kwd: list[Item] = [Item(tags.WrappingMethod, ItemType.ENUMERATION, int(method))]
    signature = b""
    if method == WrappingMethod.MAC_SIGN_THEN_ENCRYPT:
        assert mac_info is not None
        signature, mac_out = _authenticate(ctx, mo, mac_info, plaintext)
    wrapped = plaintext
    if enc_info is not None:
        wrapped, enc_out = _encrypt(ctx, mo, enc_info, plaintext)
        kwd.append(enc_out)
    if method in (WrappingMethod.MAC_SIGN, WrappingMethod.ENCRYPT_THEN_MAC_SIGN):
        assert mac_info is not None
        signature, mac_out = _authenticate(ctx, mo, mac_info, wrapped)
    if mac_info is not None:
        kwd += [mac_out, Item(tags.MACSignature, ItemType.BYTE_STRING, signature)]
    if spec.get(tags.EncodingOption) is not None:
        kwd.append(Item(tags.EncodingOption, ItemType.ENUMERATION, int(encoding)))
    wrapped_value = Item(tags.KeyValue, ItemType.BYTE_STRING, wrapped)
    registered_value = mo.registered.find(tags.KeyValue) if mo.registered is not None else None
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


def _plaintext(mo: objects.ManagedObject, block: Item, spec: Item) -> tuple[int, bytes]:
    """The Encoding Option and the bytes it says to wrap."""
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
        return encoding, material.value
    if encoding == EncodingOption.TTLV_ENCODING:
        attrs = tuple(a for a in mo.attrs if _named(a, names))
        return encoding, ttlv.encode(Item(tags.KeyValue, ItemType.STRUCTURE, (*value.children, *attrs)))
    raise KmipError(ResultReason.ENCODING_OPTION_ERROR, f"unknown Encoding Option {encoding!r}")


def _encrypt(ctx: Context, mo: objects.ManagedObject, info: Item, plaintext: bytes) -> tuple[bytes, Item]:
    """The wrapped bytes, and the Encryption Key Information that says how."""
    if info.get(tags.UniqueIdentifier) == mo.uid:
        raise invalid_field("a key cannot wrap itself")
    wrapper = _wrapping_object(ctx, info, unwrap=False)
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
    return wrapped, info_out


def _authenticate(ctx: Context, mo: objects.ManagedObject, info: Item, data: bytes) -> tuple[bytes, Item]:
    """The MAC/signature of ``data``, and the MAC/Signature Key Information that says how."""
    if info.get(tags.UniqueIdentifier) == mo.uid:
        raise invalid_field("a key cannot MAC or sign itself")
    key = _wrapping_object(ctx, info, unwrap=False)
    params = _params(info, key)
    signature = wrap_mac.authenticate(ctx, key, params, data, _loader(ctx, False))
    uid = Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, key.uid)
    info_out = Item(tags.MACSignatureKeyInformation, ItemType.STRUCTURE, (uid, params) if params else (uid,))
    return signature, info_out


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
def unwrap_block(ctx: Context, block: Item, *, internal: bool = False) -> Item:
    """A wrapped Key Block, unwrapped (and its MAC/signature checked) with
    keys the server holds.  Nothing is stored here: a failure leaves the
    store as it was.  ``internal``: the server unwrapping a key it keeps as
    registered, for use (the caller's rights on the wrapping key do not matter)."""
    kwd = block.find(tags.KeyWrappingData)
    assert kwd is not None
    method, enc_info, mac_info = _method(kwd)
    value = block.find(tags.KeyValue)
    if value is not None and value.type is ItemType.STRUCTURE:
        value = value.find(tags.KeyMaterial)  # 1.x cases carry it as the Key Material of a Key Value
    wrapped = value.value if value is not None else None
    if not isinstance(wrapped, bytes):
        raise invalid_field("a wrapped Key Block carries its Key Value as a Byte String")
    given = kwd.get(tags.MACSignature)
    signature = given if isinstance(given, bytes) else None
    if method in (WrappingMethod.MAC_SIGN, WrappingMethod.ENCRYPT_THEN_MAC_SIGN):
        assert mac_info is not None
        _check(ctx, mac_info, wrapped, signature, internal)  # before anything is decrypted
    plaintext = _decrypt(ctx, enc_info, wrapped, internal) if enc_info is not None else wrapped
    if method == WrappingMethod.MAC_SIGN_THEN_ENCRYPT:
        assert mac_info is not None
        _check(ctx, mac_info, plaintext, signature, internal)

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


def _decrypt(ctx: Context, info: Item, wrapped: bytes, internal: bool) -> bytes:
    wrapper = _wrapping_object(ctx, info, unwrap=True, internal=internal)
    params = _params(info, wrapper)
    if wrapper.object_type == ObjectType.SYMMETRIC_KEY:
        # The 1.4 test cases register keys wrapped under a Wrap Key-only KEK: the
        # server taking in a key it wrapped itself is accepted as well.
        _require_usage(wrapper, CryptographicUsageMask.UNWRAP_KEY, CryptographicUsageMask.WRAP_KEY)
        kek = _symmetric_key(wrapper)
        mode = _mode(params) or BlockCipherMode.NISTKEYWRAP
        if mode == BlockCipherMode.NISTKEYWRAP:
            return wrap.aes_key_unwrap(kek, wrapped)
        if mode == BlockCipherMode.AESKEYWRAPPADDING:
            return wrap.aes_key_unwrap_pad(kek, wrapped)
        raise KmipError(ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS, f"Block Cipher Mode {mode} cannot unwrap keys")
    if wrapper.object_type in (ObjectType.PUBLIC_KEY, ObjectType.PRIVATE_KEY, ObjectType.CERTIFICATE):
        private = _rsa_private(ctx, wrapper, _loader(ctx, internal))
        name = HASH_NAMES[_hash(params)]
        if _mode(params) == BlockCipherMode.AESKEYWRAPPADDING:
            return wrap.rsa_aes_kwp_unwrap(private, wrapped, name)
        return wrap.rsa_oaep_unwrap(private, wrapped, name)
    raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"a {wrapper.object_type.name} cannot unwrap keys")


def _check(ctx: Context, info: Item, data: bytes, signature: bytes | None, internal: bool) -> None:
    key = _wrapping_object(ctx, info, unwrap=True, internal=internal)
    wrap_mac.check(ctx, key, _params(info, key), data, signature)


# -- the registered form --------------------------------------------------------------------
def keep_registered(obj: Item, registered_block: Item) -> Item:
    """The object to store for a key registered wrapped: ``obj`` (unwrapped)
    marked with the block as registered, which
    :class:`~kmsd.ops.objects.ManagedObject` keeps instead of the clear one."""
    return Item(
        obj.tag,
        ItemType.STRUCTURE,
        (*obj.children, Item(tags.KeyWrappingData, ItemType.STRUCTURE, (registered_block,))),
    )


def strip(obj: Item) -> Item:
    return Item(obj.tag, ItemType.STRUCTURE, tuple(c for c in obj.children if c.tag != tags.KeyWrappingData))


def keeps_registered(mo: objects.ManagedObject, payload: Item) -> bool:
    """Whether Get/Export answer with the object as registered (wrapped):
    it was registered wrapped, and the request asks neither Key Wrap Type
    Not Wrapped nor another wrapping (a Key Wrapping Specification)."""
    wrap_type = payload.get(tags.KeyWrapType)
    if wrap_type is not None and wrap_type not in (KeyWrapType.NOT_WRAPPED, KeyWrapType.AS_REGISTERED):
        raise KmipError(ResultReason.KEY_WRAP_TYPE_NOT_SUPPORTED, f"Key Wrap Type {wrap_type!r} is not supported")
    if payload.find(tags.KeyWrappingSpecification) is not None or wrap_type == KeyWrapType.NOT_WRAPPED:
        return False
    return mo.registered is not None


def registered_object(mo: objects.ManagedObject, wanted_format: object) -> Item:
    """The object as registered, wrapped (read without unwrapping it)."""
    stored = mo.stored
    assert stored is not None
    block = stored.find(tags.KeyBlock)
    if isinstance(wanted_format, int) and block is not None and block.get(tags.KeyFormatType) != wanted_format:
        raise KmipError(
            ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED,
            f"object {mo.uid} is kept wrapped as registered: ask Key Wrap Type Not Wrapped to convert it",
        )
    return stored


def registered_block(supplied: Item) -> Item | None:
    """The Key Block of a Register request's object when it is wrapped."""
    block = supplied.find(tags.KeyBlock)
    return block if block is not None and block.find(tags.KeyWrappingData) is not None else None


def wrapping_key_link(ctx: Context, block: Item) -> tuple[Item, ...]:
    """2.x: the Wrapping Key Link a registered wrapped object gets, to the key
    that encrypted it (or MACed/signed it, when none did)."""
    kwd = block.find(tags.KeyWrappingData)
    if ctx.version < (2, 0) or kwd is None:
        return ()
    info = kwd.find(tags.EncryptionKeyInformation) or kwd.find(tags.MACSignatureKeyInformation)
    uid = info.get(tags.UniqueIdentifier) if info is not None else None
    if not isinstance(uid, str):
        return ()
    return (objects.link(LinkType.WRAPPING_KEY_LINK, uid),)


def with_block(obj: Item, block: Item) -> Item:
    return Item(obj.tag, ItemType.STRUCTURE, tuple(block if c.tag == tags.KeyBlock else c for c in obj.children))
