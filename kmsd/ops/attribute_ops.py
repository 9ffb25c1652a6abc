"""Get Attributes, Get Attribute List, Add / Modify / Delete / Set / Adjust Attribute."""

from __future__ import annotations

from datetime import datetime, timedelta

from kmsd.kmip import attributes as A
from kmsd.kmip import tags
from kmsd.kmip.enums import AdjustmentType, Operation, ResultReason, State
from kmsd.kmip.errors import KmipError, invalid_field, missing
from ttlv import Item, ItemType

from . import objects
from .attribute_rules import read_only, rule_for
from .context import Context
from .crypto_keys import usage_limits_as_set
from .newobject import check_unique_names
from .registry import handler


def _uid_payload(uid: str, *extra: Item) -> Item:
    return Item(
        tags.ResponsePayload, ItemType.STRUCTURE, (Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, uid), *extra)
    )


def _matches_reference(item: Item, ref: Item) -> bool:
    if ref.type is ItemType.ENUMERATION:
        return item.tag == ref.value
    if ref.type is ItemType.STRUCTURE and item.tag == tags.Attribute:
        vendor, name = ref.get(tags.VendorIdentification), ref.get(tags.AttributeName)
        return item.get(tags.VendorIdentification) == vendor and item.get(tags.AttributeName) == name
    return False


@handler(Operation.GET_ATTRIBUTES)
def get_attributes(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    mo = objects.load(ctx, uid, "get_attributes")
    refs = payload.find_all(tags.AttributeReference)
    if len(set(map(repr, refs))) != len(refs):
        # 1.x Get Attributes errors: "The same Attribute Name is present more than once".
        raise KmipError(ResultReason.INVALID_MESSAGE, "an attribute is requested more than once")
    every = mo.all_attributes()
    chosen = [a for a in every if any(_matches_reference(a, r) for r in refs)] if refs else list(every)
    ctx.id_placeholder = uid
    return _uid_payload(uid, Item(tags.Attributes, ItemType.STRUCTURE, tuple(chosen)))


@handler(Operation.GET_ATTRIBUTE_LIST)
def get_attribute_list(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    mo = objects.load(ctx, uid, "get_attributes")
    refs: list[Item] = []
    seen: set[object] = set()
    for a in mo.all_attributes():
        if a.tag == tags.Attribute:
            key: object = (a.get(tags.VendorIdentification), a.get(tags.AttributeName))
            ref = Item(
                tags.AttributeReference,
                ItemType.STRUCTURE,
                tuple(c for c in a.children if c.tag in (tags.VendorIdentification, tags.AttributeName)),
            )
        else:
            key = a.tag
            ref = Item(tags.AttributeReference, ItemType.ENUMERATION, a.tag)
        if key not in seen:
            seen.add(key)
            refs.append(ref)
    ctx.id_placeholder = uid
    return _uid_payload(uid, *refs)


def _new_attribute(payload: Item) -> Item:
    new = payload.find(tags.NewAttribute)
    if new is None or not new.children:
        raise missing("New Attribute")
    return new.children[0]


def _check_date_change(mo: objects.ManagedObject, item: Item) -> None:
    """Activation Date may only change before activation (spec attribute rules)."""
    if item.tag == tags.ActivationDate and mo.state != State.PRE_ACTIVE:
        raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, "Activation Date can change only while Pre-Active")


@handler(Operation.ADD_ATTRIBUTE, writes=True)
def add_attribute(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    mo = objects.load(ctx, uid, "modify_attributes", for_update=True)
    item = _new_attribute(payload)
    rule = rule_for(item)
    key = A.attribute_key(item)
    existing = A.instances(mo.all_attributes(), key)
    if not rule.modify and not (rule.on_create and not existing):
        raise read_only(item)
    if existing and not rule.multi:
        raise KmipError(ResultReason.ATTRIBUTE_SINGLE_VALUED, f"attribute {key} allows one instance only")
    _check_date_change(mo, item)
    item = usage_limits_as_set(item, mo.attrs)
    check_unique_names(ctx, (item,), held=mo.attrs)
    mo.attrs = (*mo.attrs, item)
    objects.apply_time_transitions(mo, ctx.now)
    objects.save(ctx, mo)
    ctx.id_placeholder = uid
    index = Item(tags.AttributeIndex, ItemType.INTEGER, len(existing))
    return _uid_payload(uid, Item(tags.NewAttribute, ItemType.STRUCTURE, (item,)), index)


def _instance_position(attrs: tuple[Item, ...], key: str, index: int | None, current: Item | None) -> int:
    """Position in ``attrs`` of the instance addressed by index or by value."""
    positions = [i for i, a in enumerate(attrs) if A.attribute_key(a) == key]
    if not positions:
        raise KmipError(ResultReason.ATTRIBUTE_NOT_FOUND, f"attribute {key} not found")
    if current is not None:
        for i in positions:
            if attrs[i] == current:
                return i
        raise KmipError(ResultReason.ATTRIBUTE_INSTANCE_NOT_FOUND, f"no such instance of {key}")
    if index is None:
        index = 0
    if not 0 <= index < len(positions):
        raise KmipError(ResultReason.ATTRIBUTE_INSTANCE_NOT_FOUND, f"attribute {key} has no instance {index}")
    return positions[index]


@handler(Operation.MODIFY_ATTRIBUTE, writes=True)
def modify_attribute(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    mo = objects.load(ctx, uid, "modify_attributes", for_update=True)
    item = _new_attribute(payload)
    if not rule_for(item).modify:
        raise read_only(item)
    _check_date_change(mo, item)
    item = usage_limits_as_set(item, mo.attrs)
    check_unique_names(ctx, (item,), exclude=uid)
    key = A.attribute_key(item)
    current_wrapper = payload.find(tags.CurrentAttribute)
    current = current_wrapper.children[0] if current_wrapper and current_wrapper.children else None
    index = payload.get(tags.AttributeIndex)
    pos = _instance_position(mo.attrs, key, index if isinstance(index, int) else None, current)
    instance_index = sum(1 for a in mo.attrs[:pos] if A.attribute_key(a) == key)
    mo.attrs = (*mo.attrs[:pos], item, *mo.attrs[pos + 1 :])
    objects.apply_time_transitions(mo, ctx.now)
    objects.save(ctx, mo)
    ctx.id_placeholder = uid
    return _uid_payload(
        uid,
        Item(tags.NewAttribute, ItemType.STRUCTURE, (item,)),
        Item(tags.AttributeIndex, ItemType.INTEGER, instance_index),
    )


@handler(Operation.DELETE_ATTRIBUTE, writes=True)
def delete_attribute(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    mo = objects.load(ctx, uid, "modify_attributes", for_update=True)
    current_wrapper = payload.find(tags.CurrentAttribute)
    current = current_wrapper.children[0] if current_wrapper and current_wrapper.children else None
    ref = payload.find(tags.AttributeReference)
    if current is not None:
        probe = current
    elif ref is not None:
        matches = [a for a in mo.all_attributes() if _matches_reference(a, ref)]
        if not matches:
            raise KmipError(ResultReason.ATTRIBUTE_NOT_FOUND, "attribute not found")
        probe = matches[0]
    else:
        raise missing("Current Attribute or Attribute Reference")
    if not rule_for(probe).delete:
        raise read_only(probe)
    usage_limits_as_set(probe, mo.attrs)  # not once units were spent
    key = A.attribute_key(probe)
    index = payload.get(tags.AttributeIndex)
    pos = _instance_position(mo.attrs, key, index if isinstance(index, int) else None, current)
    instance_index = sum(1 for a in mo.attrs[:pos] if A.attribute_key(a) == key)
    removed = mo.attrs[pos]
    mo.attrs = (*mo.attrs[:pos], *mo.attrs[pos + 1 :])
    objects.save(ctx, mo)
    ctx.id_placeholder = uid
    return _uid_payload(
        uid,
        Item(tags.CurrentAttribute, ItemType.STRUCTURE, (removed,)),
        Item(tags.AttributeIndex, ItemType.INTEGER, instance_index),
    )


@handler(Operation.SET_ATTRIBUTE, since=(2, 0), writes=True)
def set_attribute(ctx: Context, payload: Item) -> Item:
    """2.x Set Attribute: replace every instance of a single-valued attribute."""
    uid = objects.request_uid(ctx, payload)
    mo = objects.load(ctx, uid, "modify_attributes", for_update=True)
    item = _new_attribute(payload)
    rule = rule_for(item)
    key = A.attribute_key(item)
    existing = A.instances(mo.all_attributes(), key)
    if rule.multi and len(existing) > 1:
        # "If the object did not have any instances of the attribute, one is
        # created. If the object had exactly one instance, then it is modified.
        # If it has more than one instance an error is raised."
        raise KmipError(ResultReason.MULTI_VALUED_ATTRIBUTE, f"attribute {key} has several instances")
    if not rule.modify and not (rule.on_create and not existing):
        raise read_only(item)
    _check_date_change(mo, item)
    item = usage_limits_as_set(item, mo.attrs)
    mo.attrs = (*(a for a in mo.attrs if A.attribute_key(a) != key), item)
    objects.apply_time_transitions(mo, ctx.now)
    objects.save(ctx, mo)
    ctx.id_placeholder = uid
    return _uid_payload(uid)


@handler(Operation.ADJUST_ATTRIBUTE, since=(2, 0), writes=True)
def adjust_attribute(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    mo = objects.load(ctx, uid, "modify_attributes", for_update=True)
    ref = payload.find(tags.AttributeReference)
    adjustment = payload.get(tags.AdjustmentType)
    if ref is None or not isinstance(adjustment, int):
        raise missing("Attribute Reference and Adjustment Type")
    positions = [i for i, a in enumerate(mo.attrs) if _matches_reference(a, ref)]
    if not positions:
        raise KmipError(ResultReason.ATTRIBUTE_NOT_FOUND, "attribute not found")
    current = mo.attrs[positions[0]]
    if not rule_for(current).modify:
        raise read_only(current)
    param = payload.find(tags.AdjustmentValue)
    adjusted = _adjust(current, AdjustmentType(adjustment), param)
    mo.attrs = (*mo.attrs[: positions[0]], adjusted, *mo.attrs[positions[0] + 1 :])
    objects.save(ctx, mo)
    ctx.id_placeholder = uid
    return _uid_payload(uid)


def _adjust(item: Item, how: AdjustmentType, param: Item | None) -> Item:
    value = item.value
    if how == AdjustmentType.NEGATE:
        if isinstance(value, bool):
            return Item(item.tag, item.type, not value)
        if isinstance(value, int):
            return Item(item.tag, item.type, -value)
        raise invalid_field("Negate applies to numbers and booleans")
    sign = 1 if how == AdjustmentType.INCREMENT else -1
    amount = param.value if param is not None else 1
    if isinstance(value, datetime) and isinstance(amount, int):
        return Item(item.tag, item.type, value + sign * timedelta(seconds=amount))
    if isinstance(value, int) and not isinstance(value, bool) and isinstance(amount, int):
        return Item(item.tag, item.type, value + sign * amount)
    raise invalid_field("Adjustment does not apply to this attribute type")
