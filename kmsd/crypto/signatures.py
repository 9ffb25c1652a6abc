"""Signatures (RSA-PSS, RSA PKCS#1 v1.5, ECDSA, EdDSA) and RSA encryption (OAEP, PKCS#1 v1.5).

Theory of operation.  A signature scheme is chosen once, from the key and the
Cryptographic Parameters (KMIP 2.1 §6.1.47 Sign, §6.1.48 Signature Verify),
by :func:`scheme`: the Digital Signature Algorithm when given, else the
Padding Method and Hashing Algorithm, else the key's natural default (PSS
with SHA-256 for RSA; the curve's hash for ECDSA, FIPS 186-5 §6.4).  Data is
then hashed incrementally (:class:`SignStream`), so signing by parts holds a
hash context, not the data; the signature is made over the finished digest
(``Prehashed``).  A pre-computed digest (Digested Data) skips the hashing.
EdDSA (RFC 8032) signs the message itself, so its stream buffers the data,
bounded by :data:`MAX_EDDSA_BYTES`, and it cannot sign a digest.

Digested Data (KMIP 2.1 §6.1.55) carries no hash of its own.  When the
parameters name one (Hashing Algorithm or Digital Signature Algorithm, in the
request or the key's attribute), the digest must have its length.  When they
do not, the digest's length picks the SHA-2 hash of that length
(:data:`_HASH_BY_LENGTH`; a SHA-3 digest needs its hash named).  A length no
approved hash has is signed as given, non-FIPS only: ECDSA over the bytes
(FIPS 186-5 §6.4.1 uses the leftmost bits of a digest, whatever made it) and
RSA with PKCS#1 v1.5 over the bytes as the encoded DigestInfo ``T`` (RFC 8017
§9.2 step 2 done by the client, as PKCS#11 CKM_RSA_PKCS does): PSS cannot,
its encoding hashes again with the named hash (RFC 8017 §9.1.1).

Signature Verify with parameters this key cannot have signed with (an RSA
scheme for an EC key, or the reverse) answers Invalid: no signature by this
key is a valid signature of that kind.  Sign with them is an error.

Policy (SP 800-131A Rev. 2 §9, FIPS 186-5): signatures with SHA-2 or SHA-3
are approved; SHA-1 only verifies, and only in non-FIPS mode; MD5 never.
RSA encryption (SP 800-56B Rev. 2 §7.2.2): OAEP with any approved hash (SHA-1
included, as for MGF1); PKCS#1 v1.5 only in non-FIPS mode.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, utils

from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import DigitalSignatureAlgorithm as DSA
from kmsd.kmip.enums import HashingAlgorithm as Hash
from kmsd.kmip.enums import PaddingMethod as Pad
from kmsd.kmip.enums import ResultReason
from kmsd.kmip.errors import KmipError

from . import dsa as dsa_keys
from .digests import HASHES
from .errors import CryptographicFailure
from .policy import FIPS_POLICY, Policy

MAX_EDDSA_BYTES = 1 << 20  # EdDSA signs the whole message: bound what a stream buffers

_RSA_PKCS1: dict[int, int] = {
    DSA.SHA_1_WITH_RSA_ENCRYPTION: Hash.SHA_1,
    DSA.SHA_224_WITH_RSA_ENCRYPTION: Hash.SHA_224,
    DSA.SHA_256_WITH_RSA_ENCRYPTION: Hash.SHA_256,
    DSA.SHA_384_WITH_RSA_ENCRYPTION: Hash.SHA_384,
    DSA.SHA_512_WITH_RSA_ENCRYPTION: Hash.SHA_512,
    DSA.SHA3_256_WITH_RSA_ENCRYPTION: Hash.SHA3_256,
    DSA.SHA3_384_WITH_RSA_ENCRYPTION: Hash.SHA3_384,
    DSA.SHA3_512_WITH_RSA_ENCRYPTION: Hash.SHA3_512,
    DSA.MD5_WITH_RSA_ENCRYPTION: Hash.MD5,
}
_ECDSA: dict[int, int] = {
    DSA.ECDSA_WITH_SHA_1: Hash.SHA_1,
    DSA.ECDSA_WITH_SHA224: Hash.SHA_224,
    DSA.ECDSA_WITH_SHA256: Hash.SHA_256,
    DSA.ECDSA_WITH_SHA384: Hash.SHA_384,
    DSA.ECDSA_WITH_SHA512: Hash.SHA_512,
}
# FIPS 186-5 §6.4 / SP 800-57: the hash matching the curve's security strength.
_CURVE_HASH: dict[int, int] = {256: Hash.SHA_256, 384: Hash.SHA_384, 521: Hash.SHA_512}
# FIPS 180-4 digest lengths of the approved signature hashes: a Digested Data
# with no hash named is taken as the SHA-2 digest of its length.
_HASH_BY_LENGTH: dict[int, int] = {28: Hash.SHA_224, 32: Hash.SHA_256, 48: Hash.SHA_384, 64: Hash.SHA_512}
_SIGN_HASHES = frozenset(
    {Hash.SHA_224, Hash.SHA_256, Hash.SHA_384, Hash.SHA_512, Hash.SHA_512_224, Hash.SHA_512_256}
    | {Hash.SHA3_224, Hash.SHA3_256, Hash.SHA3_384, Hash.SHA3_512}
)


_EDDSA_KEYS = (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey, ed448.Ed448PrivateKey, ed448.Ed448PublicKey)


class Unsupported(KmipError):
    def __init__(self, message: str) -> None:
        super().__init__(ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS, message)


@dataclass(frozen=True, slots=True)
class SignParams:
    """The Cryptographic Parameters fields a signature or RSA encryption reads."""

    signature_algorithm: int | None = None
    algorithm: int | None = None
    hashing: int | None = None
    padding: int | None = None
    mgf_hashing: int | None = None
    salt_length: int | None = None
    p_source: bytes | None = None


@dataclass(frozen=True, slots=True)
class Scheme:
    kind: str  # "pss", "pkcs1", "ecdsa", "eddsa", or "mismatch" (verify only: never valid)
    # Hashing Algorithm value; None for EdDSA, a mismatch, and a Digested Data
    # signed as given (pkcs1, ecdsa).
    hashing: int | None
    mgf_hashing: int | None = None
    salt_length: int | None = None

    def hash(self) -> hashes.HashAlgorithm:
        assert self.hashing is not None
        return HASHES[self.hashing]()


MISMATCH = Scheme("mismatch", None)


class _GivenDigest(hashes.HashAlgorithm):
    """A digest made by a hash nobody named: ``Prehashed`` only needs its size."""

    def __init__(self, size: int) -> None:
        self._size = size

    @property
    def name(self) -> str:
        return "given-digest"

    @property
    def digest_size(self) -> int:
        return self._size

    @property
    def block_size(self) -> int | None:
        return None


def _hash_name(value: int) -> str:
    return Hash(value).name if value in Hash._value2member_map_ else hex(value)


def scheme(policy: Policy, key: object, params: SignParams, *, verify: bool, digest_size: int | None = None) -> Scheme:
    """The signature scheme for ``key`` (public or private) and the parameters;
    ``digest_size`` is the length of a Digested Data (None: Data is hashed here)."""
    is_rsa = isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey)
    is_ec = isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey)
    dsa = params.signature_algorithm
    kind: str
    hashing: int | None
    if isinstance(key, _EDDSA_KEYS):
        if dsa is not None or params.hashing is not None or params.padding not in (None, Pad.NONE):
            raise Unsupported("EdDSA keys sign the message itself: no hash or padding may be named")
        return Scheme("eddsa", None)
    if isinstance(key, dsa_keys.KEY_TYPES):  # DSA, non-FIPS only: kmsd.crypto.dsa
        h = dsa_keys.hashing(policy, key, dsa, params.algorithm, params.hashing, digest_size, verify=verify)
        return Scheme("dsa", h)
    if params.algorithm is not None:
        wanted = {Alg.RSA} if is_rsa else {Alg.EC, Alg.ECDSA}
        if params.algorithm not in wanted:
            if verify:
                return MISMATCH
            raise KmipError(ResultReason.INVALID_FIELD, "the Cryptographic Algorithm does not match the key")
    # The hash when none is named: the default for Data, the length's for a digest.
    default = Hash.SHA_256 if digest_size is None else _HASH_BY_LENGTH.get(digest_size)
    if is_rsa:
        if dsa is not None:
            if dsa in _RSA_PKCS1:
                kind, hashing = "pkcs1", _RSA_PKCS1[dsa]
            elif dsa == DSA.RSASSA_PSS:
                kind, hashing = "pss", params.hashing or default
            elif verify and dsa in _ECDSA:
                return MISMATCH
            else:
                raise Unsupported("this Digital Signature Algorithm does not fit an RSA key")
        else:
            pads: dict[int | None, str] = {Pad.PSS: "pss", Pad.PKCS1_V1_5: "pkcs1", None: "pss"}
            if params.padding not in pads:
                raise Unsupported("RSA signatures use the PSS or PKCS1 v1.5 Padding Method")
            kind, hashing = pads[params.padding], params.hashing or default
        if hashing is None:  # a Digested Data of a length no approved hash has
            if kind == "pss" and (dsa is not None or params.padding is not None):
                raise _unknown_digest(digest_size, "RSA-PSS needs the Hashing Algorithm named")
            return _given_digest(policy, "pkcs1", digest_size)
        _check_hash(policy, hashing, verify)
        mgf = params.mgf_hashing or hashing
        if kind == "pss":
            _check_hash(policy, mgf, verify)
        return Scheme(kind, hashing, mgf, params.salt_length)
    if is_ec:
        if dsa is not None:
            if dsa in _ECDSA:
                hashing = _ECDSA[dsa]
            elif verify and (dsa in _RSA_PKCS1 or dsa == DSA.RSASSA_PSS):
                return MISMATCH
            else:
                raise Unsupported("this Digital Signature Algorithm does not fit an EC key")
        elif digest_size is None:
            assert isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey)
            hashing = params.hashing or _CURVE_HASH.get(key.curve.key_size, Hash.SHA_256)
        else:
            hashing = params.hashing or default
            if hashing is None:
                return _given_digest(policy, "ecdsa", digest_size)
        _check_hash(policy, hashing, verify)
        return Scheme("ecdsa", hashing)
    raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "this key cannot sign or verify")


def _unknown_digest(digest_size: int | None, why: str) -> KmipError:
    lengths = ", ".join(str(n) for n in sorted(_HASH_BY_LENGTH))
    return KmipError(
        ResultReason.INVALID_FIELD,
        f"Digested Data of {digest_size} bytes is no approved hash's digest ({lengths} bytes): {why}",
    )


def _given_digest(policy: Policy, kind: str, digest_size: int | None) -> Scheme:
    """A digest signed as given: not an approved signature (FIPS 186-5 wants an approved hash)."""
    if not policy.non_fips:
        raise _unknown_digest(digest_size, f"signing it as given is not allowed by {FIPS_POLICY}")
    return Scheme(kind, None)


def _check_hash(policy: Policy, hashing: int, verify: bool) -> None:
    if hashing in _SIGN_HASHES:
        return
    if hashing == Hash.SHA_1 and verify:
        if policy.non_fips:
            return
        raise Unsupported(f"SHA-1 signatures are not allowed by {FIPS_POLICY}")
    if hashing not in HASHES:
        raise Unsupported(f"hashing algorithm {_hash_name(hashing)} is not supported")
    raise Unsupported(f"signatures with {_hash_name(hashing)} are not allowed")


def _rsa_padding(s: Scheme, *, verify: bool, digest_size: int) -> padding.AsymmetricPadding:
    if s.kind == "pkcs1":
        return padding.PKCS1v15()
    assert s.mgf_hashing is not None
    salt: int = s.salt_length if s.salt_length is not None else (padding.PSS.AUTO if verify else digest_size)  # type: ignore[assignment]
    return padding.PSS(mgf=padding.MGF1(HASHES[s.mgf_hashing]()), salt_length=salt)


def _rsa_args(
    s: Scheme, digest: bytes, *, verify: bool
) -> tuple[padding.AsymmetricPadding, utils.Prehashed | utils.NoDigestInfo]:
    """Padding and algorithm for RSA over ``digest``: a Digested Data signed as
    given is PKCS#1 v1.5 without a DigestInfo added (it is the encoded ``T``)."""
    if s.hashing is None:
        return padding.PKCS1v15(), utils.NoDigestInfo()
    pre = _prehashed(s, digest)
    return _rsa_padding(s, verify=verify, digest_size=len(digest)), pre


@dataclass(slots=True)
class SignStream:
    """Data by parts, then a signature (or its check) over all of it."""

    scheme: Scheme
    ctx: hashes.Hash | None = None
    buffer: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        if self.scheme.hashing is not None:
            self.ctx = hashes.Hash(self.scheme.hash())

    def update(self, data: bytes) -> None:
        if self.ctx is not None:
            self.ctx.update(data)
            return
        if self.scheme.kind != "eddsa":  # a mismatch never verifies: its data is not kept
            return
        if len(self.buffer) + len(data) > MAX_EDDSA_BYTES:
            raise KmipError(ResultReason.INVALID_FIELD, f"an EdDSA message may have at most {MAX_EDDSA_BYTES} bytes")
        self.buffer += data

    def message(self) -> tuple[bytes, bool]:
        """(digest, True) for hashed schemes, (message, False) for EdDSA."""
        if self.ctx is not None:
            return self.ctx.finalize(), True
        return bytes(self.buffer), self.scheme.kind != "eddsa"


def _prehashed(s: Scheme, digest: bytes) -> utils.Prehashed:
    """``digest`` as the scheme's hash output: the named hash's length, or any (given as is)."""
    if s.kind == "eddsa":
        raise Unsupported("EdDSA cannot sign a pre-computed digest (Digested Data)")
    if s.hashing is None:
        return utils.Prehashed(_GivenDigest(len(digest)))
    algorithm = s.hash()
    if len(digest) != algorithm.digest_size:
        raise KmipError(
            ResultReason.INVALID_FIELD,
            f"Digested Data must be a {algorithm.digest_size}-byte {algorithm.name} digest, not {len(digest)} bytes",
        )
    return utils.Prehashed(algorithm)


def sign(key: object, s: Scheme, message: bytes, *, digested: bool) -> bytes:
    if s.kind == "mismatch":
        raise KmipError(ResultReason.INVALID_FIELD, "these parameters do not fit the key")
    if s.kind == "eddsa":
        if digested:
            _prehashed(s, message)
        assert isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey)
        return key.sign(message)
    data = message if digested else _hash(s, message)
    if s.kind == "dsa":
        return dsa_keys.sign(key, data, _prehashed(s, data))
    if s.kind == "ecdsa":
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key.sign(data, ec.ECDSA(_prehashed(s, data)))
    assert isinstance(key, rsa.RSAPrivateKey)
    pad, algorithm = _rsa_args(s, data, verify=False)
    try:
        return key.sign(data, pad, algorithm)
    except ValueError:  # a salt, or a digest signed as given, too long for the modulus
        raise KmipError(
            ResultReason.INVALID_FIELD,
            f"a {key.key_size}-bit RSA key cannot sign {len(data)} bytes with these parameters",
        ) from None


def verify(key: object, s: Scheme, message: bytes, signature: bytes, *, digested: bool) -> bool:
    """True when ``signature`` is valid; a malformed signature is simply invalid."""
    if s.kind == "mismatch":
        return False
    try:
        if s.kind == "eddsa":
            if digested:
                _prehashed(s, message)
            assert isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
            key.verify(signature, message)
            return True
        data = message if digested else _hash(s, message)
        if s.kind == "dsa":
            return dsa_keys.verify(key, signature, data, _prehashed(s, data))
        if s.kind == "ecdsa":
            assert isinstance(key, ec.EllipticCurvePublicKey)
            key.verify(signature, data, ec.ECDSA(_prehashed(s, data)))
        else:
            assert isinstance(key, rsa.RSAPublicKey)
            pad, algorithm = _rsa_args(s, data, verify=True)
            if isinstance(algorithm, utils.NoDigestInfo):  # RFC 8017 §8.2.2: recover EM's T, compare
                recovered = key.recover_data_from_signature(signature, pad, algorithm)
                return hmac.compare_digest(recovered, data)
            key.verify(signature, data, pad, algorithm)
        return True
    except (InvalidSignature, ValueError):
        return False


def _hash(s: Scheme, message: bytes) -> bytes:
    ctx = hashes.Hash(s.hash())
    ctx.update(message)
    return ctx.finalize()


# -- RSA encryption -----------------------------------------------------------------
def rsa_padding(policy: Policy, params: SignParams) -> padding.AsymmetricPadding:
    """OAEP (the default; SHA-1 unless a Hashing Algorithm is named, as in
    RFC 8017 A.2.1) or PKCS#1 v1.5 (non-FIPS)."""
    if params.padding in (None, Pad.OAEP):
        hashing = params.hashing or Hash.SHA_1
        mgf = params.mgf_hashing or hashing
        for value in (hashing, mgf):
            if value not in HASHES or value == Hash.MD5:
                raise Unsupported(f"OAEP with {_hash_name(value)} is not supported")
        return padding.OAEP(mgf=padding.MGF1(HASHES[mgf]()), algorithm=HASHES[hashing](), label=params.p_source or None)
    if params.padding == Pad.PKCS1_V1_5:
        if not policy.non_fips:
            raise Unsupported(f"RSA PKCS#1 v1.5 encryption is not allowed by {FIPS_POLICY}")
        return padding.PKCS1v15()
    raise Unsupported("RSA encryption uses the OAEP or PKCS1 v1.5 Padding Method")


def rsa_encrypt(key: rsa.RSAPublicKey, pad: padding.AsymmetricPadding, data: bytes) -> bytes:
    try:
        return key.encrypt(data, pad)
    except ValueError as exc:
        raise KmipError(ResultReason.INVALID_FIELD, f"cannot encrypt this data with this key: {exc}") from None


def rsa_decrypt(key: rsa.RSAPrivateKey, pad: padding.AsymmetricPadding, data: bytes) -> bytes:
    try:
        return key.decrypt(data, pad)
    except ValueError:
        raise CryptographicFailure("decryption failed") from None
