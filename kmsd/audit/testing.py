"""Capturing audit records in tests: ``with capture_audit() as records: ...``.

Theory of operation (after structlog's ``capture_logs``): every
:class:`~kmsd.audit.pipeline.AuditLogger` in the process hands each record
it writes -- after the processors, with ``seq``/``prev``, exactly what the
sinks get -- to :func:`deliver`, which appends a copy to the list of every
open capture.  Captures nest and work across threads; a logger with no sinks
at all is enough to feed them, so a test can build an
``Executor`` with ``AuditObserver(AuditLogger())`` and read the events.

Usage, in our tests and an integrator's::

    from kmsd.audit.testing import capture_audit

    with capture_audit() as records:
        executor.process(request, peer)
    assert [r["operation"] for r in records] == ["Create"]
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .chain import MAC_EVENT

_lock = threading.Lock()
_captures: list[tuple[list[dict[str, Any]], bool]] = []


@contextmanager
def capture_audit(*, include_mac: bool = False) -> Iterator[list[dict[str, Any]]]:
    """Collect the records written while the block runs (MAC records only if asked)."""
    records: list[dict[str, Any]] = []
    entry = (records, include_mac)
    with _lock:
        _captures.append(entry)
    try:
        yield records
    finally:
        with _lock:
            _captures[:] = [e for e in _captures if e is not entry]


def deliver(record: Mapping[str, Any]) -> None:
    """Called by loggers for every record written (cheap when nothing captures)."""
    if not _captures:
        return
    with _lock:
        for records, include_mac in _captures:
            if include_mac or record.get("event") != MAC_EVENT:
                records.append(dict(record))
