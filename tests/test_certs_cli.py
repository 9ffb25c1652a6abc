"""``kmsd certs client`` and ``kmsd certs sign-csr``."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kmsd.cli import main
from kmsd.server.certs import PKCS12_PASSWORD, ensure_dev_pki
from kmsd.server.tls import identity_from_certificate


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    ensure_dev_pki(tmp_path / "data")
    return tmp_path / "data"


def _ca(data_dir: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((data_dir / "certs" / "ca.pem").read_bytes())


def _issued_by_ca(cert: x509.Certificate, ca: x509.Certificate) -> None:
    public = ca.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert cert.signature_hash_algorithm is not None
    public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)


def _csr(cn_values: list[str], key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, *, ca: bool = False) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, v) for v in cn_values])
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def test_client_command(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["certs", "client", "dora", "--out", str(out), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert str(out / "dora.pem") in result.output
    cert = x509.load_pem_x509_certificate((out / "dora.pem").read_bytes())
    assert identity_from_certificate(cert.public_bytes(serialization.Encoding.DER)) == "dora"
    _issued_by_ca(cert, _ca(data_dir))
    assert stat.S_IMODE((out / "dora.key").stat().st_mode) == 0o600
    key, p12_cert, _ = pkcs12.load_key_and_certificates((out / "dora.p12").read_bytes(), PKCS12_PASSWORD.encode())
    assert key is not None and p12_cert == cert
    # Never overwrites; bad names refused.
    again = CliRunner().invoke(main, ["certs", "client", "dora", "--out", str(out), "--data-dir", str(data_dir)])
    assert again.exit_code != 0 and "already exist" in again.output
    bad = CliRunner().invoke(main, ["certs", "client", "../evil", "--out", str(out), "--data-dir", str(data_dir)])
    assert bad.exit_code != 0


def test_client_command_default_out_dir(data_dir: Path) -> None:
    result = CliRunner().invoke(main, ["certs", "client", "eve", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert (data_dir / "clients" / "eve.pem").exists()


def test_client_command_without_ca(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["certs", "client", "x", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code != 0 and "no development CA" in result.output


def test_sign_csr(data_dir: Path, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = tmp_path / "frank.csr"
    csr.write_bytes(_csr(["frank"], key, ca=True))  # asks to be a CA: ignored
    out = tmp_path / "frank.pem"
    args = ["certs", "sign-csr", str(csr), "--out", str(out), "--data-dir", str(data_dir)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    cert = x509.load_pem_x509_certificate(out.read_bytes())
    _issued_by_ca(cert, _ca(data_dir))
    assert cert.subject.rfc4514_string() == "CN=frank"
    assert cert.public_key() == key.public_key()
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    again = CliRunner().invoke(main, args)
    assert again.exit_code != 0 and "already exists" in again.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda: _csr(["a", "b"], ec.generate_private_key(ec.SECP256R1())), "2 CNs"),
        (lambda: _csr(["weak"], rsa.generate_private_key(public_exponent=65537, key_size=1024)), "2048"),
        (lambda: b"not a csr", "not a certificate signing request"),
    ],
)
def test_sign_csr_refusals(data_dir: Path, tmp_path: Path, content: object, message: str) -> None:
    csr = tmp_path / "x.csr"
    csr.write_bytes(content())  # type: ignore[operator]
    result = CliRunner().invoke(
        main, ["certs", "sign-csr", str(csr), "--out", str(tmp_path / "x.pem"), "--data-dir", str(data_dir)]
    )
    assert result.exit_code != 0 and message in result.output
    assert not (tmp_path / "x.pem").exists()


def test_sign_csr_with_bad_signature(data_dir: Path, tmp_path: Path) -> None:
    pem = _csr(["gina"], ec.generate_private_key(ec.SECP256R1()))
    der = bytearray(x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01  # inside the signature
    csr = tmp_path / "g.csr"
    csr.write_bytes(bytes(der))
    result = CliRunner().invoke(
        main, ["certs", "sign-csr", str(csr), "--out", str(tmp_path / "g.pem"), "--data-dir", str(data_dir)]
    )
    assert result.exit_code != 0
