"""Operations by parts: the server side of Init Indicator / Correlation Value.

Theory of operation (KMIP 2.1 §6.1.11, §6.1.17, §6.1.24, §6.1.32–33).  A
request with Init Indicator true opens a stream: the handler builds the
cipher or digest context, feeds it the request's data, and :meth:`Streams.open`
files it under a fresh random Correlation Value that the response carries.
Later requests name that value; the one with Final Indicator true finishes
the context and :meth:`Streams.close` drops it.

Bounds, so that an abandoned or hostile client cannot exhaust the server:

* the contexts themselves hold at most a block (incremental modes) or at
  most :data:`kmsd.crypto.cipher.MAX_BUFFERED_BYTES` (one-shot modes);
* at most :data:`MAX_STREAMS_PER_USER` open streams per user and
  :data:`MAX_STREAMS` in all; opening one more is refused;
* a stream idle for :data:`IDLE_SECONDS` expires: it is dropped at the next
  look-up (every call sweeps), and its correlation value is then unknown.

A correlation value is bound to its owner, its operation and its key: any
other user, operation or key gets Invalid Correlation Value (Invalid Field
in 1.x), exactly as for a value that never existed, so values cannot be
probed or borrowed.

The state lives in this process's memory: it survives no restart, and a
deployment running several server processes behind a load balancer needs
sticky connections for clients that stream.  Streams are not part of the
store transaction either: an Undo batch does not rewind them.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kmsd.kmip.enums import ResultReason
from kmsd.kmip.errors import KmipError

MAX_STREAMS_PER_USER = 32
MAX_STREAMS = 4096
IDLE_SECONDS = 300.0
CORRELATION_BYTES = 16


class InvalidCorrelation(KmipError):
    def __init__(self) -> None:
        super().__init__(ResultReason.INVALID_CORRELATION_VALUE, "unknown or expired Correlation Value")


class TooManyStreams(KmipError):
    def __init__(self, message: str) -> None:
        super().__init__(ResultReason.SERVER_LIMIT_EXCEEDED, message)


@dataclass(slots=True)
class Stream:
    owner: str
    operation: int
    uid: str | None  # the key (None for Hash)
    state: object  # the cipher/digest context and what the handler needs to finish
    last_used: float = field(default_factory=time.monotonic)


class Streams:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._streams: dict[bytes, Stream] = {}
        self._clock = clock

    def __len__(self) -> int:
        return len(self._streams)

    def open(self, owner: str, operation: int, uid: str | None, state: object) -> bytes:
        with self._lock:
            self._sweep()
            if len(self._streams) >= MAX_STREAMS:
                raise TooManyStreams("too many open streams on this server")
            if sum(1 for s in self._streams.values() if s.owner == owner) >= MAX_STREAMS_PER_USER:
                raise TooManyStreams(f"a user may have at most {MAX_STREAMS_PER_USER} open streams")
            value = secrets.token_bytes(CORRELATION_BYTES)
            self._streams[value] = Stream(owner, operation, uid, state, self._clock())
            return value

    def get(self, value: bytes, owner: str, operation: int, uid: str | None) -> Stream:
        with self._lock:
            self._sweep()
            stream = self._streams.get(value)
            if stream is None or stream.owner != owner or stream.operation != operation or stream.uid != uid:
                raise InvalidCorrelation()
            stream.last_used = self._clock()
            return stream

    def close(self, value: bytes) -> None:
        with self._lock:
            self._streams.pop(value, None)

    def clear(self) -> None:
        with self._lock:
            self._streams.clear()

    def _sweep(self) -> None:
        deadline = self._clock() - IDLE_SECONDS
        for value in [v for v, s in self._streams.items() if s.last_used < deadline]:
            del self._streams[value]


#: The process's streams (see the module docstring on several processes).
STREAMS = Streams()
