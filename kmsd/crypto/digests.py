"""Hash, HMAC and CMAC, single-shot or by parts, over ``cryptography``.

Theory of operation.  :func:`open_hash` and :func:`open_mac` validate the
algorithm against the policy and the key up front and return a
:class:`DigestStream` whose ``update`` takes data and whose ``finish``
returns the digest or MAC.  Every context holds a constant amount of state,
so a stream by parts costs no more memory than a single call.

Which MAC (KMIP 2.1 §6.1.32): the Cryptographic Parameters' Cryptographic
Algorithm when given (an HMAC algorithm), else the key's own algorithm: an
HMAC key computes that HMAC (FIPS 198-1), an AES key computes CMAC
(SP 800-38B; Block Cipher Mode CMAC or none).  MAC Verify compares in
constant time and accepts a truncated MAC of at least
:data:`MIN_MAC_BYTES` (SP 800-107 Rev. 1 §5.3.3 allows truncation to 32 bits
at minimum; the policy does not go below 64).
"""

from __future__ import annotations

import hmac as _hmac
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives import cmac, hashes, hmac
from cryptography.hazmat.primitives.ciphers import algorithms

from kmsd.kmip.enums import BlockCipherMode as Mode
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import HashingAlgorithm as Hash
from kmsd.kmip.enums import ResultReason
from kmsd.kmip.errors import KmipError

from .policy import Policy

MIN_MAC_BYTES = 8

HASHES: dict[int, type[hashes.HashAlgorithm]] = {
    Hash.MD5: hashes.MD5,
    Hash.SHA_1: hashes.SHA1,
    Hash.SHA_224: hashes.SHA224,
    Hash.SHA_256: hashes.SHA256,
    Hash.SHA_384: hashes.SHA384,
    Hash.SHA_512: hashes.SHA512,
    Hash.SHA_512_224: hashes.SHA512_224,
    Hash.SHA_512_256: hashes.SHA512_256,
    Hash.SHA3_224: hashes.SHA3_224,
    Hash.SHA3_256: hashes.SHA3_256,
    Hash.SHA3_384: hashes.SHA3_384,
    Hash.SHA3_512: hashes.SHA3_512,
}
#: HMAC Cryptographic Algorithm -> its Hashing Algorithm.
HMAC_HASH: dict[int, int] = {
    Alg.HMAC_MD5: Hash.MD5,
    Alg.HMAC_SHA1: Hash.SHA_1,
    Alg.HMAC_SHA224: Hash.SHA_224,
    Alg.HMAC_SHA256: Hash.SHA_256,
    Alg.HMAC_SHA384: Hash.SHA_384,
    Alg.HMAC_SHA512: Hash.SHA_512,
    Alg.HMAC_SHA3_224: Hash.SHA3_224,
    Alg.HMAC_SHA3_256: Hash.SHA3_256,
    Alg.HMAC_SHA3_384: Hash.SHA3_384,
    Alg.HMAC_SHA3_512: Hash.SHA3_512,
}
#: SP 800-131A Rev. 2 §10: HMAC-SHA-1 remains approved for MACs, unlike plain SHA-1 here.
FIPS_HMAC_HASHES = frozenset({Hash.SHA_1})


class DigestError(KmipError):
    def __init__(self, message: str) -> None:
        super().__init__(ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS, message)


class DigestStream(Protocol):
    def update(self, data: bytes) -> None: ...

    def finish(self) -> bytes: ...


@dataclass(slots=True)
class _Ctx:
    ctx: hashes.Hash | hmac.HMAC | cmac.CMAC

    def update(self, data: bytes) -> None:
        self.ctx.update(data)

    def finish(self) -> bytes:
        return self.ctx.finalize()


def _hash_algorithm(policy: Policy, hashing_algorithm: int, *, for_hmac: bool = False) -> hashes.HashAlgorithm:
    cls = HASHES.get(hashing_algorithm)
    if cls is None:
        raise DigestError("this hashing algorithm is not supported")
    if not (for_hmac and hashing_algorithm in FIPS_HMAC_HASHES):
        policy.check_hash(hashing_algorithm)
    return cls()


def open_hash(policy: Policy, hashing_algorithm: int) -> DigestStream:
    return _Ctx(hashes.Hash(_hash_algorithm(policy, hashing_algorithm)))


def mac_kind(key_algorithm: int | None, param_algorithm: int | None, mode: int | None) -> tuple[str, int | None]:
    """("hmac", hashing algorithm) or ("cmac", None) for a key and its parameters."""
    algorithm = param_algorithm if param_algorithm is not None else key_algorithm
    if algorithm in HMAC_HASH:
        return "hmac", HMAC_HASH[algorithm]
    if algorithm == Alg.AES and mode in (None, Mode.CMAC):
        return "cmac", None
    raise DigestError("this key and these Cryptographic Parameters do not name a MAC algorithm")


def open_mac(policy: Policy, key: bytes, kind: tuple[str, int | None]) -> DigestStream:
    name, hashing = kind
    if name == "cmac":
        if len(key) not in (16, 24, 32):
            raise KmipError(ResultReason.INVALID_FIELD, f"a {len(key) * 8}-bit key cannot be a CMAC-AES key")
        return _Ctx(cmac.CMAC(algorithms.AES(key)))
    assert hashing is not None
    algorithm = _hash_algorithm(policy, hashing, for_hmac=True)
    if not policy.non_fips and len(key) * 8 < 112:
        # SP 800-131A Rev. 2 §10 / SP 800-107: HMAC keys of at least 112 bits.
        raise KmipError(ResultReason.INVALID_FIELD, "an HMAC key of fewer than 112 bits is not allowed by the policy")
    return _Ctx(hmac.HMAC(key, algorithm))


def verify_mac(computed: bytes, given: bytes) -> bool:
    """Constant-time comparison, allowing a truncated MAC of MIN_MAC_BYTES or more."""
    if len(given) < MIN_MAC_BYTES or len(given) > len(computed):
        return False
    return _hmac.compare_digest(computed[: len(given)], given)
