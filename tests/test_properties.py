"""Property tests for the codec: round trips, and fuzzing that may only ever
raise the codec's own error.

Sizes are kept modest (trees of a few dozen items, short strings) so the file
runs in well under half a minute; the properties, not the volume, are the
point.  Nothing here measures wall-clock time: "rejected fast" is shown by
the rejection happening at the header, before any body is read or buffered.
"""

from __future__ import annotations

import importlib
import struct
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ttlv
from ttlv import REGISTRY, DecodeError, EncodeError, Framer, Item, ItemType, LimitExceeded, Limits

T = ItemType
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------
random_tags = st.builds(lambda prefix, low: prefix << 16 | low, st.sampled_from([0x42, 0x54]), st.integers(0, 0xFFFF))

_I32 = st.integers(-(2**31), 2**31 - 1)
_U32 = st.integers(0, 2**32 - 1)
_I64 = st.integers(-(2**63), 2**63 - 1)
_DATETIMES = st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59), timezones=st.just(UTC))

# XML 1.0 cannot carry most C0 controls, U+FFFE or U+FFFF at all (the XML
# codec refuses them with an EncodeError); JSON and binary carry any text.
_XML_CHARS = st.one_of(
    st.sampled_from("\t\n\r"),
    st.characters(min_codepoint=0x20, exclude_categories=["Cs"]).filter(lambda c: c not in "\ufffe\uffff"),
)


def values(xml_safe: bool = False) -> dict[ItemType, st.SearchStrategy[Any]]:
    """A value strategy for each non-Structure type."""
    return {
        T.INTEGER: _I32,
        T.LONG_INTEGER: _I64,
        T.BIG_INTEGER: st.integers(-(2**200), 2**200),
        T.ENUMERATION: _U32,
        T.BOOLEAN: st.booleans(),
        # hypothesis' default alphabet has no surrogates
        T.TEXT_STRING: st.text(_XML_CHARS, max_size=24) if xml_safe else st.text(max_size=24),
        T.BYTE_STRING: st.binary(max_size=40),
        T.DATE_TIME: _DATETIMES.map(lambda d: d.replace(microsecond=0)),
        T.INTERVAL: _U32,
        T.DATE_TIME_EXTENDED: _DATETIMES,
    }


def items(tags: st.SearchStrategy[int], xml_safe: bool = False) -> st.SearchStrategy[Item]:
    """Trees of every item type, a few levels deep, with tags from ``tags``."""
    by_type = values(xml_safe)
    leaves = st.sampled_from(sorted(by_type)).flatmap(lambda t: st.builds(Item, tags, st.just(t), by_type[t]))
    return st.recursive(
        leaves,
        lambda kids: st.builds(
            lambda tag, children: Item(tag, T.STRUCTURE, tuple(children)), tags, st.lists(kids, max_size=5)
        ),
        max_leaves=12,
    )


# Messages are Structures at the top, as on the wire.
def messages(tags: st.SearchStrategy[int] = random_tags, xml_safe: bool = False) -> st.SearchStrategy[Item]:
    return st.builds(
        lambda tag, kids: Item(tag, T.STRUCTURE, tuple(kids)), tags, st.lists(items(tags, xml_safe), max_size=4)
    )


# ---------------------------------------------------------------------------
# binary round trips
# ---------------------------------------------------------------------------
@FAST
@given(items(random_tags))
def test_binary_round_trip(item: Item) -> None:
    data = ttlv.encode(item)
    assert len(data) % 8 == 0
    assert ttlv.decode(data, Limits(max_depth=64)) == item


@FAST
@given(st.lists(messages(), min_size=1, max_size=4), st.binary(max_size=7))
def test_decode_prefix_walks_concatenated_messages(msgs: list[Item], tail: bytes) -> None:
    stream = b"".join(ttlv.encode(m) for m in msgs)
    offset, out = 0, []
    while offset < len(stream):
        item, used = ttlv.decode_prefix(memoryview(stream)[offset:], Limits(max_depth=64))
        out.append(item)
        offset += used
    assert out == msgs
    # A partial trailing header is a clean error, not an IndexError.
    if tail:
        with pytest.raises(DecodeError):
            ttlv.decode_prefix(tail)


def test_text_string_with_surrogate_is_an_encode_error() -> None:
    with pytest.raises(EncodeError):
        ttlv.encode(Item(0x420020, T.TEXT_STRING, "\ud800"))


# ---------------------------------------------------------------------------
# fuzzing: only DecodeError may escape
# ---------------------------------------------------------------------------
def _decode_or_decode_error(data: bytes) -> None:
    """Decode both ways; any exception other than DecodeError fails the test."""
    for decoder in (ttlv.decode, ttlv.decode_prefix):
        try:
            decoder(data)
        except DecodeError:
            pass


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes(data: bytes) -> None:
    _decode_or_decode_error(data)


@FUZZ
@given(st.binary(min_size=8, max_size=8), st.binary(max_size=120))
def test_arbitrary_bytes_behind_a_valid_prefix(header: bytes, body: bytes) -> None:
    # Random bytes rarely start with 0x42/0x54 and a known type; force it so
    # the fuzzing reaches the length and value checks.
    tag_prefix = 0x42 if header[0] & 1 else 0x54
    type_byte = header[3] % 0x0C
    data = bytes((tag_prefix,)) + header[1:3] + bytes((type_byte,)) + struct.pack(">I", len(body)) + body
    _decode_or_decode_error(data)


@FUZZ
@given(messages(), st.data())
def test_truncations_are_decode_errors(msg: Item, data: st.DataObject) -> None:
    encoded = ttlv.encode(msg)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(DecodeError):
        ttlv.decode(encoded[:cut])
    with pytest.raises(DecodeError):
        ttlv.decode_prefix(encoded[:cut])


@FUZZ
@given(messages(), st.data())
def test_bit_flips(msg: Item, data: st.DataObject) -> None:
    encoded = bytearray(ttlv.encode(msg))
    for _ in range(data.draw(st.integers(1, 4))):
        bit = data.draw(st.integers(0, len(encoded) * 8 - 1))
        encoded[bit // 8] ^= 1 << (bit % 8)
    _decode_or_decode_error(bytes(encoded))


def _header_offsets(data: bytes) -> list[int]:
    """Offsets of every item header in a valid encoding."""
    offsets, stack = [], [(0, len(data))]
    while stack:
        pos, end = stack.pop()
        while pos < end:
            offsets.append(pos)
            _tag, type_byte, length = ttlv.binary.read_header(data, pos)
            if type_byte == T.STRUCTURE:
                stack.append((pos + 8, pos + 8 + length))
            pos += 8 + (length + 7) // 8 * 8
    return offsets


_LENGTHS = st.one_of(
    st.integers(0, 2**32 - 1),
    st.sampled_from([0, 1, 4, 7, 8, 9, 16, 2**31 - 1, 2**31, 0xFFFFFFF8, 0xFFFFFFFF]),
)


@FUZZ
@given(messages(), st.data())
def test_length_field_mutations(msg: Item, data: st.DataObject) -> None:
    encoded = bytearray(ttlv.encode(msg))
    offset = data.draw(st.sampled_from(_header_offsets(bytes(encoded))))
    new_length = data.draw(_LENGTHS)
    old_length = struct.unpack_from(">I", encoded, offset + 4)[0]
    assume(new_length != old_length)
    struct.pack_into(">I", encoded, offset + 4, new_length)
    _decode_or_decode_error(bytes(encoded))
    if offset == 0:
        # The outer length no longer matches the bytes present.
        with pytest.raises(DecodeError):
            ttlv.decode(bytes(encoded))


# ---------------------------------------------------------------------------
# bombs
# ---------------------------------------------------------------------------
def _depth_bomb(levels: int) -> bytes:
    """``levels`` nested Structure headers whose lengths all add up, and no body."""
    return b"".join(struct.pack(">3sBI", b"\x42\x00\x01", 1, 8 * (levels - 1 - i)) for i in range(levels))


@pytest.mark.parametrize("levels", [33, 1_000, 100_000])
def test_depth_bomb_is_refused_at_the_limit(levels: int) -> None:
    bomb = _depth_bomb(levels)
    with pytest.raises(LimitExceeded, match="nested deeper than 32"):
        ttlv.decode(bomb)
    with pytest.raises(LimitExceeded):
        ttlv.decode_prefix(bomb)


def test_depth_bomb_within_a_generous_limit_is_still_a_decode_error() -> None:
    # A caller may raise max_depth far above what Python's stack allows; the
    # codec must still fail with its own error, never RecursionError.
    bomb = _depth_bomb(50_000)
    with pytest.raises(DecodeError):
        ttlv.decode(bomb, Limits(max_depth=1_000_000))


def test_depth_exactly_at_the_limit_decodes() -> None:
    item = Item(0x420001, T.STRUCTURE, ())
    for _ in range(31):
        item = Item(0x420001, T.STRUCTURE, (item,))
    assert ttlv.decode(ttlv.encode(item)) == item  # 32 structures: depths 0..31


@pytest.mark.parametrize("item_type", [T.STRUCTURE, T.BYTE_STRING, T.TEXT_STRING, T.BIG_INTEGER])
def test_length_bomb_is_refused_from_the_header(item_type: ItemType) -> None:
    bomb = struct.pack(">3sBI", b"\x42\x00\x01", item_type, 0xFFFFFFF8) + b"\x00" * 64
    with pytest.raises(DecodeError, match="overruns"):
        ttlv.decode(bomb)
    with pytest.raises(DecodeError, match="overruns"):
        ttlv.decode_prefix(bomb)


def test_oversized_input_is_refused_before_decoding() -> None:
    with pytest.raises(LimitExceeded):
        ttlv.decode(b"\x00" * 1025, Limits(max_size=1024))


def test_framer_refuses_a_length_bomb_from_its_header() -> None:
    framer = Framer()
    framer.feed(struct.pack(">3sBI", b"\x42\x00\x78", 1, 0xFFFFFFF8))
    with pytest.raises(LimitExceeded):
        framer.next_message()
    assert framer.buffered == 8  # nothing beyond the header was ever asked for


# ---------------------------------------------------------------------------
# framer under random chunking
# ---------------------------------------------------------------------------
@FAST
@given(st.lists(messages(), min_size=1, max_size=5), st.data())
def test_framer_random_chunking(msgs: list[Item], data: st.DataObject) -> None:
    wire = [ttlv.encode(m) for m in msgs]
    stream = b"".join(wire)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    framer, out = Framer(), []
    for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        framer.feed(stream[start:stop])
        while (message := framer.next_message()) is not None:
            out.append(message)
    assert out == wire
    assert framer.buffered == 0
    assert [ttlv.decode(m, Limits(max_depth=64)) for m in out] == msgs


@FUZZ
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_framer_on_garbage_raises_only_decode_error(chunks: list[bytes]) -> None:
    framer = Framer(max_size=4096)
    try:
        for chunk in chunks:
            framer.feed(chunk)
            while framer.next_message() is not None:
                pass
    except DecodeError:
        pass


# ---------------------------------------------------------------------------
# XML and JSON round trips (once ttlv.xml / ttlv.json exist)
# ---------------------------------------------------------------------------
def _text_codec(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"ttlv.{name}")
    except ImportError:
        return None


TEXT_CODECS = {name: _text_codec(name) for name in ("xml", "json")}
_known_tags = sorted({e.value for e in REGISTRY.tags.entries})
# Registry tags exercise name resolution (and enumeration/mask names where
# the tag has a table); random extension tags exercise the generic form.
text_tags = st.one_of(st.sampled_from(_known_tags), random_tags)


def _codec(name: str) -> ModuleType:
    codec = TEXT_CODECS[name]
    if codec is None:
        pytest.skip(f"ttlv.{name} is not written yet")
    return codec


@FAST
@given(msg=messages(text_tags, xml_safe=True))
def test_xml_round_trip(msg: Item) -> None:
    codec = _codec("xml")
    assert codec.decode(codec.encode(msg)) == msg


@FAST
@given(msg=messages(text_tags))
def test_json_round_trip(msg: Item) -> None:
    codec = _codec("json")
    assert codec.decode(codec.encode(msg)) == msg


@pytest.mark.parametrize("name", sorted(TEXT_CODECS))
@FAST
@given(msgs=st.lists(messages(text_tags, xml_safe=True), min_size=1, max_size=3))
def test_text_round_trip_several_messages(name: str, msgs: list[Item]) -> None:
    codec = _codec(name)
    assert codec.decode_messages(codec.encode_messages(msgs)) == msgs


def test_xml_refuses_text_it_cannot_carry() -> None:
    codec = _codec("xml")
    with pytest.raises(EncodeError):
        codec.encode(Item(0x420001, T.STRUCTURE, (Item(0x420002, T.TEXT_STRING, "\x1f"),)))
