"""Composition root: build the message processor the listeners call."""

from __future__ import annotations

from typing import Any

from kmsd.kmip.processor import MessageProcessor
from kmsd.store.base import Store


def build_processor(
    config: Any, store: Store, *, authenticator: Any = None, observer: Any = None
) -> MessageProcessor:
    """The KMIP processor for a server configuration and an open store.

    ``authenticator`` (a :class:`kmsd.auth.authenticator.Authenticator`) is built
    from ``config`` when not given.
    """
    import ttlv
    from kmsd import __version__
    from kmsd.auth.access import AccessPolicy
    from kmsd.auth.authenticator import build_authenticator
    from kmsd.crypto.policy import Policy
    from kmsd.ops import kek
    from kmsd.ops.context import ServerInfo
    from kmsd.ops.executor import Executor, ExecutorSettings

    max_size = getattr(config, "max_message_size", None) or ttlv.DEFAULT_LIMITS.max_size
    policy = Policy(non_fips=bool(getattr(config, "non_fips", False)))
    # --key-encryption-key: checked, and every row sealed under it, before the
    # first request (kek.KekConfigError when it names no usable key).
    at_rest = kek.configure(store, getattr(config, "key_encryption_key", None), policy)
    settings = ExecutorSettings(
        policy=policy,
        at_rest=at_rest,
        unique_names=bool(getattr(config, "unique_names", False)),
        info=ServerInfo(version=__version__),
        # Callers are identified by kmsd.auth (certificate, credentials, --insecure).
        default_user=None,
        limits=ttlv.Limits(max_size=max_size),
        authenticator=authenticator if authenticator is not None else build_authenticator(config),
        access=AccessPolicy(frozenset(getattr(config, "privileged_users", None) or ())),
        observer=observer,  # audit and metrics (kmsd.audit.observer.ServerObserver)
    )
    return Executor(store, settings)
