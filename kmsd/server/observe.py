"""What a listener tells an observer (metrics, audit) about its connections.

The KMIP listener calls these from its connection threads (the HTTP
listener from the trio thread), so implementations must be thread-safe,
quick and must not raise: counting is a lock and an addition; an audit
record for a refused connection is a short buffered write.  ``address`` is
the client's ``host:port``; ``reason`` is a short phrase fit for a log line.
"""

from __future__ import annotations

from typing import Protocol


class ConnectionObserver(Protocol):
    def connection_opened(self, address: str) -> None: ...

    def connection_closed(self, address: str) -> None: ...

    def handshake_failed(self, address: str, reason: str) -> None:
        """The TLS handshake failed or timed out (an untrusted or missing certificate, a scanner)."""

    def authentication_failed(self, address: str, reason: str) -> None:
        """The handshake completed but the certificate names no usable identity."""


class NullConnectionObserver:
    def connection_opened(self, address: str) -> None:
        pass

    def connection_closed(self, address: str) -> None:
        pass

    def handshake_failed(self, address: str, reason: str) -> None:
        pass

    def authentication_failed(self, address: str, reason: str) -> None:
        pass
