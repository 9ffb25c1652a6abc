"""The authentication layer's error: one type, one public message.

:class:`AuthenticationFailed` carries a private ``reason`` for the server's
log (never containing a secret) and a public message that is always the same,
so a client cannot tell a wrong password from an unknown user, an expired
token from a badly signed one, or a missing second factor from a wrong one.
"""

from __future__ import annotations

#: The only thing a client is ever told about a failed authentication.
PUBLIC_MESSAGE = "authentication failed"


class AuthenticationFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # for the log only

    @property
    def public_message(self) -> str:
        return PUBLIC_MESSAGE


class AuthConfigError(Exception):
    """An authentication file or setting cannot be used (raised at start-up)."""
