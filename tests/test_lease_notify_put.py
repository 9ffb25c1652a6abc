"""Obtain Lease, Get Usage Allocation, and Put / Notify received from a peer
(kmsd.ops.lease, kmsd.ops.notify_put), through the executor in 1.x and 2.x."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from kmsd.auth.access import AccessPolicy
from kmsd.kmip.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    KeyFormatType,
    LinkType,
    ObjectType,
    Operation,
    PutFunction,
    QueryFunction,
    ResultReason,
    ResultStatus,
    RevocationReasonCode,
    State,
    UsageLimitsUnit,
)
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.ops.access import AccessOperation, AccessTag
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.ops.newobject import DEFAULT_LEASE_SECONDS
from kmsd.server.peer import Peer
from kmsd.store import Store
from ttlv import Item, ItemType

from .kmip_builders import Response, attribute_v1, attributes, bstr, enum, integer, request, s, tag, text

ALICE = Peer(identity="alice", address="127.0.0.1:1")
BOB = Peer(identity="bob", address="127.0.0.1:2")
KEY = bytes(range(16))
V1, V14, V21 = (1, 0), (1, 4), (2, 1)
Version = tuple[int, int]


@pytest.fixture
def executor(executor_store: Store) -> Executor:
    return Executor(executor_store, ExecutorSettings())


def call(ex: Executor, version: Version, op: int, *payload: Item, peer: Peer = ALICE) -> Response:
    out = ex.process(request(version, (op, list(payload))), peer)  # type: ignore[arg-type]
    assert out is not None
    return Response(out)


def ok(r: Response) -> Response:
    assert r.status() == ResultStatus.SUCCESS, (r.reason(), r.message())
    return r


def failed(r: Response, reason: int) -> Response:
    assert r.status() == ResultStatus.OPERATION_FAILED, "expected a failure"
    assert r.reason() == reason, (ResultReason(r.reason() or 0).name, r.message())
    return r


def uid_item(uid: str) -> Item:
    return text("Unique Identifier", uid)


def long(name: str, value: int) -> Item:
    return Item(tag(name), ItemType.LONG_INTEGER, value)


def when(name: str, delta: timedelta) -> Item:
    return Item(tag(name), ItemType.DATE_TIME, datetime.now(UTC).replace(microsecond=0) + delta)


def usage_limits(total: int, unit: int = UsageLimitsUnit.BYTE, count: int | None = None) -> Item:
    fields = [long("Usage Limits Total", total)]
    if count is not None:
        fields.append(long("Usage Limits Count", count))
    return s("Usage Limits", *fields, enum("Usage Limits Unit", unit))


def key_block(material: bytes = KEY) -> Item:
    return s(
        "Key Block",
        enum("Key Format Type", KeyFormatType.RAW),
        s("Key Value", bstr("Key Material", material)),
        enum("Cryptographic Algorithm", CryptographicAlgorithm.AES),
        integer("Cryptographic Length", len(material) * 8),
    )


def register(
    ex: Executor,
    version: Version = V21,
    *extra: Item,
    active: bool = True,
    mask: int = Mask.ENCRYPT | Mask.DECRYPT,
    peer: Peer = ALICE,
) -> str:
    attrs = [integer("Cryptographic Usage Mask", mask), *extra]
    if active:
        attrs.append(when("Activation Date", -timedelta(hours=1)))
    r = call(
        ex,
        version,
        Operation.REGISTER,
        enum("Object Type", ObjectType.SYMMETRIC_KEY),
        attributes(version, *attrs),
        s("Symmetric Key", key_block()),
        peer=peer,
    )
    uid = ok(r).get("Unique Identifier")
    assert isinstance(uid, str)
    return uid


def attribute(ex: Executor, uid: str, name: str, peer: Peer = ALICE) -> Item | None:
    """One attribute of ``uid`` in the 2.x shape (None when it has none)."""
    if name.startswith(("x-", "y-")):
        vendor, _, short = name.partition("-")
        ref = s("Attribute Reference", text("Vendor Identification", vendor), text("Attribute Name", short))
    else:
        ref = Item(tag("Attribute Reference"), ItemType.ENUMERATION, tag(name))
    r = ok(call(ex, V21, Operation.GET_ATTRIBUTES, uid_item(uid), ref, peer=peer))
    found = r.payload().find(tag("Attributes"))
    assert found is not None
    return found.children[0] if found.children else None


def remaining(ex: Executor, uid: str) -> int:
    limits = attribute(ex, uid, "Usage Limits")
    assert limits is not None
    count = limits.get(tag("Usage Limits Count"))
    assert isinstance(count, int)
    return count


def grant(ex: Executor, uid: str, user: str, right: str) -> None:
    payload = (
        uid_item(uid),
        Item(AccessTag.ACCESS_USER, ItemType.TEXT_STRING, user),
        Item(AccessTag.ACCESS_RIGHT, ItemType.TEXT_STRING, right),
    )
    ok(call(ex, V21, AccessOperation.GRANT_ACCESS, *payload))


# -- Obtain Lease ---------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [V1, V14, V21])
def test_obtain_lease_grants_the_objects_lease_time_and_last_change(executor: Executor, version: Version) -> None:
    uid = register(executor, version)
    r = ok(call(executor, version, Operation.OBTAIN_LEASE, uid_item(uid)))
    assert r.get("Unique Identifier") == uid
    assert r.get("Lease Time") == DEFAULT_LEASE_SECONDS
    last_change = attribute(executor, uid, "Last Change Date")
    assert last_change is not None and r.get("Last Change Date") == last_change.value


@pytest.mark.parametrize("version", [V1, V21])
def test_no_lease_for_a_compromised_or_destroyed_key(executor: Executor, version: Version) -> None:
    uid = register(executor, version)
    reason = s("Revocation Reason", enum("Revocation Reason Code", RevocationReasonCode.KEY_COMPROMISE))
    compromised = when("Compromise Occurrence Date", timedelta())
    ok(call(executor, version, Operation.REVOKE, uid_item(uid), reason, compromised))
    r = failed(call(executor, version, Operation.OBTAIN_LEASE, uid_item(uid)), ResultReason.PERMISSION_DENIED)
    assert "COMPROMISED" in (r.message() or "")
    ok(call(executor, version, Operation.DESTROY, uid_item(uid)))
    failed(call(executor, version, Operation.OBTAIN_LEASE, uid_item(uid)), ResultReason.PERMISSION_DENIED)


def test_leases_for_pre_active_and_deactivated_keys(executor: Executor) -> None:
    pre_active = register(executor, active=False)
    ok(call(executor, V21, Operation.OBTAIN_LEASE, uid_item(pre_active)))
    uid = register(executor)
    reason = s("Revocation Reason", enum("Revocation Reason Code", RevocationReasonCode.CESSATION_OF_OPERATION))
    ok(call(executor, V21, Operation.REVOKE, uid_item(uid), reason))
    state = attribute(executor, uid, "State")
    assert state is not None and state.value == State.DEACTIVATED
    ok(call(executor, V21, Operation.OBTAIN_LEASE, uid_item(uid)))


def test_obtain_lease_needs_the_get_right(executor: Executor) -> None:
    uid = register(executor)
    failed(call(executor, V21, Operation.OBTAIN_LEASE, uid_item(uid), peer=BOB), ResultReason.OBJECT_NOT_FOUND)
    failed(call(executor, V14, Operation.OBTAIN_LEASE, uid_item("no-such-object")), ResultReason.ITEM_NOT_FOUND)
    grant(executor, uid, "bob", "get")
    ok(call(executor, V21, Operation.OBTAIN_LEASE, uid_item(uid), peer=BOB))


# -- Get Usage Allocation -----------------------------------------------------------------------------
@pytest.mark.parametrize("version", [V1, V14, V21])
def test_allocations_spend_the_usage_limits_count(executor: Executor, version: Version) -> None:
    uid = register(executor, version, usage_limits(1000))
    assert remaining(executor, uid) == 1000  # "the Usage Limits Count is set to the Usage Limits Total"
    count = long("Usage Limits Count", 600)
    r = ok(call(executor, version, Operation.GET_USAGE_ALLOCATION, uid_item(uid), count))
    assert r.get("Unique Identifier") == uid
    assert remaining(executor, uid) == 400
    # As for Encrypt over its limit (the mandatory CS-BC-M-7-21 expects Permission Denied there).
    failed(
        call(executor, version, Operation.GET_USAGE_ALLOCATION, uid_item(uid), count), ResultReason.PERMISSION_DENIED
    )
    assert remaining(executor, uid) == 400  # a refused allocation spends nothing
    ok(call(executor, version, Operation.GET_USAGE_ALLOCATION, uid_item(uid), long("Usage Limits Count", 400)))
    assert remaining(executor, uid) == 0


def test_allocations_and_encryption_share_one_count(executor: Executor) -> None:
    uid = register(executor, V21, usage_limits(32))
    ok(call(executor, V21, Operation.GET_USAGE_ALLOCATION, uid_item(uid), long("Usage Limits Count", 16)))
    p = s("Cryptographic Parameters", enum("Block Cipher Mode", BlockCipherMode.ECB))
    ok(call(executor, V21, Operation.ENCRYPT, uid_item(uid), p, bstr("Data", bytes(16))))
    r = call(executor, V21, Operation.ENCRYPT, uid_item(uid), p, bstr("Data", bytes(16)))
    failed(r, ResultReason.PERMISSION_DENIED)


def test_allocation_request_must_name_a_positive_count(executor: Executor) -> None:
    uid = register(executor, V21, usage_limits(100))
    failed(call(executor, V21, Operation.GET_USAGE_ALLOCATION, uid_item(uid)), ResultReason.INVALID_MESSAGE)
    for bad in (0, -5):
        r = call(executor, V21, Operation.GET_USAGE_ALLOCATION, uid_item(uid), long("Usage Limits Count", bad))
        failed(r, ResultReason.INVALID_FIELD)
    assert remaining(executor, uid) == 100


@pytest.mark.parametrize(
    ("version", "no_limits", "not_protecting"),
    [
        (V21, ResultReason.ATTRIBUTE_NOT_FOUND, ResultReason.INVALID_OBJECT_TYPE),
        (V14, ResultReason.ILLEGAL_OPERATION, ResultReason.ILLEGAL_OPERATION),  # the 1.4 error table
    ],
)
def test_allocation_needs_usage_limits_and_a_protecting_key(
    executor: Executor, version: Version, no_limits: int, not_protecting: int
) -> None:
    count = long("Usage Limits Count", 1)
    unlimited = register(executor, version)
    failed(call(executor, version, Operation.GET_USAGE_ALLOCATION, uid_item(unlimited), count), no_limits)
    decrypt_only = register(executor, version, usage_limits(10), mask=Mask.DECRYPT)
    r = call(executor, version, Operation.GET_USAGE_ALLOCATION, uid_item(decrypt_only), count)
    failed(r, not_protecting)  # processing is never limited, so never allocated


@pytest.mark.parametrize(
    ("version", "reason"), [(V14, ResultReason.PERMISSION_DENIED), (V21, ResultReason.WRONG_KEY_LIFECYCLE_STATE)]
)
def test_allocation_only_while_protection_is_enabled(executor: Executor, version: Version, reason: int) -> None:
    count = long("Usage Limits Count", 1)
    pre_active = register(executor, version, usage_limits(10), active=False)
    failed(call(executor, version, Operation.GET_USAGE_ALLOCATION, uid_item(pre_active), count), reason)
    stopped = register(executor, version, usage_limits(10), when("Protect Stop Date", -timedelta(minutes=1)))
    failed(call(executor, version, Operation.GET_USAGE_ALLOCATION, uid_item(stopped), count), reason)
    assert remaining(executor, pre_active) == 10 and remaining(executor, stopped) == 10


def test_allocation_needs_a_protecting_right(executor: Executor) -> None:
    uid = register(executor, V21, usage_limits(10))
    count = long("Usage Limits Count", 1)
    grant(executor, uid, "bob", "get")
    r = call(executor, V21, Operation.GET_USAGE_ALLOCATION, uid_item(uid), count, peer=BOB)
    failed(r, ResultReason.OBJECT_NOT_FOUND)
    grant(executor, uid, "bob", "encrypt")
    ok(call(executor, V21, Operation.GET_USAGE_ALLOCATION, uid_item(uid), count, peer=BOB))
    assert remaining(executor, uid) == 9


@pytest.mark.parametrize("version", [V1, V14])
def test_added_usage_limits_count_starts_at_total(executor: Executor, version: Version) -> None:
    uid = register(executor, version)
    limits = attribute_v1("Usage Limits", usage_limits(1000, count=5))  # the client's Count is ignored
    r = ok(call(executor, version, Operation.ADD_ATTRIBUTE, uid_item(uid), limits))
    echoed = r.payload().find(tag("Attribute"))
    assert echoed is not None
    value = echoed.find(tag("Attribute Value"))
    assert value is not None and value.get(tag("Usage Limits Count")) == 1000
    assert remaining(executor, uid) == 1000


@pytest.mark.parametrize(
    ("version", "reason"), [(V14, ResultReason.PERMISSION_DENIED), (V21, ResultReason.ATTRIBUTE_READ_ONLY)]
)
def test_usage_limits_frozen_once_spent(executor: Executor, version: Version, reason: int) -> None:
    uid = register(executor, V21, usage_limits(100))
    # Before any use the Total may be corrected, and the Count follows it.
    ok(call(executor, V21, Operation.SET_ATTRIBUTE, uid_item(uid), s("New Attribute", usage_limits(50))))
    assert remaining(executor, uid) == 50
    ok(call(executor, V21, Operation.GET_USAGE_ALLOCATION, uid_item(uid), long("Usage Limits Count", 1)))
    if version >= (2, 0):
        new = s("New Attribute", usage_limits(500))
        failed(call(executor, version, Operation.MODIFY_ATTRIBUTE, uid_item(uid), new), reason)
        ref = Item(tag("Attribute Reference"), ItemType.ENUMERATION, tag("Usage Limits"))
        failed(call(executor, version, Operation.DELETE_ATTRIBUTE, uid_item(uid), ref), reason)
    else:
        new_v1 = attribute_v1("Usage Limits", usage_limits(500))
        failed(call(executor, version, Operation.MODIFY_ATTRIBUTE, uid_item(uid), new_v1), reason)
        failed(
            call(executor, version, Operation.DELETE_ATTRIBUTE, uid_item(uid), text("Attribute Name", "Usage Limits")),
            reason,
        )
    assert remaining(executor, uid) == 49


# -- Put ----------------------------------------------------------------------------------------------
def pushed_attributes(version: Version, *attrs: Item) -> list[Item]:
    """Put's attributes: 1.x repeats Attribute, 2.x has one Attributes structure."""
    if version >= (2, 0):
        return [s("Attributes", *attrs)]
    from ttlv import REGISTRY

    out = []
    for a in attrs:
        if a.tag == tag("Attribute"):  # a custom one, built in the 2.x shape
            name = f"{a.get(tag('Vendor Identification'))}-{a.get(tag('Attribute Name'))}"
            value = a.find(tag("Attribute Value"))
            assert value is not None
            out.append(attribute_v1(name, value))
        else:
            out.append(attribute_v1(REGISTRY.tag_name(a.tag) or "", a))
    return out


def custom(name: str, value: str) -> Item:
    vendor, _, short = name.partition("-")
    return s(
        "Attribute",
        text("Vendor Identification", vendor),
        text("Attribute Name", short),
        text("Attribute Value", value),
    )


def put(
    ex: Executor,
    version: Version,
    sender_uid: str,
    *attrs: Item,
    function: int = PutFunction.NEW,
    replaced: str | None = None,
    material: bytes = KEY,
    peer: Peer = ALICE,
) -> Response:
    payload = [uid_item(sender_uid), enum("Put Function", function)]
    if replaced is not None:
        payload.append(text("Replaced Unique Identifier", replaced))
    payload.append(s("Symmetric Key", key_block(material)))
    payload += pushed_attributes(version, *attrs)
    return call(ex, version, Operation.PUT, *payload, peer=peer)


def copies_of(ex: Executor, sender_uid: str, peer: Peer = ALICE) -> list[str]:
    """Locate the stored copies of a pushed object by their y- attribute."""
    origin = custom("y-Pushed Unique Identifier", sender_uid)
    r = ok(call(ex, V21, Operation.LOCATE, s("Attributes", origin), peer=peer))
    return [c.value for c in r.payload().find_all(tag("Unique Identifier")) if isinstance(c.value, str)]


def link_to(ex: Executor, uid: str, link_type: int, peer: Peer = ALICE) -> str | None:
    ref = Item(tag("Attribute Reference"), ItemType.ENUMERATION, tag("Link"))
    r = ok(call(ex, V21, Operation.GET_ATTRIBUTES, uid_item(uid), ref, peer=peer))
    found = r.payload().find(tag("Attributes"))
    assert found is not None
    for link in found.children:
        if link.get(tag("Link Type")) == link_type:
            value = link.get(tag("Linked Object Identifier"))
            return value if isinstance(value, str) else None
    return None


@pytest.mark.parametrize("version", [V1, V14, V21])
def test_put_stores_a_copy_owned_by_the_caller(executor: Executor, version: Version) -> None:
    material = bytes.fromhex("7546ef6cd37c49806824984477987d1e")
    sender_attrs = (
        enum("Object Type", ObjectType.SYMMETRIC_KEY),
        integer("Cryptographic Usage Mask", Mask.ENCRYPT),
        Item(tag("Lease Time"), ItemType.INTERVAL, 16),  # the sender's policy, not ours
        enum("State", State.ACTIVE),  # the sender's state: ours follows our dates
        s("Link", enum("Link Type", LinkType.PARENT_LINK), text("Linked Object Identifier", "peer-parent")),
        custom("x-ID", "pushed"),
    )
    r = ok(put(executor, version, "peer-key-1", *sender_attrs, material=material))
    assert r.payload().children == ()  # the spec's acknowledgement: no payload
    [uid] = copies_of(executor, "peer-key-1")
    assert uid != "peer-key-1"  # a local identifier: the sender's may clash with ours
    got = ok(call(executor, V21, Operation.GET, uid_item(uid)))
    block = got.payload().find(tag("Symmetric Key"))
    key_value = block.children[0].find(tag("Key Value")) if block is not None else None
    assert key_value is not None and key_value.get(tag("Key Material")) == material
    usage = attribute(executor, uid, "Cryptographic Usage Mask")
    assert usage is not None and usage.value == Mask.ENCRYPT
    x_id = attribute(executor, uid, "x-ID")
    assert x_id is not None and x_id.get(tag("Attribute Value")) == "pushed"
    lease = attribute(executor, uid, "Lease Time")
    assert lease is not None and lease.value == DEFAULT_LEASE_SECONDS
    state = attribute(executor, uid, "State")
    assert state is not None and state.value == State.PRE_ACTIVE
    assert attribute(executor, uid, "Link") is None
    failed(call(executor, V21, Operation.GET, uid_item(uid), peer=BOB), ResultReason.OBJECT_NOT_FOUND)


def test_put_replace_links_the_copies(executor: Executor) -> None:
    ok(put(executor, V21, "peer-cert-1"))
    [first] = copies_of(executor, "peer-cert-1")
    ok(put(executor, V21, "peer-cert-2", function=PutFunction.REPLACE, replaced="peer-cert-1"))
    [second] = copies_of(executor, "peer-cert-2")
    assert link_to(executor, second, LinkType.REPLACED_OBJECT_LINK) == first
    assert link_to(executor, first, LinkType.REPLACEMENT_OBJECT_LINK) == second


def test_put_replace_of_an_unknown_object_is_new(executor: Executor) -> None:
    ok(put(executor, V14, "peer-b", function=PutFunction.REPLACE, replaced="never-pushed"))
    [uid] = copies_of(executor, "peer-b")
    assert link_to(executor, uid, LinkType.REPLACED_OBJECT_LINK) is None


def test_put_replace_ignores_other_callers_copies(executor: Executor) -> None:
    ok(put(executor, V21, "peer-x", peer=BOB))
    [bobs] = copies_of(executor, "peer-x", peer=BOB)
    ok(put(executor, V21, "peer-y", function=PutFunction.REPLACE, replaced="peer-x"))
    [mine] = copies_of(executor, "peer-y")
    assert link_to(executor, mine, LinkType.REPLACED_OBJECT_LINK) is None
    assert link_to(executor, bobs, LinkType.REPLACEMENT_OBJECT_LINK, peer=BOB) is None  # bob's copy is untouched


def test_put_needs_the_create_right(executor_store: Store) -> None:
    ex = Executor(executor_store, ExecutorSettings(access=AccessPolicy(privileged_users=frozenset({"alice"}))))
    failed(put(ex, V21, "peer-1", peer=BOB), ResultReason.PERMISSION_DENIED)
    ok(put(ex, V21, "peer-1"))


def test_malformed_puts(executor: Executor) -> None:
    block = s("Symmetric Key", key_block())
    sender = uid_item("peer-1")
    new, replace = enum("Put Function", PutFunction.NEW), enum("Put Function", PutFunction.REPLACE)
    contradiction = s("Attributes", enum("Object Type", ObjectType.SECRET_DATA))
    cases: list[tuple[tuple[Item, ...], int]] = [
        ((new, block), ResultReason.MISSING_DATA),  # no Unique Identifier
        ((sender, block), ResultReason.MISSING_DATA),  # no Put Function
        ((sender, enum("Put Function", 7), block), ResultReason.INVALID_FIELD),
        ((sender, replace, block), ResultReason.MISSING_DATA),  # Replace without Replaced Unique Identifier
        ((sender, new, text("Replaced Unique Identifier", "x"), block), ResultReason.INVALID_FIELD),
        ((sender, new), ResultReason.MISSING_DATA),  # no object
        ((sender, new, block, block), ResultReason.INVALID_FIELD),
        ((sender, new, block, contradiction), ResultReason.INVALID_FIELD),
    ]
    for payload, reason in cases:
        failed(call(executor, V21, Operation.PUT, *payload), reason)
    assert copies_of(executor, "peer-1") == []


def test_pushed_key_material_is_checked_like_a_register(executor: Executor) -> None:
    bad = s(
        "Symmetric Key",
        s(
            "Key Block",
            enum("Key Format Type", KeyFormatType.RAW),
            s("Key Value", bstr("Key Material", KEY)),
            enum("Cryptographic Algorithm", CryptographicAlgorithm.AES),
            integer("Cryptographic Length", 256),
        ),
    )
    r = call(executor, V21, Operation.PUT, uid_item("peer-1"), enum("Put Function", PutFunction.NEW), bad)
    failed(r, ResultReason.INVALID_FIELD)
    assert KEY.hex() not in (r.message() or "")


# -- Notify -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [V1, V14])
def test_notify_is_logged_and_acknowledged(
    executor: Executor, version: Version, caplog: pytest.LogCaptureFixture
) -> None:
    uid = register(executor, version, custom("x-provider", "unknown"))
    before = attribute(executor, uid, "x-provider")
    changed = [
        attribute_v1("x-provider", text("Attribute Value", "third party")),
        attribute_v1("Last Change Date", when("Last Change Date", timedelta())),
        s("Attribute", text("Attribute Name", "Contact Information")),  # 1.x: deleted, so no value
    ]
    with caplog.at_level(logging.INFO, logger="kmsd.ops.notify_put"):
        r = ok(call(executor, version, Operation.NOTIFY, uid_item(uid), *changed))
    assert r.payload().children == ()
    [record] = [rec for rec in caplog.records if rec.name == "kmsd.ops.notify_put"]
    message = record.getMessage()
    assert "x-provider" in message and "Last Change Date" in message and "deleted ['Contact Information']" in message
    assert "third party" not in message  # names only, never values
    assert attribute(executor, uid, "x-provider") == before  # a notification changes nothing here


def test_notify_2x_deleted_attributes_by_reference(executor: Executor, caplog: pytest.LogCaptureFixture) -> None:
    attrs = s("Attributes", when("Last Change Date", timedelta()))
    deleted = Item(tag("Attribute Reference"), ItemType.ENUMERATION, tag("Comment"))
    with caplog.at_level(logging.INFO, logger="kmsd.ops.notify_put"):
        ok(call(executor, V21, Operation.NOTIFY, uid_item("peer-object"), attrs, deleted))
    [record] = [rec for rec in caplog.records if rec.name == "kmsd.ops.notify_put"]
    assert "changed ['Last Change Date']; deleted ['Comment']" in record.getMessage()


def test_malformed_notifies(executor: Executor) -> None:
    attrs = s("Attributes", when("Last Change Date", timedelta()))
    failed(call(executor, V21, Operation.NOTIFY, attrs), ResultReason.MISSING_DATA)
    failed(call(executor, V21, Operation.NOTIFY, uid_item("peer-object")), ResultReason.MISSING_DATA)


# -- Query ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [V1, V14, V21])
def test_query_lists_the_operations(executor: Executor, version: Version) -> None:
    functions = (
        enum("Query Function", QueryFunction.QUERY_OPERATIONS),
        enum("Query Function", QueryFunction.QUERY_OBJECTS),
    )
    r = ok(call(executor, version, Operation.QUERY, *functions))
    operations = {c.value for c in r.payload().find_all(tag("Operation"))}
    wanted = {Operation.OBTAIN_LEASE, Operation.GET_USAGE_ALLOCATION, Operation.NOTIFY, Operation.PUT}
    assert wanted <= operations
    objects = {c.value for c in r.payload().find_all(tag("Object Type"))}
    assert ObjectType.SPLIT_KEY in objects
    assert (ObjectType.PGP_KEY in objects) == (version >= (1, 2))  # KMIP 1.2 added PGP Key objects
