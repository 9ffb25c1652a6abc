#!/usr/bin/env python3
"""Codec throughput, ours against PyKMIP's, on the OASIS test-case messages.

A benchmark, not a test.  Every request and response of every XML file under
../shared/kmip-testcases is decoded with ttlv.xml, its placeholders filled
with fixed stand-ins, and encoded to binary with our codec.  Both codecs then
decode and re-encode the same binary messages: PyKMIP in its own venv (a
subprocess running scripts/_bench_codec_pykmip.py under $PYKMIP_PY), ours in
this process.  Messages PyKMIP cannot represent (it raises) are left out of
both sides' timed sets so the comparison is on identical messages.

Usage (scripts/bench_codec sets $PYKMIP_PY up):
    scripts/bench_codec [--repeat 7] [--json FILE] [--testcases DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import ttlv
import ttlv.xml
from kmsd.tools.ttlv_cli import fill_placeholders, message_version
from ttlv import REGISTRY, Item

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TESTCASES = ROOT.parent / "shared" / "kmip-testcases"
HELPER = ROOT / "scripts" / "_bench_codec_pykmip.py"
RECORD = struct.Struct(">cBBI")  # kind, major, minor, length: read by the helper
REQUEST = REGISTRY.tag("Request Message")
GOAL = 5.0  # the target: ours at least 5x PyKMIP, decode and encode


@dataclass(frozen=True)
class Message:
    kind: bytes  # b"Q" request, b"S" response
    version: tuple[int, int]
    data: bytes


@dataclass(frozen=True)
class Timing:
    codec: str
    messages: int
    total_bytes: int
    decode_s: float  # median seconds for one pass over all messages
    encode_s: float

    def row(self) -> dict[str, float | str | int]:
        mb = self.total_bytes / 1e6
        return {
            "codec": self.codec,
            "messages": self.messages,
            "decode_msgs_per_s": self.messages / self.decode_s,
            "decode_mb_per_s": mb / self.decode_s,
            "encode_msgs_per_s": self.messages / self.encode_s,
            "encode_mb_per_s": mb / self.encode_s,
        }


def load_messages(testcases: Path) -> tuple[list[Message], int]:
    """Every message of every file, filled and encoded; and the number of files."""
    files = sorted(testcases.rglob("*.xml"))
    out: list[Message] = []
    used = 0
    for path in files:
        try:
            items = ttlv.xml.decode_messages(path.read_text(encoding="utf-8"))
        except ttlv.TTLVError as exc:
            # Not the benchmark's business: the test suite reports these.
            print(f"skipped {path.relative_to(testcases)}: {exc}", file=sys.stderr)
            continue
        out.extend(_binary_message(item) for item in items)
        used += 1
    return out, used


def _binary_message(item: Item) -> Message:
    kind = b"Q" if item.tag == REQUEST else b"S"
    return Message(kind, message_version(item) or (1, 0), ttlv.encode(fill_placeholders(item)))


def run_pykmip(messages: list[Message], repeat: int) -> dict[str, object]:
    python = os.environ.get("PYKMIP_PY")
    if not python:
        sys.exit("PYKMIP_PY is not set: run scripts/bench_codec, which makes PyKMIP's venv")
    with tempfile.NamedTemporaryFile(suffix=".ttlv") as tmp:
        for m in messages:
            tmp.write(RECORD.pack(m.kind, *m.version, len(m.data)) + m.data)
        tmp.flush()
        done = subprocess.run(
            [python, str(HELPER), tmp.name, "--repeat", str(repeat)], capture_output=True, text=True, check=True
        )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def time_ours(messages: list[Message], repeat: int) -> tuple[list[float], list[float]]:
    blobs = [m.data for m in messages]
    decode_times, encode_times = [], []
    decode, encode = ttlv.decode, ttlv.encode
    for _ in range(repeat):
        start = time.perf_counter()
        items = [decode(b) for b in blobs]
        decode_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        for item in items:
            encode(item)
        encode_times.append(time.perf_counter() - start)
    assert [encode(i) for i in items] == blobs, "our codec does not round-trip its own output"
    return decode_times, encode_times


def print_table(ours: Timing, theirs: Timing) -> None:
    a, b = ours.row(), theirs.row()
    print(f"{'codec':<8} {'decode msg/s':>13} {'decode MB/s':>12} {'encode msg/s':>13} {'encode MB/s':>12}")
    for row in (a, b):
        print(
            f"{row['codec']:<8} {row['decode_msgs_per_s']:>13,.0f} {row['decode_mb_per_s']:>12.2f}"
            f" {row['encode_msgs_per_s']:>13,.0f} {row['encode_mb_per_s']:>12.2f}"
        )
    dec, enc = theirs.decode_s / ours.decode_s, theirs.encode_s / ours.encode_s
    print(f"{'ratio':<8} {dec:>12.1f}x {'':>12} {enc:>12.1f}x   (ours / PyKMIP; goal >= {GOAL:.0f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed passes per codec; the median is reported")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--testcases", type=Path, default=DEFAULT_TESTCASES)
    args = parser.parse_args()
    if not args.testcases.is_dir():
        sys.exit(f"test cases not found at {args.testcases}")

    messages, files = load_messages(args.testcases)
    pykmip = run_pykmip(messages, args.repeat)
    accepted = [messages[i] for i in pykmip["accepted"]]  # type: ignore[attr-defined]
    size = sum(len(m.data) for m in accepted)
    ours_dec, ours_enc = time_ours(accepted, args.repeat)
    ours = Timing("kmsd", len(accepted), size, statistics.median(ours_dec), statistics.median(ours_enc))
    theirs = Timing(
        "PyKMIP",
        len(accepted),
        size,
        statistics.median(pykmip["decode"]),  # type: ignore[arg-type]
        statistics.median(pykmip["encode"]),  # type: ignore[arg-type]
    )
    print(
        f"{len(messages)} messages from {files} test-case files; {len(accepted)} ({size / 1e6:.2f} MB) that PyKMIP"
        f" can represent are timed on both sides; median of {args.repeat} passes"
    )
    print(f"(PyKMIP re-encodes {pykmip['reencoded_differently']} of them to different bytes)")
    print_table(ours, theirs)
    if args.json:
        report = {
            "messages_total": len(messages),
            "files": files,
            "messages_timed": len(accepted),
            "bytes_timed": size,
            "repeat": args.repeat,
            "results": [ours.row(), theirs.row()],
            "ratio_decode": theirs.decode_s / ours.decode_s,
            "ratio_encode": theirs.encode_s / ours.encode_s,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
