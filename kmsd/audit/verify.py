"""``kmsd audit verify``: find the first record that breaks the chain.

Theory of operation: the files are read as one sequence of lines (oldest
rotated file first, see :func:`audit_files`).  Each line is hashed exactly
as read and parsed; a good line is canonical JSON whose ``seq`` is one more
than the previous record's and whose ``prev`` is the previous line's hash.
The first record is the anchor: if its ``seq`` is 1 its ``prev`` must be
:data:`~kmsd.audit.chain.GENESIS`, otherwise earlier files were rotated away
and the chain is checked from there.  MAC records are checked with the key.

At the first line that does not follow, the verifier looks at the recent
lines behind it and a window of lines ahead to say what happened:

* the line chains to an *earlier* line than its predecessor: the lines in
  between were **inserted**;
* the same line appears further on: this copy was **inserted**;
* the line chains to a line further on: it was **reordered**;
* a line ahead chains to the predecessor: the lines up to it were
  **inserted**;
* a line ahead has the expected ``seq``: **reordered**;
* the ``seq`` is right but ``prev`` is not the predecessor's hash: the
  predecessor was **edited**; a right ``prev`` with a wrong ``seq``: this
  line was **edited**;
* the ``seq`` jumps ahead: records were **deleted**.

Someone who edits a record and recomputes every hash after it defeats the
chain, but not the next MAC record, which is reported as **mac**.  Records
after the last MAC are protected by the chain only: the report says how many.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .chain import GENESIS, MAC_EVENT, canonical, digest, key_id, mac_matches

#: How many lines behind and ahead are examined to classify a break.
WINDOW = 64
_ROTATED = re.compile(r"^(?P<base>.+?)(?:\.(?P<n>\d+))?$")


def audit_files(paths: Sequence[Path]) -> list[Path]:
    """Expand directories into their audit files, oldest first; files stay in the order given.

    In a directory, ``NAME.N`` files are rotated copies of ``NAME`` (higher N
    is older), as :class:`~kmsd.audit.sinks.FileSink` leaves them.
    """
    out: list[Path] = []
    for path in paths:
        if not path.is_dir():
            out.append(path)
            continue
        groups: dict[str, list[tuple[int, Path]]] = {}
        for child in path.iterdir():
            if not child.is_file() or not (child.name.endswith(".jsonl") or ".jsonl." in child.name):
                continue
            match = _ROTATED.match(child.name)
            assert match is not None
            base, n = match["base"], match["n"]
            if n is not None and not base.endswith(".jsonl"):
                base, n = child.name, None
            groups.setdefault(base, []).append((int(n) if n is not None else 0, child))
        for base in sorted(groups):
            out.extend(p for _, p in sorted(groups[base], key=lambda t: -t[0]))
    return out


@dataclass(slots=True)
class Line:
    file: Path
    number: int
    raw: bytes
    complete: bool
    _hash: str | None = None
    _record: dict[str, Any] | None = None
    _parsed: bool = False

    @property
    def hash(self) -> str:
        if self._hash is None:
            self._hash = digest(self.raw)
        return self._hash

    @property
    def record(self) -> dict[str, Any] | None:
        if not self._parsed:
            self._parsed = True
            try:
                value = json.loads(self.raw)
            except ValueError:
                value = None
            self._record = value if isinstance(value, dict) else None
        return self._record

    @property
    def seq(self) -> int | None:
        rec = self.record
        value = rec.get("seq") if rec else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def prev(self) -> str | None:
        rec = self.record
        value = rec.get("prev") if rec else None
        return value if isinstance(value, str) else None

    def where(self) -> str:
        seq = f" (seq {self.seq})" if self.seq is not None else ""
        return f"{self.file}:{self.number}{seq}"


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # edited, deleted, inserted, reordered, malformed, mac, wrong_key
    file: Path
    line: int
    seq: int | None
    detail: str

    def __str__(self) -> str:
        seq = f" (seq {self.seq})" if self.seq is not None else ""
        return f"{self.file}:{self.line}{seq}: {self.kind}: {self.detail}"


@dataclass(slots=True)
class Report:
    files: list[Path]
    records: int = 0
    macs_checked: int = 0
    macs_unchecked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    unauthenticated_tail: int = 0
    problem: Problem | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.problem is not None:
            return f"BROKEN: {self.problem}"
        if not self.records:
            return f"no records in {len(self.files)} file(s)"
        text = (
            f"OK: chain holds over {self.records} record(s), seq {self.first_seq}..{self.last_seq}, "
            f"in {len(self.files)} file(s); {self.macs_checked} MAC record(s) verified"
        )
        if self.macs_unchecked:
            text += f", {self.macs_unchecked} not checked (no key)"
        return text


class _Reader:
    """The lines of all files in order, with a bounded look-ahead."""

    def __init__(self, files: Sequence[Path]) -> None:
        self._lines = self._generate(files)
        self._ahead: deque[Line] = deque()

    @staticmethod
    def _generate(files: Sequence[Path]) -> Iterator[Line]:
        for path in files:
            with path.open("rb") as fh:
                for number, raw in enumerate(fh, 1):
                    complete = raw.endswith(b"\n")
                    yield Line(path, number, raw.rstrip(b"\r\n"), complete)

    def __iter__(self) -> Iterator[Line]:
        while True:
            if self._ahead:
                yield self._ahead.popleft()
                continue
            line = next(self._lines, None)
            if line is None:
                return
            yield line

    def peek(self, count: int) -> list[Line]:
        while len(self._ahead) < count:
            line = next(self._lines, None)
            if line is None:
                break
            self._ahead.append(line)
        return list(self._ahead)[:count]


def verify(paths: Sequence[Path], key: bytes | None = None) -> Report:
    files = audit_files(paths)
    report = Report(files)
    reader = _Reader(files)
    behind: deque[Line] = deque(maxlen=WINDOW)
    previous: Line | None = None
    for line in reader:
        problem = _check_line(line, previous, behind, reader)
        if problem is None:
            problem = _check_mac(line, key, report)
        if problem is not None:
            report.problem = problem
            return report
        seq = line.seq
        assert seq is not None
        if previous is None:
            report.first_seq = seq
            if seq != 1:
                report.notes.append(f"the chain starts at seq {seq}: earlier records are not in these files")
        report.last_seq = seq
        report.records += 1
        if (line.record or {}).get("event") == MAC_EVENT:
            report.unauthenticated_tail = 0
        else:
            report.unauthenticated_tail += 1
        behind.append(line)
        previous = line
    if report.records and report.unauthenticated_tail:
        report.notes.append(
            f"the last {report.unauthenticated_tail} record(s) follow the last MAC record: "
            "protected by the hash chain only (a server that stopped cleanly ends with a MAC)"
        )
    return report


def _problem(kind: str, line: Line, detail: str) -> Problem:
    return Problem(kind, line.file, line.number, line.seq, detail)


def _check_line(line: Line, previous: Line | None, behind: deque[Line], reader: _Reader) -> Problem | None:
    if not line.complete:
        return _problem("malformed", line, "incomplete last line (a crash during a write, or truncation)")
    record = line.record
    if record is None:
        return _problem("malformed", line, "not a JSON record (edited, or a foreign line)")
    if line.seq is None or line.prev is None:
        return _problem("malformed", line, "no seq/prev: not an audit record, or its chain fields were edited")
    try:
        is_canonical = canonical(record).encode("ascii") == line.raw
    except (TypeError, ValueError, UnicodeEncodeError):
        is_canonical = False
    if not is_canonical:
        return _problem("edited", line, "not in canonical form: the line was changed after it was written")
    if previous is None:
        if line.seq == 1 and line.prev != GENESIS:
            return _problem("edited", line, "the first record (seq 1) must chain to the genesis value")
        return None
    expected = (previous.seq or 0) + 1
    if line.seq == expected and line.prev == previous.hash:
        return None
    return _classify(line, previous, expected, behind, reader)


def _classify(line: Line, previous: Line, expected: int, behind: deque[Line], reader: _Reader) -> Problem:
    # Chains to an earlier line than its predecessor: what lies between was inserted.
    for earlier_index, earlier in enumerate(behind):
        if earlier is not previous and earlier.hash == line.prev:
            first_inserted = list(behind)[earlier_index + 1]
            return _problem(
                "inserted",
                first_inserted,
                f"not part of the chain: {line.where()} chains to {earlier.where()}, before it",
            )
    ahead = reader.peek(WINDOW)
    for later in ahead:
        if later.raw == line.raw:
            return _problem("inserted", line, f"a copy of the record at {later.file}:{later.number}")
    # Chains to a line further on: it was moved before its predecessor.
    for later in ahead:
        if later.hash == line.prev:
            return _problem("reordered", line, f"out of order: it follows {later.file}:{later.number}, further on")
    # A line further on chains to the predecessor: this line and any up to it were inserted.
    for later in ahead:
        if later.prev == previous.hash and later.seq == expected:
            return _problem("inserted", line, f"not part of the chain: {later.where()} chains to {previous.where()}")
    for later in ahead:
        if later.seq == expected:
            return _problem(
                "reordered", line, f"out of order: seq {expected} was expected here and is at {later.where()}"
            )
    if line.seq == expected:
        return Problem(
            "edited",
            previous.file,
            previous.number,
            previous.seq,
            f"changed after it was written: the next record ({line.file}:{line.number}) does not chain to it",
        )
    if line.prev == previous.hash:
        return _problem("edited", line, f"its seq was changed: {expected} expected after {previous.where()}")
    assert line.seq is not None
    if line.seq > expected:
        missing = f"seq {expected}" if line.seq == expected + 1 else f"seq {expected}..{line.seq - 1}"
        return _problem("deleted", line, f"{missing} missing before this line (after {previous.where()})")
    return _problem(
        "reordered",
        line,
        f"seq {line.seq} after seq {previous.seq}: files in the wrong order, or a record copied here",
    )


def _check_mac(line: Line, key: bytes | None, report: Report) -> Problem | None:
    record = line.record
    assert record is not None
    if record.get("event") != MAC_EVENT:
        return None
    if key is None:
        report.macs_unchecked += 1
        return None
    given_id = record.get("key_id")
    if given_id != key_id(key):
        return _problem("wrong_key", line, f"MAC made with key id {given_id}; the key given has id {key_id(key)}")
    if not mac_matches(key, record):
        return _problem(
            "mac",
            line,
            "MAC does not verify: this MAC record, or records before it (re-chained), were altered",
        )
    report.macs_checked += 1
    return None
