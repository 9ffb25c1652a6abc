"""2.x references to an earlier batch item's Unique Identifier.

Theory of operation.  In KMIP 2.x a request's Unique Identifier may be,
besides a Text String, a Unique Identifier Enumeration (2.1 §11.58: "ID
Placeholder", or an operation such as "Create": "If an operation appears
multiple times in a request, it is the most recent that is referred to") or
an Integer ("Zero based nth Unique Identifier in the response. If negative the
count is backwards from the beginning of the current operation's batch item"):
the executor records, for every batch item, the identifier it returned, and
this module resolves a reference against that record.  A reference to an item
that failed or returned no identifier resolves to nothing: Object Not Found.

"Create Key Pair" and "Re-key Key Pair" without Private/Public name two
objects ("the operation is repeated for each of them"); kmsd does not repeat
operations, and refers to the private key.
"""

from __future__ import annotations

from kmsd.kmip import tags
from kmsd.kmip.enums import Operation, ResultReason
from kmsd.kmip.enums import UniqueIdentifierEnum as U
from kmsd.kmip.errors import KmipError, not_found
from ttlv import Item, ItemType

from .context import Context

#: Which Unique Identifier Enumeration a successful operation's identifier(s) set.
_SINGLE = {
    Operation.CERTIFY: U.CERTIFY,
    Operation.CREATE: U.CREATE,
    Operation.CREATE_SPLIT_KEY: U.CREATE_SPLIT_KEY,
    Operation.DERIVE_KEY: U.DERIVE_KEY,
    Operation.IMPORT: U.IMPORT,
    Operation.JOIN_SPLIT_KEY: U.JOIN_SPLIT_KEY,
    Operation.LOCATE: U.LOCATE,
    Operation.REGISTER: U.REGISTER,
    Operation.RE_KEY: U.RE_KEY,
    Operation.RE_CERTIFY: U.RE_CERTIFY,
}
_PAIRS = {
    Operation.CREATE_KEY_PAIR: (U.CREATE_KEY_PAIR, U.CREATE_KEY_PAIR_PRIVATE_KEY, U.CREATE_KEY_PAIR_PUBLIC_KEY),
    Operation.RE_KEY_KEY_PAIR: (U.RE_KEY_KEY_PAIR, U.RE_KEY_KEY_PAIR_PRIVATE_KEY, U.RE_KEY_KEY_PAIR_PUBLIC_KEY),
}


def record(ctx: Context, operation: int, payload: Item | None) -> None:
    """Note what one batch item returned (``payload`` None: it failed)."""
    uid: str | None = None
    if payload is not None:
        if operation in _PAIRS:
            private = payload.get(tags.PrivateKeyUniqueIdentifier)
            public = payload.get(tags.PublicKeyUniqueIdentifier)
            both, priv_enum, pub_enum = _PAIRS[Operation(operation)]
            if isinstance(private, str):
                uid = private
                ctx.operation_uids[both] = ctx.operation_uids[priv_enum] = private
            if isinstance(public, str):
                ctx.operation_uids[pub_enum] = public
        else:
            found = payload.get(tags.UniqueIdentifier)
            uid = found if isinstance(found, str) else None
            if uid is not None and operation in _SINGLE:
                ctx.operation_uids[_SINGLE[Operation(operation)]] = uid
    ctx.batch_uids.append(uid)


def resolve(ctx: Context, ref: Item | None) -> str:
    """A non-text Unique Identifier of the current batch item."""
    if ref is None:
        raise not_found(None)
    if ref.type is ItemType.ENUMERATION and isinstance(ref.value, int):
        if ref.value == U.ID_PLACEHOLDER:
            uid = ctx.id_placeholder
        elif ref.value in U._value2member_map_:
            uid = ctx.operation_uids.get(ref.value)
        else:
            raise KmipError(ResultReason.INVALID_FIELD, f"unknown Unique Identifier value {ref.value:#x}")
    elif ref.type is ItemType.INTEGER and isinstance(ref.value, int):
        current = len(ctx.batch_uids)
        index = current + ref.value if ref.value < 0 else ref.value
        if not 0 <= index < current:
            raise KmipError(ResultReason.INVALID_FIELD, f"Unique Identifier {ref.value} names no earlier batch item")
        uid = ctx.batch_uids[index]
    else:
        raise KmipError(ResultReason.INVALID_FIELD, "Unique Identifier must be a Text String, Enumeration or Integer")
    if uid is None:
        raise not_found(None)
    return uid
