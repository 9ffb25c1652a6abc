"""Known answers for signature verification: NIST CAVP SigVer vectors (FIPS 186-3)
from ``cryptography_vectors``, through the server's own Register and Signature
Verify handlers.

Each vector is one request of two batch items: Register the public key (X.509
SubjectPublicKeyInfo), then Signature Verify with the ID Placeholder and the
vector's message and signature.  A vector marked P must come back Valid, one
marked F Invalid — or, when its corruption is in the key itself ("Q changed",
"e changed") and makes it no key at all, the Register refused as Invalid
Field.  Vectors the FIPS policy allows (RSA >= 2048 bits, P-256/384/521, SHA-2)
run against a FIPS server; the rest (RSA-1024/1536, P-192/224, SHA-1) against
a non-FIPS one, and a sample of them is checked to be refused by the FIPS one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils

from kmsd.crypto.policy import Policy
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.kmip.enums import (
    DigitalSignatureAlgorithm,
    HashingAlgorithm,
    KeyFormatType,
    ObjectType,
    Operation,
    PaddingMethod,
    ResultReason,
    ResultStatus,
    ValidityIndicator,
)
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.store.factory import open_store
from ttlv import Item, ItemType

from .kmip_builders import Response, bstr, enum, integer, s, tag
from .test_nist_vectors import Vector, hx, load, run

HASHES = {
    "SHA1": HashingAlgorithm.SHA_1,
    "SHA224": HashingAlgorithm.SHA_224,
    "SHA256": HashingAlgorithm.SHA_256,
    "SHA384": HashingAlgorithm.SHA_384,
    "SHA512": HashingAlgorithm.SHA_512,
}
CURVES: dict[str, ec.EllipticCurve] = {
    "P-192": ec.SECP192R1(),
    "P-224": ec.SECP224R1(),
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}
FIPS_CURVES = frozenset({"P-256", "P-384", "P-521"})
COUNTS: dict[str, int] = {}


@pytest.fixture(scope="module")
def executor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Executor]:
    store = open_store("sqlite", str(tmp_path_factory.mktemp("asym") / "kms.db"))
    yield Executor(store, ExecutorSettings())
    store.close()


@pytest.fixture(scope="module")
def nonfips(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Executor]:
    store = open_store("sqlite", str(tmp_path_factory.mktemp("asym-nf") / "kms.db"))
    yield Executor(store, ExecutorSettings(policy=Policy(non_fips=True)))
    store.close()


def register_public(der: bytes) -> tuple[Operation, list[Item]]:
    attrs = s(
        "Attributes",
        integer("Cryptographic Usage Mask", Mask.VERIFY),
        Item(tag("Activation Date"), ItemType.DATE_TIME, datetime.now(UTC) - timedelta(hours=1)),
    )
    block = s("Key Block", enum("Key Format Type", KeyFormatType.X_509), s("Key Value", bstr("Key Material", der)))
    return Operation.REGISTER, [enum("Object Type", ObjectType.PUBLIC_KEY), attrs, s("Public Key", block)]


def spki(public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check(ex: Executor, der: bytes | None, p: Item, msg: bytes, signature: bytes, v: Vector) -> Response | None:
    expected_ok = v["RESULT"].startswith("P")
    if der is None:  # the corrupted key is not a key: cryptography refuses to build it
        assert not expected_ok, v
        return None
    verify = (Operation.SIGNATURE_VERIFY, [p, bstr("Data", msg), bstr("Signature Data", signature)])
    r = run(ex, register_public(der), verify)
    if r.status(0) != ResultStatus.SUCCESS:
        assert not expected_ok and r.reason(0) == ResultReason.INVALID_FIELD, (v, r.message(0))
        return r
    assert r.status(1) == ResultStatus.SUCCESS, (v, r.message(1))
    want = ValidityIndicator.VALID if expected_ok else ValidityIndicator.INVALID
    assert r.get("Validity Indicator", 1) == want, v
    return r


def _rsa_der(v: Vector) -> bytes | None:
    try:
        return spki(rsa.RSAPublicNumbers(int(v["E"], 16), int(v["N"], 16)).public_key())
    except ValueError:
        return None


def _fips_rsa(v: Vector) -> bool:
    return int(v["MOD"]) >= 2048 and v["SHAALG"] != "SHA1"


@pytest.mark.parametrize(("path", "pad"), [("SigVerPSS_186-3.rsp", "pss"), ("SigVer15_186-3.rsp", "pkcs1")])
def test_rsa_sigver(executor: Executor, nonfips: Executor, path: str, pad: str) -> None:
    vectors = load(f"asymmetric/RSA/FIPS_186-2/{path}")
    n_value = ""
    done = refused = 0
    for v in vectors:
        n_value = v.get("N", n_value)
        if "MSG" not in v:
            continue
        v = {**v, "N": n_value}
        hashing = HASHES[v["SHAALG"]]
        if pad == "pss":
            salt = len(hx(v["SALTVAL"])) if v.get("SALTVAL", "00") != "00" else 0
            p = s(
                "Cryptographic Parameters",
                enum("Padding Method", PaddingMethod.PSS),
                enum("Hashing Algorithm", hashing),
                enum("Mask Generator Hashing Algorithm", hashing),
                integer("Salt Length", salt),
            )
        else:
            p = s(
                "Cryptographic Parameters",
                enum("Padding Method", PaddingMethod.PKCS1_V1_5),
                enum("Hashing Algorithm", hashing),
            )
        fips = _fips_rsa(v)
        check(executor if fips else nonfips, _rsa_der(v), p, hx(v["MSG"]), hx(v["S"]), v)
        done += 1
        if not fips and refused < 5 and v["RESULT"].startswith("P") and (der := _rsa_der(v)) is not None:
            r = run(
                executor,
                register_public(der),
                (Operation.SIGNATURE_VERIFY, [p, bstr("Data", b"x"), bstr("Signature Data", b"x")]),
            )
            assert r.status(0) != ResultStatus.SUCCESS or r.status(1) != ResultStatus.SUCCESS
            refused += 1
    assert done == 450
    COUNTS[path] = done


def test_ecdsa_sigver(executor: Executor, nonfips: Executor) -> None:
    done = 0
    for v in load("asymmetric/ECDSA/FIPS_186-3/SigVer.rsp"):
        curve_name, _, hash_name = v["SECTION"].partition(",")
        if curve_name not in CURVES:
            continue  # binary (K-, B-) curves are not supported
        hashing = HASHES[hash_name.replace("-", "")]
        try:
            public = ec.EllipticCurvePublicNumbers(int(v["QX"], 16), int(v["QY"], 16), CURVES[curve_name]).public_key()
            der: bytes | None = spki(public)
        except ValueError:
            der = None
        signature = utils.encode_dss_signature(int(v["R"], 16), int(v["S"], 16))
        p = s("Cryptographic Parameters", enum("Hashing Algorithm", hashing))
        fips = curve_name in FIPS_CURVES and hashing != HashingAlgorithm.SHA_1
        check(executor if fips else nonfips, der, p, hx(v["MSG"]), signature, v)
        done += 1
    assert done == 375
    COUNTS["ecdsa"] = done


def test_ecdsa_named_signature_algorithm(executor: Executor) -> None:
    """The same vectors named by Digital Signature Algorithm instead of a hash (P-256, SHA-256)."""
    by_name = {
        "SHA-256": DigitalSignatureAlgorithm.ECDSA_WITH_SHA256,
        "SHA-384": DigitalSignatureAlgorithm.ECDSA_WITH_SHA384,
    }
    done = 0
    for v in load("asymmetric/ECDSA/FIPS_186-3/SigVer.rsp"):
        curve_name, _, hash_name = v["SECTION"].partition(",")
        if curve_name not in FIPS_CURVES or hash_name not in by_name:
            continue
        try:
            public = ec.EllipticCurvePublicNumbers(int(v["QX"], 16), int(v["QY"], 16), CURVES[curve_name]).public_key()
            der: bytes | None = spki(public)
        except ValueError:
            der = None
        signature = utils.encode_dss_signature(int(v["R"], 16), int(v["S"], 16))
        p = s("Cryptographic Parameters", enum("Digital Signature Algorithm", by_name[hash_name]))
        check(executor, der, p, hx(v["MSG"]), signature, v)
        done += 1
    assert done == 90


def test_total_asymmetric_vector_count() -> None:
    """At least a few hundred vectors ran (when the whole module ran)."""
    if len(COUNTS) == 3:
        assert sum(COUNTS.values()) >= 1000
