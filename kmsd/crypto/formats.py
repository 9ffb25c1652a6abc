"""Asymmetric key formats: KMIP Key Material <-> ``cryptography`` key objects.

Theory of operation: every Key Format Type a public or private key can be
in is one :class:`Codec` in a table, keyed by (side, format): a ``load``
that turns the Key Material item into a key object, a ``dump`` that turns a
key object back into a Key Material item, and the key kinds the format can
express.  Converting between any two formats is ``dump(load(...))`` through
the key object, so N formats need N codecs, not N² converters.

The formats (KMIP 2.1 section 2.1.7 / 1.4 section 2.1.7, "Key Value"):

=============================  ===============================================
Raw                            Ed25519/Ed448/X25519/X448 key bytes (RFC 8032,
                               RFC 7748); not meaningful for RSA or EC keys
PKCS#1                         RSAPrivateKey / RSAPublicKey DER (RFC 8017 A.1)
PKCS#8                         PrivateKeyInfo DER (RFC 5208 section 5); an
                               EncryptedPrivateKeyInfo (section 6) is held as
                               given, unread (:func:`encrypted_pkcs8`)
X.509                          SubjectPublicKeyInfo DER (RFC 5280 4.1.2.7)
ECPrivateKey                   SEC1 ECPrivateKey DER (RFC 5915 section 3)
Transparent RSA Private/Public Modulus, exponents, primes, CRT parameters as
                               Big Integers (KMIP 2.1 section 2.1.8)
Transparent EC Private/Public  Recommended Curve + D (Big Integer) / Q String
                               (an X9.62 point); the 1.x ECDSA/ECDH/ECMQV
                               forms have the same shape
Transparent DSA Private/Public P, Q, G and X / Y as Big Integers (KMIP 2.1
                               sections 3.5-3.6; :mod:`kmsd.crypto.dsa`)
=============================  ===============================================

DER input is checked to be the structure its format names (a PKCS#8 blob
labelled PKCS#1 is refused, not silently accepted) and is re-encoded by
``cryptography`` on output, so what is stored is always well-formed.  Sizes
are checked before anything is parsed.  Every failure is a
:class:`~kmsd.crypto.errors.MalformedMaterial` (Invalid Field) or a
:class:`~kmsd.crypto.errors.FormatNotSupported` (Key Format Type Not
Supported); no parser exception escapes, and no message quotes key bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

from kmsd.kmip import tags
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import KeyFormatType as F
from ttlv import Item, ItemType

from . import dsa as dsa_keys
from .asymmetric import EC_CURVES, Kind, PrivateKey, PublicKey, spec_of
from .errors import FormatNotSupported, MalformedMaterial
from .policy import DSA_MAX_BITS, RSA_MAX_BITS

# A 16384-bit RSA private key in PKCS#8 is about 9.4 KB; nothing valid is larger.
MAX_DER_BYTES = 12 * 1024
_DER_SEQUENCE, _DER_INTEGER, _DER_OCTET_STRING, _DER_OID = 0x30, 0x02, 0x04, 0x06

ALL_KINDS = frozenset(Kind)
OKP_KINDS = frozenset({Kind.ED25519, Kind.ED448, Kind.X25519, Kind.X448})


@dataclass(frozen=True, slots=True)
class Hint:
    """What the Key Block says besides the material (Raw keys need it)."""

    algorithm: int | None = None
    length: int | None = None
    # Material the server itself stored (checked when it came in): OpenSSL's
    # RSA private-key check (about 30 ms for 2048 bits, most of an RSA Sign)
    # is skipped.  Never set for material a client sends.
    trusted: bool = False


@dataclass(frozen=True, slots=True)
class Codec:
    load: Callable[[Item, Hint], PrivateKey | PublicKey]
    dump: Callable[[PrivateKey | PublicKey], Item]
    kinds: frozenset[Kind]


class EncryptedKey(FormatNotSupported):
    """Key Material the server keeps but cannot read: an encrypted PKCS#8 key,
    whose password is the client's (KMIP carries none).  It can be returned
    as registered, not converted or used."""


def _fmt_name(fmt: int) -> str:
    return F(fmt).name if fmt in F._value2member_map_ else f"key format {fmt:#x}"


# -- public API ---------------------------------------------------------------
def load_private(fmt: int, material: Item, hint: Hint = Hint()) -> PrivateKey:
    key = _codec("private", fmt).load(material, hint)
    if not isinstance(key, PRIVATE_TYPES):
        raise MalformedMaterial(f"{_fmt_name(fmt)} material does not hold a private key")
    if isinstance(key, dsa.DSAPrivateKey):
        dsa_keys.check_key(key)  # whatever the format: OpenSSL's loaders check little
    return key


def load_public(fmt: int, material: Item, hint: Hint = Hint()) -> PublicKey:
    key = _codec("public", fmt).load(material, hint)
    if not isinstance(key, PUBLIC_TYPES):
        raise MalformedMaterial(f"{_fmt_name(fmt)} material does not hold a public key")
    if isinstance(key, dsa.DSAPublicKey):
        dsa_keys.check_key(key)
    return key


def dump_private(key: PrivateKey, fmt: int) -> Item:
    return _dump("private", key, fmt)


def dump_public(key: PublicKey, fmt: int) -> Item:
    return _dump("public", key, fmt)


def private_formats(kind: Kind) -> list[F]:
    return sorted(F(f) for (side, f), c in CODECS.items() if side == "private" and kind in c.kinds)


def public_formats(kind: Kind) -> list[F]:
    return sorted(F(f) for (side, f), c in CODECS.items() if side == "public" and kind in c.kinds)


def _dump(side: str, key: PrivateKey | PublicKey, fmt: int) -> Item:
    codec = _codec(side, fmt)
    kind = spec_of(key).kind
    if kind not in codec.kinds:
        raise FormatNotSupported(f"a {kind.value} {side} key cannot be expressed as {_fmt_name(fmt)}")
    return codec.dump(key)


def _codec(side: str, fmt: int) -> Codec:
    codec = CODECS.get((side, fmt))
    if codec is None:
        raise FormatNotSupported(f"{_fmt_name(fmt)} is not a format for {side} keys here")
    return codec


# -- DER ------------------------------------------------------------------------
def _der_bytes(material: Item, fmt_name: str) -> bytes:
    if material.type is not ItemType.BYTE_STRING or not isinstance(material.value, bytes):
        raise MalformedMaterial(f"{fmt_name} Key Material must be a Byte String")
    data = material.value
    if not data:
        raise MalformedMaterial(f"{fmt_name} Key Material is empty")
    if len(data) > MAX_DER_BYTES:
        raise MalformedMaterial(f"{fmt_name} Key Material of {len(data)} bytes exceeds {MAX_DER_BYTES}")
    return data


def _der_header(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``pos`` (X.690 8.1)."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated")
    return tag, pos, pos + length


def _der_shape(data: bytes) -> tuple[int, int]:
    """The tags of the first two elements inside the outer SEQUENCE.

    Enough to tell the formats apart: PKCS#8 is (INTEGER, SEQUENCE), PKCS#1
    private is (INTEGER, INTEGER), SEC1 is (INTEGER, OCTET STRING), SPKI is
    (SEQUENCE, BIT STRING), PKCS#1 public is (INTEGER, INTEGER)."""
    try:
        tag, start, end = _der_header(data, 0)
        if tag != _DER_SEQUENCE or end != len(data):
            raise ValueError("not one SEQUENCE")
        first, _, first_end = _der_header(data, start)
        second, _, _ = _der_header(data, first_end)
    except ValueError:
        return (-1, -1)
    return first, second


def encrypted_pkcs8(material: Item) -> bytes | None:
    """The DER of an EncryptedPrivateKeyInfo (RFC 5208 section 6), or None when
    ``material`` is not one.  KMIP's PKCS#8 format admits it ("supporting both
    the RSAPrivateKey syntax and EncryptedPrivateKey", KMIP 1.0-2.1 Key Format
    Type); the server has no password for it, so its structure is checked
    (an AlgorithmIdentifier, then non-empty encrypted data) and nothing more."""
    if material.type is not ItemType.BYTE_STRING or not isinstance(material.value, bytes):
        return None
    if _der_shape(material.value) != (_DER_SEQUENCE, _DER_OCTET_STRING):
        return None
    data = _der_bytes(material, "PKCS_8")
    try:
        _, start, _ = _der_header(data, 0)
        _, algorithm_start, algorithm_end = _der_header(data, start)
        oid, _, _ = _der_header(data, algorithm_start)
        _, encrypted_start, encrypted_end = _der_header(data, algorithm_end)
    except ValueError:
        oid, encrypted_start, encrypted_end = -1, 0, 0
    if oid != _DER_OID or encrypted_end != len(data) or encrypted_start == encrypted_end:
        raise MalformedMaterial("Key Material is not a valid PKCS_8 EncryptedPrivateKeyInfo")
    return data


def _load_pkcs8_private(material: Item, hint: Hint) -> PrivateKey | PublicKey:
    if encrypted_pkcs8(material) is not None:
        raise EncryptedKey("the PKCS_8 key is encrypted (EncryptedPrivateKeyInfo): the server cannot read it")
    return _PKCS8_PRIVATE(material, hint)


def _der_loader(
    fmt: F, shape: tuple[int, int], load: Callable[[bytes, bool], PrivateKey | PublicKey], kinds: frozenset[Kind]
) -> Callable[[Item, Hint], PrivateKey | PublicKey]:
    name = _fmt_name(fmt)

    def loader(material: Item, hint: Hint) -> PrivateKey | PublicKey:
        data = _der_bytes(material, name)
        if _der_shape(data) != shape:
            raise MalformedMaterial(f"Key Material is not {name} DER")
        try:
            key = load(data, hint.trusted)
        except UnsupportedAlgorithm:
            raise FormatNotSupported(f"the {name} key's algorithm is not supported") from None
        except (ValueError, TypeError):
            raise MalformedMaterial(f"Key Material is not a valid {name} key") from None
        kind = spec_of(key).kind
        if kind not in kinds:
            raise MalformedMaterial(f"{name} material holds a {kind.value} key")
        return key

    return loader


def _load_private_der(data: bytes, trusted: bool) -> PrivateKey:
    key = ser.load_der_private_key(data, password=None, unsafe_skip_rsa_key_validation=trusted)
    if not isinstance(key, PRIVATE_TYPES):
        raise UnsupportedAlgorithm(type(key).__name__)
    return key


def _load_public_der(data: bytes, trusted: bool) -> PublicKey:
    key = ser.load_der_public_key(data)
    if not isinstance(key, PUBLIC_TYPES):
        raise UnsupportedAlgorithm(type(key).__name__)
    return key


def _der_dumper(
    side: str, encoding_format: ser.PrivateFormat | ser.PublicFormat
) -> Callable[[PrivateKey | PublicKey], Item]:
    def dump(key: PrivateKey | PublicKey) -> Item:
        if side == "private":
            assert isinstance(key, PRIVATE_TYPES) and isinstance(encoding_format, ser.PrivateFormat)
            data = key.private_bytes(ser.Encoding.DER, encoding_format, ser.NoEncryption())
        else:
            assert isinstance(key, PUBLIC_TYPES) and isinstance(encoding_format, ser.PublicFormat)
            data = key.public_bytes(ser.Encoding.DER, encoding_format)
        return Item(tags.KeyMaterial, ItemType.BYTE_STRING, data)

    return dump


# -- Raw (RFC 8032 / RFC 7748 key bytes) -----------------------------------------------
# (private loader, public loader, length in bytes, algorithms that select it)
_RAW: dict[Kind, tuple[Callable[[bytes], PrivateKey], Callable[[bytes], PublicKey], int]] = {
    Kind.ED25519: (ed25519.Ed25519PrivateKey.from_private_bytes, ed25519.Ed25519PublicKey.from_public_bytes, 32),
    Kind.ED448: (ed448.Ed448PrivateKey.from_private_bytes, ed448.Ed448PublicKey.from_public_bytes, 57),
    Kind.X25519: (x25519.X25519PrivateKey.from_private_bytes, x25519.X25519PublicKey.from_public_bytes, 32),
    Kind.X448: (x448.X448PrivateKey.from_private_bytes, x448.X448PublicKey.from_public_bytes, 56),
}


def _raw_kind(hint: Hint, size: int) -> Kind:
    """Raw bytes say nothing about their algorithm: the Key Block must."""
    if hint.algorithm == Alg.ED25519:
        kind = Kind.ED25519
    elif hint.algorithm == Alg.ED448:
        kind = Kind.ED448
    elif hint.algorithm in (Alg.EC, Alg.ECDH):
        kind = Kind.X448 if size == 56 else Kind.X25519
    else:
        raise FormatNotSupported("Raw asymmetric keys are Ed25519, Ed448, X25519 or X448 (name the algorithm)")
    if size != _RAW[kind][2]:
        raise MalformedMaterial(f"a Raw {kind.value} key is {_RAW[kind][2]} bytes, not {size}")
    return kind


def _load_raw(side: str) -> Callable[[Item, Hint], PrivateKey | PublicKey]:
    def load(material: Item, hint: Hint) -> PrivateKey | PublicKey:
        if material.type is not ItemType.BYTE_STRING or not isinstance(material.value, bytes):
            raise MalformedMaterial("Raw Key Material must be a Byte String")
        kind = _raw_kind(hint, len(material.value))
        private, public, _ = _RAW[kind]
        try:
            return private(material.value) if side == "private" else public(material.value)
        except ValueError:
            raise MalformedMaterial(f"Key Material is not a valid Raw {kind.value} key") from None

    return load


def _dump_raw(key: PrivateKey | PublicKey) -> Item:
    if isinstance(key, PRIVATE_TYPES):
        data = key.private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw, ser.NoEncryption())
    else:
        data = key.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    return Item(tags.KeyMaterial, ItemType.BYTE_STRING, data)


# -- Transparent structures (KMIP 2.1 section 2.1.8) --------------------------------------
def _fields(material: Item, fmt_name: str) -> dict[int, object]:
    if material.type is not ItemType.STRUCTURE:
        raise MalformedMaterial(f"{fmt_name} Key Material must be a structure")
    out: dict[int, object] = {}
    for child in material.children:
        if child.tag in out:
            raise MalformedMaterial(f"{fmt_name} has a repeated field")
        out[child.tag] = child.value
    return out


def _big(fields: dict[int, object], tag: int, name: str, *, required: bool = False) -> int | None:
    value = fields.get(tag)
    if value is None:
        if required:
            raise MalformedMaterial(f"Transparent RSA key without a {name}")
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise MalformedMaterial(f"Transparent RSA key {name} must be a positive Big Integer")
    if value.bit_length() > RSA_MAX_BITS:
        raise MalformedMaterial(f"Transparent RSA key {name} exceeds {RSA_MAX_BITS} bits")
    return value


def _load_transparent_rsa_private(material: Item, hint: Hint) -> PrivateKey:
    f = _fields(material, "Transparent RSA Private Key")
    n = _big(f, tags.Modulus, "Modulus", required=True)
    e, d = _big(f, tags.PublicExponent, "Public Exponent"), _big(f, tags.PrivateExponent, "Private Exponent")
    p, q = _big(f, tags.P, "P"), _big(f, tags.Q, "Q")
    assert n is not None
    try:
        if p is None or q is None:
            if e is None or d is None:
                raise MalformedMaterial("Transparent RSA Private Key needs P and Q, or both exponents")
            p, q = rsa.rsa_recover_prime_factors(n, e, d)
        if p * q != n:
            raise MalformedMaterial("Transparent RSA Private Key: P × Q is not the Modulus")
        if e is None:
            raise MalformedMaterial("Transparent RSA Private Key without a Public Exponent")
        if d is None:
            d = pow(e, -1, (p - 1) * (q - 1))
        numbers = rsa.RSAPrivateNumbers(
            p=p,
            q=q,
            d=d,
            dmp1=_big(f, tags.PrimeExponentP, "Prime Exponent P") or rsa.rsa_crt_dmp1(d, p),
            dmq1=_big(f, tags.PrimeExponentQ, "Prime Exponent Q") or rsa.rsa_crt_dmq1(d, q),
            iqmp=_big(f, tags.CRTCoefficient, "CRT Coefficient") or rsa.rsa_crt_iqmp(p, q),
            public_numbers=rsa.RSAPublicNumbers(e, n),
        )
        return numbers.private_key(unsafe_skip_rsa_key_validation=hint.trusted)
    except (ValueError, ArithmeticError):
        raise MalformedMaterial("Transparent RSA Private Key values are not a consistent RSA key") from None


def _dump_transparent_rsa_private(key: PrivateKey | PublicKey) -> Item:
    assert isinstance(key, rsa.RSAPrivateKey)
    n = key.private_numbers()
    values = (
        (tags.Modulus, n.public_numbers.n),
        (tags.PrivateExponent, n.d),
        (tags.PublicExponent, n.public_numbers.e),
        (tags.P, n.p),
        (tags.Q, n.q),
        (tags.PrimeExponentP, n.dmp1),
        (tags.PrimeExponentQ, n.dmq1),
        (tags.CRTCoefficient, n.iqmp),
    )
    children = tuple(Item(t, ItemType.BIG_INTEGER, v) for t, v in values)
    return Item(tags.KeyMaterial, ItemType.STRUCTURE, children)


def _load_transparent_rsa_public(material: Item, hint: Hint) -> PublicKey:
    f = _fields(material, "Transparent RSA Public Key")
    n = _big(f, tags.Modulus, "Modulus", required=True)
    e = _big(f, tags.PublicExponent, "Public Exponent", required=True)
    assert n is not None and e is not None
    try:
        return rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError:
        raise MalformedMaterial("Transparent RSA Public Key values are not an RSA public key") from None


def _dump_transparent_rsa_public(key: PrivateKey | PublicKey) -> Item:
    assert isinstance(key, rsa.RSAPublicKey)
    n = key.public_numbers()
    children = (
        Item(tags.Modulus, ItemType.BIG_INTEGER, n.n),
        Item(tags.PublicExponent, ItemType.BIG_INTEGER, n.e),
    )
    return Item(tags.KeyMaterial, ItemType.STRUCTURE, children)


def _ec_curve(fields: dict[int, object], fmt_name: str) -> tuple[int, ec.EllipticCurve]:
    curve = fields.get(tags.RecommendedCurve)
    if not isinstance(curve, int):
        raise MalformedMaterial(f"{fmt_name} without a Recommended Curve")
    cls = EC_CURVES.get(curve)
    if cls is None:
        raise FormatNotSupported(f"{fmt_name} on curve {curve:#x} is not supported")
    return curve, cls()


def _load_transparent_ec_private(material: Item, hint: Hint) -> PrivateKey:
    f = _fields(material, "Transparent EC Private Key")
    _, curve = _ec_curve(f, "Transparent EC Private Key")
    d = f.get(tags.D)
    if not isinstance(d, int) or isinstance(d, bool) or d <= 0 or d.bit_length() > curve.key_size:
        raise MalformedMaterial("Transparent EC Private Key D must be a positive Big Integer within the curve")
    try:
        return ec.derive_private_key(d, curve)
    except ValueError:
        raise MalformedMaterial("Transparent EC Private Key D is out of range for its curve") from None


def _dump_transparent_ec_private(key: PrivateKey | PublicKey) -> Item:
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    children = (
        Item(tags.RecommendedCurve, ItemType.ENUMERATION, int(spec_of(key).curve or 0)),
        Item(tags.D, ItemType.BIG_INTEGER, key.private_numbers().private_value),
    )
    return Item(tags.KeyMaterial, ItemType.STRUCTURE, children)


def _load_transparent_ec_public(material: Item, hint: Hint) -> PublicKey:
    f = _fields(material, "Transparent EC Public Key")
    _, curve = _ec_curve(f, "Transparent EC Public Key")
    q = f.get(tags.QString)
    if not isinstance(q, bytes) or not q:
        raise MalformedMaterial("Transparent EC Public Key without a Q String")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, q)
    except ValueError:
        raise MalformedMaterial("Transparent EC Public Key Q String is not a point on its curve") from None


def _dump_transparent_ec_public(key: PrivateKey | PublicKey) -> Item:
    assert isinstance(key, ec.EllipticCurvePublicKey)
    point = key.public_bytes(ser.Encoding.X962, ser.PublicFormat.UncompressedPoint)
    children = (
        Item(tags.RecommendedCurve, ItemType.ENUMERATION, int(spec_of(key).curve or 0)),
        Item(tags.QString, ItemType.BYTE_STRING, point),
    )
    return Item(tags.KeyMaterial, ItemType.STRUCTURE, children)


def _dsa_value(fields: dict[int, object], tag: int, name: str, fmt_name: str) -> int:
    value = fields.get(tag)
    if value is None:
        raise MalformedMaterial(f"{fmt_name} without a {name}")
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise MalformedMaterial(f"{fmt_name} {name} must be a positive Big Integer")
    if value.bit_length() > DSA_MAX_BITS:
        raise MalformedMaterial(f"{fmt_name} {name} exceeds {DSA_MAX_BITS} bits")
    return value


def _load_transparent_dsa(side: str) -> Callable[[Item, Hint], PrivateKey | PublicKey]:
    name = f"Transparent DSA {side.capitalize()} Key"
    fields = ((tags.P, "P"), (tags.Q, "Q"), (tags.G, "G"), (tags.X, "X") if side == "private" else (tags.Y, "Y"))

    def load(material: Item, hint: Hint) -> PrivateKey | PublicKey:
        f = _fields(material, name)
        p, q, g, v = (_dsa_value(f, t, n, name) for t, n in fields)
        return dsa_keys.private_key(p, q, g, v) if side == "private" else dsa_keys.public_key(p, q, g, v)

    return load


def _dump_transparent_dsa(key: PrivateKey | PublicKey) -> Item:
    if isinstance(key, dsa.DSAPrivateKey):
        values, last = dsa_keys.private_values(key), tags.X
    else:
        assert isinstance(key, dsa.DSAPublicKey)
        values, last = dsa_keys.public_values(key), tags.Y
    names = (tags.P, tags.Q, tags.G, last)
    children = tuple(Item(t, ItemType.BIG_INTEGER, v) for t, v in zip(names, values, strict=True))
    return Item(tags.KeyMaterial, ItemType.STRUCTURE, children)


# -- the table ----------------------------------------------------------------------------------
PRIVATE_TYPES = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
    x25519.X25519PrivateKey,
    x448.X448PrivateKey,
    dsa.DSAPrivateKey,
)
PUBLIC_TYPES = (
    rsa.RSAPublicKey,
    ec.EllipticCurvePublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
    x25519.X25519PublicKey,
    x448.X448PublicKey,
    dsa.DSAPublicKey,
)
_RSA = frozenset({Kind.RSA})
_EC = frozenset({Kind.EC})
_DSA = frozenset({Kind.DSA})
_TRANSPARENT_EC_PRIVATE = (
    F.TRANSPARENT_EC_PRIVATE_KEY,
    F.TRANSPARENT_ECDSA_PRIVATE_KEY,
    F.TRANSPARENT_ECDH_PRIVATE_KEY,
    F.TRANSPARENT_ECMQV_PRIVATE_KEY,
)
_TRANSPARENT_EC_PUBLIC = (
    F.TRANSPARENT_EC_PUBLIC_KEY,
    F.TRANSPARENT_ECDSA_PUBLIC_KEY,
    F.TRANSPARENT_ECDH_PUBLIC_KEY,
    F.TRANSPARENT_ECMQV_PUBLIC_KEY,
)
_INT, _SEQ, _OCT, _BIT = _DER_INTEGER, _DER_SEQUENCE, _DER_OCTET_STRING, 0x03
_PKCS8_PRIVATE = _der_loader(F.PKCS_8, (_INT, _SEQ), _load_private_der, ALL_KINDS)

CODECS: dict[tuple[str, int], Codec] = {
    ("private", F.RAW): Codec(_load_raw("private"), _dump_raw, OKP_KINDS),
    ("private", F.PKCS_1): Codec(
        _der_loader(F.PKCS_1, (_INT, _INT), _load_private_der, _RSA),
        _der_dumper("private", ser.PrivateFormat.TraditionalOpenSSL),
        _RSA,
    ),
    ("private", F.PKCS_8): Codec(
        _load_pkcs8_private,
        _der_dumper("private", ser.PrivateFormat.PKCS8),
        ALL_KINDS,
    ),
    ("private", F.ECPRIVATEKEY): Codec(
        _der_loader(F.ECPRIVATEKEY, (_INT, _OCT), _load_private_der, _EC),
        _der_dumper("private", ser.PrivateFormat.TraditionalOpenSSL),
        _EC,
    ),
    ("private", F.TRANSPARENT_RSA_PRIVATE_KEY): Codec(
        _load_transparent_rsa_private, _dump_transparent_rsa_private, _RSA
    ),
    **{
        ("private", f): Codec(_load_transparent_ec_private, _dump_transparent_ec_private, _EC)
        for f in _TRANSPARENT_EC_PRIVATE
    },
    ("private", F.TRANSPARENT_DSA_PRIVATE_KEY): Codec(_load_transparent_dsa("private"), _dump_transparent_dsa, _DSA),
    ("public", F.RAW): Codec(_load_raw("public"), _dump_raw, OKP_KINDS),
    ("public", F.PKCS_1): Codec(
        _der_loader(F.PKCS_1, (_INT, _INT), _load_public_der, _RSA),
        _der_dumper("public", ser.PublicFormat.PKCS1),
        _RSA,
    ),
    ("public", F.X_509): Codec(
        _der_loader(F.X_509, (_SEQ, _BIT), _load_public_der, ALL_KINDS),
        _der_dumper("public", ser.PublicFormat.SubjectPublicKeyInfo),
        ALL_KINDS,
    ),
    ("public", F.TRANSPARENT_DSA_PUBLIC_KEY): Codec(_load_transparent_dsa("public"), _dump_transparent_dsa, _DSA),
    ("public", F.TRANSPARENT_RSA_PUBLIC_KEY): Codec(_load_transparent_rsa_public, _dump_transparent_rsa_public, _RSA),
    **{
        ("public", f): Codec(_load_transparent_ec_public, _dump_transparent_ec_public, _EC)
        for f in _TRANSPARENT_EC_PUBLIC
    },
}
