"""Key Blocks: build them, read their material, convert between formats."""

from __future__ import annotations

from kmsd.kmip import tags
from kmsd.kmip.enums import KeyFormatType, ResultReason
from kmsd.kmip.errors import KmipError, invalid_field
from ttlv import Item, ItemType

OBJECT_TAGS = {
    "Symmetric Key": "SymmetricKey",
    "Secret Data": "SecretData",
    "Opaque Object": "OpaqueObject",
    "Public Key": "PublicKey",
    "Private Key": "PrivateKey",
    "Certificate": "Certificate",
    "Split Key": "SplitKey",
    "Template": "Template",
    "PGP Key": "PGPKey",
    "Certificate Request": "CertificateRequest",
}


def key_block(material: bytes, key_format: KeyFormatType, algorithm: int | None, length: int | None) -> Item:
    if key_format == KeyFormatType.TRANSPARENT_SYMMETRIC_KEY:
        key_material = Item(tags.KeyMaterial, ItemType.STRUCTURE, (Item(tags.Key, ItemType.BYTE_STRING, material),))
    else:
        key_material = Item(tags.KeyMaterial, ItemType.BYTE_STRING, material)
    children = [
        Item(tags.KeyFormatType, ItemType.ENUMERATION, int(key_format)),
        Item(tags.KeyValue, ItemType.STRUCTURE, (key_material,)),
    ]
    if algorithm is not None:
        children.append(Item(tags.CryptographicAlgorithm, ItemType.ENUMERATION, algorithm))
    if length is not None:
        children.append(Item(tags.CryptographicLength, ItemType.INTEGER, length))
    return Item(tags.KeyBlock, ItemType.STRUCTURE, tuple(children))


def material_of(block: Item) -> tuple[bytes, KeyFormatType]:
    """The raw bytes of a (non-wrapped) key block, and the format they were in."""
    fmt = block.get(tags.KeyFormatType)
    if not isinstance(fmt, int):
        raise invalid_field("Key Block without a Key Format Type")
    if block.find(tags.KeyWrappingData) is not None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "wrapped key blocks are not supported yet")
    value = block.find(tags.KeyValue)
    if value is None:
        raise invalid_field("Key Block without a Key Value")
    km = value.find(tags.KeyMaterial) if value.type is ItemType.STRUCTURE else value
    if km is None:
        raise invalid_field("Key Value without Key Material")
    if km.type is ItemType.BYTE_STRING and isinstance(km.value, bytes):
        return km.value, _format(fmt)
    if km.type is ItemType.STRUCTURE:
        key = km.get(tags.Key)
        if isinstance(key, bytes) and fmt == KeyFormatType.TRANSPARENT_SYMMETRIC_KEY:
            return key, KeyFormatType.TRANSPARENT_SYMMETRIC_KEY
    raise KmipError(ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, f"key format {fmt:#x} is not supported here")


def _format(value: int) -> KeyFormatType:
    try:
        return KeyFormatType(value)
    except ValueError:
        raise KmipError(ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, f"unknown key format {value:#x}") from None
