"""The KMIP JSON encoding (KMIP Additional Message Encodings v1.0, section 4).

Theory of operation: one JSON object per item, ``{"tag": …, "type": …,
"value": …}``.  ``tag`` is the CamelCase tag name or ``"0x420001"``; ``type``
is omitted for a Structure, whose value is an array of items (or null).  The
other values, as the spec allows and as we write them:

=================  ==========================================  ======================
type               accepted                                    written
=================  ==========================================  ======================
Integer            number, ``"0x…"`` (32-bit two's complement)  number
 (masks)           also ``"Encrypt|Decrypt|0x00000004"``        names, then hex rest
Long Integer       number, ``"0x…"`` (64-bit)                   number below 2**52,
                                                                else 16 hex digits
Big Integer        number, hex (``0x`` optional)                ``"0x…"``, 8-byte units
Enumeration        number, ``"0x…"``, CamelCase name            name, else ``"0x…"``
Boolean            true/false, ``"0x000…01"``                   true/false
Text String        string                                      string
Byte String        hex (no ``0x``)                             lowercase hex
Date-Time (Ext.)   ISO 8601, ``"0x…"``                          ISO 8601, UTC
Interval           number, ``"0x…"``                            number
=================  ==========================================  ======================

Names, versions and placeholders follow exactly the rules of :mod:`ttlv.xml`,
whose shared helpers this module uses: names resolve in the message's own
Protocol Version (or the one given, else the latest), an Attribute Value's
enumeration or mask names come from its sibling Attribute Name, and a string
beginning with ``$`` in any non-Text-String value is a placeholder.
Every failure is a :class:`~ttlv.errors.DecodeError` naming the item's path.
"""

from __future__ import annotations

import json as _json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .binary import DEFAULT_LIMITS, Limits
from .errors import DecodeError, EncodeError
from .item import Item, ItemType, Placeholder, Value
from .registry import LATEST, Version
from .xml import (
    ATTRIBUTE_NAME,
    ValueProblem,
    check_range,
    format_datetime,
    format_enum,
    format_mask,
    is_mask,
    item_version,
    located,
    parse_text,
    resolve_tag,
    tag_name,
    value_table,
)

__all__ = ["decode", "decode_messages", "encode", "encode_messages", "from_obj", "to_obj"]

T = ItemType
JSONObject = dict[str, Any]

#: JavaScript numbers hold integers exactly only below 2**53; the spec asks
#: for hex from 2**52 on.
_JS_SAFE = 1 << 52
_NUMBER_TYPES = {T.INTEGER, T.LONG_INTEGER, T.BIG_INTEGER, T.ENUMERATION, T.INTERVAL}

_HEADER_NAMES = ("RequestHeader", "ResponseHeader", "0x420077", "0x42007a", "0x42007A")


# ---------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------
def _find(obj: object, names: Iterable[str]) -> Mapping[str, Any] | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("value"), list):
        return None
    wanted = set(names)
    for child in obj["value"]:
        if isinstance(child, dict) and child.get("tag") in wanted:
            return child
    return None


def _raw_version(obj: object) -> Version | None:
    """The ProtocolVersion written in a message object, before decoding it."""
    pv = _find(_find(obj, _HEADER_NAMES), ("ProtocolVersion", "0x420069"))
    major = _find(pv, ("ProtocolVersionMajor", "0x42006a", "0x42006A"))
    minor = _find(pv, ("ProtocolVersionMinor", "0x42006b", "0x42006B"))
    if major is None or minor is None:
        return None
    try:
        return _int_value(major.get("value"), T.INTEGER), _int_value(minor.get("value"), T.INTEGER)
    except ValueProblem:
        return None  # the real decode reports it, with its path


def _int_value(raw: object, item_type: ItemType) -> int:
    if type(raw) is int:
        return check_range(raw, item_type)
    if type(raw) is str:
        value = parse_text(item_type, raw, None, LATEST, None)
        if type(value) is int:
            return value
    raise ValueProblem(f"{raw!r} is not a number or hex string")


# Spellings of the Attribute Name tag that the sibling scan recognises without
# a registry look-up (what encoders write; anything else still decodes).
_ATTRIBUTE_NAME_KEYS = frozenset({"AttributeName", "0x42000a", "0x42000A"})


class _Reader:
    def __init__(self, version: Version, max_depth: int) -> None:
        self.version = version
        self.max_depth = max_depth

    def item(self, obj: object, depth: int, attribute_name: object) -> Item:
        if not isinstance(obj, dict):
            raise ValueProblem(f"an item must be a JSON object, not {type(obj).__name__}")
        raw_tag = obj.get("tag")
        if type(raw_tag) is not str:
            raise ValueProblem("an item needs a string 'tag'")
        tag = resolve_tag(raw_tag, self.version)
        type_name = obj.get("type", "Structure")
        try:
            item_type = ItemType.from_camel(type_name)
        except (KeyError, TypeError):
            raise ValueProblem(f"unknown type {type_name!r}", "a KMIP item type name") from None
        raw = obj.get("value")
        if item_type is T.STRUCTURE:
            return Item(tag, item_type, self.children(raw, depth))
        return Item(tag, item_type, self.value(item_type, raw, tag, attribute_name))

    def value(self, item_type: ItemType, raw: object, tag: int, attribute_name: object) -> Value:
        if type(raw) is str:
            return parse_text(item_type, raw, value_table(tag, attribute_name), self.version, "|")
        if type(raw) is int and item_type in _NUMBER_TYPES:
            return raw if item_type is T.BIG_INTEGER else check_range(raw, item_type)
        if type(raw) is bool and item_type is T.BOOLEAN:
            return raw
        raise ValueProblem(f"a {item_type.camel_name} cannot be written as {_json.dumps(raw)[:40]}")

    def children(self, raw: object, depth: int) -> tuple[Item, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise ValueProblem("a Structure's value must be an array or null")
        if depth >= self.max_depth:
            raise ValueProblem(f"structure nested deeper than {self.max_depth}")
        attribute_name = _attribute_name(raw)
        items = []
        for index, child in enumerate(raw):
            try:
                items.append(self.item(child, depth + 1, attribute_name))
            except ValueProblem as problem:
                tag = child.get("tag") if isinstance(child, dict) else None
                problem.where.append(f"{tag if type(tag) is str else ''}[{index}]")
                raise
        return tuple(items)


def _attribute_name(children: list[Any]) -> object:
    """The text of the first Attribute Name among ``children``, if any.

    It picks the table of a sibling Attribute Value, exactly as the encoder
    does (the first child with that tag, used only if it is a Text String).
    """
    for child in children:
        if isinstance(child, dict) and child.get("tag") in _ATTRIBUTE_NAME_KEYS:
            return child.get("value") if child.get("type") == "TextString" else None
    return None


def _from_obj(obj: object, version: Version | None, limits: Limits, root: str) -> Item:
    reader = _Reader(version or _raw_version(obj) or LATEST, limits.max_depth)
    try:
        return reader.item(obj, 0, None)
    except ValueProblem as problem:
        tag = obj.get("tag") if isinstance(obj, dict) else None
        raise located(problem, f"{root}/{tag if type(tag) is str else ''}") from None


def from_obj(obj: object, version: Version | None = None, *, limits: Limits = DEFAULT_LIMITS) -> Item:
    """An item tree from parsed JSON (``version``: as in :func:`decode`)."""
    return _from_obj(obj, version, limits, "")


def _load(text: str | bytes, limits: Limits) -> object:
    if len(text) > limits.max_size:
        raise DecodeError(f"JSON of {len(text)} characters exceeds the limit of {limits.max_size}")
    try:
        return _json.loads(text)
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, over-long integers
        raise DecodeError(f"malformed JSON: {exc}", expected="a JSON document") from None
    except RecursionError:
        raise DecodeError("JSON nested too deeply", expected=f"at most {limits.max_depth} levels") from None


def decode(text: str | bytes, version: Version | None = None, *, limits: Limits = DEFAULT_LIMITS) -> Item:
    """Decode one JSON item (a message or any single item).

    ``version`` defaults to the message's own Protocol Version, else the latest.
    """
    return from_obj(_load(text, limits), version, limits=limits)


def decode_messages(
    text: str | bytes, version: Version | None = None, *, limits: Limits = DEFAULT_LIMITS
) -> list[Item]:
    """Decode a JSON array of messages (or one message), each in its own version."""
    obj = _load(text, limits)
    if not isinstance(obj, list):
        return [from_obj(obj, version, limits=limits)]
    return [_from_obj(message, version, limits, f"[{index}]") for index, message in enumerate(obj)]


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------
def _value(item: Item, version: Version, attribute_name: object) -> Any:
    """The JSON value of a non-Structure item."""
    tag, item_type, value = item
    if isinstance(value, Placeholder):
        return value.name
    try:
        if item_type is T.TEXT_STRING:
            if type(value) is str:
                return value
        elif item_type is T.BYTE_STRING:
            if isinstance(value, bytes):
                return value.hex()
        elif item_type is T.BOOLEAN:
            if type(value) is bool:
                return value
        elif item_type is T.DATE_TIME or item_type is T.DATE_TIME_EXTENDED:
            if isinstance(value, datetime):
                return format_datetime(value, item_type is T.DATE_TIME_EXTENDED)
        elif type(value) is int:
            return _number(item, value, version, attribute_name)
    except ValueProblem as exc:
        raise EncodeError(f"tag 0x{tag:06x}: {exc}") from None
    raise EncodeError(f"tag 0x{tag:06x}: a {item_type.camel_name} cannot hold {type(value).__name__}")


def _number(item: Item, value: int, version: Version, attribute_name: object) -> int | str:
    item_type = item.type
    if item_type is T.BIG_INTEGER:
        size = max(8, (value.bit_length() + 1 + 63) // 64 * 8)
        return "0x" + value.to_bytes(size, "big", signed=True).hex()
    check_range(value, item_type)
    if item_type is T.ENUMERATION:
        return format_enum(value, value_table(item.tag, attribute_name), version)
    if item_type is T.LONG_INTEGER and not -_JS_SAFE < value < _JS_SAFE:
        return f"0x{value & 0xFFFFFFFFFFFFFFFF:016x}"
    if item_type is T.INTEGER:
        table = value_table(item.tag, attribute_name)
        if table is not None and is_mask(table):
            return format_mask(value, table.name, version, "|")
    return value


def _to_obj(item: Item, version: Version, attribute_name: object) -> JSONObject:
    name = tag_name(item.tag, version)
    obj: JSONObject = {"tag": name if name is not None else f"0x{item.tag:06x}"}
    if item.type is not T.STRUCTURE:
        obj["type"] = item.type.camel_name
        obj["value"] = _value(item, version, attribute_name)
        return obj
    children = item.value
    if type(children) is not tuple:
        raise EncodeError(f"structure 0x{item.tag:06x} needs a tuple of items")
    sibling_name = next((c.value for c in children if c.tag == ATTRIBUTE_NAME), None)
    obj["value"] = [_to_obj(child, version, sibling_name) for child in children]
    return obj


def to_obj(item: Item, version: Version | None = None) -> JSONObject:
    """The JSON object (dicts and lists) of an item tree.

    ``version`` defaults to the message's own Protocol Version, else the latest.
    """
    return _to_obj(item, version or item_version(item) or LATEST, None)


def _dumps(obj: object, indent: bool) -> str:
    if indent:
        return _json.dumps(obj, indent=2, ensure_ascii=False)
    return _json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def encode(item: Item, version: Version | None = None, *, indent: bool = True) -> str:
    """The JSON text of one item tree."""
    return _dumps(to_obj(item, version), indent)


def encode_messages(items: Iterable[Item], version: Version | None = None, *, indent: bool = True) -> str:
    """A JSON array of messages, each written in its own version."""
    return _dumps([to_obj(item, version) for item in items], indent)
