"""2.x references to an earlier batch item's Unique Identifier or Data.

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

Data works the same way (2.1 §7.9, §11.13): a request's Data may be a Data
Enumeration — the output of the most recent Decrypt, Encrypt, Hash, MAC (its
MAC Data), RNG Retrieve, Sign (its Signature Data) or Signature Verify — or an
Integer counting batch items as for identifiers; :func:`with_data` puts the
referenced bytes in its place before the handler runs, so handlers only ever
see a Byte String.  With the batch item's Ephemeral flag (§8.3: "the Data
output … should not be returned to the client") the executor records the
output here and answers with an empty payload: a client re-encrypts under
another key without the plaintext crossing the wire.
"""

from __future__ import annotations

from kmsd.kmip import tags
from kmsd.kmip.enums import DataEnum as D
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

#: Operation -> (the Data Enumeration naming its output, the output's tag).
_DATA_OUTPUTS = {
    Operation.DECRYPT: (D.DECRYPT, tags.Data),
    Operation.ENCRYPT: (D.ENCRYPT, tags.Data),
    Operation.HASH: (D.HASH, tags.Data),
    Operation.MAC: (D.MAC_MAC_DATA, tags.MACData),
    Operation.RNG_RETRIEVE: (D.RNG_RETRIEVE, tags.Data),
    Operation.SIGN: (D.SIGN_SIGNATURE_DATA, tags.SignatureData),
    Operation.SIGNATURE_VERIFY: (D.SIGNATURE_VERIFY, tags.Data),
}


def record(ctx: Context, operation: int, payload: Item | None) -> None:
    """Note what one batch item returned (``payload`` None: it failed)."""
    _record_data(ctx, operation, payload)
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
        uid = ctx.batch_uids[_earlier_item(ref.value, len(ctx.batch_uids), "Unique Identifier")]
    else:
        raise KmipError(ResultReason.INVALID_FIELD, "Unique Identifier must be a Text String, Enumeration or Integer")
    if uid is None:
        raise not_found(None)
    return uid


def _earlier_item(value: int, current: int, what: str) -> int:
    """The batch item an Integer reference names: from the start, or back from this item when negative."""
    index = current + value if value < 0 else value
    if not 0 <= index < current:
        raise KmipError(ResultReason.INVALID_FIELD, f"{what} {value} names no earlier batch item")
    return index


def _record_data(ctx: Context, operation: int, payload: Item | None) -> None:
    data: bytes | None = None
    output = _DATA_OUTPUTS.get(Operation(operation)) if operation in Operation._value2member_map_ else None
    if payload is not None and output is not None:
        found = payload.get(output[1])
        if isinstance(found, bytes):
            data = ctx.operation_data[output[0]] = found
    ctx.batch_data.append(data)


def with_data(ctx: Context, payload: Item) -> Item:
    """``payload`` with a 2.x Data reference replaced by the bytes it names."""
    data = payload.find(tags.Data)
    if data is None or data.type is ItemType.BYTE_STRING or ctx.version < (2, 0):
        return payload  # 1.x Data is a Byte String only: a handler rejects anything else
    value = Item(tags.Data, ItemType.BYTE_STRING, _referenced_data(ctx, data))
    return Item(payload.tag, payload.type, tuple(value if c is data else c for c in payload.children))


def _referenced_data(ctx: Context, ref: Item) -> bytes:
    found: bytes | None
    if ref.type is ItemType.ENUMERATION and isinstance(ref.value, int):
        if ref.value not in D._value2member_map_:
            raise KmipError(ResultReason.INVALID_FIELD, f"unknown Data value {ref.value:#x}")
        found = ctx.operation_data.get(ref.value)
        what = D(ref.value).name
    elif ref.type is ItemType.INTEGER and isinstance(ref.value, int):
        index = _earlier_item(ref.value, len(ctx.batch_data), "Data")
        found = ctx.batch_data[index]
        what = f"batch item {index}"
    else:
        raise KmipError(ResultReason.INVALID_FIELD, "Data must be a Byte String, Enumeration or Integer")
    if found is None:
        raise KmipError(ResultReason.INVALID_FIELD, f"Data refers to {what}, which returned no data in this batch")
    return found
