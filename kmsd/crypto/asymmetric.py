"""Asymmetric keys over pyca/cryptography: what a key is, making new ones.

Theory of operation: KMIP names an asymmetric key by a Cryptographic
Algorithm, a Cryptographic Length and (for curves) a Recommended Curve, and
is loose about it: P-256 keys come as EC, ECDSA, ECDH or ECMQV; X25519 has no
algorithm of its own (EC or ECDH on CURVE25519).  This module reduces all of
that to a :class:`KeySpec` (kind, size in bits, curve), in one place:

* :func:`spec_for_request` reads the attributes of a Create Key Pair;
* :func:`spec_of` describes a key object that was parsed or generated;
* :func:`check_algorithm` says whether a Key Block's algorithm fits a key;
* :func:`check_policy` asks the :class:`~kmsd.crypto.policy.Policy`;
* :func:`check_declared` asks it about a key known only by its Key Block
  (an encrypted PKCS#8 key the server cannot open);
* :func:`generate` makes a private key (its public half is ``.public_key()``).

Key objects are ``cryptography``'s own; nothing here touches key bytes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

from kmsd.gate import blocking
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import RecommendedCurve as Curve
from kmsd.kmip.errors import KmipError, invalid_field, missing

from . import dsa as dsa_keys
from .errors import MalformedMaterial
from .policy import Policy

PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | x25519.X25519PrivateKey
    | x448.X448PrivateKey
    | dsa.DSAPrivateKey
)
PublicKey = (
    rsa.RSAPublicKey
    | ec.EllipticCurvePublicKey
    | ed25519.Ed25519PublicKey
    | ed448.Ed448PublicKey
    | x25519.X25519PublicKey
    | x448.X448PublicKey
    | dsa.DSAPublicKey
)
PUBLIC_EXPONENT = 65537  # FIPS 186-5 A.1.1: odd, 2^16 < e < 2^256; the universal choice


class Kind(enum.Enum):
    RSA = "RSA"
    EC = "EC"  # short Weierstrass curves (NIST, SEC, Brainpool)
    ED25519 = "Ed25519"
    ED448 = "Ed448"
    X25519 = "X25519"
    X448 = "X448"
    DSA = "DSA"  # FIPS 186-4 DSA: non-FIPS only (kmsd.crypto.dsa)


# Recommended Curve -> cryptography's curve class (Weierstrass curves only).
EC_CURVES: dict[int, type[ec.EllipticCurve]] = {
    Curve.P_192: ec.SECP192R1,
    Curve.P_224: ec.SECP224R1,
    Curve.P_256: ec.SECP256R1,
    Curve.P_384: ec.SECP384R1,
    Curve.P_521: ec.SECP521R1,
    Curve.SECP256K1: ec.SECP256K1,
    Curve.BRAINPOOLP256R1: ec.BrainpoolP256R1,
    Curve.BRAINPOOLP384R1: ec.BrainpoolP384R1,
    Curve.BRAINPOOLP512R1: ec.BrainpoolP512R1,
}
_CURVE_BY_NAME = {cls().name: value for value, cls in EC_CURVES.items()}
# A Cryptographic Length alone picks the NIST curve of that size (PyKMIP sends only that).
_NIST_BY_BITS = {192: Curve.P_192, 224: Curve.P_224, 256: Curve.P_256, 384: Curve.P_384, 521: Curve.P_521}
_EC_ALGORITHMS = frozenset({Alg.EC, Alg.ECDSA, Alg.ECDH, Alg.ECMQV})
_X_ALGORITHMS = frozenset({Alg.EC, Alg.ECDH})

# Per kind: its curve (for the policy), its size, the algorithms a Key Block may name.
_FIXED: dict[Kind, tuple[int, int, frozenset[int]]] = {
    Kind.ED25519: (Curve.CURVE25519, 256, frozenset({Alg.ED25519})),
    Kind.ED448: (Curve.CURVE448, 448, frozenset({Alg.ED448})),
    Kind.X25519: (Curve.CURVE25519, 256, _X_ALGORITHMS),
    Kind.X448: (Curve.CURVE448, 448, _X_ALGORITHMS),
}


@dataclass(frozen=True, slots=True)
class KeySpec:
    kind: Kind
    bits: int  # Cryptographic Length: modulus size, or the curve's size
    curve: int | None = None  # Recommended Curve; None for RSA

    @property
    def algorithm(self) -> int:
        """The Cryptographic Algorithm the server records for such a key."""
        named = {Kind.RSA: Alg.RSA, Kind.DSA: Alg.DSA, Kind.ED25519: Alg.ED25519, Kind.ED448: Alg.ED448}
        return int(named.get(self.kind, Alg.EC))


def spec_of(key: PrivateKey | PublicKey) -> KeySpec:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return KeySpec(Kind.RSA, key.key_size)
    if isinstance(key, dsa.DSAPrivateKey | dsa.DSAPublicKey):
        return KeySpec(Kind.DSA, key.key_size)
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        curve = _CURVE_BY_NAME.get(key.curve.name)
        if curve is None:
            raise MalformedMaterial(f"elliptic curve {key.curve.name} is not supported")
        return KeySpec(Kind.EC, key.curve.key_size, curve)
    kind = {
        ed25519.Ed25519PrivateKey: Kind.ED25519,
        ed25519.Ed25519PublicKey: Kind.ED25519,
        ed448.Ed448PrivateKey: Kind.ED448,
        ed448.Ed448PublicKey: Kind.ED448,
        x25519.X25519PrivateKey: Kind.X25519,
        x25519.X25519PublicKey: Kind.X25519,
        x448.X448PrivateKey: Kind.X448,
        x448.X448PublicKey: Kind.X448,
    }
    for cls, k in kind.items():
        if isinstance(key, cls):
            curve, bits, _ = _FIXED[k]
            return KeySpec(k, bits, curve)
    raise MalformedMaterial(f"{type(key).__name__} keys are not supported")


def spec_for_request(algorithm: int, length: int | None, curve: int | None) -> KeySpec:
    """The key a Create Key Pair asks for (Cryptographic Algorithm, Length and
    the Recommended Curve of its Cryptographic Domain Parameters)."""
    if algorithm == Alg.RSA:
        if length is None:
            raise missing("Cryptographic Length")
        return KeySpec(Kind.RSA, length)
    if algorithm == Alg.DSA:
        if length is None:
            raise missing("Cryptographic Length")
        return KeySpec(Kind.DSA, length)
    if algorithm in (Alg.ED25519, Alg.ED448):
        kind = Kind.ED25519 if algorithm == Alg.ED25519 else Kind.ED448
        fixed_curve, bits, _ = _FIXED[kind]
        if curve is not None and curve != fixed_curve:
            raise invalid_field(f"{kind.value} keys are on {Curve(fixed_curve).name}, not the requested curve")
        return KeySpec(kind, bits, fixed_curve)
    if algorithm in _EC_ALGORITHMS:
        if curve is None:
            if length not in _NIST_BY_BITS:
                raise missing("Recommended Curve (or a Cryptographic Length naming a NIST curve)")
            curve = _NIST_BY_BITS[length]
        if curve in (Curve.CURVE25519, Curve.CURVE448):
            if algorithm not in _X_ALGORITHMS:
                raise invalid_field("curve25519/curve448 keys for ECDSA/ECMQV are not supported (use Ed25519/Ed448)")
            kind = Kind.X25519 if curve == Curve.CURVE25519 else Kind.X448
            return KeySpec(kind, _FIXED[kind][1], curve)
        cls = EC_CURVES.get(curve)
        if cls is None:
            raise invalid_field(f"curve {_curve_name(curve)} is not supported")
        bits = cls().key_size
        if length is not None and length != bits:
            raise invalid_field(f"Cryptographic Length {length} does not match curve {_curve_name(curve)} ({bits})")
        return KeySpec(Kind.EC, bits, curve)
    raise invalid_field(f"Create Key Pair does not support algorithm {_alg_name(algorithm)}")


def check_algorithm(spec: KeySpec, algorithm: int) -> None:
    """A Key Block's Cryptographic Algorithm must describe the key it holds."""
    allowed: frozenset[int]
    if spec.kind is Kind.RSA:
        allowed = frozenset({Alg.RSA})
    elif spec.kind is Kind.DSA:
        allowed = frozenset({Alg.DSA})
    elif spec.kind is Kind.EC:
        allowed = _EC_ALGORITHMS
    else:
        allowed = _FIXED[spec.kind][2]
    if algorithm not in allowed:
        name = _alg_name(algorithm)
        raise MalformedMaterial(f"a {spec.kind.value} key does not match Cryptographic Algorithm {name}")


def check_policy(policy: Policy, spec: KeySpec, *, generate: bool = False) -> None:
    if spec.kind is Kind.RSA:
        policy.check_rsa(spec.bits, generate=generate)
    elif spec.kind is Kind.DSA:
        policy.check_dsa(spec.bits, generate=generate)
    elif spec.curve is not None:
        policy.check_curve(spec.curve)


def generate(spec: KeySpec) -> PrivateKey:
    """A new private key.  The caller has checked ``spec`` against the policy."""
    if spec.kind is Kind.RSA:
        # Tens to hundreds of milliseconds in OpenSSL, which releases the GIL:
        # let other requests run meanwhile (kmsd.gate).
        with blocking():
            return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=spec.bits)
    if spec.kind is Kind.EC:
        assert spec.curve is not None
        return ec.generate_private_key(EC_CURVES[spec.curve]())
    if spec.kind is Kind.DSA:
        with blocking():
            return dsa_keys.generate(spec.bits)
    makers: dict[Kind, Callable[[], PrivateKey]] = {
        Kind.ED25519: ed25519.Ed25519PrivateKey.generate,
        Kind.ED448: ed448.Ed448PrivateKey.generate,
        Kind.X25519: x25519.X25519PrivateKey.generate,
        Kind.X448: x448.X448PrivateKey.generate,
    }
    return makers[spec.kind]()


def check_declared(policy: Policy, algorithm: int, length: int) -> None:
    """The policy's word on a key known only by the Cryptographic Algorithm and
    Length of its Key Block.  An elliptic-curve length stands for every curve
    of that size: allowed when one of them is (the curve itself is unknown)."""
    if algorithm == Alg.RSA:
        policy.check_rsa(length)
    elif algorithm == Alg.DSA:
        policy.check_dsa(length)
    elif algorithm in _EC_ALGORITHMS:
        curves = [c for c, cls in EC_CURVES.items() if cls().key_size == length]
        if algorithm in _X_ALGORITHMS and length in (256, 448):
            curves.append(Curve.CURVE25519 if length == 256 else Curve.CURVE448)
        if not curves:
            raise invalid_field(f"no elliptic curve kmsd supports is {length} bits")
        for curve in curves[:-1]:
            try:
                policy.check_curve(curve)
                return
            except KmipError:
                continue
        policy.check_curve(curves[-1])  # none allowed: the last one's refusal says why
    elif algorithm in (Alg.ED25519, Alg.ED448):
        kind = Kind.ED25519 if algorithm == Alg.ED25519 else Kind.ED448
        curve, bits, _ = _FIXED[kind]
        if length != bits:
            raise invalid_field(f"{kind.value} keys are {bits} bits, not {length}")
        policy.check_curve(curve)
    else:
        raise invalid_field(f"{_alg_name(algorithm)} is not an asymmetric key algorithm kmsd holds")


def _alg_name(value: int) -> str:
    return Alg(value).name if value in Alg._value2member_map_ else hex(value)


def _curve_name(value: int) -> str:
    return Curve(value).name if value in Curve._value2member_map_ else hex(value)
