"""``kmsd ttlv convert``: formats, multi-message files, placeholders, errors."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import ttlv
from kmsd.cli import main
from kmsd.tools.ttlv_cli import FIXED_TIME, detect_format, fill_placeholders, render_text
from ttlv import REGISTRY, Item, ItemType, Placeholder

T = ItemType
tag = REGISTRY.tag
TESTCASES = Path(__file__).resolve().parents[1].parent / "shared" / "kmip-testcases"


def request(operation: str, *payload: Item, minor: int = 4) -> Item:
    """A small Request Message built by hand, so these tests need no shared files."""
    version = Item(
        tag("Protocol Version"),
        T.STRUCTURE,
        (Item(tag("Protocol Version Major"), T.INTEGER, 1), Item(tag("Protocol Version Minor"), T.INTEGER, minor)),
    )
    header = Item(tag("Request Header"), T.STRUCTURE, (version, Item(tag("Batch Count"), T.INTEGER, 1)))
    batch = Item(
        tag("Batch Item"),
        T.STRUCTURE,
        (
            Item(tag("Operation"), T.ENUMERATION, REGISTRY.enum("Operation", operation)),
            Item(tag("Request Payload"), T.STRUCTURE, payload),
        ),
    )
    return Item(tag("Request Message"), T.STRUCTURE, (header, batch))


GET = request("Get", Item(tag("Unique Identifier"), T.TEXT_STRING, "key-1"))
LOCATE = request(
    "Locate",
    Item(tag("Cryptographic Usage Mask"), T.INTEGER, 0x0C),  # Encrypt | Decrypt
    Item(tag("Activation Date"), T.DATE_TIME, datetime(2021, 6, 1, tzinfo=UTC)),
)
WITH_PLACEHOLDER = request(
    "Get",
    Item(tag("Unique Identifier"), T.TEXT_STRING, "$UNIQUE_IDENTIFIER_0"),
    Item(tag("Activation Date"), T.DATE_TIME, Placeholder("$NOW-3600")),
)
TWO = ttlv.encode(GET) + ttlv.encode(LOCATE)


def run(*args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["ttlv", "convert", *args], input=stdin, catch_exceptions=False)


def write(tmp_path: Path, name: str, data: bytes | str) -> str:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return str(path)


def assert_clean_failure(result: Result, *fragments: str) -> None:
    """Exit status 2 and exactly one line on stderr, no traceback."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (TWO, "binary"),
        (TWO.hex().encode(), "hex"),
        (b"  4200 78 01\n", "hex"),
        (b"\n  <KMIP>", "xml"),
        (b"\xef\xbb\xbf<RequestMessage/>", "xml"),
        (b'{"tag": "RequestMessage"}', "json"),
        (b"[]", "json"),
        (b"\x42\x00\x78", "binary"),
    ],
)
def test_detect_format(data: bytes, expected: str) -> None:
    assert detect_format(data) == expected


def test_binary_to_hex_and_back(tmp_path: Path) -> None:
    result = run("--to", "hex", write(tmp_path, "in.bin", TWO))
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 2  # one line per message
    spaced = " \n".join(result.stdout.split()[0][i : i + 8] for i in range(0, 64, 8)) + result.stdout[64:]
    back = run("--to", "binary", "--from", "hex", write(tmp_path, "in.hex", spaced))
    assert back.stdout_bytes == TWO


def test_binary_to_xml_to_binary(tmp_path: Path) -> None:
    xml = run("--to", "xml", write(tmp_path, "in.bin", TWO))
    assert xml.exit_code == 0
    assert xml.stdout.lstrip().startswith("<KMIP")
    assert xml.stdout.count("<RequestMessage") == 2
    back = run("--to", "binary", write(tmp_path, "in.xml", xml.stdout))
    assert back.exit_code == 0, back.stderr
    assert back.stdout_bytes == TWO


def test_single_message_xml_has_no_container(tmp_path: Path) -> None:
    xml = run("--to", "xml", write(tmp_path, "in.bin", ttlv.encode(GET)))
    assert xml.stdout.lstrip().startswith("<RequestMessage")


def test_binary_to_json_to_binary(tmp_path: Path) -> None:
    pytest.importorskip("ttlv.json", reason="ttlv.json is not written yet")
    out = run("--to", "json", write(tmp_path, "in.bin", TWO))
    assert out.exit_code == 0, out.stderr
    assert out.stdout.lstrip().startswith("[")
    back = run("--to", "binary", "--from", "json", write(tmp_path, "in.json", out.stdout))
    assert back.stdout_bytes == TWO


def test_stdin_and_output_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    result = run("--to", "binary", "-o", str(target), "-", stdin=TWO.hex().encode())
    assert result.exit_code == 0
    assert result.stdout == ""
    assert target.read_bytes() == TWO


def test_text_tree_names_enums_and_masks(tmp_path: Path) -> None:
    result = run("--to", "text", write(tmp_path, "in.bin", TWO))
    text = result.stdout
    assert "Request Message (Structure)\n  Request Header (Structure)\n    Protocol Version (Structure)" in text
    assert "\n    Operation (Enumeration): Locate (0x00000008)\n" in text
    assert 'Unique Identifier (TextString): "key-1"' in text
    assert "Cryptographic Usage Mask (Integer): Encrypt | Decrypt (0x0000000C)" in text
    assert "Activation Date (DateTime): 2021-06-01T00:00:00+00:00" in text


def test_text_tree_resolves_1x_attribute_values() -> None:
    attribute = Item(
        tag("Attribute"),
        T.STRUCTURE,
        (
            Item(tag("Attribute Name"), T.TEXT_STRING, "Cryptographic Algorithm"),
            Item(tag("Attribute Value"), T.ENUMERATION, REGISTRY.enum("Cryptographic Algorithm", "AES")),
        ),
    )
    assert "Attribute Value (Enumeration): AES (0x00000003)" in render_text(request("Create", attribute))


def test_text_tree_of_unknown_tag() -> None:
    item = Item(0x540001, T.STRUCTURE, (Item(0x540002, T.BIG_INTEGER, -1),))
    assert render_text(item) == "0x540001 (Structure)\n  0x540002 (BigInteger): -1 (0xFFFFFFFFFFFFFFFF)\n"


# ---------------------------------------------------------------------------
# placeholders
# ---------------------------------------------------------------------------
def _xml(item: Item) -> str:
    xml = pytest.importorskip("ttlv.xml", reason="ttlv.xml is not written yet")
    text: str = xml.encode(item)
    return text


@pytest.mark.parametrize("to", ["binary", "hex"])
def test_placeholder_cannot_be_written_in_binary(tmp_path: Path, to: str) -> None:
    result = run("--to", to, write(tmp_path, "in.xml", _xml(WITH_PLACEHOLDER)))
    assert_clean_failure(result, "$NOW-3600", "--fill-placeholders")


def test_fill_placeholders(tmp_path: Path) -> None:
    result = run("--to", "binary", "--fill-placeholders", write(tmp_path, "in.xml", _xml(WITH_PLACEHOLDER)))
    assert result.exit_code == 0, result.stderr
    decoded = ttlv.decode(result.stdout_bytes)
    payload = decoded.children[1].children[1]
    assert payload.get(tag("Activation Date")) == datetime(2019, 12, 31, 23, tzinfo=UTC)  # FIXED_TIME - 3600 s
    assert payload.get(tag("Unique Identifier")) == "$UNIQUE_IDENTIFIER_0"


def test_fill_placeholders_function() -> None:
    item = Item(
        0x420001,
        T.STRUCTURE,
        (
            Item(0x420002, T.DATE_TIME, Placeholder("$NOW")),
            Item(0x420003, T.BYTE_STRING, Placeholder("$DATA_0")),
            Item(0x420004, T.BYTE_STRING, Placeholder("$DATA_1")),
        ),
    )
    filled = fill_placeholders(item)
    when, data_0, data_1 = (child.value for child in filled.children)
    assert when == FIXED_TIME
    assert isinstance(data_0, bytes) and isinstance(data_1, bytes) and data_0 != data_1
    assert fill_placeholders(filled) == filled
    ttlv.encode(filled)


def test_placeholders_survive_text_conversions(tmp_path: Path) -> None:
    result = run("--to", "xml", write(tmp_path, "in.xml", _xml(WITH_PLACEHOLDER)))
    assert result.exit_code == 0
    assert "$NOW-3600" in result.stdout


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------
def test_truncated_second_message(tmp_path: Path) -> None:
    result = run("--to", "xml", write(tmp_path, "in.bin", TWO[:-8]))
    assert_clean_failure(result, f"offset {len(ttlv.encode(GET))}", "truncated")


def test_bad_item_reports_offset_in_the_whole_stream(tmp_path: Path) -> None:
    bad = bytearray(TWO)
    first = len(ttlv.encode(GET))
    # The first child of the second message's header: make its tag prefix invalid.
    bad[first + 8 + 8] = 0x43
    result = run("--to", "text", write(tmp_path, "in.bin", bytes(bad)))
    assert_clean_failure(result, f"offset {first + 16}", "message 2", "prefix")


@pytest.mark.parametrize(
    ("args", "data", "fragment"),
    [
        (["--from", "hex"], b"42007801 0", "odd number"),
        (["--from", "hex"], b"4200780G", "non-hexadecimal"),
        ([], b"", "empty"),
        ([], b"\x43\x00\x78\x01\x00\x00\x00\x00", "prefix"),
        (["--from", "xml"], b"<RequestMessage><Bogus", "line 1"),  # text errors locate by line
        (["--from", "xml"], b"\xff\xfe<", "UTF-8"),
    ],
)
def test_bad_input(tmp_path: Path, args: list[str], data: bytes, fragment: str) -> None:
    if "xml" in args:
        pytest.importorskip("ttlv.xml", reason="ttlv.xml is not written yet")
    result = run("--to", "text", *args, write(tmp_path, "in", data))
    assert_clean_failure(result, fragment)


def test_missing_input_file(tmp_path: Path) -> None:
    assert_clean_failure(run("--to", "xml", str(tmp_path / "nope.bin")), "cannot read", "nope.bin")


def test_bad_version_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["ttlv", "convert", "--to", "xml", "--version", "one", "-"])
    assert result.exit_code == 2


# ---------------------------------------------------------------------------
# the installed console script, and the OASIS files
# ---------------------------------------------------------------------------
def test_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "kmsd"
    if not script.exists():
        pytest.skip(f"console script not installed at {script} (pip install -e .)")
    source = write(tmp_path, "in.bin", TWO)
    done = subprocess.run(
        [str(script), "ttlv", "convert", "--to", "hex", source], capture_output=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert bytes.fromhex(done.stdout.decode()) == TWO
    bad = subprocess.run(
        [str(script), "ttlv", "convert", "--to", "xml", "-"], input=TWO[:20], capture_output=True, check=False
    )
    assert bad.returncode == 2
    assert len(bad.stderr.decode().strip().splitlines()) == 1


def test_testcase_file_round_trips_through_binary(tmp_path: Path) -> None:
    pytest.importorskip("ttlv.xml", reason="ttlv.xml is not written yet")
    source = TESTCASES / "1.4" / "mandatory" / "SKLC-M-1-14.xml"
    if not source.is_file():
        pytest.skip(f"{source} not found (../shared absent)")
    binary = run("--to", "binary", "--fill-placeholders", str(source))
    assert binary.exit_code == 0, binary.stderr
    xml = run("--to", "xml", write(tmp_path, "in.bin", binary.stdout_bytes))
    again = run("--to", "binary", write(tmp_path, "in.xml", xml.stdout))
    assert again.stdout_bytes == binary.stdout_bytes
    assert xml.stdout.count("<RequestMessage") == xml.stdout.count("<ResponseMessage") > 1
