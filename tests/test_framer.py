"""The incremental framer: whole messages out of arbitrary chunks."""

from __future__ import annotations

import pytest

import ttlv
from ttlv import Framer, Item, ItemType, LimitExceeded


def _message(n: int) -> bytes:
    return ttlv.encode(ttlv.structure(0x420078, Item(0x42000D, ItemType.INTEGER, n)))


def test_messages_split_across_chunks() -> None:
    stream = b"".join(_message(i) for i in range(5))
    framer = Framer()
    out = []
    for i in range(0, len(stream), 3):
        framer.feed(stream[i : i + 3])
        while (msg := framer.next_message()) is not None:
            out.append(msg)
    assert out == [_message(i) for i in range(5)]
    assert framer.buffered == 0


def test_oversized_refused_from_header_alone() -> None:
    framer = Framer(max_size=1024)
    framer.feed(bytes.fromhex("4200780100100000"))  # announces 1 MiB
    with pytest.raises(LimitExceeded):
        framer.next_message()


@pytest.mark.parametrize("header", ["4300780100000008", "4200780200000008", "4200780100000009"])
def test_bad_outer_header(header: str) -> None:
    framer = Framer()
    framer.feed(bytes.fromhex(header))
    with pytest.raises(ttlv.DecodeError):
        framer.next_message()
