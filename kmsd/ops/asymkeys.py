"""Public Key, Private Key and Certificate objects: build, register, convert.

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
"""

from __future__ import annotations

import hashlib

import ttlv
from kmsd.crypto import asymmetric, certificates, formats
from kmsd.crypto.asymmetric import KeySpec, Kind, PrivateKey, PublicKey
from kmsd.crypto.errors import MalformedMaterial
from kmsd.kmip import tags
from kmsd.kmip.enums import HashingAlgorithm, KeyFormatType, ObjectType, ResultReason
from kmsd.kmip.errors import KmipError, invalid_field, missing
from ttlv import Item, ItemType

from .context import Context
from .newobject import object_tag

ASYMMETRIC_TYPES = frozenset({ObjectType.PUBLIC_KEY, ObjectType.PRIVATE_KEY})


def default_formats(spec: KeySpec) -> tuple[KeyFormatType, KeyFormatType]:
    """(private, public) Key Format Types for a key the server generates."""
    if spec.kind is Kind.RSA:
        return KeyFormatType.PKCS_1, KeyFormatType.PKCS_1
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


def key_attributes(attrs: tuple[Item, ...], algorithm: int, length: int) -> tuple[Item, ...]:
    """Cryptographic Algorithm and Length come from the key; a client value
    that contradicts them is refused."""
    out = list(attrs)
    for tag, value, kind in (
        (tags.CryptographicAlgorithm, algorithm, ItemType.ENUMERATION),
        (tags.CryptographicLength, length, ItemType.INTEGER),
    ):
        given = [a for a in attrs if a.tag == tag]
        if given and given[0].value != value:
            raise invalid_field("Cryptographic Algorithm/Length attribute contradicts the key")
        if not given:
            out.append(Item(tag, kind, value))
    return tuple(out)


def read_block(object_type: ObjectType, obj: Item) -> tuple[PrivateKey | PublicKey, int, Item]:
    """The key in a Public/Private Key object, its format, and its Key Block."""
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
    alg, length = block.get(tags.CryptographicAlgorithm), block.get(tags.CryptographicLength)
    hint = formats.Hint(alg if isinstance(alg, int) else None, length if isinstance(length, int) else None)
    key: PrivateKey | PublicKey
    if object_type == ObjectType.PRIVATE_KEY:
        key = formats.load_private(fmt, material, hint)
    else:
        key = formats.load_public(fmt, material, hint)
    return key, fmt, block


def register_key(
    ctx: Context, object_type: ObjectType, supplied: Item, attrs: tuple[Item, ...]
) -> tuple[Item, tuple[Item, ...], tuple[Item, ...]]:
    """Register of a Public/Private Key: (object to store, client attributes
    completed with algorithm and length, server-set attributes)."""
    key, fmt, block = read_block(object_type, supplied)
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
    return obj, key_attributes(attrs, algorithm, spec.bits), (digest(material, fmt),)


def convert(object_type: ObjectType, obj: Item, wanted: int) -> Item:
    """The object with its key in format ``wanted`` (Get with a Key Format Type)."""
    key, fmt, block = read_block(object_type, obj)
    if wanted == fmt:
        return obj
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
