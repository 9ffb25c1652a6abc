"""Symmetric key material: generation and the Digest attribute."""

from __future__ import annotations

import hashlib
import os

from kmsd.kmip import tags
from kmsd.kmip.enums import HashingAlgorithm, KeyFormatType
from ttlv import Item, ItemType


def generate(length_bits: int) -> bytes:
    # os.urandom is the OS CSPRNG (getrandom(2)); OpenSSL's DRBG is seeded from it.
    return os.urandom((length_bits + 7) // 8)


def digest_attribute(material: bytes, key_format: KeyFormatType = KeyFormatType.RAW) -> Item:
    """The Digest attribute: SHA-256 over the key material in ``key_format``."""
    return Item(
        tags.Digest,
        ItemType.STRUCTURE,
        (
            Item(tags.HashingAlgorithm, ItemType.ENUMERATION, int(HashingAlgorithm.SHA_256)),
            Item(tags.DigestValue, ItemType.BYTE_STRING, hashlib.sha256(material).digest()),
            Item(tags.KeyFormatType, ItemType.ENUMERATION, int(key_format)),
        ),
    )
