"""User names from verified client certificates.

Theory of operation: the TLS layer has already verified the chain against
the client CA bundle (several CAs may be trusted: put them all in the one
``--client-ca`` PEM file).  What remains is to read *one* name from the
leaf, according to ``--client-identity``:

* ``cn`` (default): the subject Common Name — what PyKMIP and most KMIP
  clients are issued;
* ``san-email``: the subjectAltName rfc822Name (e-mail), matching the
  ``email`` claim of the JWTs the same users present over HTTP;
* ``san-uri``: the subjectAltName URI (SPIFFE IDs and the like).

A certificate that carries none, or several, of the chosen kind identifies
nobody for sure: :class:`~kmsd.server.tls.IdentityError` is raised and the
listener refuses the connection rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509

from kmsd.server.tls import IdentityError, identity_from_certificate

CLIENT_IDENTITY_SOURCES = ("cn", "san-email", "san-uri")

IdentityFunction = Callable[[bytes], str]


def _from_san(kind: type[x509.RFC822Name] | type[x509.UniformResourceIdentifier], what: str) -> IdentityFunction:
    def identify(der: bytes) -> str:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            raise IdentityError(f"unreadable client certificate: {exc}") from exc
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            raise IdentityError(f"client certificate has no subjectAltName (expected one {what})") from None
        values = [str(v) for v in san.get_values_for_type(kind)]
        if len(values) != 1 or not values[0]:
            raise IdentityError(f"client certificate has {len(values)} SAN {what}s, expected exactly one")
        return values[0]

    return identify


_SOURCES: dict[str, IdentityFunction] = {
    "cn": identity_from_certificate,
    "san-email": _from_san(x509.RFC822Name, "e-mail"),
    "san-uri": _from_san(x509.UniformResourceIdentifier, "URI"),
}


def certificate_identity(source: str) -> IdentityFunction:
    """The function that reads a user name from a DER certificate for ``--client-identity``."""
    try:
        return _SOURCES[source]
    except KeyError:
        raise ValueError(f"unknown client identity source {source!r}; use one of {CLIENT_IDENTITY_SOURCES}") from None
