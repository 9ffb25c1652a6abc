"""Locate: search by attributes, newest first, only among what the caller may see.

Common filters (object type, state, name, group, algorithm, length) go to the
store as indexed SQL; the rest of the spec's matching rules (date ranges,
usage-mask superset, partial structures, storage status) are applied here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from kmsd.kmip import attributes as A
from kmsd.kmip import tags
from kmsd.kmip.enums import ObjectGroupMember, Operation, StorageStatusMask
from kmsd.kmip.errors import invalid_field
from kmsd.store.base import LocateFilter
from ttlv import Item, ItemType

from . import groups, objects
from .context import Context
from .registry import handler

DATE_TYPES = (ItemType.DATE_TIME, ItemType.DATE_TIME_EXTENDED)
# "If a Date attribute is set to its largest possible value, then it is
# equivalent to an undefined attribute."
MAX_DATE_SECONDS = 2**63 - 1


def _prefilter(ctx: Context, wanted: dict[str, list[Item]]) -> LocateFilter:
    def single_int(tag: int) -> int | None:
        items = [a for a in wanted.get(_key(tag), []) if isinstance(a.value, int)]
        return items[0].value if len(items) == 1 else None  # type: ignore[return-value]

    names = wanted.get("Name", [])
    name = names[0].get(tags.NameValue) if len(names) == 1 else None
    groups = wanted.get("Object Group", [])
    group = groups[0].value if len(groups) == 1 else None
    object_type = single_int(tags.ObjectType)
    state = single_int(tags.State)
    return LocateFilter(
        object_types=(object_type,) if object_type is not None else None,
        states=(state,) if state is not None else None,
        name=name if isinstance(name, str) else None,
        object_group=group if isinstance(group, str) else None,
        cryptographic_algorithm=single_int(tags.CryptographicAlgorithm),
        cryptographic_length=single_int(tags.CryptographicLength),
        visible_to=ctx.user,
        visible_with=("get", "locate", "get_attributes"),
    )


def _key(tag: int) -> str:
    return A.attribute_key(Item(tag, ItemType.INTEGER, 0))


def _struct_matches(wanted: Item, actual: Item) -> bool:
    """Every field the request gives must be present and equal (partial match)."""
    if wanted.type is not ItemType.STRUCTURE:
        return wanted.type == actual.type and wanted.value == actual.value
    if actual.type is not ItemType.STRUCTURE:
        return False
    return all(any(_struct_matches(w, a) for a in actual.find_all(w.tag)) for w in wanted.children)


def _matches(candidates: list[Item], wanted: list[Item]) -> bool:
    first = wanted[0]
    if first.type in DATE_TYPES:
        dates = [w.value for w in wanted if isinstance(w.value, datetime)]
        have = [c.value for c in candidates if isinstance(c.value, datetime)]
        if len(dates) >= 2:
            low, high = min(dates[:2]), max(dates[:2])
            return any(low <= d <= high for d in have)
        return any(d == dates[0] for d in have) if dates else True
    if first.tag == tags.CryptographicUsageMask and isinstance(first.value, int):
        mask = first.value
        return any(isinstance(c.value, int) and c.value & mask == mask for c in candidates)
    if first.tag == tags.UsageLimits:
        return bool(candidates)
    return all(any(_struct_matches(w, c) for c in candidates) for w in wanted)


def _storage_ok(mo: objects.ManagedObject, mask: int) -> bool:
    if not mo.has_object and mo.get(tags.DestroyDate) is not None:  # without opening the payload
        return bool(mask & StorageStatusMask.DESTROYED_STORAGE)
    if mo.get(tags.ArchiveDate) is not None:
        return bool(mask & StorageStatusMask.ARCHIVAL_STORAGE)
    return bool(mask & StorageStatusMask.ON_LINE_STORAGE)


@handler(Operation.LOCATE)
def locate(ctx: Context, payload: Item) -> Item:
    requested = payload.find(tags.Attributes)
    wanted: dict[str, list[Item]] = defaultdict(list)
    for item in requested.children if requested else ():
        if item.type in DATE_TYPES and isinstance(item.value, datetime) and item.value.year >= 9999:
            continue
        wanted[A.attribute_key(item)].append(item)
    max_items = payload.get(tags.MaximumItems)
    offset = payload.get(tags.OffsetItems)
    if (isinstance(max_items, int) and max_items < 0) or (isinstance(offset, int) and offset < 0):
        raise invalid_field("Maximum Items and Offset Items must not be negative")
    mask = payload.get(tags.StorageStatusMask)
    storage = mask if isinstance(mask, int) and mask else StorageStatusMask.ON_LINE_STORAGE
    member = payload.get(tags.ObjectGroupMember)

    found: list[str] = []
    fresh: set[str] = set()
    for stored in ctx.tx.locate(_prefilter(ctx, wanted)):
        mo = objects.ManagedObject.from_stored(stored)
        objects.apply_time_transitions(mo, ctx.now)
        if not _storage_ok(mo, storage):
            continue
        every = mo.all_attributes()
        if member == ObjectGroupMember.GROUP_MEMBER_FRESH and mo.get(tags.Fresh) is not True:
            continue
        if all(_matches(A.instances(every, key), items) for key, items in wanted.items()):
            found.append(mo.uid)
            if mo.get(tags.Fresh) is True:
                fresh.add(mo.uid)
    if member is None:
        found.reverse()  # most recently created first
    else:
        # Object Group Member (Fresh/Default): serve the group as a queue,
        # oldest first; the default member is the oldest fresh object, else
        # the oldest one (see groups.py for the policy).
        found = groups.order_members(found, fresh, member if isinstance(member, int) else 0)
        if not found and groups.may_generate(member, wanted):
            found = [groups.generate_member(ctx, wanted)]
    total = len(found)
    start = offset if isinstance(offset, int) else 0
    page = found[start : start + max_items] if isinstance(max_items, int) and max_items > 0 else found[start:]
    ctx.id_placeholder = page[0] if len(page) == 1 else None
    # Located Items is optional ("A server MAY elect to return the Located
    # Items value even if Offset Items is not present"); like the profiles'
    # test cases, report it when the client pages with Offset Items.
    paging = offset is not None
    counted = (Item(tags.LocatedItems, ItemType.INTEGER, total),) if paging else ()
    return Item(
        tags.ResponsePayload,
        ItemType.STRUCTURE,
        (*counted, *(Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, uid) for uid in page)),
    )
