"""The algorithm policy every operation consults: FIPS-approved by default.

This is an approved-algorithm policy applied over OpenSSL through
``cryptography``; it is not a validated FIPS 140-3 module.  With
``non_fips`` the legacy and non-NIST algorithms are allowed too.
"""

from __future__ import annotations

from dataclasses import dataclass

from kmsd.kmip.enums import BlockCipherMode as Mode
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import HashingAlgorithm as Hash
from kmsd.kmip.enums import RecommendedCurve as Curve
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
    Alg._3DES: frozenset({112, 128, 168, 192}),  # key bits, or with parity (kmsd.crypto.symmetric)
    Alg.DES: frozenset({56, 64}),
    Alg.CHACHA20: frozenset({256}),
    Alg.CHACHA20POLY1305: frozenset({256}),
    Alg.CAMELLIA: frozenset({128, 192, 256}),
    Alg.SKIPJACK: frozenset({80}),
}
MIN_HMAC_BITS = 112

# Encrypt/Decrypt, MAC and Hash (kmsd.crypto.cipher, kmsd.crypto.digests).
# Block Cipher Mode values; AES modes of SP 800-38A (ECB, CBC, CTR), 38D (GCM),
# 38E (XTS), 38F (KW, KWP) are approved.  Non-FIPS adds ChaCha20(-Poly1305),
# AES-GCM-SIV (vendor mode 0x80000001) and 3DES decryption (SP 800-131A Rev. 2:
# 3DES encryption is disallowed, decryption is legacy use).  Hashes: SHA-2 and
# SHA-3 (FIPS 180-4, 202); SHA-1 and MD5 only non-FIPS.
FIPS_AES_MODES = frozenset({Mode.ECB, Mode.CBC, Mode.CTR, Mode.GCM, Mode.XTS, Mode.NISTKEYWRAP, Mode.AESKEYWRAPPADDING})
NON_FIPS_CIPHERS = frozenset({(Alg.AES, 0x80000001), (Alg.CHACHA20, None), (Alg.CHACHA20POLY1305, Mode.AEAD)})
DECRYPT_ONLY_CIPHERS = frozenset({(Alg._3DES, Mode.ECB), (Alg._3DES, Mode.CBC)})
FIPS_HASHES = frozenset({Hash.SHA_224, Hash.SHA_256, Hash.SHA_384, Hash.SHA_512, Hash.SHA_512_224, Hash.SHA_512_256})
FIPS_HASHES |= {Hash.SHA3_224, Hash.SHA3_256, Hash.SHA3_384, Hash.SHA3_512}
NON_FIPS_HASHES = frozenset({Hash.MD5, Hash.SHA_1})

# Asymmetric keys.  SP 800-131A Rev. 2 / FIPS 186-5: RSA moduli of at least
# 2048 bits (we generate the three sizes FIPS 186-5 names); SP 800-186: the
# NIST prime curves and the Edwards/Montgomery curve25519 forms.  Non-FIPS
# adds curve448 (Ed448, X448), secp256k1, the smaller NIST and the Brainpool
# curves, and RSA from 1024 bits.
FIPS_RSA_GENERATE = frozenset({2048, 3072, 4096})
FIPS_RSA_MIN_BITS = 2048
NON_FIPS_RSA_MIN_BITS = 1024
RSA_MAX_BITS = 16384  # beyond this, generation and parsing are a denial of service
FIPS_CURVES = frozenset({Curve.P_256, Curve.P_384, Curve.P_521, Curve.CURVE25519})
NON_FIPS_CURVES = frozenset(
    {
        Curve.P_192,
        Curve.P_224,
        Curve.SECP256K1,
        Curve.CURVE448,
        Curve.BRAINPOOLP256R1,
        Curve.BRAINPOOLP384R1,
        Curve.BRAINPOOLP512R1,
    }
)
FIPS_POLICY = "the FIPS policy (run with --non-fips to allow it)"

# DSA.  FIPS 186-5 no longer approves DSA for generating signatures; SP 800-131A
# Rev. 2 keeps verifying as legacy use.  The FIPS policy has no class of
# verify-only keys (RSA under 2048 bits is refused outright, not held for
# verification), so DSA keys are non-FIPS only.  Non-FIPS: moduli (L) from 512
# bits, the size of the KMIP 2.1 baseline test keys; OpenSSL generates the four
# FIPS 186-4 sizes.  DSA_MAX_BITS bounds the work a client's key can cost.
DSA_GENERATE = frozenset({1024, 2048, 3072, 4096})
DSA_MIN_BITS = 512
DSA_MAX_BITS = 8192


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

    # -- cryptographic operations -------------------------------------------------
    def check_cipher(self, algorithm: int, mode: int | None, *, encrypt: bool) -> None:
        """A cipher (algorithm, Block Cipher Mode) the policy allows for this direction."""
        if algorithm == Alg.AES and mode in FIPS_AES_MODES:
            return
        pair = (algorithm, mode)
        allowed = pair in NON_FIPS_CIPHERS or (pair in DECRYPT_ONLY_CIPHERS and not encrypt)
        if allowed and self.non_fips:
            return
        what = "encryption" if encrypt else "decryption"
        reason = FIPS_POLICY if allowed else "this server"
        raise KmipError(
            ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS, f"this cipher is not allowed for {what} by {reason}"
        )

    def check_hash(self, hashing_algorithm: int) -> None:
        """A Hashing Algorithm value the policy allows (Hash, HMAC)."""
        if hashing_algorithm in FIPS_HASHES or (self.non_fips and hashing_algorithm in NON_FIPS_HASHES):
            return
        reason = FIPS_POLICY if hashing_algorithm in NON_FIPS_HASHES else "this server"
        raise KmipError(ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS, f"this hash is not allowed by {reason}")

    # -- asymmetric ---------------------------------------------------------------
    def check_rsa(self, bits: int, *, generate: bool = False) -> None:
        """An RSA modulus size the policy allows (to generate, or to hold)."""
        if bits > RSA_MAX_BITS:
            raise KmipError(ResultReason.INVALID_FIELD, f"RSA modulus of {bits} bits exceeds {RSA_MAX_BITS}")
        if self.non_fips:
            if bits < NON_FIPS_RSA_MIN_BITS or (generate and bits % 8):
                raise KmipError(ResultReason.INVALID_FIELD, f"RSA modulus of {bits} bits is not supported")
            return
        if generate and bits not in FIPS_RSA_GENERATE:
            raise KmipError(
                ResultReason.INVALID_FIELD,
                f"RSA-{bits} is not allowed by {FIPS_POLICY}; generate {sorted(FIPS_RSA_GENERATE)}",
            )
        if bits < FIPS_RSA_MIN_BITS:
            raise KmipError(ResultReason.INVALID_FIELD, f"RSA-{bits} is not allowed by {FIPS_POLICY}")

    def check_dsa(self, bits: int, *, generate: bool = False) -> None:
        """A DSA key (modulus of ``bits``) the policy allows, to generate or to hold and use."""
        if bits > DSA_MAX_BITS:
            raise KmipError(ResultReason.INVALID_FIELD, f"DSA modulus of {bits} bits exceeds {DSA_MAX_BITS}")
        if not self.non_fips:
            raise KmipError(
                ResultReason.INVALID_FIELD, f"DSA is not allowed by {FIPS_POLICY}: FIPS 186-5 no longer approves it"
            )
        if bits < DSA_MIN_BITS:
            raise KmipError(ResultReason.INVALID_FIELD, f"DSA modulus of {bits} bits is not supported")
        if generate and bits not in DSA_GENERATE:
            raise KmipError(
                ResultReason.INVALID_FIELD, f"DSA-{bits} cannot be generated here; generate {sorted(DSA_GENERATE)}"
            )

    def check_curve(self, curve: int) -> None:
        """A curve (Recommended Curve value; CURVE25519/CURVE448 stand for the
        Edwards and Montgomery forms alike) the policy allows."""
        name = Curve(curve).name if curve in Curve._value2member_map_ else hex(curve)
        if curve in FIPS_CURVES or (self.non_fips and curve in NON_FIPS_CURVES):
            return
        if curve in NON_FIPS_CURVES:
            raise KmipError(ResultReason.INVALID_FIELD, f"curve {name} is not allowed by {FIPS_POLICY}")
        raise KmipError(ResultReason.INVALID_FIELD, f"curve {name} is not supported")
