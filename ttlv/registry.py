"""The KMIP registry: every tag, enumeration value and mask bit of KMIP 1.0-2.1.

Theory of operation: ``registry.tsv`` (generated from the OASIS spec texts by
``scripts/gen_registry.py``) holds one row per (table, name, value) with the
protocol version that introduced it and the first version that no longer
defines it.  Tables are the spec's: ``Tag``, each enumeration (``Object
Type``, ``Result Reason`` …) and each bit mask (``Cryptographic Usage
Mask`` …).  Look-ups take a protocol version and resolve a name or value as
that version defines it, falling back to any version (newest first) so that
a message using a name from another version still decodes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from .errors import UnknownName
from .names import normalize

Version = tuple[int, int]
VERSIONS: tuple[Version, ...] = ((1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (2, 0), (2, 1))
LATEST: Version = VERSIONS[-1]

MASK_TABLES = frozenset({"Cryptographic Usage Mask", "Storage Status Mask", "Protection Storage Mask"})

# Tags whose Enumeration values come from a table of another name.  Every
# other enumerated tag uses the table of its own name.
ENUM_TABLE_FOR_TAG = {
    "Mask Generator Hashing Algorithm": "Hashing Algorithm",
    "Attribute Reference": "Tag",
    "Key Wrap Type": "Key Wrap Type",
    "Object Group Member": "Object Group Member",
    "Destroy Action": "Destroy Action",
    "Protection Storage Masks": "Protection Storage Mask",
}


def parse_version(text: str) -> Version:
    major, minor = text.split(".")
    return int(major), int(minor)


@dataclass(frozen=True, slots=True)
class Entry:
    table: str
    name: str
    value: int
    since: Version
    until: Version | None
    deprecated: Version | None

    @property
    def camel(self) -> str:
        return normalize(self.name)

    def defined_in(self, version: Version) -> bool:
        return self.since <= version and (self.until is None or version < self.until)


@dataclass(slots=True)
class Table:
    name: str
    entries: list[Entry] = field(default_factory=list)
    _by_value: dict[int, list[Entry]] = field(default_factory=dict)
    _by_name: dict[str, list[Entry]] = field(default_factory=dict)

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        self._by_value.setdefault(entry.value, []).append(entry)
        for key in {entry.name, entry.camel, entry.name.lower(), entry.camel.lower()}:
            self._by_name.setdefault(key, []).append(entry)

    @staticmethod
    def _pick(candidates: list[Entry], version: Version | None) -> Entry:
        if version is not None:
            for entry in candidates:
                if entry.defined_in(version):
                    return entry
        # Not defined in that version: the newest definition wins.
        return max(candidates, key=lambda e: e.since)

    def by_value(self, value: int, version: Version | None = None) -> Entry | None:
        candidates = self._by_value.get(value)
        return self._pick(candidates, version) if candidates else None

    def by_name(self, name: str, version: Version | None = None) -> Entry | None:
        candidates = self._by_name.get(name) or self._by_name.get(name.lower())
        return self._pick(candidates, version) if candidates else None

    def values_in(self, version: Version) -> list[Entry]:
        return [e for e in self.entries if e.defined_in(version)]


class Registry:
    def __init__(self, rows: Iterable[Entry]) -> None:
        self.tables: dict[str, Table] = {}
        for entry in rows:
            self.tables.setdefault(entry.table, Table(entry.table)).add(entry)
        self.tags = self.tables["Tag"]

    # -- tags ----------------------------------------------------------------
    def tag_name(self, tag: int, version: Version | None = None) -> str | None:
        """The spec name of a tag (``Unique Identifier``), or None if unknown."""
        entry = self.tags.by_value(tag, version)
        return entry.name if entry else None

    def tag_camel(self, tag: int, version: Version | None = None) -> str | None:
        entry = self.tags.by_value(tag, version)
        return entry.camel if entry else None

    def tag(self, name: str, version: Version | None = None) -> int:
        """The value of a tag given its spec or CamelCase name."""
        entry = self.tags.by_name(name, version)
        if entry is None:
            raise UnknownName(f"unknown tag {name!r}")
        return entry.value

    # -- enumerations and masks ---------------------------------------------
    @lru_cache(maxsize=1024)  # noqa: B019 - the registry lives for the process
    def enum_table_for_tag(self, tag: int) -> Table | None:
        """The enumeration or mask table that a tag's values are drawn from."""
        entry = self.tags.by_value(tag)
        if entry is None:
            return None
        name = ENUM_TABLE_FOR_TAG.get(entry.name, entry.name)
        table = self.tables.get(name)
        if table is None:
            for older in self.tags._by_value.get(tag, []):
                table = self.tables.get(ENUM_TABLE_FOR_TAG.get(older.name, older.name))
                if table is not None:
                    break
        return table

    def is_mask_tag(self, tag: int) -> bool:
        table = self.enum_table_for_tag(tag)
        return table is not None and table.name in MASK_TABLES

    def enum(self, table: str, name: str, version: Version | None = None) -> int:
        entry = self.tables[table].by_name(name, version)
        if entry is None:
            raise UnknownName(f"unknown {table} value {name!r}")
        return entry.value

    def enum_name(self, table: str, value: int, version: Version | None = None) -> str | None:
        entry = self.tables[table].by_value(value, version)
        return entry.name if entry else None

    def mask_names(self, table: str, value: int, version: Version | None = None) -> tuple[list[Entry], int]:
        """The named bits set in ``value`` and the remaining unnamed bits."""
        named: list[Entry] = []
        rest = value
        for entry in self.tables[table].entries:
            if value & entry.value == entry.value and entry.value and (version is None or entry.defined_in(version)):
                if rest & entry.value:
                    named.append(entry)
                    rest &= ~entry.value
        return named, rest


def _load() -> Registry:
    text = resources.files(__package__).joinpath("registry.tsv").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        table, name, value, since, until, deprecated = line.split("\t")
        rows.append(
            Entry(
                table=table,
                name=name,
                value=int(value, 16),
                since=parse_version(since),
                until=None if until == "-" else parse_version(until),
                deprecated=None if deprecated == "-" else parse_version(deprecated),
            )
        )
    return Registry(rows)


REGISTRY = _load()
