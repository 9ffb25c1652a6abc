"""Check weighs a wanted Usage Limits Count and Lease Time against what the object allows (2.1 §6.1.7)."""

from __future__ import annotations

import pytest

from kmsd.kmip.enums import Operation, ResultReason
from kmsd.ops.executor import Executor
from kmsd.ops.newobject import DEFAULT_LEASE_SECONDS
from ttlv import REGISTRY, Item, ItemType

from .test_lease_notify_put import V21, Version, call, executor, failed, long, ok, register, remaining, uid_item
from .test_lease_notify_put import usage_limits as limits_item

__all__ = ["executor"]  # the fixture, used by name
PERMISSION_DENIED = ResultReason.PERMISSION_DENIED


def _lease(seconds: int) -> Item:
    return Item(REGISTRY.tag("Lease Time"), ItemType.INTERVAL, seconds)


@pytest.mark.parametrize("version", [(1, 2), (1, 4), V21])
def test_check_usage_limits_count(executor: Executor, version: Version) -> None:
    uid = register(executor, version, limits_item(1000))
    ok(call(executor, version, Operation.GET_USAGE_ALLOCATION, uid_item(uid), long("Usage Limits Count", 700)))
    r = ok(call(executor, version, Operation.CHECK, uid_item(uid), long("Usage Limits Count", 300)))
    assert r.get("Unique Identifier") == uid
    over = ResultReason.USAGE_LIMIT_EXCEEDED if version >= (2, 0) else ResultReason.PERMISSION_DENIED
    failed(call(executor, version, Operation.CHECK, uid_item(uid), long("Usage Limits Count", 301)), over)
    assert remaining(executor, uid) == 300  # Check allocates nothing


def test_check_lease_time(executor: Executor) -> None:
    uid = register(executor, V21)  # Lease Time is the server's: DEFAULT_LEASE_SECONDS
    ok(call(executor, V21, Operation.CHECK, uid_item(uid), _lease(DEFAULT_LEASE_SECONDS)))
    longer = call(executor, V21, Operation.CHECK, uid_item(uid), _lease(DEFAULT_LEASE_SECONDS + 1))
    r = failed(longer, PERMISSION_DENIED)
    assert str(DEFAULT_LEASE_SECONDS) in (r.message() or "")


def test_check_without_limits_accepts_any_count(executor: Executor) -> None:
    uid = register(executor, V21)
    ok(call(executor, V21, Operation.CHECK, uid_item(uid), long("Usage Limits Count", 10**9)))
