"""Public Key, Private Key, Certificate and PGP Key objects: build, register, convert.

Theory of operation: a key object is stored as a Key Block in ONE format —
the one it was registered in (re-encoded by ``cryptography``, so always
well-formed) or, for keys the server makes, the default of KMIP 2.1
Table 81 (PKCS#1 for RSA; PKCS#8 / X.509 for EC and the Edwards and
Montgomery keys, whose Transparent EC default no 1.0-1.2 client can read).
A Get without a Key Format Type returns exactly that; a Get that names one
converts through :mod:`kmsd.crypto.formats` on the fly.  The Digest is the
SHA-256 of the stored Key Material (of its TTLV encoding when it is a
structure), with the stored format named, as KMIP 2.1 section 4.14 says.

Everything is checked before anything is stored: the material parses as its
format, the Key Block's algorithm and length describe the key, and the
policy allows it.  Errors carry their Result Reason (see kmsd.crypto.errors).

Two kinds of key are kept without being read.  An encrypted PKCS#8 private
key (EncryptedPrivateKeyInfo, which KMIP's PKCS#8 format admits) has a
password the server never sees: it is stored byte for byte, described by the
algorithm and length its Key Block declares (both required, and asked of the
policy), returned as registered, and refused for conversion or use.  A PGP
Key is "an opaque blob" (KMIP 1.2 section 2.2.9, 2.1 section 2.4): its Key
Block (Raw, the RFC 4880 export) and PGP Key Version are kept as given.
"""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization

import ttlv
from kmsd.crypto import asymmetric, certificates, formats
from kmsd.crypto.asymmetric import KeySpec, Kind, PrivateKey, PublicKey
from kmsd.crypto.errors import MalformedMaterial
from kmsd.kmip import tags
from kmsd.kmip.enums import HashingAlgorithm, KeyFormatType, ObjectType, ResultReason, State
from kmsd.kmip.errors import KmipError, invalid_field, missing
from ttlv import Item, ItemType

from . import objects
from .context import Context
from .keyblock import key_block, material_of
from .newobject import initial_attributes, object_tag

ASYMMETRIC_TYPES = frozenset({ObjectType.PUBLIC_KEY, ObjectType.PRIVATE_KEY})


def default_formats(spec: KeySpec) -> tuple[KeyFormatType, KeyFormatType]:
    """(private, public) Key Format Types for a key the server generates."""
    if spec.kind is Kind.RSA:
        return KeyFormatType.PKCS_1, KeyFormatType.PKCS_1
    if spec.kind is Kind.DSA:  # KMIP 2.1 Table 81; Transparent DSA exists since 1.0
        return KeyFormatType.TRANSPARENT_DSA_PRIVATE_KEY, KeyFormatType.TRANSPARENT_DSA_PUBLIC_KEY
    return KeyFormatType.PKCS_8, KeyFormatType.X_509


def key_object(object_type: ObjectType, material: Item, fmt: int, algorithm: int, length: int) -> Item:
    block = Item(
        tags.KeyBlock,
        ItemType.STRUCTURE,
        (
            Item(tags.KeyFormatType, ItemType.ENUMERATION, int(fmt)),
            Item(tags.KeyValue, ItemType.STRUCTURE, (material,)),
            Item(tags.CryptographicAlgorithm, ItemType.ENUMERATION, int(algorithm)),
            Item(tags.CryptographicLength, ItemType.INTEGER, int(length)),
        ),
    )
    return Item(object_tag(object_type), ItemType.STRUCTURE, (block,))


def dump(key: PrivateKey | PublicKey, fmt: int) -> Item:
    if isinstance(key, formats.PRIVATE_TYPES):
        return formats.dump_private(key, fmt)
    assert isinstance(key, formats.PUBLIC_TYPES)
    return formats.dump_public(key, fmt)


def digest(material: Item, fmt: int) -> Item:
    data = material.value if isinstance(material.value, bytes) else ttlv.encode(material)
    return Item(
        tags.Digest,
        ItemType.STRUCTURE,
        (
            Item(tags.HashingAlgorithm, ItemType.ENUMERATION, int(HashingAlgorithm.SHA_256)),
            Item(tags.DigestValue, ItemType.BYTE_STRING, hashlib.sha256(data).digest()),
            Item(tags.KeyFormatType, ItemType.ENUMERATION, int(fmt)),
        ),
    )


def digests(object_type: ObjectType, key: PrivateKey | PublicKey, material: Item, fmt: int) -> tuple[Item, ...]:
    """KMIP 2.1 section 4.21: the Digest "SHALL have a mandatory attribute
    instance computed with the SHA-256 hashing algorithm and the default Key
    Value Format", and "an additional Digest attribute" for a non-default
    format the key is kept in."""
    private, public = default_formats(asymmetric.spec_of(key))
    default = private if object_type == ObjectType.PRIVATE_KEY else public
    if fmt == default:
        return (digest(material, fmt),)
    return (digest(material, fmt), digest(dump(key, default), default))


def key_attributes(attrs: tuple[Item, ...], algorithm: int, length: int) -> tuple[Item, ...]:
    """Cryptographic Algorithm and Length come from the key; a client value
    that contradicts them is refused."""
    attrs = _declared(attrs, tags.CryptographicAlgorithm, ItemType.ENUMERATION, algorithm)
    return _declared(attrs, tags.CryptographicLength, ItemType.INTEGER, length)


def read_block(
    object_type: ObjectType, obj: Item, *, supplied: bool = False
) -> tuple[PrivateKey | PublicKey, int, Item]:
    """The key in a Public/Private Key object, its format, and its Key Block.

    ``supplied``: the object comes from the client (Register, Import) and is
    checked in full; otherwise it is one the server stored after that check.
    """
    block, fmt, material = _parts(obj)
    alg, length = block.get(tags.CryptographicAlgorithm), block.get(tags.CryptographicLength)
    hint = formats.Hint(
        alg if isinstance(alg, int) else None, length if isinstance(length, int) else None, trusted=not supplied
    )
    key: PrivateKey | PublicKey
    if object_type == ObjectType.PRIVATE_KEY:
        key = formats.load_private(fmt, material, hint)
    else:
        key = formats.load_public(fmt, material, hint)
    return key, fmt, block


def _parts(obj: Item) -> tuple[Item, int, Item]:
    """A key object's (unwrapped) Key Block, Key Format Type and Key Material."""
    block = obj.find(tags.KeyBlock)
    if block is None or block.type is not ItemType.STRUCTURE:
        raise missing("Key Block")
    if block.find(tags.KeyWrappingData) is not None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "wrapped key blocks are not supported yet")
    fmt = block.get(tags.KeyFormatType)
    if not isinstance(fmt, int):
        raise missing("Key Format Type")
    value = block.find(tags.KeyValue)
    material = value.find(tags.KeyMaterial) if value is not None and value.type is ItemType.STRUCTURE else None
    if material is None:
        raise missing("Key Material")
    return block, fmt, material


def register_key(
    ctx: Context, object_type: ObjectType, supplied: Item, attrs: tuple[Item, ...]
) -> tuple[Item, tuple[Item, ...], tuple[Item, ...]]:
    """Register of a Public/Private Key: (object to store, client attributes
    completed with algorithm and length, server-set attributes)."""
    if object_type == ObjectType.PRIVATE_KEY:
        block, fmt, material = _parts(supplied)
        if fmt == KeyFormatType.PKCS_8 and formats.encrypted_pkcs8(material) is not None:
            return _register_unread(ctx, object_type, block, material, attrs)
    key, fmt, block = read_block(object_type, supplied, supplied=True)
    spec = asymmetric.spec_of(key)
    algorithm = block.get(tags.CryptographicAlgorithm)
    length = block.get(tags.CryptographicLength)
    if isinstance(algorithm, int):
        asymmetric.check_algorithm(spec, algorithm)
    else:
        algorithm = spec.algorithm
    if isinstance(length, int) and length != spec.bits:
        raise MalformedMaterial(f"Cryptographic Length {length} does not match the {spec.bits}-bit key")
    asymmetric.check_policy(ctx.policy, spec)
    material = dump(key, fmt)
    obj = key_object(object_type, material, fmt, algorithm, spec.bits)
    return obj, key_attributes(attrs, algorithm, spec.bits), digests(object_type, key, material, fmt)


def _register_unread(
    ctx: Context, object_type: ObjectType, block: Item, material: Item, attrs: tuple[Item, ...]
) -> tuple[Item, tuple[Item, ...], tuple[Item, ...]]:
    """An encrypted PKCS#8 key: kept as given, known by its Key Block alone."""
    algorithm = block.get(tags.CryptographicAlgorithm)
    length = block.get(tags.CryptographicLength)
    if not isinstance(algorithm, int) or not isinstance(length, int):
        raise MalformedMaterial(
            "an encrypted PKCS_8 key needs the Cryptographic Algorithm and Length in its Key Block "
            "(the server cannot read them from the key)"
        )
    asymmetric.check_declared(ctx.policy, algorithm, length)
    obj = key_object(object_type, material, KeyFormatType.PKCS_8, algorithm, length)
    return obj, key_attributes(attrs, algorithm, length), (digest(material, KeyFormatType.PKCS_8),)


def convert(object_type: ObjectType, obj: Item, wanted: int) -> Item:
    """The object with its key in format ``wanted`` (Get with a Key Format Type)."""
    if wanted == _parts(obj)[1]:
        return obj  # as stored: also the only form of a key the server cannot read
    key, _, block = read_block(object_type, obj)
    material = dump(key, wanted)
    alg, length = block.get(tags.CryptographicAlgorithm), block.get(tags.CryptographicLength)
    spec = asymmetric.spec_of(key)
    return key_object(
        object_type,
        material,
        wanted,
        alg if isinstance(alg, int) else spec.algorithm,
        length if isinstance(length, int) else spec.bits,
    )


def register_certificate(supplied: Item, attrs: tuple[Item, ...]) -> tuple[Item, tuple[Item, ...], tuple[Item, ...]]:
    """Register of a Certificate: (object, client attributes, server attributes).

    The certified key's algorithm and length become the certificate's
    Cryptographic Algorithm and Length (KMIP 1.0 section 3.4 applies them to
    certificates); the policy is not applied: a certificate is public data."""
    cert, der = certificates.load(supplied)
    spec = certificates.public_key_spec(cert)
    if spec is not None:
        attrs = key_attributes(attrs, spec.algorithm, spec.bits)
    data_digest = Item(
        tags.Digest,
        ItemType.STRUCTURE,
        (
            Item(tags.HashingAlgorithm, ItemType.ENUMERATION, int(HashingAlgorithm.SHA_256)),
            Item(tags.DigestValue, ItemType.BYTE_STRING, hashlib.sha256(der).digest()),
            Item(tags.KeyFormatType, ItemType.ENUMERATION, int(KeyFormatType.X_509)),
        ),
    )
    x509_format = Item(tags.KeyFormatType, ItemType.ENUMERATION, int(KeyFormatType.X_509))  # 2.x: the stored format
    server = (*certificates.attributes(cert, der), data_digest, x509_format)
    return certificates.certificate_object(der), attrs, server


# -- PGP Key ------------------------------------------------------------------------------------
#: RFC 4880 section 5.5.2 (versions 3 and 4, the two KMIP names) and RFC 9580
#: (version 6, its successor).
PGP_KEY_VERSIONS = frozenset({3, 4, 6})
#: An ASCII-armored key with many certifications stays far below this.
MAX_PGP_KEY_BYTES = 256 * 1024


def register_pgp_key(supplied: Item, attrs: tuple[Item, ...]) -> tuple[Item, bytes, tuple[Item, ...]]:
    """Register of a PGP Key: (object to store, its key bytes for the Digest,
    client attributes completed with the Key Block's algorithm and length).

    "KMIP implementers SHOULD treat the Key Block field as an opaque blob": the
    bytes are not parsed and the policy is not asked (the server performs no
    operation with a PGP Key, as with a certificate)."""
    version = supplied.get(tags.PGPKeyVersion)
    if version is None:
        raise missing("PGP Key Version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in PGP_KEY_VERSIONS:
        raise invalid_field(f"PGP Key Version must be one of {sorted(PGP_KEY_VERSIONS)}")
    block = supplied.find(tags.KeyBlock)
    if block is None or block.type is not ItemType.STRUCTURE:
        raise missing("Key Block")
    material, fmt = material_of(block)
    if fmt != KeyFormatType.RAW:
        raise KmipError(
            ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, "a PGP Key's Key Block holds its RFC 4880 export as Raw"
        )
    if not material:
        raise invalid_field("PGP Key with empty Key Material")
    if len(material) > MAX_PGP_KEY_BYTES:
        raise invalid_field(f"PGP Key Material of {len(material)} bytes exceeds {MAX_PGP_KEY_BYTES}")
    algorithm, length = block.get(tags.CryptographicAlgorithm), block.get(tags.CryptographicLength)
    algorithm = algorithm if isinstance(algorithm, int) else None
    length = length if isinstance(length, int) else None
    if length is not None and length <= 0:
        raise invalid_field("Cryptographic Length must be positive")
    obj = Item(
        tags.PGPKey,
        ItemType.STRUCTURE,
        (
            Item(tags.PGPKeyVersion, ItemType.INTEGER, version),
            key_block(material, KeyFormatType.RAW, algorithm, length),
        ),
    )
    if algorithm is not None:
        attrs = _declared(attrs, tags.CryptographicAlgorithm, ItemType.ENUMERATION, algorithm)
    if length is not None:
        attrs = _declared(attrs, tags.CryptographicLength, ItemType.INTEGER, length)
    return obj, material, attrs


def _declared(attrs: tuple[Item, ...], tag: int, kind: ItemType, value: int) -> tuple[Item, ...]:
    """The attribute from the Key Block: added, or refused when the client's contradicts it."""
    given = [a for a in attrs if a.tag == tag]
    if given and given[0].value != value:
        raise invalid_field("Cryptographic Algorithm/Length attribute contradicts the key")
    return attrs if given else (*attrs, Item(tag, kind, value))


def new_certificate(
    ctx: Context, cert: x509.Certificate, client: tuple[Item, ...], links: tuple[Item, ...] = ()
) -> objects.ManagedObject:
    """A Certificate object as Register would make it from ``cert`` (not yet stored)."""
    der = cert.public_bytes(serialization.Encoding.DER)
    obj, client, server = register_certificate(certificates.certificate_object(der), client)
    return objects.ManagedObject(
        uid=objects.new_uid(),
        object_type=ObjectType.CERTIFICATE,
        state=State.PRE_ACTIVE,
        owner=ctx.user,
        obj=obj,
        attrs=(*initial_attributes(ctx, client, None), *server, *links),
    )
