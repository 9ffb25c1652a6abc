"""DSA keys (FIPS 186-4 section 4; RFC 3279 section 2.3.2): build, check, sign, verify.

Theory of operation.  KMIP carries DSA keys as their numbers (Transparent DSA
Private Key: P, Q, G, X; Transparent DSA Public Key: P, Q, G, Y; KMIP 2.1
sections 3.5-3.6) or as PKCS#8 / SubjectPublicKeyInfo DER.  The key objects
are ``cryptography``'s own.  ``cryptography``'s ``DSA*Numbers`` constructors
accept only moduli of exactly 1024, 2048, 3072 or 4096 bits, while its DER
loaders (OpenSSL) take any size, and the KMIP 2.1 baseline tests register
512-bit keys; so numbers become a key through the standard DER structures
(:func:`private_key`, :func:`public_key`) — one path for every size.

OpenSSL checks little when it loads a DSA key (an X above Q loads), so every
DSA key kmsd reads, whatever its format, goes through :func:`check_key`: the
sizes first (cheap, and bounded before any arithmetic), then the domain
(Q divides P-1, G of order Q), then the key (0 < X < Q; 1 < Y < P with Y of
order Q: the partial public key validation of SP 800-89 section 5.3.2).
Primality of P and Q is not tested: a forged domain only harms the keys that
use it, and they are the client's own.

Policy: DSA is non-FIPS only (:meth:`kmsd.crypto.policy.Policy.check_dsa`).
Signatures hash the message with SHA-2 or SHA-3 (SHA-256 by default) and
sign the digest (FIPS 186-4 section 4.6 takes its leftmost N bits); SHA-1
only verifies, as for the other signature schemes (SP 800-131A Rev. 2 §9).
Nothing here logs or reports key values.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import dsa, utils

from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import DigitalSignatureAlgorithm as SigAlg
from kmsd.kmip.enums import HashingAlgorithm as Hash
from kmsd.kmip.enums import ResultReason
from kmsd.kmip.errors import KmipError

from .errors import MalformedMaterial
from .policy import DSA_MAX_BITS, DSA_MIN_BITS, Policy

KEY_TYPES = (dsa.DSAPrivateKey, dsa.DSAPublicKey)
#: FIPS 186-4 section 4.2: the sizes of Q (N) that go with the sizes of P (L).
Q_BITS = frozenset({160, 224, 256})

# -- DER (X.690): the two structures OpenSSL loads a DSA key from ------------------------------
_SEQUENCE, _INTEGER, _BIT_STRING, _OCTET_STRING = 0x30, 0x02, 0x03, 0x04
_ID_DSA = bytes.fromhex("06072a8648ce380401")  # OID 1.2.840.10040.4.1, RFC 3279 section 2.3.2


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def _integer(value: int) -> bytes:
    """A non-negative INTEGER: minimal, with a 0x00 octet when the high bit is set."""
    return _tlv(_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _algorithm(p: int, q: int, g: int) -> bytes:
    """AlgorithmIdentifier { id-dsa, Dss-Parms { p, q, g } }."""
    return _tlv(_SEQUENCE, _ID_DSA + _tlv(_SEQUENCE, _integer(p) + _integer(q) + _integer(g)))


def spki_der(p: int, q: int, g: int, y: int) -> bytes:
    """SubjectPublicKeyInfo (RFC 5280 4.1.2.7) whose key is DSAPublicKey ::= INTEGER (y)."""
    return _tlv(_SEQUENCE, _algorithm(p, q, g) + _tlv(_BIT_STRING, b"\x00" + _integer(y)))


def pkcs8_der(p: int, q: int, g: int, x: int) -> bytes:
    """PrivateKeyInfo (RFC 5208 section 5) whose key is the INTEGER x."""
    return _tlv(_SEQUENCE, _integer(0) + _algorithm(p, q, g) + _tlv(_OCTET_STRING, _integer(x)))


# -- checks ---------------------------------------------------------------------------------------
def _check_domain(p: int, q: int, g: int) -> None:
    if not DSA_MIN_BITS <= p.bit_length() <= DSA_MAX_BITS:
        raise MalformedMaterial(f"DSA P of {p.bit_length()} bits is outside {DSA_MIN_BITS}..{DSA_MAX_BITS}")
    if q.bit_length() not in Q_BITS:
        raise MalformedMaterial(f"DSA Q of {q.bit_length()} bits is not one of {sorted(Q_BITS)}")
    if p % 2 == 0 or (p - 1) % q:
        raise MalformedMaterial("DSA P and Q are not a DSA domain (Q does not divide P-1)")
    if not 1 < g < p or pow(g, q, p) != 1:
        raise MalformedMaterial("DSA G is not a generator of order Q")


def _check_y(p: int, q: int, y: int) -> None:
    if not 1 < y < p - 1 or pow(y, q, p) != 1:
        raise MalformedMaterial("DSA Y is not a public key of this domain")


def _check_x(q: int, x: int) -> None:
    if not 0 < x < q:
        raise MalformedMaterial("DSA X is not within 0 < X < Q")


def check_key(key: dsa.DSAPrivateKey | dsa.DSAPublicKey) -> None:
    """Refuse a DSA key that is not what it claims (see the module notes)."""
    if isinstance(key, dsa.DSAPrivateKey):
        numbers = key.private_numbers()
        public = numbers.public_numbers
        _check_domain(public.parameter_numbers.p, public.parameter_numbers.q, public.parameter_numbers.g)
        _check_x(public.parameter_numbers.q, numbers.x)
        return
    public = key.public_numbers()
    _check_domain(public.parameter_numbers.p, public.parameter_numbers.q, public.parameter_numbers.g)
    _check_y(public.parameter_numbers.p, public.parameter_numbers.q, public.y)


# -- numbers <-> keys --------------------------------------------------------------------------
def private_key(p: int, q: int, g: int, x: int) -> dsa.DSAPrivateKey:
    """The private key with these numbers (checked; Y is computed by OpenSSL)."""
    _check_domain(p, q, g)
    _check_x(q, x)
    key = _load(lambda: ser.load_der_private_key(pkcs8_der(p, q, g, x), password=None))
    assert isinstance(key, dsa.DSAPrivateKey)
    return key


def public_key(p: int, q: int, g: int, y: int) -> dsa.DSAPublicKey:
    _check_domain(p, q, g)
    _check_y(p, q, y)
    key = _load(lambda: ser.load_der_public_key(spki_der(p, q, g, y)))
    assert isinstance(key, dsa.DSAPublicKey)
    return key


def _load(loader: Callable[[], object]) -> dsa.DSAPrivateKey | dsa.DSAPublicKey:
    try:
        key = loader()
    except (ValueError, TypeError):
        raise MalformedMaterial("the DSA values are not a DSA key") from None
    if not isinstance(key, KEY_TYPES):
        raise MalformedMaterial("the DSA values are not a DSA key")
    return key


def private_values(key: dsa.DSAPrivateKey) -> tuple[int, int, int, int]:
    """(P, Q, G, X)."""
    numbers = key.private_numbers()
    domain = numbers.public_numbers.parameter_numbers
    return domain.p, domain.q, domain.g, numbers.x


def public_values(key: dsa.DSAPublicKey) -> tuple[int, int, int, int]:
    """(P, Q, G, Y)."""
    numbers = key.public_numbers()
    domain = numbers.parameter_numbers
    return domain.p, domain.q, domain.g, numbers.y


def generate(bits: int) -> dsa.DSAPrivateKey:
    """A new key; the caller has checked ``bits`` against the policy (OpenSSL
    picks Q: 160 bits for L = 1024, 256 above)."""
    return dsa.generate_private_key(key_size=bits)


# -- signatures -----------------------------------------------------------------------------------
_BY_SIGNATURE_ALGORITHM: dict[int, int] = {
    SigAlg.DSA_WITH_SHA_1: Hash.SHA_1,
    SigAlg.DSA_WITH_SHA224: Hash.SHA_224,
    SigAlg.DSA_WITH_SHA256: Hash.SHA_256,
}
# A Digested Data with no hash named: the SHA-1 / SHA-2 hash of its length.
_HASH_BY_LENGTH: dict[int, int] = {
    20: Hash.SHA_1,
    28: Hash.SHA_224,
    32: Hash.SHA_256,
    48: Hash.SHA_384,
    64: Hash.SHA_512,
}
_SIGN_HASHES = frozenset(
    {Hash.SHA_224, Hash.SHA_256, Hash.SHA_384, Hash.SHA_512, Hash.SHA_512_224, Hash.SHA_512_256}
    | {Hash.SHA3_224, Hash.SHA3_256, Hash.SHA3_384, Hash.SHA3_512}
)


def _unsupported(message: str) -> KmipError:
    return KmipError(ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS, message)


def hashing(
    policy: Policy,
    key: dsa.DSAPrivateKey | dsa.DSAPublicKey,
    signature_algorithm: int | None,
    algorithm: int | None,
    hashing_algorithm: int | None,
    digest_size: int | None,
    *,
    verify: bool,
) -> int:
    """The Hashing Algorithm of a DSA signature with these Cryptographic
    Parameters (Digital Signature Algorithm, Cryptographic Algorithm, Hashing
    Algorithm).  ``digest_size``: the length of a Digested Data, whose hash,
    when none is named, is the SHA-2 hash of that length."""
    policy.check_dsa(key.key_size)
    if algorithm is not None and algorithm != Alg.DSA:
        raise KmipError(ResultReason.INVALID_FIELD, "the Cryptographic Algorithm does not match the key")
    if signature_algorithm is not None:
        if signature_algorithm not in _BY_SIGNATURE_ALGORITHM:
            raise _unsupported("this Digital Signature Algorithm does not fit a DSA key")
        chosen = _BY_SIGNATURE_ALGORITHM[signature_algorithm]
    elif hashing_algorithm is not None:
        chosen = hashing_algorithm
    elif digest_size is not None:
        if digest_size not in _HASH_BY_LENGTH:
            raise _unsupported(f"no hash makes a {digest_size}-byte digest: name the Hashing Algorithm")
        chosen = _HASH_BY_LENGTH[digest_size]
    else:
        chosen = Hash.SHA_256
    if chosen in _SIGN_HASHES:
        return chosen
    if chosen == Hash.SHA_1:
        if verify:
            return chosen
        raise _unsupported("SHA-1 DSA signatures are verified, not made (SP 800-131A Rev. 2)")
    name = Hash(chosen).name if chosen in Hash._value2member_map_ else hex(chosen)
    raise _unsupported(f"DSA signatures with {name} are not supported")


def sign(key: object, digest: bytes, prehashed: utils.Prehashed) -> bytes:
    """DER Dss-Sig-Value { r, s } (RFC 3279 section 2.2.2) over ``digest``."""
    assert isinstance(key, dsa.DSAPrivateKey)
    return key.sign(digest, prehashed)


def verify(key: object, signature: bytes, digest: bytes, prehashed: utils.Prehashed) -> bool:
    """True, or ``cryptography.exceptions.InvalidSignature`` (ValueError when malformed)."""
    assert isinstance(key, dsa.DSAPublicKey)
    key.verify(signature, digest, prehashed)
    return True
