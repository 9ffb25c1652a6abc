"""Tamper evidence: canonical bytes, the hash chain, the periodic MAC, the key.

Theory of operation: every audit record is one line of canonical JSON
(:func:`canonical`: sorted keys, no spaces, ASCII only), so the same record
always has the same bytes and a verifier can hash the line exactly as it
reads it.  Each record carries

* ``seq``: 1, 2, 3, ... across the whole log, rotated files included;
* ``prev``: the SHA-256 (hex) of the previous record's line, or
  :data:`GENESIS` for the first record ever written.

Editing a record changes its hash, so the next record no longer chains to
it; deleting, inserting or reordering records breaks ``seq`` or ``prev``.
A hash chain alone does not stop someone who rewrites every record after
the one they changed, so every ``mac_every`` records (and when the logger is
closed cleanly) a MAC record is appended: ``event: "audit.mac"``, chained
like any record, whose ``mac`` field is HMAC-SHA256 (RFC 2104) with the
server's audit key over the record's canonical bytes without ``mac``.  Since
it contains ``prev``, it authenticates the whole chain up to it; rewriting
the chain needs the key.  ``key_id`` (the first 16 hex digits of SHA-256 of
the key) lets a verifier tell "wrong key" from "altered record".

The key is 32 random bytes in ``DATA_DIR/audit.key`` (mode 0600), created on
first start (:func:`load_or_create_key`).  Records after the last MAC are
protected by the chain only; that tail is what verification reports as
unauthenticated.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: ``prev`` of the very first record: 64 zeros, the same width as a digest.
GENESIS = "0" * 64
#: HMAC-SHA256 key size: the hash's output length, as RFC 2104 section 3 recommends.
KEY_SIZE = 32
KEY_FILENAME = "audit.key"
MAC_EVENT = "audit.mac"
#: One MAC per this many records by default: a tampered tail is then at most
#: this long, and a MAC costs one HMAC over ~200 bytes.
MAC_EVERY = 1000


class AuditKeyError(Exception):
    """The audit key file is unreadable or malformed."""


# Built once: json.dumps with these arguments builds a new encoder per call,
# which costs as much as encoding a record.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def canonical(record: Mapping[str, Any]) -> str:
    """The one serialisation of a record: what is written and what is hashed."""
    return _CANONICAL.encode(record)


def digest(line: str | bytes) -> str:
    data = line.encode("ascii") if isinstance(line, str) else line
    return hashlib.sha256(data).hexdigest()


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def compute_mac(key: bytes, record: Mapping[str, Any]) -> str:
    """HMAC-SHA256 over the canonical bytes of ``record`` without its ``mac`` field."""
    body = {k: v for k, v in record.items() if k != "mac"}
    return hmac.new(key, canonical(body).encode("ascii"), hashlib.sha256).hexdigest()


def mac_matches(key: bytes, record: Mapping[str, Any]) -> bool:
    given = record.get("mac")
    return isinstance(given, str) and hmac.compare_digest(given, compute_mac(key, record))


@dataclass(slots=True)
class ChainHead:
    """Where the chain stands: the last written record's sequence number and hash."""

    seq: int = 0
    digest: str = GENESIS


class HashChain:
    """Stamps ``seq``/``prev`` on records and advances over their written bytes.

    Not thread-safe by itself: the :class:`~kmsd.audit.pipeline.AuditLogger`
    calls it under its lock, which is what keeps the chain linear.
    """

    def __init__(self, head: ChainHead | None = None) -> None:
        self.head = head or ChainHead()

    def stamp(self, record: dict[str, Any]) -> dict[str, Any]:
        record["seq"] = self.head.seq + 1
        record["prev"] = self.head.digest
        return record

    def advance(self, line: str) -> None:
        self.head = ChainHead(self.head.seq + 1, digest(line))


class MacSigner:
    """Decides when a MAC record is due and makes it."""

    def __init__(self, key: bytes, every: int = MAC_EVERY) -> None:
        if len(key) < 16:
            raise AuditKeyError(f"audit key of {len(key)} bytes is too short (at least 16)")
        if every < 1:
            raise ValueError("mac_every must be at least 1")
        self._key = key
        self.key_id = key_id(key)
        self.every = every
        self.since_mac = 0  # records written since the last MAC record

    def counted(self) -> bool:
        """Count one ordinary record; True when a MAC record is now due."""
        self.since_mac += 1
        return self.since_mac >= self.every

    def sign(self, record: dict[str, Any]) -> dict[str, Any]:
        """Complete a stamped MAC record (``seq``/``prev`` already set) with its MAC."""
        record["key_id"] = self.key_id
        record["covers"] = self.since_mac
        record["mac"] = compute_mac(self._key, record)
        self.since_mac = 0
        return record


def load_or_create_key(data_dir: Path) -> bytes:
    """The audit key of ``data_dir``, created (0600, never overwritten) if absent."""
    path = data_dir / KEY_FILENAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key(path)
    try:
        os.write(fd, secrets.token_bytes(KEY_SIZE).hex().encode("ascii") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return read_key(path)


def read_key(path: Path) -> bytes:
    """Read a key file: hex digits on one line."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditKeyError(f"cannot read the audit key {path}: {exc}") from exc
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise AuditKeyError(f"audit key {path} is not hex") from None
    if len(key) < 16:
        raise AuditKeyError(f"audit key {path} holds {len(key)} bytes; at least 16 are needed")
    return key
