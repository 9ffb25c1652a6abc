"""An incremental framer: feed bytes as they arrive, take whole messages out.

Like h11's connection object it does no I/O.  ``feed(data)`` buffers; each
``next_message()`` returns one complete message's bytes, or None when more
input is needed.  The outermost item's header announces the message length,
so an oversized message is refused as soon as its 8-byte header is in, before
any of its body is buffered.
"""

from __future__ import annotations

from .binary import DEFAULT_MAX_SIZE, TAG_PREFIXES
from .errors import DecodeError, LimitExceeded

HEADER_SIZE = 8


class Framer:
    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.max_size = max_size
        self._buffer = bytearray()
        self._consumed = 0  # bytes of the stream already returned as messages

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_message(self) -> bytes | None:
        """One whole message, or None until more bytes arrive.

        Raises :class:`~ttlv.errors.DecodeError` when the stream cannot be a
        TTLV message: a bad tag prefix, a non-structure outer item, a length
        that is not a multiple of 8, or one over the size limit.  After an
        error the stream is unusable; close the connection.
        """
        buf = self._buffer
        if len(buf) < HEADER_SIZE:
            return None
        if buf[0] not in TAG_PREFIXES:
            raise DecodeError(f"message tag prefix 0x{buf[0]:02x}", offset=self._consumed, expected="0x42 or 0x54")
        if buf[3] != 0x01:
            raise DecodeError(f"message of item type 0x{buf[3]:02x}", offset=self._consumed + 3, expected="a Structure")
        length = int.from_bytes(buf[4:8], "big")
        if length % 8:
            raise DecodeError(f"message length {length}", offset=self._consumed + 4, expected="a multiple of 8")
        total = HEADER_SIZE + length
        if total > self.max_size:
            raise LimitExceeded(
                f"message of {total} bytes exceeds the limit of {self.max_size}", offset=self._consumed + 4
            )
        if len(buf) < total:
            return None
        message = bytes(buf[:total])
        del buf[:total]
        self._consumed += total
        return message
