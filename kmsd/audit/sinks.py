"""Where serialised audit records go: a rotating JSON-lines file, a stream, syslog.

Theory of operation: a sink receives finished lines (canonical JSON, no
newline) from the :class:`~kmsd.audit.pipeline.AuditLogger`, always under
the logger's lock, so sinks need no locking of their own.  ``write`` may
buffer; ``flush`` is called once per emitted group of records (one request's
batch items) and must hand the bytes to the OS -- that is the default
durability: written before the response is sent.  :class:`FileSink` with
``fsync=True`` also fsyncs there, which survives a power cut.

File rotation is by size, like ``logging.handlers.RotatingFileHandler``:
when the next line would take ``audit.jsonl`` past ``rotate_bytes`` it
becomes ``audit.jsonl.1`` (older ones shift to ``.2`` ... ``.keep``; the
oldest beyond ``keep`` is deleted) and a new file starts.  The hash chain
simply continues into the new file, so a verifier reading
``.keep ... .1, audit.jsonl`` in that order sees one chain.  On start the
sink reads the last record already on disk (:meth:`FileSink.recover`), so
the chain continues across restarts too.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import socket
import sys
from pathlib import Path
from typing import Any, Protocol, TextIO

from .chain import ChainHead, digest

log = logging.getLogger("kmsd.audit")

#: 64 MiB files: a day of a busy server's records, and small enough to verify in seconds.
ROTATE_BYTES = 64 * 1024 * 1024
#: Rotated files kept beside the current one.
KEEP_FILES = 10
#: How far from the end of a file the last record is looked for on start.
_TAIL_BYTES = 1 << 20


class Sink(Protocol):
    name: str

    def write(self, line: str) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def rotated_name(path: Path, n: int) -> Path:
    return path.with_name(f"{path.name}.{n}")


class FileSink:
    """JSON lines appended to ``path``, rotated by size, optionally fsynced."""

    name = "file"

    def __init__(
        self, path: Path, *, rotate_bytes: int = ROTATE_BYTES, keep: int = KEEP_FILES, fsync: bool = False
    ) -> None:
        if rotate_bytes < 1024:
            raise ValueError("rotate_bytes must be at least 1024")
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.path = path
        self.rotate_bytes = rotate_bytes
        self.keep = keep
        self.fsync = fsync
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self._open()
        self._size = self._file.tell()
        self._dirty = False

    def _open(self) -> Any:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fh = os.fdopen(fd, "ab")
        fh.seek(0, os.SEEK_END)
        return fh

    def recover(self) -> ChainHead | None:
        """The chain head as left on disk: the last record of the newest file that has one.

        A torn last line (a crash mid-write) is ended with a newline so that
        the next record starts on its own line; verification will report it.
        """
        for candidate in (self.path, rotated_name(self.path, 1)):
            found = _last_record(candidate)
            if found is None:
                continue
            head, torn = found
            if torn and candidate == self.path:
                log.warning("audit log %s ends in an incomplete line (crash?); continuing after it", candidate)
                self._file.write(b"\n")
                self._file.flush()
                self._size += 1
            return head
        return None

    def write(self, line: str) -> None:
        data = line.encode("ascii") + b"\n"
        if self._size and self._size + len(data) > self.rotate_bytes:
            self._rotate()
        self._file.write(data)
        self._size += len(data)
        self._dirty = True

    def flush(self) -> None:
        if not self._dirty:
            return
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())
        self._dirty = False

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._file.close()

    def _rotate(self) -> None:
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())
        self._file.close()
        rotated_name(self.path, self.keep).unlink(missing_ok=True)
        for n in range(self.keep - 1, 0, -1):
            older = rotated_name(self.path, n)
            if older.exists():
                os.replace(older, rotated_name(self.path, n + 1))
        os.replace(self.path, rotated_name(self.path, 1))
        self._file = self._open()
        self._size = 0
        if self.fsync:
            _fsync_dir(self.path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_record(path: Path) -> tuple[ChainHead, bool] | None:
    """(head, torn) from the last parseable record line of ``path``."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - _TAIL_BYTES))
            tail = fh.read()
    except FileNotFoundError:
        return None
    if not tail:
        return None
    torn = not tail.endswith(b"\n")
    lines = tail.split(b"\n")
    if torn:
        lines = lines[:-1]
    for raw in reversed(lines):
        line = raw.rstrip(b"\r")
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("seq"), int):
            return ChainHead(record["seq"], digest(line)), torn
    return None


class StreamSink:
    """One line per record on a text stream (stderr by default)."""

    name = "stderr"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def write(self, line: str) -> None:
        (self._stream or sys.stderr).write(line + "\n")

    def flush(self) -> None:
        (self._stream or sys.stderr).flush()

    def close(self) -> None:
        self.flush()


class _RaisingSysLogHandler(logging.handlers.SysLogHandler):
    def handleError(self, record: logging.LogRecord) -> None:
        # Called inside emit()'s except block: re-raise, so the logger can count the error.
        raise


class SyslogSink:
    """Records as syslog messages (facility auth), to a unix socket or UDP on loopback.

    ``address`` is a socket path (``/dev/log``) or ``udp:HOST:PORT``.
    """

    name = "syslog"

    def __init__(self, address: str, *, tag: str = "kmsd-audit") -> None:
        target: str | tuple[str, int]
        socktype: socket.SocketKind | None = None
        if address.startswith("udp:"):
            host, _, port = address[4:].rpartition(":")
            target = (host.strip("[]") or "127.0.0.1", int(port))
            socktype = socket.SOCK_DGRAM
        else:
            target = address
        self._handler = _RaisingSysLogHandler(
            address=target, facility=logging.handlers.SysLogHandler.LOG_AUTH, socktype=socktype
        )
        self._handler.setFormatter(logging.Formatter(f"{tag}: %(message)s"))

    def write(self, line: str) -> None:
        record = logging.LogRecord("kmsd.audit", logging.INFO, __file__, 0, line, None, None)
        self._handler.emit(record)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._handler.close()


def parse_syslog_address(value: str) -> str:
    """Validate a ``--audit-syslog`` value; returns it unchanged."""
    if value.startswith("udp:"):
        _host, sep, port = value[4:].rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r}: expected udp:HOST:PORT")
    elif not value.startswith("/"):
        raise ValueError(f"{value!r}: expected a unix socket path (/dev/log) or udp:HOST:PORT")
    return value
