"""Activate, Revoke, Destroy, Archive, Recover, Check: the state machine.

Transitions are a table (spec: "Cryptographic Object States and
Transitions"): for each operation, the states it may start from and the
state it leads to.
"""

from __future__ import annotations

from datetime import datetime

from kmsd.kmip import tags
from kmsd.kmip.enums import ObjectType, Operation, ResultReason, RevocationReasonCode, State
from kmsd.kmip.errors import KmipError, missing
from ttlv import Item, ItemType

from . import objects
from .context import Context
from .crypto_keys import usage_limits
from .lease import granted_lease
from .registry import handler

S = State
ACTIVATE = {S.PRE_ACTIVE: S.ACTIVE}
REVOKE_COMPROMISED = {
    S.PRE_ACTIVE: S.COMPROMISED,
    S.ACTIVE: S.COMPROMISED,
    S.DEACTIVATED: S.COMPROMISED,
    S.COMPROMISED: S.COMPROMISED,
    S.DESTROYED: S.DESTROYED_COMPROMISED,
    S.DESTROYED_COMPROMISED: S.DESTROYED_COMPROMISED,
}
REVOKE_OTHER = {S.PRE_ACTIVE: S.DEACTIVATED, S.ACTIVE: S.DEACTIVATED, S.DEACTIVATED: S.DEACTIVATED}
DESTROY = {
    S.PRE_ACTIVE: S.DESTROYED,
    S.DEACTIVATED: S.DESTROYED,
    S.COMPROMISED: S.DESTROYED_COMPROMISED,
}
COMPROMISE_REASONS = {RevocationReasonCode.KEY_COMPROMISE, RevocationReasonCode.CA_COMPROMISE}


def _uid_payload(uid: str) -> Item:
    return Item(tags.ResponsePayload, ItemType.STRUCTURE, (Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, uid),))


def _transition(mo: objects.ManagedObject, table: dict[State, State], operation: str) -> State:
    if mo.object_type in objects.STATELESS_TYPES:
        return mo.state
    new = table.get(mo.state)
    if new is None:
        raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, f"{operation} is not allowed in state {mo.state.name}")
    return new


@handler(Operation.ACTIVATE, writes=True)
def activate(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    mo = objects.load(ctx, uid, "activate", for_update=True)
    if mo.object_type in objects.STATELESS_TYPES:
        raise KmipError(ResultReason.ILLEGAL_OBJECT_TYPE, f"{mo.object_type.name} has no lifecycle")
    mo.state = _transition(mo, ACTIVATE, "Activate")
    mo.set_date(tags.ActivationDate, ctx.now)
    objects.save(ctx, mo)
    ctx.id_placeholder = uid
    return _uid_payload(uid)


@handler(Operation.REVOKE, writes=True)
def revoke(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    mo = objects.load(ctx, uid, "revoke", for_update=True)
    reason = payload.find(tags.RevocationReason)
    code = reason.get(tags.RevocationReasonCode) if reason else None
    if not isinstance(code, int):
        raise missing("Revocation Reason Code")
    if code in COMPROMISE_REASONS:
        mo.state = _transition(mo, REVOKE_COMPROMISED, "Revoke")
        occurred = payload.get(tags.CompromiseOccurrenceDate)
        mo.set_date(tags.CompromiseOccurrenceDate, occurred if isinstance(occurred, datetime) else ctx.now)
        mo.set_date(tags.CompromiseDate, ctx.now)
    else:
        mo.state = _transition(mo, REVOKE_OTHER, "Revoke")
        if mo.get(tags.DeactivationDate) is None or mo.state == State.DEACTIVATED:
            mo.set_date(tags.DeactivationDate, ctx.now)
    if reason is not None:
        mo.set_attr(tags.RevocationReason, reason)
    objects.save(ctx, mo)
    ctx.id_placeholder = uid
    return _uid_payload(uid)


@handler(Operation.DESTROY, writes=True)
def destroy(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    mo = objects.load(ctx, uid, "destroy", for_update=True)
    if mo.obj is None:
        raise KmipError(ResultReason.OBJECT_DESTROYED, f"object {uid} is already destroyed")
    if mo.object_type not in objects.STATELESS_TYPES:
        mo.state = _transition(mo, DESTROY, "Destroy")
    mo.obj = None  # the material goes; the metadata stays
    mo.set_date(tags.DestroyDate, ctx.now)
    objects.save(ctx, mo)
    ctx.id_placeholder = uid
    return _uid_payload(uid)


@handler(Operation.ARCHIVE, writes=True)
def archive(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    mo = objects.load(ctx, uid, "archive", for_update=True)
    mo.set_date(tags.ArchiveDate, ctx.now)
    objects.save(ctx, mo)
    ctx.id_placeholder = uid
    return _uid_payload(uid)


@handler(Operation.RECOVER, writes=True)
def recover(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    mo = objects.load(ctx, uid, "recover", for_update=True)
    mo.set_attr(tags.ArchiveDate, None)
    objects.save(ctx, mo)
    ctx.id_placeholder = uid
    return _uid_payload(uid)


@handler(Operation.CHECK)
def check(ctx: Context, payload: Item) -> Item:
    """Check: would the object be usable as described?"""
    uid = objects.request_uid(ctx, payload)
    mo = objects.load(ctx, uid, "get")
    mask = payload.get(tags.CryptographicUsageMask)
    if isinstance(mask, int):
        allowed = mo.get(tags.CryptographicUsageMask)
        if isinstance(allowed, int) and mask & ~allowed:
            raise KmipError(ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK, "usage mask not allowed by the object")
    if mo.object_type != ObjectType.OPAQUE_OBJECT and mo.state not in (State.ACTIVE, State.PRE_ACTIVE):
        raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, f"object is {mo.state.name}")
    wanted = payload.get(tags.UsageLimitsCount)
    limits = usage_limits(mo.attrs)
    if isinstance(wanted, int) and limits is not None and wanted > limits[1]:
        # "the client is ensuring that the amount specified is available"
        raise KmipError(ResultReason.USAGE_LIMIT_EXCEEDED, f"only {limits[1]} of the object's Usage Limits remain")
    lease = payload.get(tags.LeaseTime)
    granted = granted_lease(mo)
    if isinstance(lease, int) and lease > granted:
        raise KmipError(ResultReason.PERMISSION_DENIED, f"a lease of at most {granted} s would be granted")
    ctx.id_placeholder = uid
    # The checked fields are returned only when a check fails (spec, Check).
    return _uid_payload(uid)
