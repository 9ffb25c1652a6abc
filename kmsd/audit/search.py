"""``kmsd audit search``: the records that match every filter given.

Filters compare against the record fields of :mod:`kmsd.audit.events`;
MAC records and lines that are not records are skipped (``verify`` is the
tool that complains about those).  Times are compared as instants: a
``--since`` without a zone is taken as UTC.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .chain import MAC_EVENT
from .verify import audit_files


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _squash(name: str) -> str:
    return "".join(name.split()).replace("_", "").lower()


@dataclass(frozen=True, slots=True)
class Query:
    user: str | None = None
    operation: str | None = None
    object_id: str | None = None
    result: str | None = None  # success | failure (anything but success)
    event: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, record: dict[str, Any]) -> bool:
        if record.get("event") == MAC_EVENT:
            return False
        if self.user is not None and record.get("user") != self.user:
            return False
        if self.operation is not None and _squash(str(record.get("operation") or "")) != _squash(self.operation):
            return False
        if self.object_id is not None and self.object_id not in (record.get("object_ids") or ()):
            return False
        if self.result is not None and (record.get("result") == "success") != (self.result == "success"):
            return False
        if self.event is not None and record.get("event") != self.event:
            return False
        if self.since is not None or self.until is not None:
            try:
                when = parse_time(str(record.get("time")))
            except ValueError:
                return False
            if self.since is not None and when < self.since:
                return False
            if self.until is not None and when > self.until:
                return False
        return True


def search(paths: Sequence[Path], query: Query) -> Iterator[str]:
    """The matching lines, as written, oldest first."""
    for path in audit_files(paths):
        with path.open("r", encoding="ascii", errors="replace") as fh:
            for raw in fh:
                line = raw.rstrip("\r\n")
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and query.matches(record):
                    yield line
