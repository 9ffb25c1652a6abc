"""Key wrapping primitives: AES Key Wrap (with and without padding), RSA-OAEP.

Theory of operation: thin, validated entry points over ``cryptography``'s
own implementations (``keywrap`` and ``padding.OAEP``); nothing here
reimplements a primitive.  What this module adds is what KMIP needs around
them: lengths checked up front with precise messages, a failed integrity
check reported as Cryptographic Failure (never as a parser crash), and the
combined RSA-OAEP + AES-KWP scheme of PKCS#11 ``CKM_RSA_AES_KEY_WRAP``,
which KMIP 2.1 names for wrapping keys larger than an RSA block.

* AES Key Wrap, RFC 3394 section 2.2 (NIST SP 800-38F KW): the key to wrap
  is a multiple of 8 bytes, at least 16.
* AES Key Wrap with Padding, RFC 5649 section 4 (SP 800-38F KWP): any
  non-empty key.
* RSA-OAEP, RFC 8017 section 7.1, MGF1 with the same hash as the label hash.
* RSA-OAEP + AES-KWP (PKCS#11 v2.40 section 2.1.21): a fresh AES key is
  OAEP-encrypted, the payload is KWP-wrapped under it, and the two are
  concatenated (RSA part first, exactly the modulus length).
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes, keywrap
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .errors import CryptographicFailure, MalformedMaterial

KEK_LENGTHS = frozenset({16, 24, 32})  # AES-128/192/256 (RFC 3394 section 2)
SEMIBLOCK = 8
OAEP_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA-1": hashes.SHA1,
    "SHA-224": hashes.SHA224,
    "SHA-256": hashes.SHA256,
    "SHA-384": hashes.SHA384,
    "SHA-512": hashes.SHA512,
}
MAX_KWP_INPUT = 2**24  # keys, not bulk data: a bound on work and memory


def _check_kek(kek: bytes) -> None:
    if len(kek) not in KEK_LENGTHS:
        raise MalformedMaterial(f"an AES key-encryption key is 16, 24 or 32 bytes, not {len(kek)}")


# -- RFC 3394 -----------------------------------------------------------------------
def aes_key_wrap(kek: bytes, key: bytes) -> bytes:
    _check_kek(kek)
    if len(key) < 2 * SEMIBLOCK or len(key) % SEMIBLOCK:
        raise MalformedMaterial(
            f"AES Key Wrap (RFC 3394) needs a multiple of 8 bytes, at least 16; got {len(key)} (use KWP)"
        )
    return keywrap.aes_key_wrap(kek, key)


def aes_key_unwrap(kek: bytes, wrapped: bytes) -> bytes:
    _check_kek(kek)
    if len(wrapped) < 3 * SEMIBLOCK or len(wrapped) % SEMIBLOCK:
        raise MalformedMaterial(f"an RFC 3394 wrapped key is a multiple of 8 bytes, at least 24; got {len(wrapped)}")
    try:
        return keywrap.aes_key_unwrap(kek, wrapped)
    except keywrap.InvalidUnwrap:
        raise CryptographicFailure("AES key unwrap failed its integrity check") from None


# -- RFC 5649 -------------------------------------------------------------------------
def aes_key_wrap_pad(kek: bytes, key: bytes) -> bytes:
    _check_kek(kek)
    if not key or len(key) > MAX_KWP_INPUT:
        raise MalformedMaterial(f"AES Key Wrap with Padding takes 1 to {MAX_KWP_INPUT} bytes; got {len(key)}")
    return keywrap.aes_key_wrap_with_padding(kek, key)


def aes_key_unwrap_pad(kek: bytes, wrapped: bytes) -> bytes:
    _check_kek(kek)
    if len(wrapped) < 2 * SEMIBLOCK or len(wrapped) % SEMIBLOCK:
        raise MalformedMaterial(f"an RFC 5649 wrapped key is a multiple of 8 bytes, at least 16; got {len(wrapped)}")
    try:
        return keywrap.aes_key_unwrap_with_padding(kek, wrapped)
    except keywrap.InvalidUnwrap:
        raise CryptographicFailure("AES key unwrap (with padding) failed its integrity check") from None


# -- RFC 8017 RSA-OAEP --------------------------------------------------------------------
def _oaep(hash_name: str, label: bytes | None) -> padding.OAEP:
    algorithm = OAEP_HASHES.get(hash_name)
    if algorithm is None:
        raise MalformedMaterial(f"RSA-OAEP hash {hash_name} is not supported (one of {sorted(OAEP_HASHES)})")
    return padding.OAEP(mgf=padding.MGF1(algorithm()), algorithm=algorithm(), label=label or None)


def oaep_capacity(public_key: rsa.RSAPublicKey, hash_name: str = "SHA-256") -> int:
    """The longest message RSA-OAEP can take (RFC 8017 section 7.1.1: k - 2hLen - 2)."""
    h = OAEP_HASHES[hash_name]().digest_size
    return public_key.key_size // 8 - 2 * h - 2


def rsa_oaep_wrap(
    public_key: rsa.RSAPublicKey, key: bytes, hash_name: str = "SHA-256", label: bytes | None = None
) -> bytes:
    oaep = _oaep(hash_name, label)
    if not key or len(key) > oaep_capacity(public_key, hash_name):
        raise MalformedMaterial(
            f"RSA-OAEP with a {public_key.key_size}-bit key and {hash_name} wraps 1 to "
            f"{oaep_capacity(public_key, hash_name)} bytes; got {len(key)} (use RSA-OAEP + AES-KWP)"
        )
    return public_key.encrypt(key, oaep)


def rsa_oaep_unwrap(
    private_key: rsa.RSAPrivateKey, wrapped: bytes, hash_name: str = "SHA-256", label: bytes | None = None
) -> bytes:
    oaep = _oaep(hash_name, label)
    size = (private_key.key_size + 7) // 8
    if len(wrapped) != size:
        raise MalformedMaterial(f"an RSA-OAEP ciphertext for this key is {size} bytes, not {len(wrapped)}")
    try:
        return private_key.decrypt(wrapped, oaep)
    except ValueError:
        raise CryptographicFailure("RSA-OAEP unwrap failed") from None


# -- PKCS#11 CKM_RSA_AES_KEY_WRAP ----------------------------------------------------------------
def rsa_aes_kwp_wrap(
    public_key: rsa.RSAPublicKey, key: bytes, hash_name: str = "SHA-256", aes_bytes: int = 32
) -> bytes:
    if aes_bytes not in KEK_LENGTHS:
        raise MalformedMaterial(f"the ephemeral AES key is 16, 24 or 32 bytes, not {aes_bytes}")
    ephemeral = os.urandom(aes_bytes)
    return rsa_oaep_wrap(public_key, ephemeral, hash_name) + aes_key_wrap_pad(ephemeral, key)


def rsa_aes_kwp_unwrap(private_key: rsa.RSAPrivateKey, wrapped: bytes, hash_name: str = "SHA-256") -> bytes:
    split = (private_key.key_size + 7) // 8
    if len(wrapped) <= split:
        raise MalformedMaterial("an RSA-OAEP + AES-KWP wrapped key is longer than the RSA modulus")
    ephemeral = rsa_oaep_unwrap(private_key, wrapped[:split], hash_name)
    if len(ephemeral) not in KEK_LENGTHS:
        raise CryptographicFailure("RSA-OAEP + AES-KWP unwrap failed")
    return aes_key_unwrap_pad(ephemeral, wrapped[split:])
