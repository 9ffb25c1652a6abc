"""Obtain Lease and Get Usage Allocation: what a client may do with a copy it holds.

Theory of operation.  Both hand out permission for use *outside* the server
(a client that cached a key), and both refuse what the object's state or
limits no longer allow.

- Obtain Lease (KMIP 1.0 §4.16, 2.1 §6.1.35): grants the object's Lease Time
  attribute, the longest lease kmsd serves for it (newobject sets
  ``DEFAULT_LEASE_SECONDS`` on every cryptographic object; an object without
  the attribute gets that constant too), and returns its Last Change Date so
  the client can tell whether its cached attributes are stale.  Leases are
  refused (Permission Denied, the only refusal both the 1.x and 2.x error
  tables list) for objects that must no longer be trusted or no longer have
  their material: Compromised, Destroyed, Destroyed Compromised -- as the
  OASIS case TC_95 expects for a compromised key ("no lease given").
  Pre-Active, Active and Deactivated objects (still good for processing)
  get one.  A read: nothing is stored, the lease is advisory.
- Get Usage Allocation (1.0 §4.17, 2.1 §6.1.23; in every version): spends
  the requested Usage Limits Count from the key's Usage Limits through the
  same counter the server-side cryptographic operations charge
  (kmsd.ops.crypto_keys.spend), only while the key may apply protection
  (Active, before its Protect Stop Date: crypto_keys.check_lifecycle).  The
  caller needs a right that applies protection (encrypt, sign or mac), as
  the allocation is for exactly that.
"""

from __future__ import annotations

from datetime import datetime

from kmsd.kmip import tags
from kmsd.kmip.enums import CryptographicUsageMask as M
from kmsd.kmip.enums import ObjectType, Operation, ResultReason, State
from kmsd.kmip.errors import KmipError, invalid_field
from ttlv import Item, ItemType

from . import objects
from .context import Context
from .crypto_keys import check_lifecycle, spend, usage_limits
from .newobject import DEFAULT_LEASE_SECONDS
from .registry import handler

#: States in which no lease is given: the object must not be used any more.
NO_LEASE_STATES = frozenset({State.COMPROMISED, State.DESTROYED, State.DESTROYED_COMPROMISED})

#: Objects that can apply cryptographic protection (Usage Limits "Applies to
#: Object Types: Keys"), and the usage-mask bits that apply it.
PROTECTING_TYPES = frozenset(
    {
        ObjectType.SYMMETRIC_KEY,
        ObjectType.PRIVATE_KEY,
        ObjectType.PUBLIC_KEY,
        ObjectType.SECRET_DATA,
        ObjectType.SPLIT_KEY,
    }
)
PROTECTING_MASK = (
    M.ENCRYPT | M.SIGN | M.WRAP_KEY | M.MAC_GENERATE | M.CERTIFICATE_SIGN | M.CRL_SIGN
    | M.FPE_ENCRYPT | M.GENERATE_CRYPTOGRAM | M.TRANSLATE_ENCRYPT | M.TRANSLATE_WRAP | M.UNRESTRICTED
)  # fmt: skip
#: Access rights (kmsd.auth.access) that let a non-owner apply protection.
PROTECTING_RIGHTS = ("encrypt", "sign", "mac")


def _uid_payload(uid: str, *extra: Item) -> Item:
    return Item(
        tags.ResponsePayload, ItemType.STRUCTURE, (Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, uid), *extra)
    )


@handler(Operation.OBTAIN_LEASE)
def obtain_lease(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    mo = objects.load(ctx, uid, "get")
    if mo.object_type not in objects.STATELESS_TYPES and mo.state in NO_LEASE_STATES:
        raise KmipError(ResultReason.PERMISSION_DENIED, f"the object is {mo.state.name}: no lease is given")
    last_change = mo.get(tags.LastChangeDate) or mo.get(tags.InitialDate)
    ctx.id_placeholder = uid
    return _uid_payload(
        uid,
        Item(tags.LeaseTime, ItemType.INTERVAL, granted_lease(mo)),
        Item(tags.LastChangeDate, ItemType.DATE_TIME, last_change if isinstance(last_change, datetime) else ctx.now),
    )


def granted_lease(mo: objects.ManagedObject) -> int:
    """The lease Obtain Lease grants on ``mo``: its Lease Time (server-set)."""
    lease = mo.get(tags.LeaseTime)
    return lease if isinstance(lease, int) else DEFAULT_LEASE_SECONDS


@handler(Operation.GET_USAGE_ALLOCATION, writes=True)
def get_usage_allocation(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    amount = payload.get(tags.UsageLimitsCount)
    if not isinstance(amount, int) or isinstance(amount, bool):
        # The 1.x error table: "No Usage Limits Count is specified" -> Invalid Message.
        raise KmipError(ResultReason.INVALID_MESSAGE, "Get Usage Allocation needs a Usage Limits Count")
    if amount <= 0:
        raise invalid_field("the Usage Limits Count to allocate must be positive")
    mo = _load_for_protection(ctx, uid)
    mask = mo.get(tags.CryptographicUsageMask)
    # The 1.x table names Illegal Operation for both of these; 2.x splits them.
    if mo.object_type not in PROTECTING_TYPES or (isinstance(mask, int) and not mask & PROTECTING_MASK):
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE,
            "the object cannot apply cryptographic protection",
            v1_reason=ResultReason.ILLEGAL_OPERATION,
        )
    if usage_limits(mo.attrs) is None:
        raise KmipError(
            ResultReason.ATTRIBUTE_NOT_FOUND,
            "the object has no Usage Limits to allocate from",
            v1_reason=ResultReason.ILLEGAL_OPERATION,
        )
    check_lifecycle(mo, ctx.now, protect=True)  # "after the Activation Date and before the Protect Stop Date"
    spend(ctx, mo, amount, touch=True)  # more than remains: Permission Denied, as for Encrypt
    ctx.id_placeholder = uid
    return _uid_payload(uid)


def _load_for_protection(ctx: Context, uid: str) -> objects.ManagedObject:
    """The object, for update, if the caller may apply protection with it
    (owner, or a grant of any protecting right); else Object Not Found."""
    stored = ctx.tx.get(uid)
    right = next((r for r in PROTECTING_RIGHTS if stored is not None and objects.can(ctx, stored, r)), "encrypt")
    return objects.load(ctx, uid, right, for_update=True)
