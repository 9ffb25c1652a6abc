"""KMIP credentials: the request header's Authentication structure.

Theory of operation: a request header may carry ``Authentication`` with one
or more ``Credential`` structures (Credential Type + Credential Value).
This module turns them into small value objects and knows nothing about
checking them (:mod:`.authenticator` does).  Supported:

* **Username and Password** (type 1): ``Username`` (Text String) and
  ``Password`` (Text String).  The password is checked against the user
  list or the API tokens; **a JWT travels as the Password** (PyKMIP's
  ``ProxyKmipClient(username=..., password=<jwt>)`` and most other clients
  can send only this credential type).  With a JWT the Username must be the
  token's identity or the literal ``jwt``.

Every other type — Device (2), Attestation (3), and the 2.x One Time
Password (4), Hashed Password (5) and Ticket (6), or an unknown value — is
refused with Permission Denied: the server has no device registry, no
attestation verifier and no one-time-password store, and accepting a
credential it cannot check would be worse than saying so.
"""

from __future__ import annotations

from dataclasses import dataclass

from kmsd.kmip import tags
from ttlv import Item, ItemType

from .errors import AuthenticationFailed

USERNAME_AND_PASSWORD = 0x00000001
CREDENTIAL_TYPE_NAMES = {
    0x00000001: "Username and Password",
    0x00000002: "Device",
    0x00000003: "Attestation",
    0x00000004: "One Time Password",
    0x00000005: "Hashed Password",
    0x00000006: "Ticket",
}
#: The Username that says "the password is a JWT; take the identity from it".
JWT_USERNAME = "jwt"
#: A request carrying more credentials than this is refused unread.
MAX_CREDENTIALS = 4


@dataclass(frozen=True, slots=True)
class UsernamePassword:
    username: str
    password: str = ""

    def __repr__(self) -> str:  # never show the password, even in a traceback
        return f"UsernamePassword(username={self.username!r}, password=***)"


def parse_authentication(item: Item | None) -> list[UsernamePassword]:
    """The credentials of an Authentication structure (empty if there is none).

    :class:`AuthenticationFailed` for a malformed or unsupported credential.
    """
    if item is None:
        return []
    if item.type is not ItemType.STRUCTURE:
        raise AuthenticationFailed("Authentication is not a structure")
    credentials = item.find_all(tags.Credential)
    if not credentials:
        raise AuthenticationFailed("Authentication without a Credential")
    if len(credentials) > MAX_CREDENTIALS:
        raise AuthenticationFailed(f"more than {MAX_CREDENTIALS} credentials")
    return [_credential(c) for c in credentials]


def _credential(item: Item) -> UsernamePassword:
    kind = item.get(tags.CredentialType)
    if not isinstance(kind, int):
        raise AuthenticationFailed("Credential without a Credential Type")
    if kind != USERNAME_AND_PASSWORD:
        name = CREDENTIAL_TYPE_NAMES.get(kind, f"unknown type {kind:#x}")
        raise AuthenticationFailed(f"{name} credentials are not supported")
    value = item.find(tags.CredentialValue)
    if value is None or value.type is not ItemType.STRUCTURE:
        raise AuthenticationFailed("Username and Password credential without a structured Credential Value")
    username = value.get(tags.Username)
    password = value.get(tags.Password)
    if not isinstance(username, str) or not username:
        raise AuthenticationFailed("Username and Password credential without a Username")
    if password is not None and not isinstance(password, str):
        raise AuthenticationFailed("Password is not a Text String")
    return UsernamePassword(username, password or "")
