"""The item model: an item is (tag, type, value), immutable.

A Structure's value is a tuple of items.  Other values by type:

=====================  ==========================================
Integer, Long Integer,  ``int`` (range checked on encode)
Big Integer, Interval
Enumeration             ``int``
Boolean                 ``bool``
Text String             ``str``
Byte String             ``bytes`` or :class:`Placeholder`
Date-Time               aware ``datetime`` (UTC) or :class:`Placeholder`
Date-Time Extended      aware ``datetime`` (UTC) or :class:`Placeholder`
=====================  ==========================================

Placeholders exist for the OASIS test-case files, whose messages hold
symbols such as ``$NOW`` or ``$DATA_0`` where a run-time value goes; they
survive the text encodings but cannot be written in binary.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple, TypeAlias


class ItemType(enum.IntEnum):
    STRUCTURE = 0x01
    INTEGER = 0x02
    LONG_INTEGER = 0x03
    BIG_INTEGER = 0x04
    ENUMERATION = 0x05
    BOOLEAN = 0x06
    TEXT_STRING = 0x07
    BYTE_STRING = 0x08
    DATE_TIME = 0x09
    INTERVAL = 0x0A
    DATE_TIME_EXTENDED = 0x0B

    @property
    def camel_name(self) -> str:
        """The type's name in the XML/JSON encodings (``TextString``)."""
        return _CAMEL[self]

    @classmethod
    def from_camel(cls, name: str) -> ItemType:
        return _FROM_CAMEL[name]


_CAMEL = {t: "".join(w.capitalize() for w in t.name.split("_")) for t in ItemType}
_FROM_CAMEL = {v: k for k, v in _CAMEL.items()}


class Placeholder(NamedTuple):
    """A symbolic value such as ``$NOW-3600`` or ``$DATA_0``."""

    name: str

    def __str__(self) -> str:
        return self.name


Value: TypeAlias = tuple["Item", ...] | int | bool | str | bytes | datetime | Placeholder


class Item(NamedTuple):
    tag: int
    type: ItemType
    value: Value

    # -- structure helpers -------------------------------------------------
    @property
    def children(self) -> tuple[Item, ...]:
        """A Structure's items (empty for any other type)."""
        v = self.value
        return v if type(v) is tuple else ()

    def find(self, tag: int) -> Item | None:
        """The first child with ``tag``, or None."""
        for child in self.children:
            if child.tag == tag:
                return child
        return None

    def find_all(self, tag: int) -> list[Item]:
        """Every child with ``tag``, in order."""
        return [c for c in self.children if c.tag == tag]

    def get(self, tag: int, default: Value | None = None) -> Value | None:
        """The value of the first child with ``tag``, or ``default``."""
        child = self.find(tag)
        return default if child is None else child.value

    def walk(self) -> Iterator[Item]:
        """This item and every item below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


def structure(tag: int, *children: Item) -> Item:
    return Item(tag, ItemType.STRUCTURE, tuple(children))
