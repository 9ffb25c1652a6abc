"""Which keys may be used for a cryptographic operation, and the Usage Limits they spend.

Theory of operation.  Every cryptographic handler asks :func:`use_key` for
its key with the access right (``encrypt``, ``decrypt``, ``mac``, ``verify``
…: :mod:`kmsd.auth.access`), the Cryptographic Usage Mask bit the operation
needs, and whether it *applies* protection (Encrypt, MAC, Sign) or
*processes* protected data (Decrypt, MAC Verify, Signature Verify).  The
checks, in the order a client can learn from them:

1. access: an object the caller may not use is Item Not Found (never "not yours");
2. lifecycle (KMIP 2.1 §3.4, §4.18, §4.43, §4.46): applying protection needs
   an Active key before its Protect Stop Date; processing needs an Active,
   Deactivated or Compromised key on or after its Process Start Date.
   Otherwise Wrong Key Lifecycle State (Permission Denied in 1.x);
3. the usage mask (§4.17): Incompatible Cryptographic Usage Mask (Permission
   Denied in 1.x).  A key without a mask is not restricted by one;
4. its key material (Key Value Not Present once destroyed).

Usage Limits (§4.59) are charged by :func:`charge` before the data is
protected, in their unit (bytes of input, or one per object/operation);
running out is Permission Denied, as §6.1.17 says.  Processing is never
limited.  The remaining count is written back in the same transaction, so a
failed batch item (rolled back to its savepoint) spends nothing.  Get Usage
Allocation (kmsd.ops.lease) spends from the same count through
:func:`spend`.  When a client sets the attribute, its Usage Limits Count is
the Total (:func:`usage_limits_as_set`), and once anything was spent the
attribute no longer changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kmsd.kmip import tags
from kmsd.kmip.enums import ObjectType, ResultReason, State, UsageLimitsUnit
from kmsd.kmip.errors import KmipError, invalid_field
from ttlv import Item, ItemType

from . import objects
from .context import Context
from .keyblock import material_of

PROTECT_STATES = frozenset({State.ACTIVE})
PROCESS_STATES = frozenset({State.ACTIVE, State.DEACTIVATED, State.COMPROMISED})


@dataclass(frozen=True, slots=True)
class UsableKey:
    mo: objects.ManagedObject
    material: bytes | None  # raw symmetric key bytes (None for other object types)
    algorithm: int | None


def use_key(ctx: Context, uid: str, right: str, mask: int, *, protect: bool) -> UsableKey:
    mo = objects.load(ctx, uid, right, for_update=protect)
    check_lifecycle(mo, ctx.now, protect)
    allowed = mo.get(tags.CryptographicUsageMask)
    if isinstance(allowed, int) and not allowed & mask:
        raise KmipError(
            ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK, "the key's Cryptographic Usage Mask does not allow this"
        )
    if mo.obj is None:
        raise KmipError(ResultReason.KEY_VALUE_NOT_PRESENT, "the key has no key material")
    algorithm = mo.get(tags.CryptographicAlgorithm)
    material = None
    if mo.object_type in (ObjectType.SYMMETRIC_KEY, ObjectType.SECRET_DATA):
        block = mo.obj.find(tags.KeyBlock)
        if block is None:
            raise KmipError(ResultReason.KEY_VALUE_NOT_PRESENT, "the key has no Key Block")
        material, _ = material_of(block)
        if not isinstance(algorithm, int):
            block_alg = block.get(tags.CryptographicAlgorithm)
            algorithm = block_alg if isinstance(block_alg, int) else None
    return UsableKey(mo, material, algorithm if isinstance(algorithm, int) else None)


def check_lifecycle(mo: objects.ManagedObject, now: datetime, protect: bool) -> None:
    if protect:
        stop = mo.get(tags.ProtectStopDate)
        if mo.state not in PROTECT_STATES or (isinstance(stop, datetime) and stop <= now):
            raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, "the key may not be used to protect data now")
        return
    start = mo.get(tags.ProcessStartDate)
    if mo.state not in PROCESS_STATES or (isinstance(start, datetime) and start > now):
        raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, "the key may not be used to process data now")


def charge(ctx: Context, mo: objects.ManagedObject, nbytes: int, *, new_object: bool) -> None:
    """Spend ``nbytes`` (Byte unit) or one use when ``new_object`` (Object
    unit: one per operation or stream) from the key's Usage Limits."""
    limits = usage_limits(mo.attrs)
    if limits is None:
        return
    cost = nbytes if limits[2] == UsageLimitsUnit.BYTE else (1 if new_object else 0)
    if cost:
        spend(ctx, mo, cost, touch=False)


def usage_limits(attrs: tuple[Item, ...]) -> tuple[int, int, int] | None:
    """(Total, remaining Count, Unit) of the Usage Limits in ``attrs``, or None."""
    limits = next((a for a in attrs if a.tag == tags.UsageLimits), None)
    if limits is None:
        return None
    total, count, unit = (limits.get(t) for t in (tags.UsageLimitsTotal, tags.UsageLimitsCount, tags.UsageLimitsUnit))
    if not isinstance(total, int) or not isinstance(unit, int):
        return None
    return total, count if isinstance(count, int) else total, unit


def spend(ctx: Context, mo: objects.ManagedObject, amount: int, *, touch: bool) -> None:
    """Take ``amount`` units from the key's remaining Usage Limits Count
    (Permission Denied when fewer remain; a key without limits is unlimited).
    ``touch``: whether it sets Last Change Date (§4.29 lists Get Usage
    Allocation among the operations that do, not the cryptographic ones)."""
    limits = usage_limits(mo.attrs)
    if limits is None:
        return
    total, remaining, unit = limits
    if amount > remaining:
        raise KmipError(ResultReason.PERMISSION_DENIED, "the key's Usage Limits do not allow this much")
    mo.set_attr(tags.UsageLimits, _limits_item(total, remaining - amount, unit))
    objects.save(ctx, mo, touch=touch)


def usage_limits_as_set(item: Item, held: tuple[Item, ...] = ()) -> Item:
    """A Usage Limits attribute as a client sets it (Create, Register, Add /
    Modify / Set Attribute) on an object holding ``held``; any other
    attribute is returned unchanged.  §4.59: "the Usage Limits Count is set
    to the Usage Limits Total", the client's Count is ignored, and the
    attribute "SHALL NOT be changed" once units were spent (Attribute Read
    Only).  Deleting it is refused the same way: pass the held one."""
    if item.tag != tags.UsageLimits:
        return item
    current = usage_limits(held)
    if current is not None and current[1] != current[0]:
        raise KmipError(ResultReason.ATTRIBUTE_READ_ONLY, "Usage Limits cannot change once units were spent")
    total, unit = item.get(tags.UsageLimitsTotal), item.get(tags.UsageLimitsUnit)
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise invalid_field("Usage Limits needs a non-negative Usage Limits Total")
    if not isinstance(unit, int) or isinstance(unit, bool):
        raise invalid_field("Usage Limits needs a Usage Limits Unit")
    return _limits_item(total, total, unit)


def _limits_item(total: int, count: int, unit: int) -> Item:
    return Item(
        tags.UsageLimits,
        ItemType.STRUCTURE,
        (
            Item(tags.UsageLimitsTotal, ItemType.LONG_INTEGER, total),
            Item(tags.UsageLimitsCount, ItemType.LONG_INTEGER, count),
            Item(tags.UsageLimitsUnit, ItemType.ENUMERATION, int(unit)),
        ),
    )
