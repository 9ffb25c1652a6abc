"""Register: store an object the client supplies (keys, secret data, opaque)."""

from __future__ import annotations

import ttlv
from kmsd.crypto import symmetric
from kmsd.kmip import adapt, tags
from kmsd.kmip.enums import KeyFormatType, ObjectType, Operation, ResultReason, State
from kmsd.kmip.errors import KmipError, invalid_field, missing
from ttlv import Item, ItemType

from . import asymkeys, cert_requests, objects, pkcs12, split, templates, wrapping
from .context import Context
from .keyblock import material_of
from .newobject import KEY_OBJECTS, initial_attributes, object_item, object_tag, require_type
from .registry import handler


@handler(Operation.REGISTER, writes=True)
def register(ctx: Context, payload: Item) -> Item:
    object_type = require_type(payload)
    if not adapt.enum_defined(tags.ObjectType, object_type, ctx.version):
        # e.g. a Certificate Request (2.0+) from a 1.x client: no such object in its protocol
        raise invalid_field(f"Object Type {object_type.name} is not defined in this protocol version")
    tag = object_tag(object_type)
    supplied = payload.find(tag)
    if supplied is None or supplied.type is not ItemType.STRUCTURE:
        raise missing(f"the {object_type.name} object")
    requested = payload.find(tags.Attributes)
    attrs = templates.expand(ctx, requested.children if requested else ())

    material: bytes | None = None
    server_attrs: tuple[Item, ...] = ()  # set from the object itself (Digest of asymmetric keys …)
    registered_block = wrapping.registered_block(supplied)
    if registered_block is not None:  # a wrapped Key Block: unwrapped with a key the server holds
        supplied = wrapping.with_block(supplied, wrapping.unwrap_block(ctx, registered_block))
    if object_type == ObjectType.PRIVATE_KEY and pkcs12.is_pkcs12(supplied):  # the key and its certificates
        obj, attrs, server_attrs = pkcs12.register_pkcs12(ctx, supplied, attrs)
    elif object_type in asymkeys.ASYMMETRIC_TYPES:
        obj, attrs, server_attrs = asymkeys.register_key(ctx, object_type, supplied, attrs)
    elif object_type == ObjectType.CERTIFICATE:
        obj, attrs, server_attrs = asymkeys.register_certificate(supplied, attrs)
    elif object_type == ObjectType.CERTIFICATE_REQUEST:  # kept as given, checked if PKCS#10
        obj, material = cert_requests.register_certificate_request(supplied)
    elif object_type == ObjectType.PGP_KEY:  # kept as given: "an opaque blob"
        obj, material, attrs = asymkeys.register_pgp_key(supplied, attrs)
    elif object_type in KEY_OBJECTS:
        obj, material, attrs = _key_object(ctx, object_type, supplied, attrs)
        if material is None:
            # "Key Value Present SHALL be created by the server if the Key Value is absent".
            server_attrs = (Item(tags.KeyValuePresent, ItemType.BOOLEAN, False),)
        else:
            server_attrs = _registered_format_digest(supplied)
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

    if registered_block is not None:  # kept wrapped, as registered; 2.x: linked to its wrapping key
        obj = wrapping.keep_registered(obj, registered_block)
        server_attrs = (*server_attrs, *wrapping.wrapping_key_link(ctx, registered_block))
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
) -> tuple[Item, bytes | None, tuple[Item, ...]]:
    block = supplied.find(tags.KeyBlock)
    if block is None:
        raise missing("Key Block")
    if object_type == ObjectType.SYMMETRIC_KEY and _value_absent(block):
        return _key_without_value(ctx, object_type, block), None, _defaults_from(block, attrs)
    material, fmt = material_of(block)
    if object_type == ObjectType.SYMMETRIC_KEY:
        algorithm = block.get(tags.CryptographicAlgorithm)
        length = block.get(tags.CryptographicLength)
        if not isinstance(algorithm, int):
            raise missing("Cryptographic Algorithm in the Key Block")
        if not isinstance(length, int):
            length = len(material) * 8
        if not symmetric.length_fits(algorithm, length, material):  # 3DES: 168 key bits in 192 (parity)
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
        # Kept in the format it was registered in (Opaque or Raw, as the client chose).
        secret_format = fmt if fmt in (KeyFormatType.OPAQUE, KeyFormatType.RAW) else KeyFormatType.OPAQUE
        return object_item(object_type, material, secret_format, None, None, extra), material, attrs
    if object_type == ObjectType.SPLIT_KEY:  # kept as given, once its fields check out (kmsd.ops.split)
        return split.split_key_object(supplied), material, _defaults_from(block, attrs)
    # Asymmetric keys are stored as given until their issue lands.
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


def _value_absent(block: Item) -> bool:
    return block.find(tags.KeyValue) is None and block.find(tags.KeyWrappingData) is None


def _defaults_from(block: Item, attrs: tuple[Item, ...]) -> tuple[Item, ...]:
    algorithm, length = block.get(tags.CryptographicAlgorithm), block.get(tags.CryptographicLength)
    return _with_defaults(attrs, algorithm, length) if isinstance(algorithm, int) and isinstance(length, int) else attrs


def _key_without_value(ctx: Context, object_type: ObjectType, block: Item) -> Item:
    """A key whose value lives elsewhere (1.2+ "Key Value Present", "Key Value
    Location": e.g. in an HSM the client names): kmsd keeps the Key Block as
    given, without material, so Get returns it the same way."""
    algorithm = block.get(tags.CryptographicAlgorithm)
    length = block.get(tags.CryptographicLength)
    if not isinstance(algorithm, int) or not isinstance(length, int):
        raise missing("Cryptographic Algorithm and Length in a Key Block without a Key Value")
    fmt = block.get(tags.KeyFormatType)
    if not isinstance(fmt, int):
        raise invalid_field("Key Block without a Key Format Type")
    ctx.policy.check_symmetric(algorithm, length)
    return Item(object_tag(object_type), ItemType.STRUCTURE, (block,))


def _registered_format_digest(supplied: Item) -> tuple[Item, ...]:
    """Digest: besides the mandatory SHA-256 over the default (Raw) format, one
    over the format the key was registered in when that is a structure ("If
    the Key Material is a structure, then the Digest Value SHALL be calculated
    on the TTLV-encoded Key Material structure"; "Multiple digests MAY be
    calculated using different ... key format types")."""
    block = supplied.find(tags.KeyBlock)
    value = block.find(tags.KeyValue) if block is not None else None
    km = value.find(tags.KeyMaterial) if value is not None and value.type is ItemType.STRUCTURE else None
    fmt = block.get(tags.KeyFormatType) if block is not None else None
    if km is None or km.type is not ItemType.STRUCTURE or not isinstance(fmt, int):
        return ()
    return (symmetric.digest_attribute(ttlv.encode(km), KeyFormatType(fmt)),)
