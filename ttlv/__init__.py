"""ttlv: a sans-I/O codec for KMIP's wire formats (binary TTLV, XML, JSON).

No networking and no KMIP semantics beyond names: bytes or text in, item
trees out, and back.  See :mod:`ttlv.item` for the model and
:mod:`ttlv.registry` for the tag/enumeration/mask tables of KMIP 1.0-2.1;
:mod:`ttlv.xml` and :mod:`ttlv.json` are the text encodings.
"""

from . import json, xml
from .binary import DEFAULT_LIMITS, Limits, decode, decode_prefix, encode
from .errors import DecodeError, EncodeError, LimitExceeded, PlaceholderError, TTLVError, UnknownName
from .framer import Framer
from .item import Item, ItemType, Placeholder, Value, structure
from .registry import LATEST, REGISTRY, VERSIONS, Version

__all__ = [
    "DEFAULT_LIMITS",
    "LATEST",
    "REGISTRY",
    "VERSIONS",
    "DecodeError",
    "EncodeError",
    "Framer",
    "Item",
    "ItemType",
    "LimitExceeded",
    "Limits",
    "Placeholder",
    "PlaceholderError",
    "TTLVError",
    "UnknownName",
    "Value",
    "Version",
    "decode",
    "decode_prefix",
    "encode",
    "json",
    "structure",
    "xml",
]
