"""The message processor contract between the listeners and the KMIP layer.

A listener frames one request message and calls ``process`` in a worker
thread (it blocks: store and crypto work happen inside); it writes back the
bytes it returns.  ``process`` never raises for bad input: any request whose
header can be read gets a KMIP error response.  It returns None only when
the bytes are not a decodable message at all; the listener then closes the
connection.
"""

from __future__ import annotations

from typing import Protocol

from kmsd.server.peer import Peer


class MessageProcessor(Protocol):
    def process(self, request: bytes, peer: Peer) -> bytes | None: ...
