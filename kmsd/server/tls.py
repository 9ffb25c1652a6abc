"""TLS contexts for the KMIP listener (and its tests and tools).

Theory of operation: one :class:`ssl.SSLContext` is built at start-up and
shared by every connection (building one costs ~17 ms; using one costs
nothing).  It speaks TLS 1.2 and 1.3 only, requires a client certificate
that chains to the configured client CA, and offers forward-secret suites
only.  The caller's identity is the subject CN of that certificate: a
verified certificate with no CN, or with several, identifies nobody for
sure, and the listener refuses it rather than guess.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
#: TLS 1.2 suites, best first (TLS 1.3 suites are OpenSSL's defaults, all AEAD).
#: AEAD with ECDHE first.  The CBC-SHA256/384 ECDHE suites stay at the end
#: because PyKMIP's TLS 1.2 suite offers no AEAD suite with an RSA
#: certificate, and KMIP's own TLS 1.2 profile lists them.  No static RSA key
#: exchange, no SHA-1 MACs, no DHE (slow, and finite-field parameters).
TLS12_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-SHA256",
        "ECDHE-RSA-AES128-SHA256",
        "ECDHE-ECDSA-AES256-SHA384",
        "ECDHE-RSA-AES256-SHA384",
    )
)


class TlsConfigError(Exception):
    """A certificate, key or CA file cannot be used."""


class IdentityError(Exception):
    """A verified client certificate does not name exactly one caller."""


def build_server_context(
    cert_chain: Path, key: Path, client_ca: Path, *, require_client_cert: bool = True
) -> ssl.SSLContext:
    """The listener's context: mutual TLS 1.2+ against ``client_ca``.

    ``require_client_cert=False`` (CERT_OPTIONAL) still asks for a certificate
    and still refuses one that does not chain to ``client_ca``, but lets a
    client without one connect: only for authentication by credentials
    (see :mod:`kmsd.auth.authenticator`) or ``--insecure``.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = MINIMUM_VERSION
    ctx.set_ciphers(TLS12_CIPHERS)
    ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION
    try:
        ctx.load_cert_chain(certfile=str(cert_chain), keyfile=str(key))
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigError(f"cannot load server certificate {cert_chain} with key {key}: {exc}") from exc
    try:
        ctx.load_verify_locations(cafile=str(client_ca))
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigError(f"cannot load client CA bundle {client_ca}: {exc}") from exc
    return ctx


def build_client_context(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """A client context that trusts ``ca`` and presents ``cert`` (tests, tools, benchmarks)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = MINIMUM_VERSION
    ctx.load_verify_locations(cafile=str(ca))
    if cert is not None:
        ctx.load_cert_chain(certfile=str(cert), keyfile=None if key is None else str(key))
    return ctx


def identity_from_certificate(der: bytes) -> str:
    """The subject CN of a DER certificate; :class:`IdentityError` unless there is exactly one."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise IdentityError(f"unreadable client certificate: {exc}") from exc
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        raise IdentityError(f"client certificate subject has {len(names)} CNs, expected exactly one")
    value = names[0].value
    cn = value.decode() if isinstance(value, bytes) else value
    if not cn:
        raise IdentityError("client certificate has an empty CN")
    return cn
