"""The audit log: who did what to which object, when, and whether it worked.

Records are built from an allow-list of facts (:mod:`.events`), pass through
a pipeline of small processors (:mod:`.pipeline`), are chained by hashes
and sealed by periodic MACs (:mod:`.chain`), and go to sinks (:mod:`.sinks`):
a rotating JSON-lines file, stderr, syslog.  :mod:`.observer` turns what the
executor and the listener saw into records; :mod:`.verify` and
:mod:`.search` are the ``kmsd audit`` tools; :mod:`.testing` captures
records in tests.
"""

from __future__ import annotations

from .chain import ChainHead, MacSigner, load_or_create_key
from .pipeline import AuditLogger
from .sinks import FileSink, StreamSink, SyslogSink
from .testing import capture_audit

__all__ = [
    "AuditLogger",
    "ChainHead",
    "FileSink",
    "MacSigner",
    "StreamSink",
    "SyslogSink",
    "capture_audit",
    "load_or_create_key",
]
