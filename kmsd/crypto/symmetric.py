"""Symmetric key material: generation, its size for a Cryptographic Length, and the Digest attribute.

DES and Triple DES keys carry a parity bit in every byte (FIPS 46-3 §"Key";
SP 800-67 Rev. 2 §3.3.1): their Cryptographic Length may count the key bits
(56 per DES key: 3DES 112 for two keys, 168 for three) or every bit of the
material (64 per key: 128, 192).  Both name the same 8-, 16- or 24-byte
material; every other algorithm's length is its material's.
"""

from __future__ import annotations

import hashlib
import os

from kmsd.kmip import tags
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import HashingAlgorithm, KeyFormatType
from ttlv import Item, ItemType

#: algorithm -> {Cryptographic Length: material bits}, for keys with parity bits.
_PARITY_LENGTHS: dict[int, dict[int, int]] = {
    Alg.DES: {56: 64, 64: 64},
    Alg._3DES: {112: 128, 128: 128, 168: 192, 192: 192},
}


def material_bits(algorithm: int | None, length: int) -> int:
    """How many bits of key material a key of ``length`` bits occupies."""
    return _PARITY_LENGTHS.get(algorithm or 0, {}).get(length, length)


def length_fits(algorithm: int | None, length: int, material: bytes) -> bool:
    """True when ``length`` (a Cryptographic Length) describes ``material``."""
    return material_bits(algorithm, length) == len(material) * 8


def generate(length_bits: int, algorithm: int | None = None) -> bytes:
    # os.urandom is the OS CSPRNG (getrandom(2)); OpenSSL's DRBG is seeded from it.
    material = os.urandom((material_bits(algorithm, length_bits) + 7) // 8)
    return _odd_parity(material) if algorithm in _PARITY_LENGTHS else material


def _odd_parity(material: bytes) -> bytes:
    """Set each byte's low bit so the byte has odd parity (FIPS 46-3): the
    cipher ignores it, but a DES key with wrong parity is malformed to others."""
    return bytes((b & 0xFE) | (1 - (b >> 1).bit_count() % 2) for b in material)


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
