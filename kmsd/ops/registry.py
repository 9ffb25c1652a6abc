"""Handlers registered by Operation: adding one never edits a dispatch chain.

A handler takes the request context and the request payload in the internal
(KMIP 2.1) shape and returns the response payload in that shape, or raises
:class:`~kmsd.kmip.errors.KmipError`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kmsd.kmip.enums import Operation
from ttlv import Item

if TYPE_CHECKING:
    from .context import Context

Handler = Callable[["Context", Item], Item]


@dataclass(frozen=True, slots=True)
class Registered:
    operation: Operation
    handler: Handler
    since: tuple[int, int]  # first protocol version that defines the operation
    writes: bool  # whether it changes the store (for Undo and read-only fast paths)


HANDLERS: dict[int, Registered] = {}
HANDLER_MODULES = (
    "access", "attribute_ops", "create", "discover", "get", "lifecycle", "locate", "misc", "query", "register",
    "key_pair", "crypto_ops", "rekey", "certify", "impexp", "sign_ops", "derive", "async_ops", "split",
    "lease", "notify_put",
)  # fmt: skip


def handler(
    operation: Operation, *, since: tuple[int, int] = (1, 0), writes: bool = False
) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if operation in HANDLERS:
            raise RuntimeError(f"two handlers for {operation.name}")
        HANDLERS[operation] = Registered(operation, fn, since, writes)
        return fn

    return register


def load_all() -> dict[int, Registered]:
    """Import every handler module (each registers itself) and return the table."""
    for module in HANDLER_MODULES:
        importlib.import_module(f"{__package__}.{module}")
    return HANDLERS
