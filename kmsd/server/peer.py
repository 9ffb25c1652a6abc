"""What the transport knows about the caller, handed to the message layer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Peer:
    """One connection's caller.

    ``identity`` is the authenticated user name (for now the client
    certificate subject's CN); ``None`` when the transport authenticated
    nobody (the message layer may still accept KMIP credentials).
    """

    identity: str | None
    address: str
    transport: str = "kmip"  # "kmip" (binary over TLS) or "http"
    certificate_der: bytes | None = None
