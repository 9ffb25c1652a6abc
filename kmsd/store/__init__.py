"""Persistent storage of managed objects and access grants."""

from .base import ConflictError, Grant, LocateFilter, StaleRead, Store, StoredObject, StoreError, Transaction

__all__ = [
    "ConflictError",
    "Grant",
    "LocateFilter",
    "StaleRead",
    "Store",
    "StoreError",
    "StoredObject",
    "Transaction",
]
