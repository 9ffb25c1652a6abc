"""What a handler works with: the caller, the transaction, the clock, the policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from kmsd.auth.access import AccessPolicy
from kmsd.crypto.at_rest import AtRest
from kmsd.crypto.policy import Policy
from kmsd.store.base import Transaction


@dataclass(frozen=True, slots=True)
class ServerInfo:
    vendor: str = "kmsd"
    product: str = "kmsd KMIP server"
    version: str = "0.1.0"


class NeedsWrite(Exception):
    """Raised by a write inside a read-only transaction: the executor reruns
    the batch in a write transaction.  Lets mostly-read operations (Get, which
    clears Fresh the first time only) keep the read-only fast path."""


@dataclass(slots=True)
class Context:
    user: str
    tx: Transaction
    policy: Policy
    info: ServerInfo = field(default_factory=ServerInfo)
    # The Unique Identifier produced by the previous batch item (ID Placeholder).
    id_placeholder: str | None = None
    # 2.x batch references: the Unique Identifier each earlier batch item
    # returned (None when it failed or returned none), and per operation the
    # most recent one (kmsd.ops.batchrefs).
    batch_uids: list[str | None] = field(default_factory=list)
    operation_uids: dict[int, str] = field(default_factory=dict)
    # Likewise the Data each returned, and per Data Enumeration the latest.
    batch_data: list[bytes | None] = field(default_factory=list)
    operation_data: dict[int, bytes] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    # Protocol version of the request: only Discover Versions/Query may look.
    version: tuple[int, int] = (2, 1)
    readonly: bool = False
    # Enforce Name uniqueness across objects (--unique-names), not only per object.
    unique_names: bool = False
    # Who may create objects and manage that right (--privileged-users).
    access: AccessPolicy = field(default_factory=AccessPolicy)
    # The server's key-encryption key (--key-encryption-key): key material is
    # sealed under it at rest (kmsd.crypto.at_rest).  None: stored as is.
    at_rest: AtRest | None = None
