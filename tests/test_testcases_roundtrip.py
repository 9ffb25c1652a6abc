"""Every message of every OASIS test-case file converts exactly.

For each message: XML -> item -> XML -> item is identical (and the second XML
text equals the first), item -> JSON -> item is identical, and once its
placeholders are filled with fixed stand-ins, item -> binary -> item is
identical.  The files live outside the repository (``../shared``); the tests
skip with a reason when they are absent.  Run with ``-s`` to see the counts.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

import ttlv
from ttlv import DecodeError, Item, ItemType, Placeholder

T = ItemType
TESTCASES = Path(__file__).parents[1].parent / "shared" / "kmip-testcases"
FILES = sorted(TESTCASES.rglob("*.xml")) if TESTCASES.is_dir() else []
ABSENT = pytest.mark.skipif(not FILES, reason=f"OASIS test cases not found at {TESTCASES}")

#: A fixed stand-in for $NOW and its offsets.
STAND_IN_TIME = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def fill_placeholders(item: Item) -> Item:
    """``item`` with each placeholder replaced by a concrete value of its type."""
    value = item.value
    if type(value) is tuple:
        return Item(item.tag, item.type, tuple(fill_placeholders(child) for child in value))
    if not isinstance(value, Placeholder):
        return item
    if item.type in (T.DATE_TIME, T.DATE_TIME_EXTENDED):
        return Item(item.tag, item.type, STAND_IN_TIME)
    if item.type is T.BYTE_STRING:
        return Item(item.tag, item.type, hashlib.sha256(value.name.encode()).digest()[:16])
    if item.type is T.TEXT_STRING:
        return Item(item.tag, item.type, value.name)
    pytest.fail(f"no stand-in for a {item.type.camel_name} placeholder {value.name}")


def check_message(message: Item) -> None:
    text = ttlv.xml.encode(message)
    again = ttlv.xml.decode(text)
    assert again == message, "XML -> item -> XML -> item changed the tree"
    assert ttlv.xml.encode(again) == text, "re-encoding the XML is not stable"

    assert ttlv.json.decode(ttlv.json.encode(message, indent=False)) == message, "JSON round trip changed the tree"

    filled = fill_placeholders(message)
    assert ttlv.decode(ttlv.encode(filled)) == filled, "binary round trip changed the tree"


@ABSENT
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(TESTCASES)) for p in FILES])
def test_file_round_trips(path: Path) -> None:
    messages = ttlv.xml.decode_messages(path.read_bytes())
    assert messages, f"{path} holds no messages"
    for index, message in enumerate(messages):
        try:
            check_message(message)
        except AssertionError as exc:
            raise AssertionError(f"{path.name}, message {index}: {exc}") from None


@ABSENT
def test_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """How many files and messages there are, per folder; all must decode."""
    counts: dict[str, list[int]] = {}
    failed: list[str] = []
    for path in FILES:
        folder = str(path.parent.relative_to(TESTCASES))
        try:
            messages = len(ttlv.xml.decode_messages(path.read_bytes()))
        except DecodeError as exc:
            failed.append(f"{path.name}: {exc}")
            continue
        entry = counts.setdefault(folder, [0, 0])
        entry[0] += 1
        entry[1] += messages
    files = sum(c[0] for c in counts.values())
    total = sum(c[1] for c in counts.values())
    with capsys.disabled():
        print(f"\nOASIS test cases: {files} of {len(FILES)} files decode, {total} messages (test_file_round_trips")
        print("round-trips each through XML, JSON and, placeholders filled, binary)")
        for folder, (n_files, n_messages) in sorted(counts.items()):
            print(f"  {folder:16} {n_files:4} files {n_messages:5} messages")
    assert not failed, f"{len(failed)} files do not decode:\n" + "\n".join(failed)
