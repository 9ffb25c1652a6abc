"""Identities and the permission check.

Theory of operation: a caller is a user name (a string).  The transport
(:mod:`kmsd.server.kmip_listener`, later the HTTP listener) knows what the
TLS layer proved — a verified client certificate, if any — and puts it in a
:class:`kmsd.server.peer.Peer`.  The message layer then hands that peer and
whatever the request itself carries (the KMIP request header's
Authentication structure, an HTTP ``Authorization: Bearer`` header) to one
:class:`~kmsd.auth.authenticator.Authenticator`, which returns the user name
or raises :class:`~kmsd.auth.errors.AuthenticationFailed`.  Nothing below
the authenticator ever sees a secret; nothing above it ever sees why an
authentication failed (the client only ever learns "authentication
failed").

Modules:

* :mod:`.identity` — user names from client certificates (CN, SAN e-mail, SAN URI).
* :mod:`.passwords` — salted password hashes (scrypt) and the user list file;
  API tokens (SHA-256 digests, compared in constant time).
* :mod:`.jwt_auth` — JWT bearer tokens from one or more OIDC identity
  providers, with a JWKS cache refreshed on an unknown ``kid``.
* :mod:`.credentials` — the KMIP Credential structures of a request header.
* :mod:`.authenticator` — combining methods (``--auth-mode any|cert-and-token``,
  ``--insecure``) and building all of it from the server configuration.
* :mod:`.access` — per-object grants and privileged users: the one
  implementation that KMIP (:mod:`kmsd.ops.access`) and HTTP both call.
"""
