"""The registry against the OASIS spec texts, read by an independent parser.

``scripts/gen_registry.py`` builds ``ttlv/registry.tsv`` from the same texts;
this test deliberately does not import it.  It names each table by the
section heading above it rather than by the table's own title cell, so a bug
in one parser is unlikely to be mirrored in the other.

Tolerances, each a known slip of the text renderings (the generator copes
with the same ones):

- Table title cells disagree with their section headings in places: the 2.0
  and 2.1 texts title the Ticket Type table "State" and the Endpoint Role
  table "Encoding Option" ("Encoding Opti on" in 2.0), 2.1 titles Rotate Name
  Type "Name Type", and several tables carry a longer or shorter title
  ("Batch Error Continuation", "Profile Name Type", "Key Wrap Encoding
  Option"…).  Headings are right everywhere, so they name the table;
  :data:`TITLE_SLIPS` lists every disagreement, and a new one fails the test
  so that it gets looked at.
- Words are split in the renderings ("Operatio n", "Sh redding Algorithm"),
  and the 1.0 text writes "MAC /Signature", "CBC -MAC", "MAC 16609": names
  are compared after removing all white space and case-folding.
- Superscripts are lost: the registry's "Polynomial Sharing GF(2^16)" is
  "Polynomial Sharing GF (2 16 )" in the texts, so ``^`` is dropped too.
- Rows named "(Reserved)", "(Unused)" or "(PGP" (2.0's rendering of the
  withdrawn PGP certificate type) and "Extensions" ranges such as
  ``8XXXXXXX`` are not definitions and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from ttlv import REGISTRY, VERSIONS, Version

SPEC_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "kmip-spec"
SPEC_FILES: dict[Version, str] = {
    (1, 0): "kmip-spec-1.0-os.md",
    (1, 1): "kmip-spec-v1.1-os.md",
    (1, 2): "kmip-spec-v1.2-os.md",
    (1, 3): "kmip-spec-v1.3-os.md",
    (1, 4): "kmip-spec-v1.4-os.md",
    (2, 0): "kmip-spec-v2.0-os.md",
    (2, 1): "kmip-spec-v2.1-os.md",
}

pytestmark = pytest.mark.skipif(
    not all((SPEC_DIR / name).is_file() for name in SPEC_FILES.values()),
    reason=f"KMIP spec texts not found in {SPEC_DIR}",
)

_HEADING = re.compile(r"^#+\s*(?:[\d.]+\s+)?(?P<text>.*?)\s*$")
# A definition row: a name and a 6-digit tag or 8-digit value, optionally
# followed by a note such as "(deprecated)".  Ranges ("540000 – 54FFFF") and
# patterns ("8XXXXXXX") do not match.
_ROW = re.compile(
    r"^\|\s*(?P<name>[^|]*?)\s*\|\s*(?:0x)?(?P<value>[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})\s*(?:\([^)|]*\))?\s*\|\s*$"
)

# (version, folded section-heading table name) -> folded title cell, for every
# table whose title cell disagrees with its heading (see the module docstring).
TITLE_SLIPS: dict[tuple[Version, str], str] = {
    **{(v, "batcherrorcontinuationoption"): "batcherrorcontinuation" for v in VERSIONS},
    **{(v, "objectgroupmember"): "objectgroupmemberoption" for v in VERSIONS if v >= (1, 1)},
    **{(v, "profilename"): "profilenametype" for v in ((1, 3), (1, 4))},
    **{(v, "destroyaction"): "destroyactiontype" for v in VERSIONS if v >= (1, 3)},
    ((1, 1), "encodingoption"): "keywrapencodingoption",
    **{(v, "endpointrole"): "encodingoption" for v in ((2, 0), (2, 1))},
    **{(v, "tickettype"): "state" for v in ((2, 0), (2, 1))},
    ((2, 1), "rotatenametype"): "nametype",
}

# Registry entries that a version's text does not list although the registry
# (rightly) defines them there: 2.0 renders Certificate Type PGP as "(PGP",
# while 1.x and 2.1 list it plainly.
NOT_IN_TEXT = {((2, 0), "Certificate Type", "PGP")}


def fold(name: str) -> str:
    """Names as compared: no white space and no ``^``, case-folded."""
    return "".join(name.split()).replace("^", "").casefold()


@dataclass(frozen=True)
class SpecRow:
    version: Version
    table: str  # the section heading's table name, e.g. "Result Reason"
    title: str  # the table's own title cell
    name: str
    value: int
    line: int


def _table_name(heading: str) -> str:
    name = re.sub(r"\s+Enumerations?\b.*$", "", heading)  # 1.0: "… Enumeration for ECDSA, ECDH, ECMQV"
    return "Tag" if name in ("Tags", "Tag") else name


def _is_table_header(line: str) -> bool:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return len(cells) == 2 and cells[0] in ("Name", "Object") and "Value" in cells[1]


def _parse(version: Version, text: str) -> Iterator[SpecRow]:
    lines = text.splitlines()
    heading = ""
    for i, line in enumerate(lines):
        if line.startswith("#"):
            match = _HEADING.match(line)
            heading = match["text"] if match else line
            continue
        if not (line.startswith("|") and _is_table_header(line)):
            continue
        title = lines[i - 1].strip().strip("|").strip()
        for j in range(i + 1, len(lines)):
            if not lines[j].startswith("|"):
                break
            row = _ROW.match(lines[j])
            if row is None or not row["name"] or row["name"].startswith("("):
                continue
            yield SpecRow(version, _table_name(heading), title, row["name"], int(row["value"], 16), j + 1)


@cache
def spec_rows(version: Version) -> tuple[SpecRow, ...]:
    return tuple(_parse(version, (SPEC_DIR / SPEC_FILES[version]).read_text(encoding="utf-8")))


def _registry_table(name: str) -> str | None:
    by_fold = {fold(t): t for t in REGISTRY.tables}
    return by_fold.get(fold(name))


# ---------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"{v[0]}.{v[1]}")
def test_every_spec_row_is_in_the_registry(version: Version) -> None:
    rows = spec_rows(version)
    # A floor well under the real counts (428 rows, 161 tags in 1.0): a parser
    # that silently stopped matching would otherwise pass vacuously.
    assert len(rows) > 400 and sum(r.table == "Tag" for r in rows) > 150, "the parser found too few rows"
    problems = []
    for row in rows:
        table = _registry_table(row.table)
        if table is None:
            problems.append(f"line {row.line}: no registry table {row.table!r}")
            continue
        matches = [e for e in REGISTRY.tables[table].entries if fold(e.name) == fold(row.name)]
        if not any(e.value == row.value for e in matches):
            found = ", ".join(f"0x{e.value:X}" for e in matches) or "nothing"
            problems.append(f"line {row.line}: {table} / {row.name} = 0x{row.value:X}, registry has {found}")
        elif not any(e.value == row.value and e.defined_in(version) for e in matches):
            problems.append(f"line {row.line}: {table} / {row.name} not defined in {version} by the registry")
    assert not problems, f"{len(problems)} spec rows disagree with the registry:\n" + "\n".join(problems)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"{v[0]}.{v[1]}")
def test_registry_defines_nothing_the_spec_omits(version: Version) -> None:
    """The converse: what the registry says a version defines, its text lists.

    PKCS#11 Function and Return Code are defined in 2.x by reference to
    PKCS#11, not by table, so they are not in the text.
    """
    listed = {(_registry_table(r.table), fold(r.name), r.value) for r in spec_rows(version)}
    extra = [
        f"{table.name} / {entry.name} = 0x{entry.value:X}"
        for table in REGISTRY.tables.values()
        if not table.name.startswith("PKCS#11")
        for entry in table.values_in(version)
        if (table.name, fold(entry.name), entry.value) not in listed
        and (version, table.name, entry.name) not in NOT_IN_TEXT
    ]
    assert not extra, f"registry defines in {version} what its text does not list:\n" + "\n".join(extra)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"{v[0]}.{v[1]}")
def test_title_cells_disagree_only_where_known(version: Version) -> None:
    """Tables are named by heading; their title cells may only differ in the known slips."""
    seen: dict[str, str] = {}
    for row in spec_rows(version):
        seen.setdefault(fold(row.table), fold(_table_name(row.title)))
    unexpected = {
        heading: title
        for heading, title in seen.items()
        if title != heading and TITLE_SLIPS.get((version, heading)) != title
    }
    assert not unexpected, f"title cells that contradict their headings: {unexpected}"


# Hand-checked values, read off the spec tables by eye.
@pytest.mark.parametrize(
    ("table", "name", "value"),
    [
        ("Tag", "Activation Date", 0x420001),
        ("Tag", "Unique Identifier", 0x420094),
        ("Tag", "Protocol Version", 0x420069),
        ("Result Reason", "Item Not Found", 0x01),
        ("Result Reason", "General Failure", 0x100),
        ("Operation", "Create", 0x01),
        ("Operation", "Discover Versions", 0x1E),
        ("Object Type", "Symmetric Key", 0x02),
        ("Cryptographic Algorithm", "AES", 0x03),
        ("Cryptographic Usage Mask", "Encrypt", 0x04),
    ],
)
def test_known_values(table: str, name: str, value: int) -> None:
    entry = REGISTRY.tables[table].by_name(name)
    assert entry is not None and entry.value == value


def test_template_attribute_removed_in_2_0() -> None:
    entry = REGISTRY.tags.by_name("Template-Attribute")
    assert entry is not None and entry.value == 0x420091
    assert entry.defined_in((1, 4)) and not entry.defined_in((2, 0))
    assert entry.since == (1, 0) and entry.until == (2, 0)
