"""The KMIP layer's one error type, carrying the Result Reason to report.

Handlers raise :class:`KmipError`; the batch executor turns it into an
Operation Failed batch item with that reason and message.  Messages are for
humans and must never contain key material or secrets.
"""

from __future__ import annotations

from .enums import ResultReason


class KmipError(Exception):
    """``v1_reason``: what a 1.x error table names for this very case when
    ``reason`` is 2.x-only (e.g. Get Usage Allocation on an object without
    Usage Limits: 2.x Attribute Not Found, 1.x Illegal Operation); without
    it the executor's general 2.x -> 1.x mapping decides."""

    def __init__(self, reason: ResultReason, message: str, *, v1_reason: ResultReason | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.v1_reason = v1_reason


def not_found(uid: str | None = None) -> KmipError:
    # Identical for "missing" and "not yours", so identifiers cannot be probed.
    # 2.x names this Object Not Found; the executor maps it to 1.x Item Not Found.
    return KmipError(ResultReason.OBJECT_NOT_FOUND, f"object {uid} not found" if uid else "object not found")


def invalid_field(message: str) -> KmipError:
    return KmipError(ResultReason.INVALID_FIELD, message)


def missing(field: str) -> KmipError:
    return KmipError(ResultReason.MISSING_DATA, f"{field} is required")
