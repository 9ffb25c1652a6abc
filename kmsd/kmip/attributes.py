"""Attributes in the internal (KMIP 2.1) form, and their 1.x equivalents.

Theory of operation: an object's attributes are a tuple of items in the 2.x
shape: one item per attribute instance, tagged with the attribute's own tag
(``CryptographicAlgorithm``, ``Name``…).  A custom attribute is a 2.x
``Attribute`` structure (Vendor Identification, Attribute Name, Attribute
Value); a 1.x custom name ``x-foo`` is vendor ``x``, name ``foo``.  A
multi-instance attribute is simply repeated; its 1.x Attribute Index is its
position among the instances of the same attribute.

The 1.x form is ``Attribute{AttributeName, [AttributeIndex], AttributeValue}``
where the value carries the tag ``AttributeValue``; converting is a retag.
"""

from __future__ import annotations

from collections.abc import Iterable

from ttlv import REGISTRY, Item, ItemType, Version

from . import tags
from .enums import ResultReason
from .errors import KmipError, invalid_field

CUSTOM_PREFIXES = ("x-", "y-")


# Attributes whose tag is older than the attribute: KMIP 1.x has the Key
# Format Type tag (in Key Blocks) but no Key Format Type attribute.
ATTRIBUTE_SINCE: dict[str, Version] = {"Key Format Type": (2, 0)}


def attribute_defined(name: str, version: Version) -> bool:
    since = ATTRIBUTE_SINCE.get(name)
    return since is None or version >= since


def retag(item: Item, tag: int) -> Item:
    return Item(tag, item.type, item.value)


# -- identity of an attribute instance ---------------------------------------
def attribute_key(item: Item) -> str:
    """A stable name for the attribute an item holds: the spec name for
    standard attributes, ``vendor-name`` (1.x style) for custom ones."""
    if item.tag == tags.Attribute:
        vendor = item.get(tags.VendorIdentification)
        name = item.get(tags.AttributeName)
        if isinstance(vendor, str) and isinstance(name, str):
            return f"{vendor}-{name}"
        if isinstance(name, str):
            return name
    return REGISTRY.tag_name(item.tag) or f"0x{item.tag:06X}"


def custom_attribute(name: str, value: Item) -> Item:
    vendor, _, short = name.partition("-")
    return Item(
        tags.Attribute,
        ItemType.STRUCTURE,
        (
            Item(tags.VendorIdentification, ItemType.TEXT_STRING, vendor),
            Item(tags.AttributeName, ItemType.TEXT_STRING, short),
            retag(value, tags.AttributeValue),
        ),
    )


# -- 1.x <-> 2.x ------------------------------------------------------------
def from_v1(attribute: Item, version: Version) -> tuple[Item, int | None]:
    """A 1.x ``Attribute`` structure -> (2.x attribute item, its index or None)."""
    name = attribute.get(tags.AttributeName)
    if not isinstance(name, str):
        raise invalid_field("Attribute without an Attribute Name")
    value = attribute.find(tags.AttributeValue)
    index = attribute.get(tags.AttributeIndex)
    idx = index if isinstance(index, int) and not isinstance(index, bool) else None
    if value is None:
        # Some requests (Delete Attribute by name) legitimately carry none.
        value = Item(tags.AttributeValue, ItemType.STRUCTURE, ())
    if name.startswith(CUSTOM_PREFIXES):
        return custom_attribute(name, value), idx
    entry = REGISTRY.tags.by_name(name, version)
    if entry is None:
        raise KmipError(ResultReason.INVALID_FIELD, f"unknown attribute {name!r}")
    return retag(value, entry.value), idx


def to_v1(item: Item, version: Version, index: int | None = None) -> Item | None:
    """A 2.x attribute item -> a 1.x ``Attribute`` (None if the version lacks it)."""
    if item.tag == tags.Attribute:
        name = attribute_key(item)
        value = item.find(tags.AttributeValue)
        if value is None:
            return None
    else:
        entry = REGISTRY.tags.by_value(item.tag, version)
        if entry is None or not entry.defined_in(version) or not attribute_defined(entry.name, version):
            return None
        name, value = entry.name, retag(item, tags.AttributeValue)
    children = [Item(tags.AttributeName, ItemType.TEXT_STRING, name)]
    if index:
        children.append(Item(tags.AttributeIndex, ItemType.INTEGER, index))
    children.append(value)
    return Item(tags.Attribute, ItemType.STRUCTURE, tuple(children))


def list_to_v1(items: Iterable[Item], version: Version) -> list[Item]:
    """2.x attribute items -> 1.x Attributes, with indexes per attribute."""
    seen: dict[str, int] = {}
    out = []
    for item in items:
        key = attribute_key(item)
        index = seen.get(key, 0)
        seen[key] = index + 1
        converted = to_v1(item, version, index)
        if converted is not None:
            out.append(converted)
    return out


def defined_in(item: Item, version: Version) -> bool:
    """Whether a 2.x attribute item can be shown to a client of ``version``."""
    if item.tag == tags.Attribute:
        return True
    entry = REGISTRY.tags.by_value(item.tag, version)
    return entry is not None and entry.defined_in(version)


# -- attribute sets -----------------------------------------------------------
def instances(attrs: Iterable[Item], key: str) -> list[Item]:
    return [a for a in attrs if attribute_key(a) == key]


def first(attrs: Iterable[Item], tag: int) -> Item | None:
    for a in attrs:
        if a.tag == tag:
            return a
    return None


def value_of(attrs: Iterable[Item], tag: int) -> object:
    a = first(attrs, tag)
    return None if a is None else a.value


def replace_all(attrs: tuple[Item, ...], tag: int, new: Item | None) -> tuple[Item, ...]:
    """Drop every instance of ``tag``; append ``new`` when given."""
    kept = tuple(a for a in attrs if a.tag != tag)
    return (*kept, new) if new is not None else kept
