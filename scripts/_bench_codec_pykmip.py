"""PyKMIP's side of scripts/bench_codec.py; run with PyKMIP's interpreter ($PYKMIP_PY).

Reads the messages file written by bench_codec.py (records of: kind byte
``Q``/``S`` for request/response, protocol major, minor, a 4-byte big-endian
length, the TTLV bytes), finds which ones PyKMIP can decode and re-encode
without raising, times decoding and encoding those, and prints one JSON
object on stdout.  It imports nothing from kmsd: this interpreter has only
PyKMIP.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from typing import Any

from kmip.core import enums
from kmip.core.messages.messages import RequestMessage, ResponseMessage
from kmip.core.utils import BytearrayStream

RECORD = struct.Struct(">cBBI")
VERSIONS = {(int(v.value), round(v.value * 10) % 10): v for v in enums.KMIPVersion}


def read_records(path: str) -> list[tuple[type, Any, bytes]]:
    data = open(path, "rb").read()
    records, pos = [], 0
    while pos < len(data):
        kind, major, minor, length = RECORD.unpack_from(data, pos)
        pos += RECORD.size
        cls = RequestMessage if kind == b"Q" else ResponseMessage
        # PyKMIP knows 1.0-2.0; anything newer is read as its newest.
        version = VERSIONS.get((major, minor), enums.KMIPVersion.KMIP_2_0)
        records.append((cls, version, data[pos : pos + length]))
        pos += length
    return records


def decode(cls: type, version: Any, data: bytes) -> Any:
    message = cls()
    message.read(BytearrayStream(data), kmip_version=version)
    return message


def encode(message: Any, version: Any) -> bytes:
    stream = BytearrayStream()
    message.write(stream, kmip_version=version)
    return bytes(stream.buffer)


def probe(records: list[tuple[type, Any, bytes]]) -> tuple[list[int], int]:
    """Indices PyKMIP decodes and re-encodes without raising; and how many of
    those re-encode to different bytes (informational)."""
    accepted, differ = [], 0
    for index, (cls, version, data) in enumerate(records):
        try:
            out = encode(decode(cls, version, data), version)
        except Exception:  # any failure means PyKMIP cannot represent it
            continue
        accepted.append(index)
        differ += out != data
    return accepted, differ


def timed(records: list[tuple[type, Any, bytes]], repeat: int) -> tuple[list[float], list[float]]:
    decode_times, encode_times = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        decoded = [(decode(cls, version, data), version) for cls, version, data in records]
        decode_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        for message, version in decoded:
            encode(message, version)
        encode_times.append(time.perf_counter() - start)
    return decode_times, encode_times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("messages")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    records = read_records(args.messages)
    accepted, differ = probe(records)
    decode_times, encode_times = timed([records[i] for i in accepted], args.repeat)
    json.dump(
        {"accepted": accepted, "reencoded_differently": differ, "decode": decode_times, "encode": encode_times},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
