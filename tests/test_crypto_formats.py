"""Asymmetric key formats and the asymmetric policy, without the server.

Every key kind goes through every format it can be expressed in, both ways;
every exported DER format is parsed by the ``openssl`` command; malformed
material and impossible conversions raise the narrow error with the right
Result Reason.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import ttlv
from kmsd.crypto import asymmetric, formats
from kmsd.crypto.asymmetric import KeySpec, Kind
from kmsd.crypto.errors import FormatNotSupported, MalformedMaterial
from kmsd.crypto.policy import Policy
from kmsd.kmip import tags
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import KeyFormatType as F
from kmsd.kmip.enums import RecommendedCurve as Curve
from kmsd.kmip.enums import ResultReason
from kmsd.kmip.errors import KmipError
from ttlv import Item, ItemType

SPECS = {
    "rsa2048": KeySpec(Kind.RSA, 2048),
    "p256": KeySpec(Kind.EC, 256, Curve.P_256),
    "p384": KeySpec(Kind.EC, 384, Curve.P_384),
    "p521": KeySpec(Kind.EC, 521, Curve.P_521),
    "secp256k1": KeySpec(Kind.EC, 256, Curve.SECP256K1),
    "ed25519": KeySpec(Kind.ED25519, 256, Curve.CURVE25519),
    "ed448": KeySpec(Kind.ED448, 448, Curve.CURVE448),
    "x25519": KeySpec(Kind.X25519, 256, Curve.CURVE25519),
    "x448": KeySpec(Kind.X448, 448, Curve.CURVE448),
}
_KEYS: dict[str, asymmetric.PrivateKey] = {}


def key_for(name: str) -> asymmetric.PrivateKey:
    if name not in _KEYS:
        _KEYS[name] = asymmetric.generate(SPECS[name])
    return _KEYS[name]


def same_key(a: asymmetric.PrivateKey | asymmetric.PublicKey, b: asymmetric.PrivateKey | asymmetric.PublicKey) -> bool:
    def spki(k: asymmetric.PrivateKey | asymmetric.PublicKey) -> bytes:
        pub = k.public_key() if isinstance(k, formats.PRIVATE_TYPES) else k
        assert isinstance(pub, formats.PUBLIC_TYPES)
        return pub.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)

    return type(a) is type(b) and spki(a) == spki(b)


def bytes_item(data: bytes) -> Item:
    return Item(tags.KeyMaterial, ItemType.BYTE_STRING, data)


# -- round trips ---------------------------------------------------------------------
@pytest.mark.parametrize("name", SPECS)
def test_private_round_trip_through_every_format(name: str) -> None:
    key = key_for(name)
    spec = asymmetric.spec_of(key)
    assert spec == SPECS[name]
    hint = formats.Hint(spec.algorithm, spec.bits)
    for fmt in formats.private_formats(spec.kind):
        item = formats.dump_private(key, fmt)
        back = formats.load_private(fmt, item, hint)
        assert same_key(back, key), fmt
        assert formats.dump_private(back, fmt) == item, fmt  # stable encoding
        # and through the TTLV codec (Big Integers, structures)
        assert formats.load_private(fmt, ttlv.decode(ttlv.encode(item)), hint) is not None


@pytest.mark.parametrize("name", SPECS)
def test_public_round_trip_through_every_format(name: str) -> None:
    key = key_for(name).public_key()
    spec = asymmetric.spec_of(key)
    hint = formats.Hint(spec.algorithm, spec.bits)
    for fmt in formats.public_formats(spec.kind):
        item = formats.dump_public(key, fmt)
        back = formats.load_public(fmt, item, hint)
        assert same_key(back, key), fmt
        assert formats.dump_public(back, fmt) == item, fmt


def test_formats_per_kind() -> None:
    assert formats.private_formats(Kind.RSA) == [F.PKCS_1, F.PKCS_8, F.TRANSPARENT_RSA_PRIVATE_KEY]
    assert formats.public_formats(Kind.RSA) == [F.PKCS_1, F.X_509, F.TRANSPARENT_RSA_PUBLIC_KEY]
    assert F.ECPRIVATEKEY in formats.private_formats(Kind.EC)
    assert F.TRANSPARENT_ECDSA_PRIVATE_KEY in formats.private_formats(Kind.EC)
    assert F.TRANSPARENT_ECMQV_PUBLIC_KEY in formats.public_formats(Kind.EC)
    assert formats.private_formats(Kind.ED25519) == [F.RAW, F.PKCS_8]
    assert formats.public_formats(Kind.X25519) == [F.RAW, F.X_509]


def test_transparent_rsa_fields_and_partial_forms() -> None:
    key = key_for("rsa2048")
    assert isinstance(key, rsa.RSAPrivateKey)
    item = formats.dump_private(key, F.TRANSPARENT_RSA_PRIVATE_KEY)
    numbers = key.private_numbers()
    assert item.get(tags.Modulus) == numbers.public_numbers.n
    assert item.get(tags.PrivateExponent) == numbers.d
    assert item.get(tags.CRTCoefficient) == numbers.iqmp
    fields = {c.tag: c for c in item.children}
    # n, e, d only: the primes are recovered (SP 800-56B Appendix C).
    minimal = Item(
        tags.KeyMaterial,
        ItemType.STRUCTURE,
        tuple(fields[t] for t in (tags.Modulus, tags.PublicExponent, tags.PrivateExponent)),
    )
    assert same_key(formats.load_private(F.TRANSPARENT_RSA_PRIVATE_KEY, minimal), key)
    # n, e, p, q: d is computed.
    primes = Item(
        tags.KeyMaterial,
        ItemType.STRUCTURE,
        tuple(fields[t] for t in (tags.Modulus, tags.PublicExponent, tags.P, tags.Q)),
    )
    assert same_key(formats.load_private(F.TRANSPARENT_RSA_PRIVATE_KEY, primes), key)


def test_transparent_ec_uses_recommended_curve_and_x962_point() -> None:
    key = key_for("p384")
    item = formats.dump_public(key.public_key(), F.TRANSPARENT_EC_PUBLIC_KEY)
    assert item.get(tags.RecommendedCurve) == Curve.P_384
    q = item.get(tags.QString)
    assert isinstance(q, bytes) and q[0] == 4 and len(q) == 1 + 2 * 48
    # A compressed point is accepted on input too.
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    compressed = key.public_key().public_bytes(ser.Encoding.X962, ser.PublicFormat.CompressedPoint)
    item2 = Item(
        tags.KeyMaterial, ItemType.STRUCTURE, (item.children[0], Item(tags.QString, ItemType.BYTE_STRING, compressed))
    )
    assert same_key(formats.load_public(F.TRANSPARENT_ECDH_PUBLIC_KEY, item2), key.public_key())


def test_raw_needs_the_algorithm() -> None:
    raw = formats.dump_private(key_for("ed25519"), F.RAW)
    # 32 bytes: Ed25519 or X25519, the Key Block's algorithm decides.
    assert formats.load_private(F.RAW, raw, formats.Hint(Alg.ED25519)).__class__.__name__.startswith("Ed25519")
    assert formats.load_private(F.RAW, raw, formats.Hint(Alg.ECDH)).__class__.__name__.startswith("X25519")
    with pytest.raises(FormatNotSupported):
        formats.load_private(F.RAW, raw, formats.Hint(Alg.RSA))
    with pytest.raises(MalformedMaterial):
        formats.load_private(F.RAW, bytes_item(raw.value[:31]), formats.Hint(Alg.ED25519))  # type: ignore[index]


# -- openssl parses what we export -----------------------------------------------------
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


def openssl(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], capture_output=True, timeout=30, check=False)


@needs_openssl
@pytest.mark.parametrize("name", SPECS)
def test_openssl_parses_every_der_export(name: str, tmp_path: Path) -> None:
    key = key_for(name)
    kind = SPECS[name].kind
    for fmt in formats.private_formats(kind):
        item = formats.dump_private(key, fmt)
        if not isinstance(item.value, bytes) or fmt == F.RAW:
            continue
        path = tmp_path / f"priv-{int(fmt)}.der"
        path.write_bytes(item.value)
        cmd = ["rsa"] if fmt == F.PKCS_1 else ["ec"] if fmt == F.ECPRIVATEKEY else ["pkey"]
        done = openssl(*cmd, "-inform", "DER", "-in", str(path), "-noout")
        assert done.returncode == 0, (fmt, done.stderr)
    for fmt in formats.public_formats(kind):
        item = formats.dump_public(key.public_key(), fmt)
        if not isinstance(item.value, bytes) or fmt == F.RAW:
            continue
        path = tmp_path / f"pub-{int(fmt)}.der"
        path.write_bytes(item.value)
        if fmt == F.PKCS_1:
            done = openssl("rsa", "-RSAPublicKey_in", "-inform", "DER", "-in", str(path), "-noout")
        else:
            done = openssl("pkey", "-pubin", "-inform", "DER", "-in", str(path), "-noout")
        assert done.returncode == 0, (fmt, done.stderr)


@needs_openssl
def test_openssl_generated_keys_load(tmp_path: Path) -> None:
    """Keys made by openssl load in each format openssl writes."""
    pem = tmp_path / "k.pem"
    assert (
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(pem)).returncode == 0
    )
    for fmt, args in (
        (F.PKCS_8, ["pkcs8", "-topk8", "-nocrypt"]),
        (F.ECPRIVATEKEY, ["ec"]),
    ):
        out = tmp_path / f"{int(fmt)}.der"
        done = openssl(*args, "-in", str(pem), "-outform", "DER", "-out", str(out))
        assert done.returncode == 0, done.stderr
        key = formats.load_private(fmt, bytes_item(out.read_bytes()))
        assert asymmetric.spec_of(key) == SPECS["p256"]


# -- malformed input and impossible conversions ----------------------------------------
def test_mislabelled_der_is_refused() -> None:
    rsa_key = key_for("rsa2048")
    pkcs8 = formats.dump_private(rsa_key, F.PKCS_8)
    pkcs1 = formats.dump_private(rsa_key, F.PKCS_1)
    with pytest.raises(MalformedMaterial, match="not PKCS_1"):
        formats.load_private(F.PKCS_1, pkcs8)
    with pytest.raises(MalformedMaterial, match="not PKCS_8"):
        formats.load_private(F.PKCS_8, pkcs1)
    with pytest.raises(MalformedMaterial):
        formats.load_private(F.ECPRIVATEKEY, pkcs1)
    # An EC key in PKCS#8 is not an RSA key, even in the right wrapping.
    ec8 = formats.dump_private(key_for("p256"), F.PKCS_8)
    assert formats.load_private(F.PKCS_8, ec8) is not None
    spki = formats.dump_public(key_for("p256").public_key(), F.X_509)
    with pytest.raises(MalformedMaterial):
        formats.load_public(F.PKCS_1, spki)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x30", b"\x30\x03\x02\x01\x00", b"\x30\x82\xff\xff", b"-----BEGIN PRIVATE KEY-----\n", bytes(100)],
)
def test_garbage_der_is_invalid_field(data: bytes) -> None:
    for fmt in (F.PKCS_1, F.PKCS_8, F.ECPRIVATEKEY):
        with pytest.raises(MalformedMaterial) as err:
            formats.load_private(fmt, bytes_item(data))
        assert err.value.reason == ResultReason.INVALID_FIELD
    with pytest.raises(MalformedMaterial):
        formats.load_public(F.X_509, bytes_item(data))


def test_corrupted_key_is_invalid_field() -> None:
    good = formats.dump_private(key_for("rsa2048"), F.PKCS_1).value
    assert isinstance(good, bytes)
    bad = bytearray(good)
    bad[100] ^= 0xFF  # inside the modulus: the key no longer checks
    with pytest.raises(MalformedMaterial):
        formats.load_private(F.PKCS_1, bytes_item(bytes(bad)))
    with pytest.raises(MalformedMaterial, match="exceeds"):
        formats.load_private(F.PKCS_8, bytes_item(b"\x30" + bytes(20000)))


def test_bad_transparent_structures() -> None:
    ec_fields = formats.dump_private(key_for("p256"), F.TRANSPARENT_EC_PRIVATE_KEY).children
    curve = ec_fields[0]
    with pytest.raises(MalformedMaterial):  # D beyond the curve order
        formats.load_private(
            F.TRANSPARENT_EC_PRIVATE_KEY,
            Item(tags.KeyMaterial, ItemType.STRUCTURE, (curve, Item(tags.D, ItemType.BIG_INTEGER, 2**256 - 1))),
        )
    with pytest.raises(MalformedMaterial):  # no curve
        formats.load_private(F.TRANSPARENT_EC_PRIVATE_KEY, Item(tags.KeyMaterial, ItemType.STRUCTURE, ec_fields[1:]))
    with pytest.raises(FormatNotSupported):  # a curve we do not have
        formats.load_public(
            F.TRANSPARENT_EC_PUBLIC_KEY,
            Item(
                tags.KeyMaterial,
                ItemType.STRUCTURE,
                (
                    Item(tags.RecommendedCurve, ItemType.ENUMERATION, int(Curve.K_163)),
                    Item(tags.QString, ItemType.BYTE_STRING, b"\x04"),
                ),
            ),
        )
    with pytest.raises(MalformedMaterial):  # not on the curve
        formats.load_public(
            F.TRANSPARENT_EC_PUBLIC_KEY,
            Item(
                tags.KeyMaterial,
                ItemType.STRUCTURE,
                (curve, Item(tags.QString, ItemType.BYTE_STRING, b"\x04" + bytes(64))),
            ),
        )
    rsa_fields = {c.tag: c for c in formats.dump_private(key_for("rsa2048"), F.TRANSPARENT_RSA_PRIVATE_KEY).children}
    wrong_q = Item(tags.Q, ItemType.BIG_INTEGER, rsa_fields[tags.Q].value + 2)  # type: ignore[operator]
    with pytest.raises(MalformedMaterial):
        formats.load_private(
            F.TRANSPARENT_RSA_PRIVATE_KEY,
            Item(
                tags.KeyMaterial,
                ItemType.STRUCTURE,
                (rsa_fields[tags.Modulus], rsa_fields[tags.PublicExponent], rsa_fields[tags.P], wrong_q),
            ),
        )
    with pytest.raises(MalformedMaterial):  # a byte string where a structure belongs
        formats.load_private(F.TRANSPARENT_RSA_PRIVATE_KEY, bytes_item(b"\x00"))


def test_impossible_conversions_are_format_not_supported() -> None:
    cases = [
        (key_for("p256"), F.PKCS_1),
        (key_for("ed25519"), F.ECPRIVATEKEY),
        (key_for("rsa2048"), F.RAW),
        (key_for("x25519"), F.TRANSPARENT_EC_PRIVATE_KEY),
        (key_for("rsa2048"), F.X_509),  # a public-key format
    ]
    for key, fmt in cases:
        with pytest.raises(FormatNotSupported) as err:
            formats.dump_private(key, fmt)
        assert err.value.reason == ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED
    with pytest.raises(FormatNotSupported):
        formats.dump_public(key_for("p256").public_key(), F.PKCS_8)


def test_no_key_material_in_messages() -> None:
    key = key_for("rsa2048")
    pkcs1 = formats.dump_private(key, F.PKCS_1).value
    assert isinstance(pkcs1, bytes)
    try:
        formats.load_private(F.PKCS_8, bytes_item(pkcs1))
    except KmipError as e:
        assert pkcs1.hex()[:16] not in e.message and str(key.private_numbers().d)[:12] not in e.message


# -- specs and policy ---------------------------------------------------------------------
def test_spec_for_request() -> None:
    assert asymmetric.spec_for_request(Alg.RSA, 3072, None) == KeySpec(Kind.RSA, 3072)
    assert asymmetric.spec_for_request(Alg.EC, None, Curve.P_384) == SPECS["p384"]
    assert asymmetric.spec_for_request(Alg.ECDSA, 521, None) == SPECS["p521"]  # a length names the NIST curve
    assert asymmetric.spec_for_request(Alg.ED25519, None, None) == SPECS["ed25519"]
    assert asymmetric.spec_for_request(Alg.ECDH, None, Curve.CURVE25519) == SPECS["x25519"]
    assert asymmetric.spec_for_request(Alg.EC, 448, Curve.CURVE448) == SPECS["x448"]
    for args, reason in (
        ((Alg.RSA, None, None), ResultReason.MISSING_DATA),
        ((Alg.EC, None, None), ResultReason.MISSING_DATA),
        ((Alg.EC, 384, Curve.P_256), ResultReason.INVALID_FIELD),
        ((Alg.ECDSA, None, Curve.CURVE25519), ResultReason.INVALID_FIELD),
        ((Alg.ED25519, None, Curve.P_256), ResultReason.INVALID_FIELD),
        ((Alg.AES, 256, None), ResultReason.INVALID_FIELD),
        ((Alg.EC, None, Curve.K_163), ResultReason.INVALID_FIELD),
    ):
        with pytest.raises(KmipError) as err:
            asymmetric.spec_for_request(*args)
        assert err.value.reason == reason, args


def test_check_algorithm() -> None:
    for alg in (Alg.EC, Alg.ECDSA, Alg.ECDH, Alg.ECMQV):
        asymmetric.check_algorithm(SPECS["p256"], alg)
    asymmetric.check_algorithm(SPECS["x25519"], Alg.ECDH)
    for spec, alg in ((SPECS["rsa2048"], Alg.EC), (SPECS["p256"], Alg.RSA), (SPECS["ed25519"], Alg.EC)):
        with pytest.raises(MalformedMaterial):
            asymmetric.check_algorithm(spec, alg)


@pytest.mark.parametrize(
    ("spec", "fips", "non_fips"),
    [
        (KeySpec(Kind.RSA, 2048), True, True),
        (KeySpec(Kind.RSA, 3072), True, True),
        (KeySpec(Kind.RSA, 4096), True, True),
        (KeySpec(Kind.RSA, 1024), False, True),
        (KeySpec(Kind.RSA, 2560), False, True),  # held yes, generated no (FIPS 186-5 sizes)
        (KeySpec(Kind.RSA, 32768), False, False),
        (SPECS["p256"], True, True),
        (SPECS["p521"], True, True),
        (SPECS["ed25519"], True, True),
        (SPECS["x25519"], True, True),
        (SPECS["ed448"], False, True),
        (SPECS["x448"], False, True),
        (SPECS["secp256k1"], False, True),
    ],
)
def test_policy_generation(spec: KeySpec, fips: bool, non_fips: bool) -> None:
    for policy, allowed in ((Policy(), fips), (Policy(non_fips=True), non_fips)):
        if allowed:
            asymmetric.check_policy(policy, spec, generate=True)
        else:
            with pytest.raises(KmipError) as err:
                asymmetric.check_policy(policy, spec, generate=True)
            assert err.value.reason == ResultReason.INVALID_FIELD
            if not policy.non_fips and spec.bits <= 16384:
                assert "FIPS policy" in err.value.message


def test_policy_holding_rsa() -> None:
    Policy().check_rsa(2560)  # registering a 2560-bit key is fine: >= 2048
    with pytest.raises(KmipError, match="FIPS policy"):
        Policy().check_rsa(1024)
