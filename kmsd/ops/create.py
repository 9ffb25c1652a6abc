"""Create: a new symmetric key generated in the server."""

from __future__ import annotations

from kmsd.crypto import symmetric
from kmsd.kmip import tags
from kmsd.kmip.enums import KeyFormatType, ObjectType, Operation, ResultReason, State
from kmsd.kmip.errors import KmipError, missing
from ttlv import Item, ItemType

from . import objects, templates
from .context import Context
from .newobject import initial_attributes, object_item, require_type
from .registry import handler


@handler(Operation.CREATE, writes=True)
def create(ctx: Context, payload: Item) -> Item:
    object_type = require_type(payload)
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
    material = symmetric.generate(length)
    mo = objects.ManagedObject(
        uid=objects.new_uid(),
        object_type=object_type,
        state=State.PRE_ACTIVE,
        owner=ctx.user,
        obj=object_item(object_type, material, KeyFormatType.RAW, algorithm, length),
        attrs=(),
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


def _single_int(attrs: tuple[Item, ...], tag: int, name: str) -> int:
    for a in attrs:
        if a.tag == tag and isinstance(a.value, int):
            return a.value
    raise missing(name)
