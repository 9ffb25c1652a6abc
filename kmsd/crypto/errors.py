"""The crypto layer's errors: narrow types, one meaning each.

Each is a :class:`~kmsd.kmip.errors.KmipError` with its Result Reason fixed,
so a handler lets them through unchanged and the executor reports them.
Messages describe the problem (which field, which format, which size) and
never contain key material.
"""

from __future__ import annotations

from kmsd.kmip.enums import ResultReason
from kmsd.kmip.errors import KmipError


class MalformedMaterial(KmipError):
    """Key or certificate bytes that do not parse as the format they claim,
    or a key that contradicts its Key Block (algorithm, length, object type)."""

    def __init__(self, message: str) -> None:
        super().__init__(ResultReason.INVALID_FIELD, message)


class FormatNotSupported(KmipError):
    """A Key Format Type this key cannot be expressed in (or read from)."""

    def __init__(self, message: str) -> None:
        super().__init__(ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, message)


class CryptographicFailure(KmipError):
    """A cryptographic check failed (an unwrap's integrity check, a bad
    ciphertext): the data or the key is wrong, and which one is not said."""

    def __init__(self, message: str) -> None:
        super().__init__(ResultReason.CRYPTOGRAPHIC_FAILURE, message)
