"""Persistent storage of managed objects and access grants."""

from .base import ConflictError, Grant, LocateFilter, Store, StoredObject, StoreError, Transaction

__all__ = ["ConflictError", "Grant", "LocateFilter", "Store", "StoreError", "StoredObject", "Transaction"]
