"""Put and Notify received: kmsd as the receiving party of a peer's pushes.

Theory of operation.  KMIP defines Put and Notify as server-to-client
messages (1.4 §5, 2.1 §6.2): a key manager pushes an object, or tells about
changed attributes, "via means outside of the normal client request/response
protocol", and the receiver answers with an empty payload.  The spec does not
forbid a server to receive them, and the OASIS cases TC_NP_* / TC-NP-* send
them to the server under test; kmsd receives them from any authenticated
caller -- a peer key manager, say -- as follows.

- Put stores a copy of the pushed object, owned by the caller, through the
  Register path (kmsd.ops.register: the same checks, wrapped-key handling,
  digests, initial attributes; creating it needs the create right, see
  kmsd.auth.access.CREATING_OPERATIONS).  The copy gets a local Unique
  Identifier: the sender's identifiers are its own and may clash with ours.
  The sender's one is kept in the server attribute ``y-Pushed Unique
  Identifier`` (read-only for clients, usable in Locate).  Of the pushed
  attributes the copy keeps those a client may give at Register; the ones
  the sender's server keeps for itself (State, Digest, dates it sets, Lease
  Time, its y- attributes …) are recomputed here, and Links are dropped (they
  name the sender's objects).  Put Function Replace links the copy and the
  caller's latest copy of the Replaced Unique Identifier (Replaced /
  Replacement Object Links, as Re-key does); when there is no such copy the
  spec says to treat it as New.  Nothing else changes on the replaced copy.
- Notify changes nothing here: the notification is logged (which attributes
  changed or were deleted, by name -- never values) and the audit log
  records the Notify and the object's identifier like any operation; the
  reply is the empty acknowledgement the spec asks for.
"""

from __future__ import annotations

import logging

import ttlv
from kmsd.kmip import attributes as A
from kmsd.kmip import tags
from kmsd.kmip.enums import LinkType, ObjectType, Operation, PutFunction
from kmsd.kmip.errors import invalid_field, missing
from kmsd.store.base import LocateFilter
from ttlv import REGISTRY, Item, ItemType

from . import objects
from .attribute_rules import rule_for
from .context import Context
from .newobject import OBJECT_TAG_NAMES
from .objects import link
from .register import register
from .registry import handler

log = logging.getLogger("kmsd.ops.notify_put")

#: The server attribute naming the object at the sender (1.x spelling; in 2.x
#: Vendor Identification "y", Attribute Name "Pushed Unique Identifier").
PUSHED_UID = "y-Pushed Unique Identifier"


def _empty() -> Item:
    return Item(tags.ResponsePayload, ItemType.STRUCTURE, ())


def _sender_uid(payload: Item) -> str:
    uid = payload.get(tags.UniqueIdentifier)
    if not isinstance(uid, str) or not uid:
        raise missing("Unique Identifier")
    return uid


@handler(Operation.PUT, writes=True)
def put(ctx: Context, payload: Item) -> Item:
    sender_uid = _sender_uid(payload)
    function = payload.get(tags.PutFunction)
    if not isinstance(function, int):
        raise missing("Put Function")
    if function not in (PutFunction.NEW, PutFunction.REPLACE):
        raise invalid_field(f"unknown Put Function {function:#x}")
    replaced = payload.get(tags.ReplacedUniqueIdentifier)
    if function == PutFunction.REPLACE and not isinstance(replaced, str):
        raise missing("Replaced Unique Identifier (Put Function Replace)")
    if function == PutFunction.NEW and replaced is not None:
        raise invalid_field("Replaced Unique Identifier goes with Put Function Replace only")
    object_type, pushed = _pushed_object(payload)
    old = _latest_copy(ctx, replaced) if isinstance(replaced, str) else None

    request = Item(
        tags.RequestPayload,
        ItemType.STRUCTURE,
        (
            Item(tags.ObjectType, ItemType.ENUMERATION, int(object_type)),
            Item(tags.Attributes, ItemType.STRUCTURE, _kept_attributes(payload, object_type)),
            pushed,
        ),
    )
    uid = str(register(ctx, request).get(tags.UniqueIdentifier))  # Register answers with the new identifier
    copy = objects.load(ctx, uid, "get", for_update=True)
    origin = A.custom_attribute(PUSHED_UID, Item(tags.AttributeValue, ItemType.TEXT_STRING, sender_uid))
    copy.attrs = (*copy.attrs, origin)
    if old is not None:
        copy.attrs = (*copy.attrs, link(LinkType.REPLACED_OBJECT_LINK, old.uid))
        old.attrs = tuple(
            a
            for a in old.attrs
            if not (a.tag == tags.Link and a.get(tags.LinkType) == LinkType.REPLACEMENT_OBJECT_LINK)
        )
        old.attrs = (*old.attrs, link(LinkType.REPLACEMENT_OBJECT_LINK, copy.uid))
        objects.save(ctx, old)
    objects.save(ctx, copy, touch=False)  # still the Last Change Date Register set
    log.info(
        "Put from %s: %s %r stored as %s%s",
        ctx.user,
        object_type.name,
        sender_uid,
        copy.uid,
        f", replacing {old.uid}" if old is not None else "",
    )
    return _empty()


def _pushed_object(payload: Item) -> tuple[ObjectType, Item]:
    """The one managed object in the payload, and its type."""
    by_tag = {getattr(tags, name): object_type for object_type, name in OBJECT_TAG_NAMES.items()}
    found = [(by_tag[c.tag], c) for c in payload.children if c.tag in by_tag]
    if not found:
        raise missing("the pushed object (Symmetric Key, Private Key, Certificate …)")
    if len(found) > 1:
        raise invalid_field("a Put carries one object")
    return found[0]


def _kept_attributes(payload: Item, object_type: ObjectType) -> tuple[Item, ...]:
    given = payload.find(tags.Attributes)
    kept: list[Item] = []
    for item in given.children if given is not None else ():
        if item.tag == tags.ObjectType and item.value != object_type:
            raise invalid_field("the Object Type attribute contradicts the pushed object")
        if item.tag == tags.Link or not rule_for(item).on_create:
            continue  # the sender's server-kept attributes and its identifiers (module docstring)
        kept.append(item)
    return tuple(kept)


def _latest_copy(ctx: Context, sender_uid: str) -> objects.ManagedObject | None:
    """The caller's most recent copy of the sender's object ``sender_uid``."""
    latest: str | None = None
    for stored in ctx.tx.locate(LocateFilter(visible_to=ctx.user)):  # oldest first
        if stored.owner != ctx.user or not stored.attributes:
            continue
        attrs = ttlv.decode(stored.attributes).children  # attributes only: no key material decoded
        if any(A.attribute_key(a) == PUSHED_UID and a.get(tags.AttributeValue) == sender_uid for a in attrs):
            latest = stored.uid
    return objects.load(ctx, latest, "modify_attributes", for_update=True) if latest is not None else None


@handler(Operation.NOTIFY)
def notify(ctx: Context, payload: Item) -> Item:
    uid = _sender_uid(payload)
    given = payload.find(tags.Attributes)
    changed: list[str] = []
    deleted = [_reference_name(r) for r in payload.find_all(tags.AttributeReference)]
    for item in given.children if given is not None else ():
        (deleted if _value_left_out(item) else changed).append(A.attribute_key(item))
    if not changed and not deleted:
        raise missing("the changed attributes (at least Last Change Date)")
    log.info("Notify from %s about object %r: changed %s; deleted %s", ctx.user, uid, changed, deleted)
    return _empty()


def _value_left_out(item: Item) -> bool:
    """1.x marks a deleted attribute by leaving out its Attribute Value, which
    kmsd.kmip.attributes.from_v1 lifts as an empty structure."""
    value = item.find(tags.AttributeValue) if item.tag == tags.Attribute else item
    return value is None or (value.type is ItemType.STRUCTURE and not value.children)


def _reference_name(ref: Item) -> str:
    if ref.type is ItemType.ENUMERATION and isinstance(ref.value, int):
        return REGISTRY.tag_name(ref.value) or f"0x{ref.value:06X}"
    vendor, name = ref.get(tags.VendorIdentification), ref.get(tags.AttributeName)
    if not isinstance(name, str):
        raise invalid_field("an Attribute Reference names a tag or a vendor's Attribute Name")
    return f"{vendor}-{name}" if isinstance(vendor, str) else name
