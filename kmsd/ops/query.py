"""Query: what this server supports: operations, objects, server information.

Only what really works is listed.  Profiles are claimed only once the
conformance harness proves them (kmsd.ops.query_info).
"""

from __future__ import annotations

from kmsd.kmip import tags
from kmsd.kmip.enums import ObjectType, Operation, QueryFunction
from ttlv import Item, ItemType

from . import query_info
from .context import Context
from .registry import HANDLERS, handler

SUPPORTED_OBJECTS = (
    ObjectType.SYMMETRIC_KEY,
    ObjectType.SECRET_DATA,
    ObjectType.OPAQUE_OBJECT,
    ObjectType.TEMPLATE,  # 1.x only: pruned from 2.x responses
    ObjectType.PUBLIC_KEY,
    ObjectType.PRIVATE_KEY,
    ObjectType.CERTIFICATE,
    ObjectType.SPLIT_KEY,  # Register/Get, Create/Join Split Key (kmsd.ops.split)
    ObjectType.PGP_KEY,  # 1.2+: Register/Get, kept as given (kmsd.ops.asymkeys)
    ObjectType.CERTIFICATE_REQUEST,  # 2.0+: Register/Get, Certify by identifier (kmsd.ops.cert_requests)
)


@handler(Operation.QUERY)
def query(ctx: Context, payload: Item) -> Item:
    functions = {f.value for f in payload.find_all(tags.QueryFunction) if isinstance(f.value, int)}
    out: list[Item] = []
    if QueryFunction.QUERY_OPERATIONS in functions:
        for op, registered in sorted(HANDLERS.items()):
            if registered.since <= ctx.version:
                out.append(Item(tags.Operation, ItemType.ENUMERATION, int(op)))
    if QueryFunction.QUERY_OBJECTS in functions:
        out.extend(Item(tags.ObjectType, ItemType.ENUMERATION, int(t)) for t in SUPPORTED_OBJECTS)
    if QueryFunction.QUERY_SERVER_INFORMATION in functions:
        out.append(Item(tags.VendorIdentification, ItemType.TEXT_STRING, ctx.info.vendor))
        out.append(
            Item(
                tags.ServerInformation,
                ItemType.STRUCTURE,
                (
                    Item(tags.ServerName, ItemType.TEXT_STRING, ctx.info.product),
                    Item(tags.ServerVersion, ItemType.TEXT_STRING, ctx.info.version),
                    Item(tags.ServerSerialNumber, ItemType.TEXT_STRING, f"policy: {ctx.policy.mode}"),
                ),
            )
        )
    if QueryFunction.QUERY_CAPABILITIES in functions:
        out.append(
            Item(
                tags.CapabilityInformation,
                ItemType.STRUCTURE,
                (
                    Item(tags.StreamingCapability, ItemType.BOOLEAN, True),  # Init/Final Indicator: kmsd.ops.streams
                    Item(tags.AsynchronousCapability, ItemType.BOOLEAN, False),
                    Item(tags.AttestationCapability, ItemType.BOOLEAN, False),
                    Item(tags.BatchUndoCapability, ItemType.BOOLEAN, True),
                    Item(tags.BatchContinueCapability, ItemType.BOOLEAN, True),
                    *query_info.capability_fields(ctx.version),
                ),
            )
        )
    out.extend(query_info.answer(functions, ctx.version))
    return Item(tags.ResponsePayload, ItemType.STRUCTURE, tuple(out))
