"""RNG Retrieve, Ping, and the 2.x message-level operations Interop, Log, Set Endpoint Role."""

from __future__ import annotations

import logging
import os

from kmsd.kmip import tags
from kmsd.kmip.enums import Operation
from kmsd.kmip.errors import invalid_field, missing
from ttlv import Item, ItemType

from .context import Context
from .registry import handler

log = logging.getLogger("kmsd.kmip.log")
MAX_RNG_BYTES = 1 << 20  # one request may not make us allocate more than this


def _empty() -> Item:
    return Item(tags.ResponsePayload, ItemType.STRUCTURE, ())


@handler(Operation.RNG_RETRIEVE, since=(1, 2))
def rng_retrieve(ctx: Context, payload: Item) -> Item:
    length = payload.get(tags.DataLength)
    if not isinstance(length, int):
        raise missing("Data Length")
    if not 0 < length <= MAX_RNG_BYTES:
        raise invalid_field(f"Data Length must be between 1 and {MAX_RNG_BYTES}")
    return Item(tags.ResponsePayload, ItemType.STRUCTURE, (Item(tags.Data, ItemType.BYTE_STRING, os.urandom(length)),))


@handler(Operation.INTEROP, since=(2, 0))
def interop(ctx: Context, payload: Item) -> Item:
    """Interop Begin/End/Reset bracket test sessions; the server keeps no state for them."""
    if payload.get(tags.InteropFunction) is None:
        raise missing("Interop Function")
    return _empty()


@handler(Operation.LOG, since=(2, 0))
def log_message(ctx: Context, payload: Item) -> Item:
    message = payload.get(tags.LogMessage)
    if not isinstance(message, str):
        raise missing("Log Message")
    log.info("client log message", extra={"user": ctx.user, "kmip_log": message[:1024]})
    return _empty()


@handler(Operation.SET_ENDPOINT_ROLE, since=(2, 0))
def set_endpoint_role(ctx: Context, payload: Item) -> Item:
    role = payload.get(tags.EndpointRole)
    if not isinstance(role, int):
        raise missing("Endpoint Role")
    return Item(tags.ResponsePayload, ItemType.STRUCTURE, (Item(tags.EndpointRole, ItemType.ENUMERATION, role),))


@handler(Operation.PING, since=(2, 1))
def ping(ctx: Context, payload: Item) -> Item:
    """Liveness from the KMIP side: answering at all is the result (KMIP 2.1 §6.1.36)."""
    return _empty()
