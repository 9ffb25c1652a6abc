"""KMIP tags by CamelCase name: ``tags.UniqueIdentifier`` -> 0x420094.

Resolved from the ttlv registry on first use and cached in this module's
namespace, so a misspelt name fails loudly (at import of the using module
when used at module level, or in the first test that reaches it).
"""

from __future__ import annotations

from ttlv import REGISTRY


def __getattr__(name: str) -> int:
    if name.startswith("__"):
        raise AttributeError(name)
    value = REGISTRY.tag(name)
    globals()[name] = value
    return value
