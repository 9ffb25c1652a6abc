"""Binary TTLV: encode item trees to bytes and decode bytes strictly.

Theory of operation: every item is an 8-byte header (3-byte tag, 1-byte
type, 4-byte length) followed by the value padded with zeros to a multiple
of 8 bytes.  Decoding checks every rule of KMIP section "Message Encoding"
(tag prefix, the fixed lengths of fixed-width types, zero padding, Boolean
0/1, UTF-8 text, structure lengths that add up) and two limits of our own: the
total size and the nesting depth.  A declared length is compared with the
bytes actually present (which are already bounded by the size limit) before
anything is sliced, so a length field can never make us allocate.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .errors import DecodeError, EncodeError, LimitExceeded, PlaceholderError
from .item import Item, ItemType, Placeholder

# Tags defined by the spec start with 0x42; extensions with 0x54.
TAG_PREFIXES = (0x42, 0x54)
HEADER = struct.Struct(">3sBI")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_I64 = struct.Struct(">q")
_PAD4 = b"\x00\x00\x00\x00"

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Default ceiling on a whole message: far above any real KMIP request, low
#: enough that one client cannot make us buffer much.
DEFAULT_MAX_SIZE = 16 * 1024 * 1024
#: KMIP messages nest about 8 deep; attribute values add a few levels.
DEFAULT_MAX_DEPTH = 32

_FIXED_LENGTH = {
    ItemType.INTEGER: 4,
    ItemType.ENUMERATION: 4,
    ItemType.INTERVAL: 4,
    ItemType.LONG_INTEGER: 8,
    ItemType.BOOLEAN: 8,
    ItemType.DATE_TIME: 8,
    ItemType.DATE_TIME_EXTENDED: 8,
}
_TYPES = {t.value: t for t in ItemType}


@dataclass(frozen=True, slots=True)
class Limits:
    max_size: int = DEFAULT_MAX_SIZE
    max_depth: int = DEFAULT_MAX_DEPTH


DEFAULT_LIMITS = Limits()


# ---------------------------------------------------------------------------
# decoding
# ---------------------------------------------------------------------------
def decode(data: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> Item:
    """Decode exactly one item that fills ``data``."""
    if len(data) > limits.max_size:
        raise LimitExceeded(f"message of {len(data)} bytes exceeds the limit of {limits.max_size}", offset=0)
    view = memoryview(data)
    item, end = _decode_item(view, 0, len(view), 0, limits.max_depth)
    if end != len(view):
        raise DecodeError(f"{len(view) - end} trailing bytes after the item", offset=end, expected="end of message")
    return item


def decode_prefix(data: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> tuple[Item, int]:
    """Decode the first item of ``data``; return it and the offset after it."""
    view = memoryview(data)
    return _decode_item(view, 0, min(len(view), limits.max_size), 0, limits.max_depth)


def read_header(data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int, int]:
    """(tag, type byte, length) of the item header at ``offset`` (8 bytes needed)."""
    if len(data) - offset < 8:
        raise DecodeError("truncated item header", offset=offset, expected="8 header bytes")
    raw_tag, type_byte, length = HEADER.unpack_from(data, offset)
    return int.from_bytes(raw_tag, "big"), type_byte, length


def _decode_item(view: memoryview, offset: int, end: int, depth: int, max_depth: int) -> tuple[Item, int]:
    if end - offset < 8:
        raise DecodeError("truncated item header", offset=offset, expected="8 header bytes")
    raw_tag, type_byte, length = HEADER.unpack_from(view, offset)
    if raw_tag[0] not in TAG_PREFIXES:
        raise DecodeError(
            f"tag 0x{raw_tag.hex()} has prefix 0x{raw_tag[0]:02x}", offset=offset, expected="0x42 or 0x54"
        )
    tag = int.from_bytes(raw_tag, "big")
    item_type = _TYPES.get(type_byte)
    if item_type is None:
        raise DecodeError(f"unknown item type 0x{type_byte:02x}", offset=offset + 3, expected="types 0x01-0x0b")
    start = offset + 8
    fixed = _FIXED_LENGTH.get(item_type)
    if fixed is not None and length != fixed:
        raise DecodeError(f"{item_type.camel_name} with length {length}", offset=offset + 4, expected=f"length {fixed}")
    padded = (length + 7) & ~7
    if padded > end - start:
        raise DecodeError(
            f"item of length {length} overruns its container by {padded - (end - start)} bytes",
            offset=offset + 4,
            expected=f"at most {end - start} bytes",
        )
    stop = start + length
    next_offset = start + padded
    if padded != length and any(view[stop:next_offset]):
        raise DecodeError("non-zero padding", offset=stop, expected="zero padding to 8 bytes")

    value: object
    if item_type is ItemType.STRUCTURE:
        if depth >= max_depth:
            raise LimitExceeded(f"structure nested deeper than {max_depth}", offset=offset)
        children = []
        pos = start
        while pos < stop:
            child, pos = _decode_item(view, pos, stop, depth + 1, max_depth)
            children.append(child)
        value = tuple(children)
    elif item_type is ItemType.INTEGER:
        value = _I32.unpack_from(view, start)[0]
    elif item_type is ItemType.ENUMERATION or item_type is ItemType.INTERVAL:
        value = _U32.unpack_from(view, start)[0]
    elif item_type is ItemType.TEXT_STRING:
        try:
            value = str(view[start:stop], "utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"invalid UTF-8 in text string: {exc.reason}", offset=start + exc.start) from None
    elif item_type is ItemType.BYTE_STRING:
        value = bytes(view[start:stop])
    elif item_type is ItemType.LONG_INTEGER:
        value = _I64.unpack_from(view, start)[0]
    elif item_type is ItemType.BOOLEAN:
        raw = _I64.unpack_from(view, start)[0]
        if raw not in (0, 1):
            raise DecodeError(f"boolean value {raw}", offset=start, expected="0 or 1")
        value = raw == 1
    elif item_type is ItemType.DATE_TIME:
        value = _datetime(_I64.unpack_from(view, start)[0], 1, start)
    elif item_type is ItemType.DATE_TIME_EXTENDED:
        value = _datetime(_I64.unpack_from(view, start)[0], 1_000_000, start)
    else:  # BIG_INTEGER
        if length == 0 or length % 8:
            raise DecodeError(f"big integer of length {length}", offset=offset + 4, expected="a non-zero multiple of 8")
        value = int.from_bytes(view[start:stop], "big", signed=True)
    return Item(tag, item_type, value), next_offset  # type: ignore[arg-type]


def _datetime(count: int, per_second: int, offset: int) -> datetime:
    try:
        return EPOCH + timedelta(microseconds=count) if per_second != 1 else EPOCH + timedelta(seconds=count)
    except OverflowError:
        raise DecodeError(f"date-time {count} is out of range", offset=offset, expected="years 1-9999") from None


# ---------------------------------------------------------------------------
# encoding
# ---------------------------------------------------------------------------
def encode(item: Item) -> bytes:
    """Encode one item (and everything below it) to TTLV bytes."""
    out: list[bytes] = []
    _encode_into(item, out)
    return b"".join(out)


def _header(tag: int, type_byte: int, length: int) -> bytes:
    if not 0 <= tag <= 0xFFFFFF or (tag >> 16) not in TAG_PREFIXES:
        raise EncodeError(f"tag 0x{tag:06x} is not a KMIP (0x42xxxx) or extension (0x54xxxx) tag")
    return tag.to_bytes(3, "big") + bytes((type_byte,)) + _U32.pack(length)


def _encode_into(item: Item, out: list[bytes]) -> int:
    """Append the encoding of ``item`` to ``out``; return its encoded size."""
    tag, item_type, value = item
    if isinstance(value, Placeholder):
        raise PlaceholderError(value.name, f"tag 0x{tag:06x}")
    if item_type is ItemType.STRUCTURE:
        if type(value) is not tuple:
            raise EncodeError(f"structure 0x{tag:06x} needs a tuple of items")
        slot = len(out)
        out.append(b"")
        length = 0
        for child in value:
            length += _encode_into(child, out)
        out[slot] = _header(tag, 1, length)
        return length + 8
    try:
        if item_type is ItemType.INTEGER:
            body = _I32.pack(_int(value)) + _PAD4
            out.append(_header(tag, 2, 4) + body)
            return 16
        if item_type is ItemType.ENUMERATION or item_type is ItemType.INTERVAL:
            out.append(_header(tag, item_type.value, 4) + _U32.pack(_int(value)) + _PAD4)
            return 16
        if item_type is ItemType.LONG_INTEGER:
            out.append(_header(tag, 3, 8) + _I64.pack(_int(value)))
            return 16
        if item_type is ItemType.BOOLEAN:
            if type(value) is not bool:
                raise EncodeError(f"boolean 0x{tag:06x} needs a bool, not {type(value).__name__}")
            out.append(_header(tag, 6, 8) + _I64.pack(1 if value else 0))
            return 16
        if item_type is ItemType.DATE_TIME or item_type is ItemType.DATE_TIME_EXTENDED:
            if not isinstance(value, datetime):
                raise EncodeError(f"date-time 0x{tag:06x} needs a datetime, not {type(value).__name__}")
            aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
            delta = aware - EPOCH
            if item_type is ItemType.DATE_TIME:
                count = delta.days * 86400 + delta.seconds
            else:
                count = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
            out.append(_header(tag, item_type.value, 8) + _I64.pack(count))
            return 16
        if item_type is ItemType.TEXT_STRING:
            if type(value) is not str:
                raise EncodeError(f"text string 0x{tag:06x} needs a str, not {type(value).__name__}")
            raw = value.encode("utf-8")
        elif item_type is ItemType.BYTE_STRING:
            if not isinstance(value, (bytes, bytearray)):
                raise EncodeError(f"byte string 0x{tag:06x} needs bytes, not {type(value).__name__}")
            raw = bytes(value)
        elif item_type is ItemType.BIG_INTEGER:
            raw = _big_integer_bytes(_int(value))
        else:
            raise EncodeError(f"unknown item type {item_type!r}")
    except struct.error as exc:
        raise EncodeError(f"value of tag 0x{tag:06x} out of range for {item_type.camel_name}: {exc}") from None
    length = len(raw)
    pad = -length & 7
    out.append(_header(tag, item_type.value, length) + raw + b"\x00" * pad)
    return 8 + length + pad


def _int(value: object) -> int:
    if type(value) is int:
        return value
    # IntEnum/IntFlag members are ints too; bool is not a number here.
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    raise EncodeError(f"expected an int, not {type(value).__name__}")


def _big_integer_bytes(value: int) -> bytes:
    """Two's complement, sign-extended to a multiple of 8 bytes (minimum 8)."""
    size = max(8, (value.bit_length() + 1 + 63) // 64 * 8)
    return value.to_bytes(size, "big", signed=True)
