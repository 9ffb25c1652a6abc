"""Binary TTLV: known encodings from the spec and strict-decoding rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import ttlv
from ttlv import DecodeError, Item, ItemType, LimitExceeded, Limits

T = ItemType


# KMIP 1.0 spec section 9.1.2 gives these worked examples (tag 0x420020).
@pytest.mark.parametrize(
    ("item", "hex_"),
    [
        (Item(0x420020, T.INTEGER, 8), "42002002000000040000000800000000"),
        (Item(0x420020, T.LONG_INTEGER, 123456789000000000), "420020030000000801B69B4BA5749200"),
        (
            Item(0x420020, T.BIG_INTEGER, 1234567890000000000000000000),
            "42002004000000100000000003FD35EB6BC2DF4618080000",
        ),
        (Item(0x420020, T.ENUMERATION, 255), "4200200500000004000000FF00000000"),
        (Item(0x420020, T.BOOLEAN, True), "42002006000000080000000000000001"),
        (Item(0x420020, T.TEXT_STRING, "Hello World"), "420020070000000B48656C6C6F20576F726C640000000000"),
        (Item(0x420020, T.BYTE_STRING, b"\x01\x02\x03"), "42002008000000030102030000000000"),
        (
            Item(0x420020, T.DATE_TIME, datetime(2008, 3, 14, 11, 56, 40, tzinfo=UTC)),
            "42002009000000080000000047DA67F8",
        ),
        (Item(0x420020, T.INTERVAL, 864000), "4200200A00000004000D2F0000000000"),
        (
            Item(0x420020, T.STRUCTURE, (Item(0x420004, T.ENUMERATION, 254), Item(0x420005, T.INTEGER, 255))),
            "42002001000000204200040500000004000000FE000000004200050200000004000000FF00000000",
        ),
    ],
)
def test_spec_examples(item: Item, hex_: str) -> None:
    assert ttlv.encode(item).hex().upper() == hex_
    assert ttlv.decode(bytes.fromhex(hex_)) == item


def test_date_time_extended_round_trip() -> None:
    when = datetime(2019, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    item = Item(0x420020, T.DATE_TIME_EXTENDED, when)
    assert ttlv.decode(ttlv.encode(item)) == item


@pytest.mark.parametrize(
    ("hex_", "fragment"),
    [
        ("43002002000000040000000800000000", "prefix"),
        ("4200200C000000040000000800000000", "unknown item type"),
        ("42002002000000080000000800000000", "length 8"),
        ("42002002000000040000000800000001", "padding"),
        ("42002006000000080000000000000002", "boolean"),
        ("4200200700000002FFFE000000000000", "UTF-8"),
        ("42002004000000040000000100000000", "big integer"),
        ("420020010000000842000402000000040000000100000000", "overruns"),
        ("4200200200000004000000080000000000", "trailing"),
        ("420020", "truncated"),
    ],
)
def test_strict_decoding(hex_: str, fragment: str) -> None:
    with pytest.raises(DecodeError, match=fragment):
        ttlv.decode(bytes.fromhex(hex_))


def test_depth_limit() -> None:
    item = Item(0x420020, T.INTEGER, 1)
    for _ in range(40):
        item = Item(0x420020, T.STRUCTURE, (item,))
    data = ttlv.encode(item)
    with pytest.raises(LimitExceeded, match="nested deeper"):
        ttlv.decode(data)
    assert ttlv.decode(data, Limits(max_depth=64)) == item


def test_size_limit() -> None:
    data = ttlv.encode(Item(0x420020, T.BYTE_STRING, b"x" * 1000))
    with pytest.raises(LimitExceeded):
        ttlv.decode(data, Limits(max_size=100))


def test_placeholder_refused_in_binary() -> None:
    with pytest.raises(ttlv.PlaceholderError, match=r"\$NOW"):
        ttlv.encode(Item(0x420020, T.DATE_TIME, ttlv.Placeholder("$NOW")))


def test_structure_helpers() -> None:
    s = ttlv.structure(
        0x420020, Item(0x420004, T.INTEGER, 1), Item(0x420005, T.INTEGER, 2), Item(0x420004, T.INTEGER, 3)
    )
    assert s.get(0x420005) == 2
    assert [c.value for c in s.find_all(0x420004)] == [1, 3]
    assert s.find(0x420006) is None
    assert len(list(s.walk())) == 4
