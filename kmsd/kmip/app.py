"""Composition root: build the message processor the listeners call."""

from __future__ import annotations

from typing import Any

from kmsd.kmip.processor import MessageProcessor
from kmsd.store.base import Store


def build_processor(config: Any, store: Store) -> MessageProcessor:
    """The KMIP processor for a server configuration and an open store."""
    import ttlv
    from kmsd import __version__
    from kmsd.crypto.policy import Policy
    from kmsd.ops.context import ServerInfo
    from kmsd.ops.executor import Executor, ExecutorSettings

    max_size = getattr(config, "max_message_size", None) or ttlv.DEFAULT_LIMITS.max_size
    settings = ExecutorSettings(
        policy=Policy(non_fips=bool(getattr(config, "non_fips", False))),
        info=ServerInfo(version=__version__),
        # Every KMIP caller is identified by its client certificate for now; the
        # default user applies only once an unauthenticated mode exists.
        default_user=None,
        limits=ttlv.Limits(max_size=max_size),
    )
    return Executor(store, settings)
