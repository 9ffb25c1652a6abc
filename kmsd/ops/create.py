"""Create: a new symmetric key generated in the server."""

from __future__ import annotations

from kmsd.crypto import symmetric
from kmsd.kmip import tags
from kmsd.kmip.enums import KeyFormatType, ObjectType, Operation, ResultReason, SecretDataType, State
from kmsd.kmip.errors import KmipError, missing
from ttlv import Item, ItemType

from . import objects, templates
from .context import Context
from .newobject import initial_attributes, object_item, require_type
from .registry import handler


@handler(Operation.CREATE, writes=True)
def create(ctx: Context, payload: Item) -> Item:
    object_type = require_type(payload)
    if object_type == ObjectType.SECRET_DATA:
        return _create_secret_data(ctx, payload)
    if object_type != ObjectType.SYMMETRIC_KEY:
        raise KmipError(
            ResultReason.INVALID_FIELD,
            f"Create makes symmetric keys; use Create Key Pair or Register for {object_type.name}",
        )
    requested = payload.find(tags.Attributes)
    attrs = templates.expand(ctx, requested.children if requested else ())
    algorithm = _single_int(attrs, tags.CryptographicAlgorithm, "Cryptographic Algorithm")
    length = _single_int(attrs, tags.CryptographicLength, "Cryptographic Length")
    ctx.policy.check_symmetric(algorithm, length)
    if any(a.tag == tags.QuantumSafe and a.value is True for a in attrs) and length < 256:
        # Grover halves a symmetric key's strength: only 256-bit keys stay at 128 bits.
        raise KmipError(ResultReason.GENERAL_FAILURE, f"a {length}-bit key is not quantum safe")
    material = symmetric.generate(length, algorithm)
    obj = object_item(object_type, material, KeyFormatType.RAW, algorithm, length)
    return _store_generated(ctx, object_type, obj, attrs, material)


def _store_generated(
    ctx: Context, object_type: ObjectType, obj: Item, attrs: tuple[Item, ...], material: bytes
) -> Item:
    """Insert a new server-generated object and answer Create."""
    mo = objects.ManagedObject(
        uid=objects.new_uid(), object_type=object_type, state=State.PRE_ACTIVE, owner=ctx.user, obj=obj, attrs=()
    )
    mo.attrs = initial_attributes(ctx, attrs, material, generated=True)
    objects.apply_time_transitions(mo, ctx.now)
    objects.insert(ctx, mo)
    ctx.id_placeholder = mo.uid
    return Item(
        tags.ResponsePayload,
        ItemType.STRUCTURE,
        (
            Item(tags.ObjectType, ItemType.ENUMERATION, int(object_type)),
            Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, mo.uid),
        ),
    )


def _create_secret_data(ctx: Context, payload: Item) -> Item:
    """2.x Create also "generate[s] Secret Data" (1.x names only symmetric keys;
    kmsd accepts it in every version, as the 1.4 test case TC-CREATE-SD-1-14
    does): Cryptographic Length random bits (a whole number of bytes), kept as
    Opaque key material.  The spec leaves the Secret Data Type to the server:
    kmsd calls a generated secret a Password (what such secrets are handed out as)."""
    requested = payload.find(tags.Attributes)
    attrs = templates.expand(ctx, requested.children if requested else ())
    length = _single_int(attrs, tags.CryptographicLength, "Cryptographic Length")
    if length <= 0 or length % 8 or length > 8 * 1024 * 64:
        raise KmipError(ResultReason.INVALID_FIELD, "Cryptographic Length must be a positive number of bytes (in bits)")
    attrs = tuple(a for a in attrs if a.tag != tags.CryptographicLength)  # not an attribute of Secret Data
    material = symmetric.generate(length)
    extra = (Item(tags.SecretDataType, ItemType.ENUMERATION, int(SecretDataType.PASSWORD)),)
    obj = object_item(ObjectType.SECRET_DATA, material, KeyFormatType.OPAQUE, None, None, extra)
    return _store_generated(ctx, ObjectType.SECRET_DATA, obj, attrs, material)


def _single_int(attrs: tuple[Item, ...], tag: int, name: str) -> int:
    for a in attrs:
        if a.tag == tag and isinstance(a.value, int):
            return a.value
    raise missing(name)
