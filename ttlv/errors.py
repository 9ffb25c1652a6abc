"""The codec's one error family.

Whose fault a failure is matters to the caller (h11's Local/Remote split):
a :class:`DecodeError` means the bytes or text we were given are not a valid
encoding; an :class:`EncodeError` means the item tree we were asked to write
cannot be written.  Both carry enough context to point at the problem.
"""

from __future__ import annotations


class TTLVError(Exception):
    """Base of every error the ``ttlv`` package raises."""


class DecodeError(TTLVError):
    """Input is not a valid encoding.

    ``offset`` is the byte offset (binary) or a location hint (text
    encodings) of the first bad item; ``expected`` says what was wanted there.
    """

    def __init__(self, message: str, *, offset: int | None = None, expected: str | None = None) -> None:
        self.offset = offset
        self.expected = expected
        self.detail = message
        text = message
        if expected:
            text = f"{text} (expected {expected})"
        if offset is not None:
            text = f"at offset {offset}: {text}"
        super().__init__(text)


class LimitExceeded(DecodeError):
    """Input exceeds a configured limit (message size, nesting depth)."""


class EncodeError(TTLVError):
    """An item tree that cannot be encoded (bad value, unresolved placeholder)."""


class PlaceholderError(EncodeError):
    """A placeholder value (``$NOW``, ``$DATA_0``…) cannot be written in binary."""

    def __init__(self, name: str, path: str = "") -> None:
        self.name = name
        where = f" at {path}" if path else ""
        super().__init__(f"placeholder {name}{where} has no binary encoding (fill it first)")


class UnknownName(TTLVError, KeyError):
    """A tag, enumeration or mask name the registry does not know."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown name"
