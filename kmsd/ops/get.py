"""Get: return an object, in the Key Format Type the client asks for."""

from __future__ import annotations

from kmsd.kmip import tags
from kmsd.kmip.enums import KeyFormatType, ObjectType, Operation, ResultReason
from kmsd.kmip.errors import KmipError
from ttlv import Item, ItemType

from . import asymkeys, objects, pkcs12, wrapping
from .context import Context, NeedsWrite
from .keyblock import key_block, material_of
from .newobject import object_tag
from .registry import handler

SYMMETRIC_FORMATS = {KeyFormatType.RAW, KeyFormatType.TRANSPARENT_SYMMETRIC_KEY}


@handler(Operation.GET)
def get(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    # Locked when writing: clearing Fresh must not write back a copy that a
    # concurrent Destroy or Revoke has already changed.
    mo = objects.load(ctx, uid, "get", for_update=not ctx.readonly)
    if ctx.readonly and mo.get(tags.Fresh) is True:
        raise NeedsWrite  # clearing Fresh writes: run as a writer before doing the work
    obj = released_object(ctx, mo, payload, "get")
    if mo.get(tags.Fresh) is True:
        # Fresh: "has not yet been retrieved by a client" (cleared on first Get).
        mo.set_attr(tags.Fresh, Item(tags.Fresh, ItemType.BOOLEAN, False))
        objects.save(ctx, mo, touch=False)
    ctx.id_placeholder = uid
    return Item(
        tags.ResponsePayload,
        ItemType.STRUCTURE,
        (
            Item(tags.ObjectType, ItemType.ENUMERATION, int(mo.object_type)),
            Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, uid),
            obj,
        ),
    )


def released_object(ctx: Context, mo: objects.ManagedObject, payload: Item, verb: str) -> Item:
    """The object item as Get hands it out — and Export, whose Key Format Type,
    Key Wrap Type, Key Compression Type and Key Wrapping Specification "SHALL
    have the same semantics as for the Get operation" (2.1 section 6.1.20)."""
    uid = mo.uid
    if not mo.has_object:
        raise KmipError(ResultReason.OBJECT_DESTROYED, f"object {uid} has been destroyed")
    if payload.find(tags.KeyCompressionType) is not None and mo.object_type != ObjectType.SYMMETRIC_KEY:
        raise KmipError(ResultReason.KEY_COMPRESSION_TYPE_NOT_SUPPORTED, "key compression is not supported")
    if mo.get(tags.Extractable) is False:
        raise KmipError(ResultReason.NOT_EXTRACTABLE, f"object {uid} is not extractable")
    wrap_spec = payload.find(tags.KeyWrappingSpecification)
    # A key registered wrapped is returned as registered unless the client asks otherwise (kmsd.ops.wrapping).
    registered = wrapping.keeps_registered(mo, payload)
    if mo.get(tags.Sensitive) is True and wrap_spec is None and not registered:
        raise KmipError(ResultReason.SENSITIVE, f"object {uid} is sensitive: {verb} it wrapped")
    wanted = payload.get(tags.KeyFormatType)
    if registered:
        return wrapping.registered_object(mo, wanted)  # wrapped, as the client gave it
    assert mo.obj is not None
    obj = wrapping.strip(mo.obj)
    if wanted == KeyFormatType.PKCS_12:
        obj = pkcs12.get_pkcs12(ctx, mo)  # the key with its linked certificate chain
    elif isinstance(wanted, int):
        obj = _convert(mo.object_type, obj, wanted)
    if wrap_spec is not None:
        obj = wrapping.wrap_object(ctx, mo, obj, wrap_spec)
    return obj


def _convert(object_type: ObjectType, obj: Item, wanted: int) -> Item:
    if object_type in asymkeys.ASYMMETRIC_TYPES:
        return asymkeys.convert(object_type, obj, wanted)
    block = obj.find(tags.KeyBlock)
    if block is None:
        raise KmipError(ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, f"{object_type.name} has no key format")
    current = block.get(tags.KeyFormatType)
    if wanted == current:
        return obj
    if object_type == ObjectType.SYMMETRIC_KEY and wanted in SYMMETRIC_FORMATS:
        material, _ = material_of(block)
        alg, length = block.get(tags.CryptographicAlgorithm), block.get(tags.CryptographicLength)
        new_block = key_block(
            material,
            KeyFormatType(wanted),
            alg if isinstance(alg, int) else None,
            length if isinstance(length, int) else None,
        )
        children = tuple(new_block if c.tag == tags.KeyBlock else c for c in obj.children)
        return Item(object_tag(object_type), ItemType.STRUCTURE, children)
    raise KmipError(
        ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED,
        f"cannot convert {object_type.name} to key format {wanted:#x}",
    )
