"""Re-Key and Re-Key Key Pair: a replacement for an existing key.

KMIP 2.1 sections 6.1.42 and 6.1.43 (1.4 sections 4.4 and 4.5).  The new
object gets fresh key material of the same algorithm and length and the
existing object's attributes, except the ones the spec's table resets:

* Initial Date, Last Change Date: now; Destroy Date, Compromise (Occurrence)
  Date, Revocation Reason, Archive Date: not set; Digest: recomputed;
  Fresh: true; Unique Identifier: new.
* Name: moved — the replacement takes the existing key's names and the
  existing key loses them.
* Link: the replacement gets a Replaced Object Link to the existing key,
  the existing key a Replacement Object Link to the replacement (the two
  halves of a new pair also link to each other).
* Dates: with an Offset, Activation Date = Initial Date + Offset and the
  Process Start, Protect Stop and Deactivation Dates keep their distance
  from the Activation Date; without one, they are copied.
* Attributes in the request (2.x Attributes, 1.x Template-Attribute) are
  applied on top: a single-valued one replaces the copied value, a
  multi-valued one (Name …) is added.

Both objects are checked and built before either is written.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kmsd.crypto import asymmetric, symmetric
from kmsd.kmip import tags
from kmsd.kmip.enums import KeyFormatType, LinkType, ObjectType, Operation, ResultReason, State
from kmsd.kmip.errors import KmipError, missing
from ttlv import Item, ItemType

from . import objects, templates
from .asymkeys import digest, dump, key_object, read_block
from .attribute_rules import check_initial, rule_for
from .context import Context
from .key_pair import merge
from .newobject import initial_attributes, object_item
from .objects import link
from .registry import handler

# Attributes never copied to the replacement (the server sets them anew or not at all).
NOT_COPIED = frozenset(
    {
        tags.Link,
        tags.Fresh,
        tags.RandomNumberGenerator,
        tags.ActivationDate,
        tags.ProcessStartDate,
        tags.ProtectStopDate,
        tags.DeactivationDate,
        tags.Name,
    }
)
DATES = (tags.ProcessStartDate, tags.ProtectStopDate, tags.DeactivationDate)
USABLE_STATES = frozenset({State.PRE_ACTIVE, State.ACTIVE, State.DEACTIVATED, State.COMPROMISED})


@handler(Operation.RE_KEY, writes=True)
def re_key(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    old = objects.load(ctx, uid, "rekey", for_update=True)
    if old.object_type != ObjectType.SYMMETRIC_KEY:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "Re-Key replaces symmetric keys (Re-Key Key Pair for pairs)")
    _check_usable(old)
    algorithm, length = old.get(tags.CryptographicAlgorithm), old.get(tags.CryptographicLength)
    if not isinstance(algorithm, int) or not isinstance(length, int):
        raise KmipError(ResultReason.INVALID_FIELD, f"object {uid} has no Cryptographic Algorithm/Length")
    ctx.policy.check_symmetric(algorithm, length)
    requested = _requested(ctx, payload, tags.Attributes)
    material = symmetric.generate(length, algorithm)
    new = objects.ManagedObject(
        uid=objects.new_uid(),
        object_type=old.object_type,
        state=State.PRE_ACTIVE,
        owner=ctx.user,
        obj=object_item(old.object_type, material, KeyFormatType.RAW, algorithm, length),
        attrs=(),
    )
    attrs = replacement_attributes(ctx, old, requested, _offset(payload))
    _move_names(ctx, old)
    new.attrs = (
        *initial_attributes(ctx, attrs, material, generated=True),
        link(LinkType.REPLACED_OBJECT_LINK, old.uid),
    )
    _finish(ctx, old, new)
    ctx.id_placeholder = new.uid
    return Item(tags.ResponsePayload, ItemType.STRUCTURE, (Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, new.uid),))


@handler(Operation.RE_KEY_KEY_PAIR, since=(1, 1), writes=True)
def re_key_key_pair(ctx: Context, payload: Item) -> Item:
    uid = payload.get(tags.PrivateKeyUniqueIdentifier)
    if not isinstance(uid, str):
        uid = ctx.id_placeholder
    if uid is None:
        raise missing("Private Key Unique Identifier")
    old_private = objects.load(ctx, uid, "rekey", for_update=True)
    if old_private.object_type != ObjectType.PRIVATE_KEY or old_private.obj is None:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "Re-Key Key Pair takes the private key of a pair")
    _check_usable(old_private)
    public_uid = _linked(old_private, LinkType.PUBLIC_KEY_LINK)
    if public_uid is None:
        raise KmipError(ResultReason.INVALID_FIELD, f"private key {uid} has no Public Key Link")
    old_public = objects.load(ctx, public_uid, "rekey", for_update=True)
    if old_public.obj is None:
        raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, f"public key {public_uid} has been destroyed")

    key, private_fmt, block = read_block(ObjectType.PRIVATE_KEY, old_private.obj)
    _, public_fmt, _ = read_block(ObjectType.PUBLIC_KEY, old_public.obj)
    spec = asymmetric.spec_of(key)
    asymmetric.check_policy(ctx.policy, spec, generate=True)
    alg = block.get(tags.CryptographicAlgorithm)
    algorithm = alg if isinstance(alg, int) else spec.algorithm

    common = _requested(ctx, payload, tags.CommonAttributes)
    offset = _offset(payload)
    private_attrs = replacement_attributes(
        ctx, old_private, merge(common, _requested(ctx, payload, tags.PrivateKeyAttributes)), offset
    )
    public_attrs = replacement_attributes(
        ctx, old_public, merge(common, _requested(ctx, payload, tags.PublicKeyAttributes)), offset
    )
    private_key = asymmetric.generate(spec)
    halves = (
        (old_private, private_key, private_fmt, private_attrs, LinkType.PUBLIC_KEY_LINK),
        (old_public, private_key.public_key(), public_fmt, public_attrs, LinkType.PRIVATE_KEY_LINK),
    )
    uids = (objects.new_uid(), objects.new_uid())
    _move_names(ctx, old_private)
    _move_names(ctx, old_public)
    built = []
    for (old, new_key, fmt, attrs, link_type), new_uid, other in zip(halves, uids, reversed(uids), strict=True):
        material = dump(new_key, fmt)
        new = objects.ManagedObject(
            uid=new_uid,
            object_type=old.object_type,
            state=State.PRE_ACTIVE,
            owner=ctx.user,
            obj=key_object(old.object_type, material, fmt, algorithm, spec.bits),
            attrs=(),
        )
        new.attrs = (
            *initial_attributes(ctx, attrs, None, generated=True),
            digest(material, fmt),
            link(link_type, other),
            link(LinkType.REPLACED_OBJECT_LINK, old.uid),
        )
        built.append((old, new))
    for old, new in built:
        _finish(ctx, old, new)
    ctx.id_placeholder = uids[0]
    return Item(
        tags.ResponsePayload,
        ItemType.STRUCTURE,
        (
            Item(tags.PrivateKeyUniqueIdentifier, ItemType.TEXT_STRING, uids[0]),
            Item(tags.PublicKeyUniqueIdentifier, ItemType.TEXT_STRING, uids[1]),
        ),
    )


def replacement_attributes(
    ctx: Context, old: objects.ManagedObject, requested: tuple[Item, ...], offset: int | None
) -> tuple[Item, ...]:
    """The client-settable attributes the replacement starts with (before the
    server-set ones are added by :func:`initial_attributes`)."""
    check_initial(requested)
    carried = [a for a in old.attrs if a.tag not in NOT_COPIED and rule_for(a).on_create]
    names = [a for a in old.attrs if a.tag == tags.Name]
    carried.extend(_dates(ctx.now, old, offset))
    requested_names = {a.get(tags.NameValue) for a in requested if a.tag == tags.Name}
    names = [n for n in names if n.get(tags.NameValue) not in requested_names]
    return merge((*names, *carried), requested)


def _dates(now: datetime, old: objects.ManagedObject, offset: int | None) -> list[Item]:
    activation = old.get(tags.ActivationDate)
    out: list[Item] = []
    if offset is None:
        for tag in (tags.ActivationDate, *DATES):
            value = old.get(tag)
            if isinstance(value, datetime):
                out.append(Item(tag, ItemType.DATE_TIME, value))
        return out
    new_activation = now + timedelta(seconds=offset)
    out.append(Item(tags.ActivationDate, ItemType.DATE_TIME, new_activation))
    for tag in DATES:
        value = old.get(tag)
        if isinstance(value, datetime) and isinstance(activation, datetime):
            out.append(Item(tag, ItemType.DATE_TIME, new_activation + (value - activation)))
    return out


def _requested(ctx: Context, payload: Item, tag: int) -> tuple[Item, ...]:
    found = payload.find(tag)
    if found is None:
        return ()
    return templates.expand(ctx, found.children) if tag == tags.Attributes else found.children


def _offset(payload: Item) -> int | None:
    value = payload.get(tags.Offset)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_usable(old: objects.ManagedObject) -> None:
    if old.obj is None or old.state not in USABLE_STATES:
        raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, f"object {old.uid} is {old.state.name}")


def _linked(mo: objects.ManagedObject, link_type: LinkType) -> str | None:
    for a in mo.attrs:
        if a.tag == tags.Link and a.get(tags.LinkType) == link_type:
            value = a.get(tags.LinkedObjectIdentifier)
            if isinstance(value, str):
                return value
    return None


def _move_names(ctx: Context, old: objects.ManagedObject) -> None:
    """The existing key gives up its names (saved now, so a unique-name check
    for the replacement does not see them as taken)."""
    if any(a.tag == tags.Name for a in old.attrs):
        old.attrs = tuple(a for a in old.attrs if a.tag != tags.Name)
        objects.save(ctx, old)


def _finish(ctx: Context, old: objects.ManagedObject, new: objects.ManagedObject) -> None:
    if old.get(tags.RotateName) is not None:
        # A rotation series (2.1 section 4.51-4.53): the replacement is its latest generation.
        generation = old.get(tags.RotateGeneration)
        generation = generation if isinstance(generation, int) else 0
        old.set_attr(tags.RotateGeneration, Item(tags.RotateGeneration, ItemType.INTEGER, generation))
        old.set_attr(tags.RotateLatest, Item(tags.RotateLatest, ItemType.BOOLEAN, False))
        new.set_attr(tags.RotateGeneration, Item(tags.RotateGeneration, ItemType.INTEGER, generation + 1))
        new.set_attr(tags.RotateLatest, Item(tags.RotateLatest, ItemType.BOOLEAN, True))
    objects.apply_time_transitions(new, ctx.now)
    objects.insert(ctx, new)
    old.attrs = tuple(
        a for a in old.attrs if not (a.tag == tags.Link and a.get(tags.LinkType) == LinkType.REPLACEMENT_OBJECT_LINK)
    )
    old.attrs = (*old.attrs, link(LinkType.REPLACEMENT_OBJECT_LINK, new.uid))
    objects.save(ctx, old)
