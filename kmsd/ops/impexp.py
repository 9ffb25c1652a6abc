"""Export and Import (KMIP 1.4 sections 4.41-4.42, 2.1 sections 6.1.20, 6.1.24).

Export returns an object as Get would (Key Format Type, Key Wrapping
Specification) together with all its attributes, without changing it (a
backup, not a retrieval: Fresh stays as it is).  Import stores such an
object under the Unique Identifier it comes with and with the attributes it
comes with — the server-set ones included, as an import restores them —
after the same checks Register makes on the key material (parses, agrees
with its Key Block, allowed by the policy).  An existing object with that
identifier is replaced only when Replace Existing is true (Object Already
Exists otherwise).  A wrapped Key Block is unwrapped with a key the server
holds, as in Register.
"""

from __future__ import annotations

from kmsd.crypto import asymmetric, certificates
from kmsd.kmip import tags
from kmsd.kmip.enums import KeyWrapType, ObjectType, Operation, ResultReason, State
from kmsd.kmip.errors import KmipError, invalid_field, missing
from ttlv import Item, ItemType

from . import asymkeys, objects, wrapping
from .context import Context, NeedsWrite
from .get import released_object
from .keyblock import material_of
from .newobject import object_tag, require_type
from .registry import handler

DERIVED = frozenset({tags.UniqueIdentifier, tags.ObjectType, tags.State, tags.ShortUniqueIdentifier})


@handler(Operation.EXPORT, since=(1, 4))
def export(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    mo = objects.load(ctx, uid, "export")
    obj = released_object(ctx, mo, payload, "export")
    ctx.id_placeholder = uid
    return Item(
        tags.ResponsePayload,
        ItemType.STRUCTURE,
        (
            Item(tags.ObjectType, ItemType.ENUMERATION, int(mo.object_type)),
            Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, uid),
            Item(tags.Attributes, ItemType.STRUCTURE, mo.all_attributes()),
            obj,
        ),
    )


@handler(Operation.IMPORT, since=(1, 4), writes=True)
def import_(ctx: Context, payload: Item) -> Item:
    uid = payload.get(tags.UniqueIdentifier)
    if not isinstance(uid, str) or not uid:
        raise missing("Unique Identifier")
    object_type = require_type(payload)
    supplied = payload.find(object_tag(object_type))
    if supplied is None or supplied.type is not ItemType.STRUCTURE:
        raise missing(f"the {object_type.name} object")
    replace = payload.get(tags.ReplaceExisting) is True
    found = payload.find(tags.Attributes)
    given = found.children if found is not None else ()

    existing = ctx.tx.get(uid, for_update=True)
    if existing is not None:
        if not objects.can(ctx, existing, "import"):
            raise KmipError(ResultReason.OBJECT_ALREADY_EXISTS, f"object {uid} already exists")
        if not replace:
            raise KmipError(ResultReason.OBJECT_ALREADY_EXISTS, f"object {uid} already exists (Replace Existing)")

    # Key Wrap Type Not Wrapped: store the key unwrapped; otherwise as provided (wrapped).
    obj = _checked_object(ctx, object_type, supplied, payload.get(tags.KeyWrapType) != KeyWrapType.NOT_WRAPPED)
    state_value = next((a.value for a in given if a.tag == tags.State), None)
    try:
        state = State(state_value) if isinstance(state_value, int) else State.PRE_ACTIVE
    except ValueError:
        raise invalid_field(f"unknown State {state_value!r}") from None
    mo = objects.ManagedObject(
        uid=uid,
        object_type=object_type,
        state=state,
        owner=existing.owner if existing is not None else ctx.user,
        obj=obj,
        attrs=tuple(a for a in given if a.tag not in DERIVED),
    )
    if existing is None:
        objects.insert(ctx, mo)
    else:
        if ctx.readonly:
            raise NeedsWrite
        mo.sequence = existing.sequence
        ctx.tx.update(mo.to_stored(ctx.at_rest))  # sealed like every other write
    ctx.id_placeholder = uid
    return Item(tags.ResponsePayload, ItemType.STRUCTURE, (Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, uid),))


def _checked_object(ctx: Context, object_type: ObjectType, supplied: Item, keep_wrapped: bool = True) -> Item:
    """The object to store, its material checked as Register checks it."""
    registered = wrapping.registered_block(supplied)
    if registered is not None:
        supplied = wrapping.with_block(supplied, wrapping.unwrap_block(ctx, registered))
    if object_type in asymkeys.ASYMMETRIC_TYPES:
        key, _, block = asymkeys.read_block(object_type, supplied, supplied=True)
        spec = asymmetric.spec_of(key)
        algorithm = block.get(tags.CryptographicAlgorithm)
        if isinstance(algorithm, int):
            asymmetric.check_algorithm(spec, algorithm)
        asymmetric.check_policy(ctx.policy, spec)
    elif object_type == ObjectType.CERTIFICATE:
        certificates.load(supplied)
    elif object_type in (ObjectType.SYMMETRIC_KEY, ObjectType.SECRET_DATA):
        plain = supplied.find(tags.KeyBlock)
        if plain is None:
            raise missing("Key Block")
        material, _ = material_of(plain)
        if object_type == ObjectType.SYMMETRIC_KEY:
            algorithm, length = plain.get(tags.CryptographicAlgorithm), plain.get(tags.CryptographicLength)
            if isinstance(algorithm, int):
                ctx.policy.check_symmetric(algorithm, length if isinstance(length, int) else len(material) * 8)
    elif object_type not in (ObjectType.OPAQUE_OBJECT,):
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, f"Import of {object_type.name} is not supported")
    if registered is not None and keep_wrapped:
        return wrapping.keep_registered(supplied, registered)
    return supplied
