"""What Create and Register share: the object item and the initial attributes."""

from __future__ import annotations

from kmsd.crypto import symmetric
from kmsd.kmip import tags
from kmsd.kmip.enums import KeyFormatType, ObjectType, ResultReason
from kmsd.kmip.errors import KmipError, missing
from ttlv import Item, ItemType

from .attribute_rules import check_initial
from .context import Context
from .keyblock import key_block

KEY_OBJECTS = {
    ObjectType.SYMMETRIC_KEY: "SymmetricKey",
    ObjectType.SECRET_DATA: "SecretData",
    ObjectType.PUBLIC_KEY: "PublicKey",
    ObjectType.PRIVATE_KEY: "PrivateKey",
    ObjectType.SPLIT_KEY: "SplitKey",
}
OBJECT_TAG_NAMES = {
    **KEY_OBJECTS,
    ObjectType.OPAQUE_OBJECT: "OpaqueObject",
    ObjectType.CERTIFICATE: "Certificate",
}


def require_type(payload: Item) -> ObjectType:
    value = payload.get(tags.ObjectType)
    if not isinstance(value, int):
        raise missing("Object Type")
    try:
        return ObjectType(value)
    except ValueError:
        raise KmipError(ResultReason.INVALID_FIELD, f"unknown Object Type {value:#x}") from None


def object_tag(object_type: ObjectType) -> int:
    name = OBJECT_TAG_NAMES.get(object_type)
    if name is None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, f"{object_type.name} objects are not supported yet")
    tag: int = getattr(tags, name)
    return tag


def object_item(
    object_type: ObjectType,
    material: bytes,
    key_format: KeyFormatType,
    algorithm: int | None,
    length: int | None,
    extra: tuple[Item, ...] = (),
) -> Item:
    block = key_block(material, key_format, algorithm, length)
    return Item(object_tag(object_type), ItemType.STRUCTURE, (*extra, block))


def initial_attributes(ctx: Context, requested: tuple[Item, ...], material: bytes | None) -> tuple[Item, ...]:
    """Client-supplied attributes (checked) plus the ones the server sets."""
    check_initial(requested)
    server: list[Item] = [
        Item(tags.InitialDate, ItemType.DATE_TIME, ctx.now),
        Item(tags.LastChangeDate, ItemType.DATE_TIME, ctx.now),
        Item(tags.OriginalCreationDate, ItemType.DATE_TIME, ctx.now),
    ]
    if material is not None:
        server.append(symmetric.digest_attribute(material))
    # Fresh: the object has not yet been served to a client (cleared by Get).
    if not any(a.tag == tags.Fresh for a in requested):
        server.append(Item(tags.Fresh, ItemType.BOOLEAN, True))
    return (*requested, *server)
