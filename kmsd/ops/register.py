"""Register: store an object the client supplies (keys, secret data, opaque)."""

from __future__ import annotations

from kmsd.kmip import tags
from kmsd.kmip.enums import KeyFormatType, ObjectType, Operation, ResultReason, State
from kmsd.kmip.errors import KmipError, invalid_field, missing
from ttlv import Item, ItemType

from . import asymkeys, objects, templates
from .context import Context
from .keyblock import material_of
from .newobject import KEY_OBJECTS, initial_attributes, object_item, object_tag, require_type
from .registry import handler


@handler(Operation.REGISTER, writes=True)
def register(ctx: Context, payload: Item) -> Item:
    object_type = require_type(payload)
    tag = object_tag(object_type)
    supplied = payload.find(tag)
    if supplied is None or supplied.type is not ItemType.STRUCTURE:
        raise missing(f"the {object_type.name} object")
    requested = payload.find(tags.Attributes)
    attrs = templates.expand(ctx, requested.children if requested else ())

    material: bytes | None = None
    server_attrs: tuple[Item, ...] = ()  # set from the object itself (Digest of asymmetric keys …)
    if object_type in asymkeys.ASYMMETRIC_TYPES:
        obj, attrs, server_attrs = asymkeys.register_key(ctx, object_type, supplied, attrs)
    elif object_type == ObjectType.CERTIFICATE:
        obj, attrs, server_attrs = asymkeys.register_certificate(supplied, attrs)
    elif object_type in KEY_OBJECTS:
        obj, material, attrs = _key_object(ctx, object_type, supplied, attrs)
    elif object_type == ObjectType.TEMPLATE:
        # The template's Names identify it; its other attributes are its content.
        obj = supplied
        names, _ = templates.own_attributes(supplied, ctx.version)
        attrs = (*attrs, *names)
    elif object_type == ObjectType.OPAQUE_OBJECT:
        if not isinstance(supplied.get(tags.OpaqueDataType), int) or not isinstance(
            supplied.get(tags.OpaqueDataValue), bytes
        ):
            raise invalid_field("Opaque Object needs an Opaque Data Type and an Opaque Data Value")
        obj = supplied
        value = supplied.get(tags.OpaqueDataValue)
        material = value if isinstance(value, bytes) else None
    else:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, f"Register of {object_type.name} is not supported yet")

    mo = objects.ManagedObject(
        uid=objects.new_uid(),
        object_type=object_type,
        state=State.PRE_ACTIVE,
        owner=ctx.user,
        obj=obj,
        attrs=(
            *initial_attributes(ctx, attrs, material, cryptographic=object_type not in objects.STATELESS_TYPES),
            *server_attrs,
        ),
    )
    objects.apply_time_transitions(mo, ctx.now)
    objects.insert(ctx, mo)
    ctx.id_placeholder = mo.uid
    return Item(
        tags.ResponsePayload,
        ItemType.STRUCTURE,
        (Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, mo.uid),),
    )


def _key_object(
    ctx: Context, object_type: ObjectType, supplied: Item, attrs: tuple[Item, ...]
) -> tuple[Item, bytes, tuple[Item, ...]]:
    block = supplied.find(tags.KeyBlock)
    if block is None:
        raise missing("Key Block")
    material, fmt = material_of(block)
    if object_type == ObjectType.SYMMETRIC_KEY:
        algorithm = block.get(tags.CryptographicAlgorithm)
        length = block.get(tags.CryptographicLength)
        if not isinstance(algorithm, int):
            raise missing("Cryptographic Algorithm in the Key Block")
        if not isinstance(length, int):
            length = len(material) * 8
        if length != len(material) * 8:
            raise invalid_field(f"Cryptographic Length {length} does not match {len(material) * 8}-bit key material")
        ctx.policy.check_symmetric(algorithm, length)
        attrs = _with_defaults(attrs, algorithm, length)
        # Kept in the format it was registered in: a Get without a Key Format
        # Type returns it as the client gave it.
        return object_item(object_type, material, fmt, algorithm, length), material, attrs
    if object_type == ObjectType.SECRET_DATA:
        data_type = supplied.get(tags.SecretDataType)
        if not isinstance(data_type, int):
            raise missing("Secret Data Type")
        extra = (Item(tags.SecretDataType, ItemType.ENUMERATION, data_type),)
        return object_item(object_type, material, KeyFormatType.OPAQUE, None, None, extra), material, attrs
    # Asymmetric keys and split keys are stored as given until their issue lands.
    del fmt
    raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, f"Register of {object_type.name} is not supported yet")


def _with_defaults(attrs: tuple[Item, ...], algorithm: int, length: int) -> tuple[Item, ...]:
    """A registered key's algorithm and length attributes come from its Key Block."""
    out = list(attrs)
    for tag, value in ((tags.CryptographicAlgorithm, algorithm), (tags.CryptographicLength, length)):
        existing = [a for a in attrs if a.tag == tag]
        if existing and existing[0].value != value:
            raise invalid_field("attribute contradicts the Key Block")
        if not existing:
            kind = ItemType.ENUMERATION if tag == tags.CryptographicAlgorithm else ItemType.INTEGER
            out.append(Item(tag, kind, value))
    return tuple(out)
