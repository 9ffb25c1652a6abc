"""Discover Versions: the protocol versions both sides speak, best first."""

from __future__ import annotations

from kmsd.kmip import tags
from kmsd.kmip.enums import Operation
from kmsd.kmip.messages import SUPPORTED_VERSIONS
from ttlv import Item, ItemType

from .context import Context
from .registry import handler


def _version(major: int, minor: int) -> Item:
    return Item(
        tags.ProtocolVersion,
        ItemType.STRUCTURE,
        (
            Item(tags.ProtocolVersionMajor, ItemType.INTEGER, major),
            Item(tags.ProtocolVersionMinor, ItemType.INTEGER, minor),
        ),
    )


@handler(Operation.DISCOVER_VERSIONS, since=(1, 1))
def discover_versions(ctx: Context, payload: Item) -> Item:
    offered = []
    for pv in payload.find_all(tags.ProtocolVersion):
        major, minor = pv.get(tags.ProtocolVersionMajor), pv.get(tags.ProtocolVersionMinor)
        if isinstance(major, int) and isinstance(minor, int):
            offered.append((major, minor))
    # With no list, the server returns all it supports; else the intersection
    # in the client's order of preference.
    chosen = [v for v in offered if v in SUPPORTED_VERSIONS] if offered else list(SUPPORTED_VERSIONS)
    return Item(tags.ResponsePayload, ItemType.STRUCTURE, tuple(_version(*v) for v in chosen))
