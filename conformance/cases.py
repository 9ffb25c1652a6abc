"""Test-case files: discovery, naming, and their exchanges.

A file is read with :func:`ttlv.xml.decode_messages` and split into
exchanges: each request message with the response message that follows it
(None when the file has two requests in a row, as the OASIS copy of
``TC-DERIVEKEY-4-10`` does: the request is sent and its answer not judged).
The profile is the file name's prefix (``SKLC-M-1-14`` -> ``SKLC``; the
1.0-1.2 files write ``SASED_M_1_10_…`` and ``TC_101_10_…``), the version is the
Protocol Version of the first request, and the case id is the file's stem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import ttlv
from ttlv import REGISTRY, Item, ItemType

from . import rules

REQUEST_MESSAGE = REGISTRY.tag("Request Message")
RESPONSE_MESSAGE = REGISTRY.tag("Response Message")

#: Profile prefixes, longest first so that ``CS-AC`` wins over ``CS``.
PROFILES = (
    "CS-RNG",
    "CS-BC",
    "CS-AC",
    "MSGENC",
    "PKCS11",
    "SUITEB",
    "SASED",
    "SKLC",
    "SKFF",
    "AKLC",
    "OMOS",
    "BL",
    "TL",
    "AX",
    "QS",
    "TC",
)


@dataclass(frozen=True, slots=True)
class Exchange:
    index: int  # 1-based position of the request among the file's requests
    request: Item
    expected: Item | None


@dataclass(frozen=True, slots=True)
class Case:
    path: Path
    id: str
    profile: str
    version: str
    exchanges: tuple[Exchange, ...]


def profile_of(stem: str) -> str:
    name = stem.replace("_", "-").upper()
    for prefix in PROFILES:
        if name == prefix or name.startswith(prefix + "-"):
            return prefix
    return name.split("-", 1)[0]


def discover(paths: Iterable[Path]) -> list[Path]:
    """Files given, and the ``*.xml`` below directories given (recursively, sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.xml") if p.is_file()))
        else:
            found.append(path)
    return found


def version_of(message: Item) -> str | None:
    version = ttlv.xml.item_version(message)
    return f"{version[0]}.{version[1]}" if version else None


def _clean(item: Item) -> Item:
    if item.type is ItemType.STRUCTURE:
        return Item(item.tag, item.type, tuple(_clean(child) for child in item.children))
    if item.tag == rules.ATTRIBUTE_NAME and isinstance(item.value, str):
        return Item(item.tag, item.type, rules.clean_attribute_name(item.value))
    return item


def load(path: Path) -> Case:
    """Read one file; raises :class:`ttlv.DecodeError` when it cannot be decoded."""
    messages = [_clean(m) for m in ttlv.xml.decode_messages(path.read_bytes())]
    exchanges: list[Exchange] = []
    for position, message in enumerate(messages):
        if message.tag != REQUEST_MESSAGE:
            continue
        following = messages[position + 1] if position + 1 < len(messages) else None
        expected = following if following is not None and following.tag == RESPONSE_MESSAGE else None
        exchanges.append(Exchange(len(exchanges) + 1, message, expected))
    # The name's ``vv`` is the file's version (TC-ECDSA-SIGN-1-14 speaks 1.3 inside).
    version = version_from_name(path.stem) or next((v for v in (version_of(m) for m in messages) if v), "?")
    return Case(path, path.stem, profile_of(path.stem), version, tuple(exchanges))


_VERSION_SUFFIX = re.compile(r"[-_](\d)(\d)(?=[-_]|$)")


def version_from_name(stem: str) -> str | None:
    """The ``vv`` of a file name (``SKLC-M-1-14`` -> ``1.4``), when a case cannot be read."""
    matches = _VERSION_SUFFIX.findall(stem)
    return f"{matches[-1][0]}.{matches[-1][1]}" if matches else None
