"""The KMIP XML encoding (KMIP Additional Message Encodings v1.0, section 6).

Theory of operation: one element per item, named by the tag's CamelCase name
(``<CryptographicAlgorithm type="Enumeration" value="AES"/>``), or the
generic ``<TTLV tag="0x540001" type=… value=…>`` form for tags without a
usable name.  ``type`` defaults to Structure; a Structure's value is its
child elements, every other value sits in the ``value`` attribute as text.

Decoding parses with :mod:`xml.etree.ElementTree` and then walks the element
tree.  Two facts must be known before a value can be read: the protocol
version (names are resolved as that version defines them, falling back to any
version) and, for an ``AttributeValue``, the sibling ``AttributeName`` (its
Enumeration or mask names come from that attribute's table).  The version is
read from the message's own ``ProtocolVersion`` unless the caller gives one.

Values that are not text strings and start with ``$`` are the test-case
placeholders (``$NOW-3600``, ``$DATA_0``) and decode to
:class:`~ttlv.item.Placeholder`; a Text String keeps them as plain text.

Untrusted input: a DOCTYPE (and with it any entity declaration) is refused
before expat could expand anything; every failure is a
:class:`~ttlv.errors.DecodeError` whose message starts with the element path
(each element's position among its siblings in brackets), or with the line
and column of an XML syntax error.

Leniency, on purpose: text between elements is ignored (the 1.0-1.2 test
files carry ``# TIME n`` lines there), and a duplicated closing root tag at
the very end (``</KMIP></KMIP>``, as in the OASIS file
``1.4/testcases/TC-ECDSA-SIGN-1-14.xml``) is dropped before parsing.

The text-value helpers in the second section are shared with
:mod:`ttlv.json`, which uses the same names, hex forms and placeholders.
"""

from __future__ import annotations

import binascii
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

from .binary import DEFAULT_LIMITS, Limits
from .errors import DecodeError, EncodeError, UnknownName
from .item import Item, ItemType, Placeholder, Value
from .registry import LATEST, MASK_TABLES, REGISTRY, Table, Version

__all__ = ["decode", "decode_messages", "encode", "encode_messages"]

T = ItemType

ATTRIBUTE_NAME = REGISTRY.tag("Attribute Name")
ATTRIBUTE_VALUE = REGISTRY.tag("Attribute Value")
_HEADERS = (REGISTRY.tag("Request Header"), REGISTRY.tag("Response Header"))
_PROTOCOL_VERSION = REGISTRY.tag("Protocol Version")
_MAJOR = REGISTRY.tag("Protocol Version Major")
_MINOR = REGISTRY.tag("Protocol Version Minor")

#: Roots that hold a sequence of messages (KmipTestCase: the 1.0-1.2 profiles).
CONTAINERS = ("KMIP", "KmipTestCase")
#: The namespace the spec allows ("if namespaces are required").
NAMESPACE = "{urn:oasis:tc:kmip:xmlns}"

#: Names the OASIS files use that the registry does not define, accepted on
#: input only (output writes the registry's name, or hex where it has none):
#: - the 2.1 test cases write the 1.x usage bit "Content Commitment (Non
#:   Repudiation)" as ``ContentCommitment`` (the bit is reserved in 2.x);
#: - the 2.1 DLOGIN test cases spell Result Reason "Not Authorised" the
#:   American way;
#: - the Split Key Method names are the spec's "GF(2^16)" and "GF(2^8)"; the
#:   registry's text rendering lost the superscript (``GF (2 16 )``).
ALIASES: dict[str, dict[str, int]] = {
    "Cryptographic Usage Mask": {"ContentCommitment": 0x400},
    "Result Reason": {"NotAuthorized": 0x39},
    "Split Key Method": {"PolynomialSharingGF2_16": 0x2, "PolynomialSharingGF2_8": 0x4},
}


# ---------------------------------------------------------------------------
# Shared with ttlv.json: versions, tags, tables and value text
# ---------------------------------------------------------------------------
class ValueProblem(Exception):
    """Something unreadable inside a tree; :func:`located` adds where it was.

    Readers build no path while all goes well: each Structure level that an
    error passes through appends its child's segment to ``where`` (innermost
    first), so the location costs nothing on the success path.
    """

    def __init__(self, message: str, expected: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.where: list[str] = []


def located(problem: ValueProblem, root: str) -> DecodeError:
    """The DecodeError for ``problem``, its message led by the item's path."""
    path = "/".join([root, *reversed(problem.where)])
    return DecodeError(f"{path}: {problem.message}", expected=problem.expected)


def item_version(item: Item) -> Version | None:
    """The Protocol Version in a message's Request/Response Header, if any."""
    for header_tag in _HEADERS:
        header = item.find(header_tag)
        if header is None:
            continue
        pv = header.find(_PROTOCOL_VERSION)
        if pv is None:
            return None
        major, minor = pv.get(_MAJOR), pv.get(_MINOR)
        if type(major) is int and type(minor) is int:
            return major, minor
    return None


@lru_cache(maxsize=4096)
def resolve_tag(name: str, version: Version) -> int:
    """A tag from its CamelCase (or spec) name, or ``0x42xxxx`` / ``0x54xxxx``."""
    if name[:2] in ("0x", "0X"):
        tag = _parse_hex(name[2:], 24, signed=False, exact=True)
        if tag >> 16 not in (0x42, 0x54):
            raise ValueProblem(f"tag {name} is neither a KMIP (0x42xxxx) nor an extension (0x54xxxx) tag")
        return tag
    try:
        return REGISTRY.tag(name, version)
    except UnknownName:
        raise ValueProblem(f"unknown tag name {name!r}") from None


@lru_cache(maxsize=4096)
def tag_name(tag: int, version: Version) -> str | None:
    """The CamelCase name to write for ``tag``, or None if only hex is exact.

    A name from another version is used when it reads back as the same tag.
    """
    name = REGISTRY.tag_camel(tag, version)
    if name is None or not _XML_NAME.fullmatch(name) or name in ("TTLV", *CONTAINERS):
        return None
    try:
        return name if REGISTRY.tag(name, version) == tag else None
    except UnknownName:
        return None


@lru_cache(maxsize=1024)
def _attribute_table(attribute_name: str) -> Table | None:
    # Custom attributes ("x-…", "y-…") and unknown names have no table: their
    # enumerations can only be written in hex.
    try:
        tag = REGISTRY.tag(attribute_name)
    except UnknownName:
        return None
    return REGISTRY.enum_table_for_tag(tag)


def value_table(tag: int, attribute_name: object = None) -> Table | None:
    """The enumeration or mask table for an item's value.

    An Attribute Value takes the table of its sibling Attribute Name (1.x
    ``Attribute`` structures and 2.x custom attributes); every other tag has
    its own (Attribute Reference's is the table of tags).
    """
    if tag == ATTRIBUTE_VALUE:
        return _attribute_table(attribute_name) if type(attribute_name) is str else None
    return REGISTRY.enum_table_for_tag(tag)


def is_mask(table: Table | None) -> bool:
    return table is not None and table.name in MASK_TABLES


# -- reading -----------------------------------------------------------------
_DEC = re.compile(r"[+-]?[0-9]+")
_HEX = re.compile(r"[0-9a-fA-F]+")
_DATETIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?",
    re.ASCII,
)
_INT_BITS = {T.INTEGER: (32, True), T.LONG_INTEGER: (64, True), T.INTERVAL: (32, False), T.ENUMERATION: (32, False)}


def _parse_hex(digits: str, bits: int, *, signed: bool, exact: bool = False) -> int:
    """Fixed-width hex (two's complement when signed); at most bits/4 digits."""
    width = bits // 4
    if not _HEX.fullmatch(digits) or len(digits) > width or (exact and len(digits) != width):
        wanted = f"{width}" if exact else f"1 to {width}"
        raise ValueProblem(f"bad hex 0x{digits} (expected {wanted} hex digits)")
    value = int(digits, 16)
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def parse_int(text: str, item_type: ItemType) -> int:
    """Integer, Long Integer, Interval or Enumeration from decimal or ``0x`` hex."""
    bits, signed = _INT_BITS[item_type]
    if text[:2] in ("0x", "0X"):
        return _parse_hex(text[2:], bits, signed=signed)
    if not _DEC.fullmatch(text):
        raise ValueProblem(f"{text!r} is not a decimal or 0x hex number")
    return check_range(int(text), item_type)


def check_range(value: int, item_type: ItemType) -> int:
    bits, signed = _INT_BITS[item_type]
    low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    if not low <= value < high:
        raise ValueProblem(f"{value} is out of range for {item_type.camel_name}")
    return value


def parse_big_integer(text: str) -> int:
    """Two's complement hex, with or without ``0x`` (XML omits it, JSON has it)."""
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    if not _HEX.fullmatch(digits):
        raise ValueProblem(f"big integer {text!r} is not hex")
    value = int(digits, 16)
    bits = len(digits) * 4
    return value - (1 << bits) if value >> (bits - 1) else value


def parse_enum(text: str, table: Table | None, version: Version) -> int:
    if text[:2] in ("0x", "0X"):
        return _parse_hex(text[2:], 32, signed=False)
    if table is None:
        raise ValueProblem(f"enumeration {text!r} has no table of names here (write it as 0x hex)")
    value = name_value(table.name, text, version)
    if value is None:
        raise ValueProblem(f"{text!r} is not a {table.name} name")
    return value


@lru_cache(maxsize=8192)
def name_value(table_name: str, name: str, version: Version) -> int | None:
    """The value of an enumeration or mask name in a version (or an alias)."""
    entry = REGISTRY.tables[table_name].by_name(name, version)
    if entry is not None:
        return entry.value
    return ALIASES.get(table_name, {}).get(name)


def parse_mask(parts: Iterable[str], table: Table, version: Version) -> int:
    """OR of mask names, ``0x`` hex and decimal parts, as a signed 32-bit Integer."""
    value = 0
    empty = True
    for raw_part in parts:
        part = raw_part.strip()
        if not part:
            raise ValueProblem(f"empty part in {table.name} value")
        empty = False
        if part[:2] in ("0x", "0X"):
            value |= _parse_hex(part[2:], 32, signed=False)
        elif _DEC.fullmatch(part):
            value |= check_range(int(part), T.INTEGER) & 0xFFFFFFFF
        else:
            named = name_value(table.name, part, version)
            if named is None:
                raise ValueProblem(f"{part!r} is not a {table.name} name")
            value |= named
    if empty:
        raise ValueProblem(f"empty {table.name}")
    return value - (1 << 32) if value >> 31 else value


def parse_bool(text: str) -> bool:
    # xsd:boolean allows 1/0; JSON allows the 8-byte hex form.
    lowered = text.lower()
    if lowered in ("true", "1", "0x0000000000000001"):
        return True
    if lowered in ("false", "0", "0x0000000000000000"):
        return False
    raise ValueProblem(f"{text!r} is not a boolean (true/false)")


def parse_bytes(text: str) -> bytes:
    try:
        return binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        raise ValueProblem(f"byte string {_short(text)!r} is not an even number of hex digits") from None


def parse_datetime(text: str, extended: bool) -> datetime:
    """ISO 8601 as in XSD (any offset, ``Z`` or none = UTC), or ``0x`` hex.

    Returns an aware UTC datetime; a Date-Time drops fractional seconds (the
    spec says to truncate them), a Date-Time Extended keeps microseconds.
    """
    if text[:2] in ("0x", "0X"):
        count = _parse_hex(text[2:], 64, signed=True)
        try:
            return _EPOCH + (timedelta(microseconds=count) if extended else timedelta(seconds=count))
        except OverflowError:
            raise ValueProblem(f"date-time {text} is out of range") from None
    match = _DATETIME.fullmatch(text)
    if match is None:
        raise ValueProblem(f"{text!r} is not an ISO 8601 date-time (2001-01-01T10:00:00+00:00)")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0")) if extended else 0
    tz = UTC
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueProblem(f"{text!r} is not a valid date-time: {exc}") from None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_text(item_type: ItemType, text: str, table: Table | None, version: Version, mask_sep: str | None) -> Value:
    """Any non-Structure value from its text form (``mask_sep`` None: spaces)."""
    if item_type is T.TEXT_STRING:
        return text
    if text[:1] == "$":
        return Placeholder(text)
    if item_type is T.INTEGER:
        if table is not None and is_mask(table) and not _DEC.fullmatch(text):
            return parse_mask(text.split(mask_sep), table, version)
        return parse_int(text, item_type)
    if item_type is T.ENUMERATION:
        return parse_enum(text, table, version)
    if item_type is T.LONG_INTEGER or item_type is T.INTERVAL:
        return parse_int(text, item_type)
    if item_type is T.BYTE_STRING:
        return parse_bytes(text)
    if item_type is T.DATE_TIME or item_type is T.DATE_TIME_EXTENDED:
        return parse_datetime(text, item_type is T.DATE_TIME_EXTENDED)
    if item_type is T.BOOLEAN:
        return parse_bool(text)
    if item_type is T.BIG_INTEGER:
        return parse_big_integer(text)
    raise ValueProblem(f"a {item_type.camel_name} has no text value")


# -- writing -----------------------------------------------------------------
@lru_cache(maxsize=8192)
def _enum_name(table_name: str, value: int, version: Version) -> str | None:
    table = REGISTRY.tables[table_name]
    entry = table.by_value(value, version)
    if entry is None or not entry.defined_in(version):
        return None
    # Only a name that reads back as this very value is exact.
    return entry.camel if table.by_name(entry.camel, version) is entry else None


def format_enum(value: int, table: Table | None, version: Version) -> str:
    """The name this version defines for ``value``, else ``0x`` + 8 hex digits."""
    name = _enum_name(table.name, value, version) if table is not None else None
    return name if name is not None else f"0x{value & 0xFFFFFFFF:08x}"


@lru_cache(maxsize=4096)
def format_mask(value: int, table_name: str, version: Version, sep: str) -> str:
    """Mask names this version defines, then any other bits as one hex part."""
    unsigned = value & 0xFFFFFFFF
    named, rest = REGISTRY.mask_names(table_name, unsigned, version)
    table = REGISTRY.tables[table_name]
    parts: list[str] = []
    for entry in named:
        if table.by_name(entry.camel, version) is entry:
            parts.append(entry.camel)
        else:
            rest |= entry.value
    if rest or not parts:
        parts.append(f"0x{rest:08x}")
    return sep.join(parts)


def format_datetime(value: datetime, extended: bool) -> str:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds" if extended else "seconds")


def format_big_integer(value: int) -> str:
    """Two's complement hex padded to a multiple of 8 bytes (as in binary)."""
    size = max(8, (value.bit_length() + 1 + 63) // 64 * 8)
    return value.to_bytes(size, "big", signed=True).hex()


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------
# Trailing duplicates of the root's closing tag: the OASIS file
# 1.4/testcases/TC-ECDSA-SIGN-1-14.xml ends with "</KMIP>\n\n</KMIP>".
# Only the container roots: they never nest, so a repeat is never legitimate.
# The pattern runs on the last few KB only, which keeps it linear however
# many repeats an attacker sends (each surplus one then fails to parse).
_DUP_CLOSE = re.compile(r"(</(KMIP|KmipTestCase)>\s*)(?:</\2>\s*)+\Z")
_DUP_CLOSE_B = re.compile(rb"(</(KMIP|KmipTestCase)>\s*)(?:</\2>\s*)+\Z")
_TAIL = 4096
_DOCTYPE = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DOCTYPE_B = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


class _NoDoctype(ET.TreeBuilder):
    """A tree builder that refuses any DOCTYPE (entities live in one)."""

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise DecodeError("a DOCTYPE is not allowed in KMIP XML", expected="no DTD or entity declarations")


def parse(text: str | bytes, limits: Limits = DEFAULT_LIMITS) -> ET.Element:
    """Parse XML safely into an element tree (no DTD, bounded size)."""
    if len(text) > limits.max_size:
        raise DecodeError(f"XML of {len(text)} characters exceeds the limit of {limits.max_size}")
    # A cheap textual check refuses the common case with a clear message; the
    # tree builder's hook catches a DOCTYPE hidden by an unusual encoding.
    if isinstance(text, bytes):
        found = _DOCTYPE_B.search(text) is not None
        text = text[:-_TAIL] + _DUP_CLOSE_B.sub(rb"\1", text[-_TAIL:])
    else:
        found = _DOCTYPE.search(text) is not None
        text = text[:-_TAIL] + _DUP_CLOSE.sub(r"\1", text[-_TAIL:])
    if found:
        raise DecodeError("DOCTYPE or ENTITY declarations are not allowed in KMIP XML", expected="no DTD")
    parser = ET.XMLParser(target=_NoDoctype())
    try:
        parser.feed(text)
        root: ET.Element = parser.close()
    except ET.ParseError as exc:
        line, column = exc.position
        raise DecodeError(
            f"line {line}, column {column}: malformed XML ({exc.msg})", expected="well-formed XML"
        ) from None
    return root


def _local(element: ET.Element) -> str:
    tag = element.tag
    if tag[:1] == "{":
        if not tag.startswith(NAMESPACE):
            raise ValueProblem(f"element {tag} is in a foreign namespace")
        return tag[len(NAMESPACE) :]
    return tag


def _raw_version(message: ET.Element) -> Version | None:
    """The ProtocolVersion written in a message element, before decoding it."""
    for header in ("RequestHeader", "ResponseHeader"):
        pv = message.find(f"{header}/ProtocolVersion")
        if pv is None:
            continue
        major, minor = pv.find("ProtocolVersionMajor"), pv.find("ProtocolVersionMinor")
        try:
            if major is not None and minor is not None:
                return parse_int(major.get("value", ""), T.INTEGER), parse_int(minor.get("value", ""), T.INTEGER)
        except ValueProblem:
            return None  # the real decode reports it, with its path
    return None


class _Reader:
    def __init__(self, version: Version, max_depth: int) -> None:
        self.version = version
        self.max_depth = max_depth

    def tag_of(self, element: ET.Element) -> int:
        name = _local(element)
        if name == "TTLV":
            hex_tag = element.get("tag")
            if hex_tag is None:
                raise ValueProblem("a <TTLV> element needs a tag attribute")
            return resolve_tag(hex_tag, self.version)
        if len(name) == 7 and name[0] == "x" and _HEX.fullmatch(name[1:]):
            return resolve_tag("0" + name, self.version)  # the spec's <x540001 …> form
        return resolve_tag(name, self.version)

    def item(self, element: ET.Element, tag: int, depth: int, attribute_name: object) -> Item:
        type_name = element.get("type")
        if type_name is None or type_name == "Structure":
            return Item(tag, T.STRUCTURE, self.children(element, depth))
        try:
            item_type = ItemType.from_camel(type_name)
        except KeyError:
            raise ValueProblem(f"unknown type {type_name!r}", "a KMIP item type name") from None
        if len(element):
            raise ValueProblem(f"a {type_name} cannot have child elements")
        text = element.get("value")
        if text is None:
            raise ValueProblem(f"{type_name} without a value attribute")
        return Item(tag, item_type, parse_text(item_type, text, value_table(tag, attribute_name), self.version, None))

    def children(self, element: ET.Element, depth: int) -> tuple[Item, ...]:
        if depth >= self.max_depth:
            raise ValueProblem(f"structure nested deeper than {self.max_depth}")
        if element.get("value") is not None:
            raise ValueProblem("a Structure has child elements, not a value attribute")
        elements = list(element)
        index = 0  # the child being read, for the error path
        try:
            tags = []
            for index in range(len(elements)):
                tags.append(self.tag_of(elements[index]))
            attribute_name = None
            if ATTRIBUTE_VALUE in tags and ATTRIBUTE_NAME in tags:
                name_element = elements[tags.index(ATTRIBUTE_NAME)]
                if name_element.get("type") == "TextString":
                    attribute_name = name_element.get("value")
            items = []
            for index, child in enumerate(elements):
                items.append(self.item(child, tags[index], depth + 1, attribute_name))
        except ValueProblem as problem:
            problem.where.append(f"{elements[index].tag}[{index}]")
            raise
        return tuple(items)


def _decode_element(element: ET.Element, version: Version | None, limits: Limits, path: str) -> Item:
    reader = _Reader(version or _raw_version(element) or LATEST, limits.max_depth)
    try:
        return reader.item(element, reader.tag_of(element), 0, None)
    except ValueProblem as problem:
        raise located(problem, path) from None


def decode(text: str | bytes, version: Version | None = None, *, limits: Limits = DEFAULT_LIMITS) -> Item:
    """Decode one element (a message or any single item) to an item tree.

    ``version`` defaults to the message's own Protocol Version, else the
    latest.  A trailing duplicated closing tag is tolerated (see the module
    docstring); a DOCTYPE is refused.  Errors name the element path, with
    each element's position among its siblings in brackets.
    """
    root = parse(text, limits)
    if root.tag in CONTAINERS:
        raise DecodeError(f"<{root.tag}> holds several messages", expected="one element (use decode_messages)")
    return _decode_element(root, version, limits, f"/{root.tag}")


def decode_messages(
    text: str | bytes, version: Version | None = None, *, limits: Limits = DEFAULT_LIMITS
) -> list[Item]:
    """Decode a ``<KMIP>`` or ``<KmipTestCase>`` root's messages (or one message).

    Each message resolves names by its own Protocol Version unless ``version``
    is given.  Text between the messages (``# TIME n``) is ignored.
    """
    root = parse(text, limits)
    if root.tag not in CONTAINERS:
        return [_decode_element(root, version, limits, f"/{root.tag}")]
    return [
        _decode_element(child, version, limits, f"/{root.tag}/{child.tag}[{index}]") for index, child in enumerate(root)
    ]


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# Characters XML 1.0 cannot carry at all, not even as character references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Tab, newline and carriage return are escaped so that attribute-value
# normalization on the reading side does not turn them into spaces.
_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}
)


def _attr(text: str) -> str:
    if _NOT_XML.search(text):
        raise EncodeError(f"text {_short(text)!r} holds a character XML 1.0 cannot represent")
    return text.translate(_ESCAPES)


def value_text(item: Item, version: Version, attribute_name: object) -> str:
    """The XML text of a non-Structure item's value."""
    tag, item_type, value = item
    if isinstance(value, Placeholder):
        return value.name
    try:
        if item_type is T.TEXT_STRING:
            if type(value) is str:
                return value
        elif item_type is T.BYTE_STRING:
            if isinstance(value, bytes):
                return value.hex()
        elif item_type is T.BOOLEAN:
            if type(value) is bool:
                return "true" if value else "false"
        elif item_type is T.DATE_TIME or item_type is T.DATE_TIME_EXTENDED:
            if isinstance(value, datetime):
                return format_datetime(value, item_type is T.DATE_TIME_EXTENDED)
        elif type(value) is int:
            if item_type is T.BIG_INTEGER:
                return format_big_integer(value)
            check_range(value, item_type)
            if item_type is T.ENUMERATION:
                return format_enum(value, value_table(tag, attribute_name), version)
            table = value_table(tag, attribute_name) if item_type is T.INTEGER else None
            if table is not None and is_mask(table):
                return format_mask(value, table.name, version, " ")
            return str(value)
    except ValueProblem as exc:
        raise EncodeError(f"tag 0x{tag:06x}: {exc}") from None
    raise EncodeError(f"tag 0x{tag:06x}: a {item_type.camel_name} cannot hold {type(value).__name__}")


class _Writer:
    def __init__(self, version: Version, indent: bool) -> None:
        self.version = version
        self.indent = indent
        self.out: list[str] = []

    def item(self, item: Item, depth: int, attribute_name: object) -> None:
        pad = "  " * depth if self.indent else ""
        name = tag_name(item.tag, self.version)
        head = f"<{name}" if name is not None else f'<TTLV tag="0x{item.tag:06x}"'
        close = name if name is not None else "TTLV"
        end = "\n" if self.indent else ""
        if item.type is T.STRUCTURE:
            children = item.value
            if type(children) is not tuple:
                raise EncodeError(f"structure 0x{item.tag:06x} needs a tuple of items")
            if name is None:
                head += ' type="Structure"'
            if not children:
                self.out.append(f"{pad}{head}/>{end}")
                return
            self.out.append(f"{pad}{head}>{end}")
            self.children(children, depth + 1)
            self.out.append(f"{pad}</{close}>{end}")
            return
        text = _attr(value_text(item, self.version, attribute_name))
        self.out.append(f'{pad}{head} type="{item.type.camel_name}" value="{text}"/>{end}')

    def children(self, children: tuple[Item, ...], depth: int) -> None:
        attribute_name = None
        for child in children:
            if child.tag == ATTRIBUTE_NAME:
                attribute_name = child.value
                break
        for child in children:
            self.item(child, depth, attribute_name)


def encode(item: Item, version: Version | None = None, *, indent: bool = True) -> str:
    """The XML text of one item tree (no XML declaration).

    ``version`` defaults to the message's own Protocol Version, else the
    latest; names are written as that version defines them.
    """
    writer = _Writer(version or item_version(item) or LATEST, indent)
    writer.item(item, 0, None)
    return "".join(writer.out)


def encode_messages(items: Iterable[Item], version: Version | None = None) -> str:
    """A ``<KMIP>`` document holding the messages, each in its own version."""
    parts = ["<KMIP>\n"]
    for item in items:
        writer = _Writer(version or item_version(item) or LATEST, True)
        writer.item(item, 1, None)
        parts.extend(writer.out)
    parts.append("</KMIP>\n")
    return "".join(parts)
