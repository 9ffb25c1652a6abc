"""Small builders for KMIP request items in tests (names resolved through the registry)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import ttlv
from kmsd.kmip import tags
from kmsd.kmip.enums import Operation
from ttlv import Item, ItemType
from ttlv.registry import REGISTRY

T = ItemType


def tag(name: str) -> int:
    return REGISTRY.tag(name)


def s(name: str, *children: Item) -> Item:
    return Item(tag(name), T.STRUCTURE, tuple(children))


def text(name: str, value: str) -> Item:
    return Item(tag(name), T.TEXT_STRING, value)


def enum(name: str, value: int) -> Item:
    return Item(tag(name), T.ENUMERATION, int(value))


def integer(name: str, value: int) -> Item:
    return Item(tag(name), T.INTEGER, int(value))


def bstr(name: str, value: bytes) -> Item:
    return Item(tag(name), T.BYTE_STRING, value)


def boolean(name: str, value: bool) -> Item:
    return Item(tag(name), T.BOOLEAN, value)


def dt(name: str, value: datetime) -> Item:
    return Item(tag(name), T.DATE_TIME, value)


def request(
    version: tuple[int, int],
    *items: tuple[Operation, Iterable[Item]],
    header_extra: Iterable[Item] = (),
) -> bytes:
    header = s(
        "Request Header",
        s(
            "Protocol Version",
            integer("Protocol Version Major", version[0]),
            integer("Protocol Version Minor", version[1]),
        ),
        *header_extra,
        integer("Batch Count", len(items)),
    )
    batch = [s("Batch Item", enum("Operation", op), s("Request Payload", *payload)) for op, payload in items]
    return ttlv.encode(s("Request Message", header, *batch))


def attribute_v1(name: str, value: Item, index: int | None = None) -> Item:
    children = [text("Attribute Name", name)]
    if index is not None:
        children.append(integer("Attribute Index", index))
    children.append(Item(tag("Attribute Value"), value.type, value.value))
    return s("Attribute", *children)


def name_value(value: str) -> Item:
    return s("Name", text("Name Value", value), enum("Name Type", 1))


def attributes(version: tuple[int, int], *attrs: Item, template: str = "Template-Attribute") -> Item:
    """Attributes for a Create/Register in either version's shape."""
    if version >= (2, 0):
        return s("Attributes", *attrs)
    converted = []
    for a in attrs:
        name = REGISTRY.tag_name(a.tag) or ""
        converted.append(attribute_v1(name, a))
    return s(template, *converted)


class Response:
    """A decoded response message with easy access to its batch items."""

    def __init__(self, data: bytes) -> None:
        self.item = ttlv.decode(data)
        header = self.item.find(tags.ResponseHeader)
        assert header is not None
        self.header = header
        self.items = self.item.find_all(tags.BatchItem)

    def status(self, i: int = 0) -> int:
        v = self.items[i].get(tags.ResultStatus)
        assert isinstance(v, int)
        return v

    def reason(self, i: int = 0) -> int | None:
        v = self.items[i].get(tags.ResultReason)
        return v if isinstance(v, int) else None

    def message(self, i: int = 0) -> str | None:
        v = self.items[i].get(tags.ResultMessage)
        return v if isinstance(v, str) else None

    def payload(self, i: int = 0) -> Item:
        p = self.items[i].find(tags.ResponsePayload)
        assert p is not None, f"no payload: {self.message(i)}"
        return p

    def get(self, name: str, i: int = 0) -> Any:
        return self.payload(i).get(tag(name))

    def version(self) -> tuple[int, int]:
        pv = self.header.find(tags.ProtocolVersion)
        assert pv is not None
        return pv.get(tags.ProtocolVersionMajor), pv.get(tags.ProtocolVersionMinor)  # type: ignore[return-value]
