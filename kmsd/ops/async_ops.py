"""Poll and Cancel for a server that never answers Operation Pending.

Theory of operation.  kmsd runs every operation synchronously: it answers a
request with Asynchronous Indicator true at once, and one with Asynchronous
Indicator Mandatory with Feature Not Supported (kmsd.ops.executor).  So no
Asynchronous Correlation Value it ever issued is outstanding, and Poll and
Cancel, which a client may still send (and which the MSGENC profiles expect a
server to list in Query), answer every value as unknown: 2.x "Invalid
Asynchronous Correlation Value", which 1.x, lacking it, spells "Item Not
Found" ("No outstanding operation with the specified Asynchronous Correlation
Value exists"; the fallback is in the executor's REASON_FALLBACKS).
"""

from __future__ import annotations

from kmsd.kmip import tags
from kmsd.kmip.enums import Operation, ResultReason
from kmsd.kmip.errors import KmipError, missing
from ttlv import Item

from .context import Context
from .registry import handler


def _unknown(payload: Item) -> KmipError:
    value = payload.get(tags.AsynchronousCorrelationValue)
    if not isinstance(value, bytes):
        return missing("Asynchronous Correlation Value")
    return KmipError(
        ResultReason.INVALID_ASYNCHRONOUS_CORRELATION_VALUE,
        "no outstanding operation has this Asynchronous Correlation Value (kmsd runs every operation synchronously)",
    )


@handler(Operation.POLL)
def poll(ctx: Context, payload: Item) -> Item:
    raise _unknown(payload)


@handler(Operation.CANCEL)
def cancel(ctx: Context, payload: Item) -> Item:
    raise _unknown(payload)
