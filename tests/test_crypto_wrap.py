"""Key wrapping primitives: RFC known answers, openssl cross-checks, bad input."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import rsa

from kmsd.crypto import wrap
from kmsd.crypto.errors import CryptographicFailure, MalformedMaterial
from kmsd.kmip.enums import ResultReason

H = bytes.fromhex

# RFC 3394 section 4: (KEK, key data, ciphertext).
RFC3394 = [
    (
        "000102030405060708090A0B0C0D0E0F",
        "00112233445566778899AABBCCDDEEFF",
        "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5",
    ),
    (
        "000102030405060708090A0B0C0D0E0F1011121314151617",
        "00112233445566778899AABBCCDDEEFF",
        "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D",
    ),
    (
        "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
        "00112233445566778899AABBCCDDEEFF",
        "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7",
    ),
    (
        "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
        "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
        "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
    ),
]
# RFC 5649 section 6.
RFC5649 = [
    (
        "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8",
        "c37b7e6492584340bed12207808941155068f738",
        "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
    ),
    ("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"),
]


@pytest.mark.parametrize(("kek", "key", "wrapped"), RFC3394)
def test_rfc3394_known_answers(kek: str, key: str, wrapped: str) -> None:
    assert wrap.aes_key_wrap(H(kek), H(key)) == H(wrapped)
    assert wrap.aes_key_unwrap(H(kek), H(wrapped)) == H(key)


@pytest.mark.parametrize(("kek", "key", "wrapped"), RFC5649)
def test_rfc5649_known_answers(kek: str, key: str, wrapped: str) -> None:
    assert wrap.aes_key_wrap_pad(H(kek), H(key)) == H(wrapped)
    assert wrap.aes_key_unwrap_pad(H(kek), H(wrapped)) == H(key)


def test_aes_wrap_bad_input() -> None:
    kek = bytes(16)
    for bad_kek in (b"", bytes(15), bytes(64)):
        with pytest.raises(MalformedMaterial, match="16, 24 or 32"):
            wrap.aes_key_wrap(bad_kek, bytes(16))
    with pytest.raises(MalformedMaterial, match="use KWP"):
        wrap.aes_key_wrap(kek, bytes(20))
    with pytest.raises(MalformedMaterial):
        wrap.aes_key_wrap(kek, bytes(8))
    with pytest.raises(MalformedMaterial):
        wrap.aes_key_unwrap(kek, bytes(20))
    with pytest.raises(MalformedMaterial):
        wrap.aes_key_wrap_pad(kek, b"")
    tampered = bytearray(H(RFC3394[0][2]))
    tampered[-1] ^= 1
    with pytest.raises(CryptographicFailure) as err:
        wrap.aes_key_unwrap(H(RFC3394[0][0]), bytes(tampered))
    assert err.value.reason == ResultReason.CRYPTOGRAPHIC_FAILURE
    with pytest.raises(CryptographicFailure):  # the wrong KEK
        wrap.aes_key_unwrap_pad(bytes(24), H(RFC5649[0][2]))


RSA_KEY = rsa.generate_private_key(65537, 2048)


@pytest.mark.parametrize("hash_name", sorted(wrap.OAEP_HASHES))
def test_rsa_oaep_round_trip(hash_name: str) -> None:
    key = bytes(range(32))
    wrapped = wrap.rsa_oaep_wrap(RSA_KEY.public_key(), key, hash_name)
    assert len(wrapped) == 256
    assert wrap.rsa_oaep_unwrap(RSA_KEY, wrapped, hash_name) == key
    with pytest.raises(CryptographicFailure):  # a different hash does not decode
        wrap.rsa_oaep_unwrap(RSA_KEY, wrapped, "SHA-512" if hash_name != "SHA-512" else "SHA-1")


def test_rsa_oaep_limits() -> None:
    public = RSA_KEY.public_key()
    assert wrap.oaep_capacity(public, "SHA-256") == 256 - 2 * 32 - 2
    with pytest.raises(MalformedMaterial, match="AES-KWP"):
        wrap.rsa_oaep_wrap(public, bytes(191))
    with pytest.raises(MalformedMaterial):
        wrap.rsa_oaep_wrap(public, bytes(16), "MD5")
    with pytest.raises(MalformedMaterial):
        wrap.rsa_oaep_unwrap(RSA_KEY, bytes(255))


def test_rsa_aes_kwp_round_trip() -> None:
    big = rsa.generate_private_key(65537, 2048).private_bytes(
        ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption()
    )  # a payload far larger than one RSA block
    wrapped = wrap.rsa_aes_kwp_wrap(RSA_KEY.public_key(), big)
    assert wrap.rsa_aes_kwp_unwrap(RSA_KEY, wrapped) == big
    with pytest.raises(CryptographicFailure):
        wrap.rsa_aes_kwp_unwrap(RSA_KEY, wrapped[:-8] + bytes(8))
    with pytest.raises(MalformedMaterial):
        wrap.rsa_aes_kwp_unwrap(RSA_KEY, wrapped[:256])


OPENSSL = shutil.which("openssl")


@pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")
def test_rsa_oaep_interoperates_with_openssl(tmp_path: Path) -> None:
    """openssl encrypts with OAEP/SHA-256; we unwrap (an independent implementation)."""
    assert OPENSSL is not None
    pub = tmp_path / "pub.pem"
    pub.write_bytes(RSA_KEY.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo))
    plain = tmp_path / "key.bin"
    plain.write_bytes(bytes(range(32)))
    out = tmp_path / "wrapped.bin"
    done = subprocess.run(
        [
            OPENSSL, "pkeyutl", "-encrypt", "-pubin", "-inkey", str(pub), "-in", str(plain), "-out", str(out),
            "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256",
        ],
        capture_output=True,
        check=False,
        timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert wrap.rsa_oaep_unwrap(RSA_KEY, out.read_bytes(), "SHA-256") == bytes(range(32))
