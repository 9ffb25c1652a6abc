"""PyKMIP's ProxyKmipClient signs, verifies and RSA-encrypts through a real
``kmsd serve`` over TLS, at KMIP 1.2 and 2.0 (issue 6's interoperability evidence)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from .server_process import RunningServer

kmip = pytest.importorskip("kmip", reason="PyKMIP is a test dependency (pip install -e .[test])")

from kmip import enums  # noqa: E402

from .test_pykmip_interop import VERSIONS, client  # noqa: E402

SIGN = [enums.CryptographicUsageMask.SIGN]
VERIFY = [enums.CryptographicUsageMask.VERIFY]
ENCRYPT = [enums.CryptographicUsageMask.ENCRYPT]
DECRYPT = [enums.CryptographicUsageMask.DECRYPT]


@pytest.mark.parametrize("version", VERSIONS, ids=["1.2", "2.0"])
def test_rsa_pss_sign_verify(kmsd_server: RunningServer, version: enums.KMIPVersion) -> None:
    params = {
        "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA,
        "padding_method": enums.PaddingMethod.PSS,
        "hashing_algorithm": enums.HashingAlgorithm.SHA_256,
    }
    with client(kmsd_server, version) as c:
        public, private = c.create_key_pair(
            enums.CryptographicAlgorithm.RSA, 2048, public_usage_mask=VERIFY, private_usage_mask=SIGN
        )
        c.activate(public)
        c.activate(private)
        signature = c.sign(b"signed by pykmip", uid=private, cryptographic_parameters=params)
        assert c.signature_verify(b"signed by pykmip", signature, uid=public, cryptographic_parameters=params) == (
            enums.ValidityIndicator.VALID
        )
        tampered = bytes([signature[0] ^ 1]) + signature[1:]
        assert c.signature_verify(b"signed by pykmip", tampered, uid=public, cryptographic_parameters=params) == (
            enums.ValidityIndicator.INVALID
        )
        # The same signature checks outside the server.
        der = c.get(public, key_wrapping_specification=None).value
        key = serialization.load_der_public_key(der)
        pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)
        key.verify(signature, b"signed by pykmip", pss, hashes.SHA256())  # type: ignore[union-attr, call-arg, arg-type]


@pytest.mark.parametrize("version", VERSIONS, ids=["1.2", "2.0"])
def test_ecdsa_p256_sign_verify(kmsd_server: RunningServer, version: enums.KMIPVersion) -> None:
    params = {"digital_signature_algorithm": enums.DigitalSignatureAlgorithm.ECDSA_WITH_SHA256}
    with client(kmsd_server, version) as c:
        public, private = c.create_key_pair(
            enums.CryptographicAlgorithm.ECDSA, 256, public_usage_mask=VERIFY, private_usage_mask=SIGN
        )
        c.activate(public)
        c.activate(private)
        signature = c.sign(b"ecdsa via pykmip", uid=private, cryptographic_parameters=params)
        assert c.signature_verify(b"ecdsa via pykmip", signature, uid=public, cryptographic_parameters=params) == (
            enums.ValidityIndicator.VALID
        )
        assert c.signature_verify(b"other data", signature, uid=public, cryptographic_parameters=params) == (
            enums.ValidityIndicator.INVALID
        )
        key = serialization.load_der_public_key(c.get(public).value)
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(signature, b"ecdsa via pykmip", ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("version", VERSIONS, ids=["1.2", "2.0"])
def test_rsa_oaep_encrypt_decrypt(kmsd_server: RunningServer, version: enums.KMIPVersion) -> None:
    params = {
        "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA,
        "padding_method": enums.PaddingMethod.OAEP,
        "hashing_algorithm": enums.HashingAlgorithm.SHA_256,
    }
    with client(kmsd_server, version) as c:
        public, private = c.create_key_pair(
            enums.CryptographicAlgorithm.RSA, 2048, public_usage_mask=ENCRYPT, private_usage_mask=DECRYPT
        )
        c.activate(public)
        c.activate(private)
        ciphertext, _ = c.encrypt(b"wrapped secret", uid=public, cryptographic_parameters=params)
        assert len(ciphertext) == 256
        assert c.decrypt(ciphertext, uid=private, cryptographic_parameters=params) == b"wrapped secret"
