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
# Speed notes (scripts/bench_codec): the header is read as two big-endian
# words in one unpack (tag << 8 | type, length); items are built with
# tuple.__new__, skipping NamedTuple's Python-level __new__; input is made
# ``bytes`` once so slices, UTF-8 decoding and padding checks are C calls.
_WORDS = struct.Struct(">II")
_I32_PAD = struct.Struct(">iI")
_U32_PAD = struct.Struct(">II")
_new = tuple.__new__
_TYPE_BY_BYTE: tuple[ItemType | None, ...] = tuple(_TYPES.get(b) for b in range(256))
_FIXED_BY_BYTE: tuple[int | None, ...] = tuple(
    _FIXED_LENGTH.get(t) if t is not None else None for t in _TYPE_BY_BYTE
)
_ZEROS = bytes(8)


def decode(data: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> Item:
    """Decode exactly one item that fills ``data``."""
    if len(data) > limits.max_size:
        raise LimitExceeded(f"message of {len(data)} bytes exceeds the limit of {limits.max_size}", offset=0)
    raw = data if type(data) is bytes else bytes(data)
    item, end = _decode_guarded(raw, len(raw), limits.max_depth)
    if end != len(raw):
        raise DecodeError(f"{len(raw) - end} trailing bytes after the item", offset=end, expected="end of message")
    return item


def decode_prefix(data: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> tuple[Item, int]:
    """Decode the first item of ``data``; return it and the offset after it."""
    # Only the first max_size bytes can belong to the item: copy no more.
    raw = bytes(memoryview(data)[: limits.max_size]) if type(data) is not bytes else data
    return _decode_guarded(raw, min(len(raw), limits.max_size), limits.max_depth)


def _decode_guarded(data: bytes, end: int, max_depth: int) -> tuple[Item, int]:
    # The decoder recurses once per Structure level.  The default depth limit
    # is far below Python's stack, but a caller may configure one that is not:
    # running out of stack is then just another nesting-limit failure.
    try:
        return _decode_item(data, 0, end, 0, max_depth)
    except RecursionError:
        raise LimitExceeded(
            f"structures nested too deep for the decoder's stack (limit set to {max_depth})", offset=0
        ) from None


def read_header(data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int, int]:
    """(tag, type byte, length) of the item header at ``offset`` (8 bytes needed)."""
    if len(data) - offset < 8:
        raise DecodeError("truncated item header", offset=offset, expected="8 header bytes")
    raw_tag, type_byte, length = HEADER.unpack_from(data, offset)
    return int.from_bytes(raw_tag, "big"), type_byte, length


def _decode_item(data: bytes, offset: int, end: int, depth: int, max_depth: int) -> tuple[Item, int]:
    if end - offset < 8:
        raise DecodeError("truncated item header", offset=offset, expected="8 header bytes")
    word, length = _WORDS.unpack_from(data, offset)
    prefix = word >> 24
    if prefix != 0x42 and prefix != 0x54:
        raise DecodeError(
            f"tag 0x{word >> 8:06x} has prefix 0x{prefix:02x}", offset=offset, expected="0x42 or 0x54"
        )
    tag = word >> 8
    type_byte = word & 0xFF
    item_type = _TYPE_BY_BYTE[type_byte]
    if item_type is None:
        raise DecodeError(f"unknown item type 0x{type_byte:02x}", offset=offset + 3, expected="types 0x01-0x0b")
    start = offset + 8
    fixed = _FIXED_BY_BYTE[type_byte]
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

    value: object
    if type_byte == 1:  # Structure
        if depth >= max_depth:
            raise LimitExceeded(f"structure nested deeper than {max_depth}", offset=offset)
        children: list[Item] = []
        append = children.append
        pos = start
        depth += 1
        while pos < stop:
            child, pos = _decode_item(data, pos, stop, depth, max_depth)
            append(child)
        return _new(Item, (tag, item_type, tuple(children))), next_offset
    if type_byte == 5 or type_byte == 2 or type_byte == 10:  # Enumeration, Integer, Interval
        value, pad = (_I32_PAD if type_byte == 2 else _U32_PAD).unpack_from(data, start)
        if pad:
            raise DecodeError("non-zero padding", offset=stop, expected="zero padding to 8 bytes")
        return _new(Item, (tag, item_type, value)), next_offset
    if padded != length and data[stop:next_offset] != _ZEROS[: padded - length]:
        raise DecodeError("non-zero padding", offset=stop, expected="zero padding to 8 bytes")
    if type_byte == 7:  # Text String
        try:
            value = data[start:stop].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"invalid UTF-8 in text string: {exc.reason}", offset=start + exc.start) from None
    elif type_byte == 8:  # Byte String
        value = data[start:stop]
    elif type_byte == 3:  # Long Integer
        value = _I64.unpack_from(data, start)[0]
    elif type_byte == 6:  # Boolean
        raw = _I64.unpack_from(data, start)[0]
        if raw != 0 and raw != 1:
            raise DecodeError(f"boolean value {raw}", offset=start, expected="0 or 1")
        value = raw == 1
    elif type_byte == 9:  # Date-Time
        value = _datetime(_I64.unpack_from(data, start)[0], 1, start)
    elif type_byte == 11:  # Date-Time Extended
        value = _datetime(_I64.unpack_from(data, start)[0], 1_000_000, start)
    else:  # Big Integer
        if length == 0 or length % 8:
            raise DecodeError(f"big integer of length {length}", offset=offset + 4, expected="a non-zero multiple of 8")
        value = int.from_bytes(data[start:stop], "big", signed=True)
    return _new(Item, (tag, item_type, value)), next_offset


def _datetime(count: int, per_second: int, offset: int) -> datetime:
    try:
        return EPOCH + timedelta(microseconds=count) if per_second != 1 else EPOCH + timedelta(seconds=count)
    except OverflowError:
        raise DecodeError(f"date-time {count} is out of range", offset=offset, expected="years 1-9999") from None


# ---------------------------------------------------------------------------
# encoding
# ---------------------------------------------------------------------------
# Speed notes: one bytearray grows as items are appended; a Structure's
# header is reserved and patched once its children are in.  Fixed-width items
# are one struct call each, header, value and padding together.
_FIXED_ITEM = {
    ItemType.INTEGER: (struct.Struct(">IIi4x"), 4),
    ItemType.ENUMERATION: (struct.Struct(">III4x"), 4),
    ItemType.INTERVAL: (struct.Struct(">III4x"), 4),
    ItemType.LONG_INTEGER: (struct.Struct(">IIq"), 8),
}
_SIXTEEN = struct.Struct(">IIq")
_PREFIXES = frozenset(TAG_PREFIXES)


def encode(item: Item) -> bytes:
    """Encode one item (and everything below it) to TTLV bytes."""
    out = bytearray()
    try:
        _encode_into(item, out)
    except RecursionError:
        raise EncodeError("item tree nested too deep to encode") from None
    return bytes(out)


def _check_tag(tag: int) -> int:
    if type(tag) is not int or (tag >> 16) not in _PREFIXES:
        raise EncodeError(f"tag {tag!r} is not a KMIP (0x42xxxx) or extension (0x54xxxx) tag")
    return tag << 8


def _encode_into(item: Item, out: bytearray) -> None:
    """Append the encoding of ``item`` to ``out``."""
    tag, item_type, value = item
    word = _check_tag(tag)
    if item_type is ItemType.STRUCTURE:
        if type(value) is not tuple:
            if isinstance(value, Placeholder):
                raise PlaceholderError(value.name, f"tag 0x{tag:06x}")
            raise EncodeError(f"structure 0x{tag:06x} needs a tuple of items")
        slot = len(out)
        out += _ZEROS
        for child in value:
            _encode_into(child, out)
        _WORDS.pack_into(out, slot, word | 1, len(out) - slot - 8)
        return
    if isinstance(value, Placeholder):
        raise PlaceholderError(value.name, f"tag 0x{tag:06x}")
    try:
        fixed = _FIXED_ITEM.get(item_type)
        if fixed is not None:
            out += fixed[0].pack(word | item_type, fixed[1], _int(value))
            return
        if item_type is ItemType.BOOLEAN:
            if type(value) is not bool:
                raise EncodeError(f"boolean 0x{tag:06x} needs a bool, not {type(value).__name__}")
            out += _SIXTEEN.pack(word | 6, 8, 1 if value else 0)
            return
        if item_type is ItemType.DATE_TIME or item_type is ItemType.DATE_TIME_EXTENDED:
            out += _SIXTEEN.pack(word | item_type, 8, _datetime_count(tag, item_type, value))
            return
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
    except UnicodeEncodeError as exc:  # lone surrogates have no UTF-8 form
        raise EncodeError(f"text string 0x{tag:06x} is not valid Unicode: {exc.reason}") from None
    length = len(raw)
    out += _WORDS.pack(word | item_type, length)
    out += raw
    if length & 7:
        out += _ZEROS[: -length & 7]


def _datetime_count(tag: int, item_type: ItemType, value: object) -> int:
    if not isinstance(value, datetime):
        raise EncodeError(f"date-time 0x{tag:06x} needs a datetime, not {type(value).__name__}")
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    delta = aware - EPOCH
    seconds = delta.days * 86400 + delta.seconds
    return seconds if item_type is ItemType.DATE_TIME else seconds * 1_000_000 + delta.microseconds


def _int(value: object) -> int:
    if type(value) is not int:
        raise EncodeError(f"expected an int, not {type(value).__name__}")
    return value


def _big_integer_bytes(value: int) -> bytes:
    """Two's complement, sign-extended to a multiple of 8 bytes (minimum 8)."""
    size = max(8, (value.bit_length() + 1 + 63) // 64 * 8)
    return value.to_bytes(size, "big", signed=True)
