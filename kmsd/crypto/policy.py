"""The algorithm policy every operation consults: FIPS-approved by default.

This is an approved-algorithm policy applied over OpenSSL through
``cryptography``; it is not a validated FIPS 140-3 module.  With
``non_fips`` the legacy and non-NIST algorithms are allowed too.
"""

from __future__ import annotations

from dataclasses import dataclass

from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import ResultReason
from kmsd.kmip.errors import KmipError

# Symmetric algorithms we can generate, with the key lengths (bits) allowed.
# SP 800-131A: AES all sizes; HMAC keys >= 112 bits.
_HMAC = (Alg.HMAC_SHA1, Alg.HMAC_SHA224, Alg.HMAC_SHA256, Alg.HMAC_SHA384, Alg.HMAC_SHA512)
_HMAC_SHA3 = (Alg.HMAC_SHA3_224, Alg.HMAC_SHA3_256, Alg.HMAC_SHA3_384, Alg.HMAC_SHA3_512)
FIPS_SYMMETRIC: dict[int, frozenset[int] | None] = {
    Alg.AES: frozenset({128, 192, 256}),
    **{a: None for a in (*_HMAC, *_HMAC_SHA3)},  # None: any multiple of 8 from 112 bits
}
NON_FIPS_SYMMETRIC: dict[int, frozenset[int] | None] = {
    Alg._3DES: frozenset({112, 168, 192}),
    Alg.DES: frozenset({56, 64}),
    Alg.CHACHA20: frozenset({256}),
    Alg.CAMELLIA: frozenset({128, 192, 256}),
}
MIN_HMAC_BITS = 112


@dataclass(frozen=True, slots=True)
class Policy:
    non_fips: bool = False

    @property
    def mode(self) -> str:
        return "non-FIPS" if self.non_fips else "FIPS-approved algorithms"

    def symmetric_lengths(self, algorithm: int) -> frozenset[int] | None:
        table = {**FIPS_SYMMETRIC, **NON_FIPS_SYMMETRIC} if self.non_fips else FIPS_SYMMETRIC
        if algorithm not in table:
            name = Alg(algorithm).name if algorithm in Alg._value2member_map_ else hex(algorithm)
            reason = (
                "is not supported"
                if algorithm not in {**FIPS_SYMMETRIC, **NON_FIPS_SYMMETRIC}
                else ("is not allowed by the FIPS policy (run with --non-fips)")
            )
            raise KmipError(ResultReason.INVALID_FIELD, f"symmetric algorithm {name} {reason}")
        return table[algorithm]

    def check_symmetric(self, algorithm: int, length: int) -> None:
        lengths = self.symmetric_lengths(algorithm)
        if lengths is None:
            minimum = MIN_HMAC_BITS if not self.non_fips else 8
            if length % 8 or length < minimum:
                raise KmipError(
                    ResultReason.INVALID_FIELD, f"key length {length} must be a multiple of 8, at least {minimum}"
                )
            return
        if length not in lengths:
            raise KmipError(
                ResultReason.INVALID_FIELD,
                f"key length {length} not allowed for {Alg(algorithm).name} (allowed: {sorted(lengths)})",
            )
