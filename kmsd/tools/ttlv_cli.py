"""``kmsd ttlv``: convert KMIP messages between encodings.

Theory of operation: every conversion goes input bytes -> a list of item
trees -> output bytes, through the ``ttlv`` codecs; this module only frames
the input (several concatenated binary messages, or one XML/JSON document
holding several), fills placeholders on request, and renders the plain-text
tree.  Failures are the user's input, not our bug, so they end in one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import string
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import click

import ttlv
from ttlv import REGISTRY, DecodeError, Item, ItemType, Placeholder, PlaceholderError, TTLVError, Version

T = ItemType
FORMATS_IN = ("auto", "binary", "hex", "xml", "json")
FORMATS_OUT = ("binary", "hex", "xml", "json", "text")

#: Stand-in for ``$NOW``-style Date-Time placeholders; offsets such as
#: ``$NOW-3600`` are applied to it so that relative order survives.
FIXED_TIME = datetime(2020, 1, 1, tzinfo=UTC)
_NOW_OFFSET = re.compile(r"^\$NOW(?P<offset>[+-]\d+)?$")
_HEX_TEXT = frozenset(string.hexdigits + string.whitespace)


class UsageProblem(Exception):
    """Bad input that is not a codec error (empty input, bad hex, unreadable file)."""


# ---------------------------------------------------------------------------
# placeholders
# ---------------------------------------------------------------------------
def placeholder_time(name: str) -> datetime:
    """The fixed stand-in time for a Date-Time placeholder."""
    match = _NOW_OFFSET.match(name)
    offset = int(match["offset"]) if match and match["offset"] else 0
    return FIXED_TIME + timedelta(seconds=offset)


def placeholder_bytes(name: str) -> bytes:
    """Fixed stand-in bytes, distinct per placeholder name (so $DATA_0 != $DATA_1)."""
    return hashlib.sha256(name.encode()).digest()[:16]


def fill_placeholders(item: Item) -> Item:
    """``item`` with every placeholder replaced by a fixed stand-in of its type."""
    value = item.value
    if type(value) is tuple:
        return Item(item.tag, item.type, tuple(fill_placeholders(child) for child in value))
    if not isinstance(value, Placeholder):
        return item
    if item.type in (T.DATE_TIME, T.DATE_TIME_EXTENDED):
        return Item(item.tag, item.type, placeholder_time(value.name))
    if item.type is T.TEXT_STRING:
        return Item(item.tag, item.type, value.name)
    return Item(item.tag, item.type, placeholder_bytes(value.name))


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------
def _text_codec(name: str) -> ModuleType:
    return importlib.import_module(f"ttlv.{name}")


def detect_format(data: bytes) -> str:
    """``xml``, ``json``, ``hex`` or ``binary``, from the first bytes of the input."""
    head = data.lstrip(b"\xef\xbb\xbf").lstrip()
    if head[:1] == b"<":
        return "xml"
    if head[:1] in (b"{", b"["):
        return "json"
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return "binary"
    return "hex" if head and _HEX_TEXT.issuperset(text) else "binary"


def split_binary(data: bytes) -> list[Item]:
    """Concatenated TTLV messages; error offsets are from the start of ``data``."""
    framer = ttlv.Framer()
    framer.feed(data)
    items: list[Item] = []
    start = 0
    while (message := framer.next_message()) is not None:
        try:
            items.append(ttlv.decode(message))
        except DecodeError as exc:
            offset = None if exc.offset is None else exc.offset + start
            detail = f"in message {len(items) + 1}: {exc.detail}"
            raise type(exc)(detail, offset=offset, expected=exc.expected) from None
        start += len(message)
    if framer.buffered:
        raise DecodeError(
            f"truncated message: {framer.buffered} bytes left over", offset=start, expected="a whole TTLV message"
        )
    return items


def parse_hex(data: bytes) -> bytes:
    text = "".join(data.decode("ascii", "replace").split())
    if len(text) % 2:
        raise UsageProblem(f"hex input has an odd number of digits ({len(text)})")
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise UsageProblem(f"hex input: {exc}") from None


def read_messages(data: bytes, fmt: str) -> list[Item]:
    if fmt == "auto":
        fmt = detect_format(data)
    if fmt == "hex":
        return split_binary(parse_hex(data))
    if fmt == "binary":
        return split_binary(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"{fmt} input is not UTF-8: {exc.reason}", offset=exc.start) from None
    return list(_text_codec(fmt).decode_messages(text))


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------
def _binary(items: list[Item], fill: bool) -> list[bytes]:
    out = []
    for item in items:
        try:
            out.append(ttlv.encode(fill_placeholders(item) if fill else item))
        except PlaceholderError as exc:
            # Say which message, and how to get past it; the codec's text
            # already names the placeholder and its tag.
            raise UsageProblem(f"message {len(out) + 1}: {exc}; pass --fill-placeholders for stand-ins") from exc
    return out


def write_messages(items: list[Item], fmt: str, version: Version | None, fill: bool) -> bytes:
    if fmt == "binary":
        return b"".join(_binary(items, fill))
    if fmt == "hex":
        return "".join(m.hex().upper() + "\n" for m in _binary(items, fill)).encode()
    if fmt == "text":
        return "".join(render_text(item, version) for item in items).encode("utf-8")
    if fill:
        items = [fill_placeholders(item) for item in items]
    codec = _text_codec(fmt)
    text: str = codec.encode(items[0], version) if len(items) == 1 else codec.encode_messages(items, version)
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


# ---------------------------------------------------------------------------
# the text tree
# ---------------------------------------------------------------------------
_PROTOCOL_VERSION = REGISTRY.tag("Protocol Version")
_MAJOR = REGISTRY.tag("Protocol Version Major")
_MINOR = REGISTRY.tag("Protocol Version Minor")
_HEADERS = (REGISTRY.tag("Request Header"), REGISTRY.tag("Response Header"))


def message_version(message: Item) -> Version | None:
    """The Protocol Version in a message's header, if it has one."""
    for header in message.children:
        if header.tag in _HEADERS and (pv := header.find(_PROTOCOL_VERSION)) is not None:
            major, minor = pv.get(_MAJOR), pv.get(_MINOR)
            if type(major) is int and type(minor) is int:
                return major, minor
    return None


def render_text(message: Item, version: Version | None = None) -> str:
    """An indented tree: tag name, type and value, enumerations and masks by name."""
    lines: list[str] = []
    _render(message, version or message_version(message), 0, lines)
    return "\n".join(lines) + "\n"


_ATTRIBUTE_NAME = REGISTRY.tag("Attribute Name")
_ATTRIBUTE_VALUE = REGISTRY.tag("Attribute Value")


def _render(item: Item, version: Version | None, depth: int, lines: list[str], table_tag: int | None = None) -> None:
    name = REGISTRY.tag_name(item.tag, version) or f"0x{item.tag:06X}"
    prefix = f"{'  ' * depth}{name} ({item.type.camel_name})"
    if item.type is not T.STRUCTURE or isinstance(item.value, Placeholder):
        lines.append(f"{prefix}: {format_value(item, version, table_tag)}")
        return
    lines.append(prefix)
    value_tag = _attribute_tag(item, version)
    for child in item.children:
        _render(child, version, depth + 1, lines, value_tag if child.tag == _ATTRIBUTE_VALUE else None)


def _attribute_tag(item: Item, version: Version | None) -> int | None:
    """In a 1.x Attribute, the tag its Attribute Name names: the Attribute
    Value's enumeration or mask table is that attribute's."""
    attribute_name = item.get(_ATTRIBUTE_NAME)
    if type(attribute_name) is not str:
        return None
    entry = REGISTRY.tags.by_name(attribute_name, version)
    return entry.value if entry else None


def format_value(item: Item, version: Version | None, table_tag: int | None = None) -> str:
    """One value as text; ``table_tag`` names the tag whose enumeration/mask
    table applies when it is not the item's own (1.x Attribute Value)."""
    value = item.value
    if isinstance(value, Placeholder):
        return value.name
    if type(value) is int and item.type in (T.INTEGER, T.ENUMERATION):
        return _format_int(value, item.type, item.tag if table_tag is None else table_tag, version)
    formatter = _FORMATTERS.get(item.type)
    return formatter(item, version) if formatter else str(value)


def _format_int(value: int, item_type: ItemType, tag: int, version: Version | None) -> str:
    table = REGISTRY.enum_table_for_tag(tag)
    if item_type is T.INTEGER and table is not None and REGISTRY.is_mask_tag(tag):
        named, rest = REGISTRY.mask_names(table.name, value, version)
        parts = [e.name for e in named] + ([f"0x{rest:08X}"] if rest else [])
        return f"{' | '.join(parts) or '0'} (0x{value:08X})"
    if item_type is T.ENUMERATION:
        entry = table.by_value(value, version) if table is not None else None
        return f"{entry.name} (0x{value:08X})" if entry else f"0x{value:08X}"
    return str(value)


def _format_big_integer(value: object) -> str:
    if type(value) is not int:
        return str(value)
    size = max(8, (value.bit_length() + 8) // 8 + 7 & ~7)  # two's complement, 8-byte multiple as on the wire
    return f"{value} (0x{value.to_bytes(size, 'big', signed=True).hex().upper()})"


def _format_datetime(item: Item, _version: Version | None) -> str:
    value = item.value
    assert isinstance(value, datetime)
    return value.isoformat()


_FORMATTERS: dict[ItemType, Callable[[Item, Version | None], str]] = {
    T.LONG_INTEGER: lambda item, _v: str(item.value),
    T.BIG_INTEGER: lambda item, _v: _format_big_integer(item.value),
    T.INTERVAL: lambda item, _v: f"{item.value!s} s",
    T.BOOLEAN: lambda item, _v: "true" if item.value else "false",
    T.TEXT_STRING: lambda item, _v: json.dumps(item.value, ensure_ascii=False),
    T.BYTE_STRING: lambda item, _v: item.value.hex().upper() if isinstance(item.value, bytes) else str(item.value),
    T.DATE_TIME: _format_datetime,
    T.DATE_TIME_EXTENDED: _format_datetime,
}


# ---------------------------------------------------------------------------
# the commands
# ---------------------------------------------------------------------------
def _parse_version(_ctx: click.Context, _param: click.Parameter, text: str | None) -> Version | None:
    if text is None:
        return None
    match = re.fullmatch(r"(\d+)\.(\d+)", text.strip())
    if match is None:
        raise click.BadParameter(f"{text!r} is not a protocol version such as 1.4")
    return int(match[1]), int(match[2])


def _fail(message: str) -> NoReturn:
    click.echo(f"kmsd ttlv convert: error: {message}", err=True)
    sys.exit(2)


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageProblem(f"cannot read {path}: {exc.strerror or exc}") from None


def _write_output(path: str | None, data: bytes) -> None:
    if path is None or path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise UsageProblem(f"cannot write {path}: {exc.strerror or exc}") from None


@click.group("ttlv")
def ttlv_group() -> None:
    """Inspect and convert KMIP TTLV messages."""


@ttlv_group.command("convert")
@click.option("--to", "to_format", type=click.Choice(FORMATS_OUT), required=True, help="Output encoding.")
@click.option(
    "--from", "from_format", type=click.Choice(FORMATS_IN), default="auto", show_default=True, help="Input encoding."
)
@click.option(
    "--version",
    "version",
    callback=_parse_version,
    metavar="MAJOR.MINOR",
    help="Protocol version for names (default: each message's own Protocol Version).",
)
@click.option("--fill-placeholders", is_flag=True, help="Replace $NOW, $DATA_0… by fixed stand-ins.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), help="Output file (default stdout).")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, allow_dash=True))
def convert(
    to_format: str,
    from_format: str,
    version: Version | None,
    fill_placeholders: bool,
    output: str | None,
    input_path: str,
) -> None:
    """Convert the KMIP messages in INPUT (a file, or - for stdin).

    Binary input may hold several concatenated messages, XML a <KMIP> or
    <KmipTestCase> root, JSON an array; several messages come out as
    concatenated binary, one <KMIP> root, or one JSON array.
    """
    try:
        data = _read_input(input_path)
        if not data.strip():
            raise UsageProblem("the input is empty")
        items = read_messages(data, from_format)
        if not items:
            raise UsageProblem("the input holds no message")
        _write_output(output, write_messages(items, to_format, version, fill_placeholders))
    except (TTLVError, UsageProblem) as exc:
        _fail(str(exc))
