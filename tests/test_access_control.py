"""Access control, tested as an attacker would.

Alice owns a key.  Bob, authenticated but not granted anything, tries every
operation, every protocol version (1.0-2.1) and batch tricks with the ID
Placeholder: he must learn nothing — his answers must be exactly those for
an identifier that does not exist.  Then grants: exact rights, the wildcard
user ``*``, only the owner manages them, and privileged users for creation.
In process (fast), plus PyKMIP clients with two certificates against a real
server at the end.
"""

from __future__ import annotations

import re
import socket
import ssl
import struct
import uuid
from pathlib import Path

import pytest

import ttlv
from kmsd.auth import access
from kmsd.auth.access import AccessPolicy
from kmsd.kmip.enums import Operation, ResultReason, ResultStatus, RevocationReasonCode
from kmsd.ops.access import AccessOperation, AccessTag
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.server.peer import Peer
from kmsd.store import Store
from ttlv import Item, ItemType

from .kmip_builders import (
    Response,
    attribute_v1,
    attributes,
    bstr,
    enum,
    integer,
    name_value,
    request,
    s,
    tag,
    text,
)
from .server_process import RunningServer
from .test_executor import create_aes

ALICE = Peer(identity="alice", address="127.0.0.1:1")
BOB = Peer(identity="bob", address="127.0.0.1:2")
CAROL = Peer(identity="carol", address="127.0.0.1:3")
VERSIONS = [(1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (2, 0), (2, 1)]
V2 = (2, 0)


def not_found(version: tuple[int, int]) -> ResultReason:
    """What a missing object answers: 2.x Object Not Found, 1.x Item Not Found."""
    return ResultReason.OBJECT_NOT_FOUND if version >= (2, 0) else ResultReason.ITEM_NOT_FOUND


@pytest.fixture
def executor(executor_store: Store) -> Executor:
    """On every backend (``executor_store`` from tests/db_fixtures.py)."""
    return Executor(executor_store, ExecutorSettings())


def call(ex: Executor, data: bytes, peer: Peer) -> Response:
    out = ex.process(data, peer)
    assert out is not None
    return Response(out)


def uid_op(ex: Executor, version: tuple[int, int], op: int, uid: str, peer: Peer, *extra: Item) -> Response:
    return call(ex, request(version, (op, [text("Unique Identifier", uid), *extra])), peer)  # type: ignore[arg-type]


def access_payload(user: str, *rights: str, uid: str | None = None) -> list[Item]:
    out = [text("Unique Identifier", uid)] if uid is not None else []
    out.append(Item(AccessTag.ACCESS_USER, ItemType.TEXT_STRING, user))
    out += [Item(AccessTag.ACCESS_RIGHT, ItemType.TEXT_STRING, r) for r in rights]
    return out


def grant(
    ex: Executor, uid: str, user: str, *rights: str, peer: Peer = ALICE, version: tuple[int, int] = (2, 1)
) -> Response:
    return call(ex, request(version, (AccessOperation.GRANT_ACCESS, access_payload(user, *rights, uid=uid))), peer)  # type: ignore[arg-type]


def revoke_access(ex: Executor, uid: str, user: str, *rights: str, peer: Peer = ALICE) -> Response:
    return call(ex, request((2, 1), (AccessOperation.REVOKE_ACCESS, access_payload(user, *rights, uid=uid))), peer)  # type: ignore[arg-type]


def ok(r: Response, i: int = 0) -> Response:
    assert r.status(i) == ResultStatus.SUCCESS, (r.reason(i), r.message(i))
    return r


def _attribute(version: tuple[int, int], name: str, value: Item) -> Item:
    if version >= V2:
        return s("New Attribute", value)
    return attribute_v1(name, value)


def attack_requests(version: tuple[int, int], uid: str) -> dict[str, bytes]:
    """Every operation Bob might try on an identifier, in ``version``'s shape."""
    u = text("Unique Identifier", uid)
    reason = s("Revocation Reason", enum("Revocation Reason Code", RevocationReasonCode.KEY_COMPROMISE))
    group = Item(tag("Object Group"), ItemType.TEXT_STRING, "stolen")
    attr_name = (
        text("Attribute Name", "Object Group") if version < V2 else enum("Attribute Reference", tag("Object Group"))
    )
    reqs: dict[str, tuple[int, list[Item]]] = {
        "get": (Operation.GET, [u]),
        "get_attributes": (Operation.GET_ATTRIBUTES, [u]),
        "get_attribute_list": (Operation.GET_ATTRIBUTE_LIST, [u]),
        "activate": (Operation.ACTIVATE, [u]),
        "revoke": (Operation.REVOKE, [u, reason]),
        "destroy": (Operation.DESTROY, [u]),
        "add_attribute": (Operation.ADD_ATTRIBUTE, [u, _attribute(version, "Object Group", group)]),
        "delete_attribute": (Operation.DELETE_ATTRIBUTE, [u, attr_name]),
        "grant": (AccessOperation.GRANT_ACCESS, access_payload("bob", "get", uid=uid)),
        "revoke_access": (AccessOperation.REVOKE_ACCESS, access_payload("alice", "get", uid=uid)),
        "list_access": (AccessOperation.LIST_ACCESS, [u]),
    }
    if version >= (1, 1):
        reqs["check"] = (Operation.CHECK, [u])
    if version >= (1, 2):
        reqs["archive"] = (Operation.ARCHIVE, [u])
        reqs["recover"] = (Operation.RECOVER, [u])
    if version >= V2:
        reqs["set_attribute"] = (Operation.SET_ATTRIBUTE, [u, s("New Attribute", group)])
    return {name: request(version, (op, payload)) for name, (op, payload) in reqs.items()}  # type: ignore[arg-type]


def _outcome(r: Response, uid: str) -> tuple[int, int | None, str | None]:
    message = r.message()
    return r.status(), r.reason(), message.replace(uid, "UID") if message else None


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"{v[0]}.{v[1]}")
def test_stranger_learns_nothing_through_any_operation(executor: Executor, version: tuple[int, int]) -> None:
    uid = create_aes(executor, version, name="alices-key", peer=ALICE)
    missing = str(uuid.uuid4())
    real = attack_requests(version, uid)
    fake = attack_requests(version, missing)
    for name in real:
        mine = call(executor, real[name], BOB)
        absent = call(executor, fake[name], BOB)
        assert mine.status() == ResultStatus.OPERATION_FAILED, name
        assert mine.reason() == not_found(version), (name, mine.reason(), mine.message())
        # Exactly what a non-existent identifier answers: no existence oracle.
        assert _outcome(mine, uid) == _outcome(absent, missing), name
    # Locate, by name and without criteria.
    located = call(executor, request(version, (Operation.LOCATE, _locate_by_name(version, "alices-key"))), BOB)
    assert ok(located).payload().find_all(tag("Unique Identifier")) == []
    assert uid not in _located(call(executor, request(version, (Operation.LOCATE, [])), BOB))
    # Nothing Bob did changed Alice's key.
    r = ok(uid_op(executor, version, Operation.GET_ATTRIBUTES, uid, ALICE))
    assert b"stolen" not in ttlv.encode(r.payload())
    assert ok(uid_op(executor, version, Operation.GET, uid, ALICE))


def _locate_by_name(version: tuple[int, int], name: str) -> list[Item]:
    if version >= V2:
        return [s("Attributes", name_value(name))]
    return [attribute_v1("Name", name_value(name))]


def _located(r: Response) -> list[str]:
    return [i.value for i in ok(r).payload().find_all(tag("Unique Identifier"))]  # type: ignore[misc]


@pytest.mark.parametrize("version", [(1, 2), (2, 1)], ids=["1.2", "2.1"])
def test_batch_placeholder_tricks(executor: Executor, version: tuple[int, int]) -> None:
    uid = create_aes(executor, version, name="alices-key", peer=ALICE)
    # "Locate Alice's key by name, then Get the placeholder": Locate finds nothing, so Get has no target.
    batch = request(
        version,
        (Operation.LOCATE, _locate_by_name(version, "alices-key")),
        (Operation.GET, []),
        (Operation.DESTROY, []),
    )
    r = call(executor, batch, BOB)
    assert r.status(0) == ResultStatus.SUCCESS and r.payload(0).find(tag("Unique Identifier")) is None
    assert r.status(1) == ResultStatus.OPERATION_FAILED
    assert b"Key Material" not in r.item.children[-1].__repr__().encode()
    # Bob creates his own key, then names Alice's in the next item.
    mask = attributes(version, enum("Cryptographic Algorithm", 3), integer("Cryptographic Length", 128))
    batch = request(
        version,
        (Operation.CREATE, [enum("Object Type", 2), mask]),
        (Operation.GET, [text("Unique Identifier", uid)]),
        header_extra=[enum("Batch Error Continuation Option", 2)],  # Continue
    )
    r = call(executor, batch, BOB)
    assert r.status(0) == ResultStatus.SUCCESS
    assert r.status(1) == ResultStatus.OPERATION_FAILED and r.reason(1) == not_found(version)
    # Bob's placeholder is his own key, and only that.
    batch = request(version, (Operation.CREATE, [enum("Object Type", 2), mask]), (Operation.GET, []))
    r = call(executor, batch, BOB)
    assert r.status(1) == ResultStatus.SUCCESS and r.get("Unique Identifier", 1) != uid
    if version >= V2:  # the 2.x Unique Identifier enumeration "ID Placeholder" in an item of its own
        r = call(executor, request(version, (Operation.GET, [enum("Unique Identifier", 1)])), BOB)
        assert r.status() == ResultStatus.OPERATION_FAILED


@pytest.mark.parametrize("version", [(1, 0), (1, 4), (2, 1)], ids=["1.0", "1.4", "2.1"])
def test_grant_of_get_is_exactly_get(executor: Executor, version: tuple[int, int]) -> None:
    uid = create_aes(executor, version, name="shared", peer=ALICE)
    ok(grant(executor, uid, "bob", "get", version=version))
    assert ok(uid_op(executor, version, Operation.GET, uid, BOB))
    assert uid in _located(call(executor, request(version, (Operation.LOCATE, [])), BOB))
    for name, data in attack_requests(version, uid).items():
        if name in ("get", "check"):  # Check is governed by the "get" right
            continue
        r = call(executor, data, BOB)
        assert r.status() == ResultStatus.OPERATION_FAILED, name
        expected = (
            ResultReason.PERMISSION_DENIED if name in ("grant", "revoke_access", "list_access") else not_found(version)
        )
        assert r.reason() == expected, (name, r.reason(), r.message())
    # Carol still sees nothing.
    assert uid_op(executor, version, Operation.GET, uid, CAROL).reason() == not_found(version)


def test_each_right_alone(executor: Executor) -> None:
    v = (2, 1)
    uid = create_aes(executor, v, peer=ALICE)
    ok(grant(executor, uid, "bob", "activate"))
    assert uid_op(executor, v, Operation.GET, uid, BOB).reason() == not_found(v)
    ok(uid_op(executor, v, Operation.ACTIVATE, uid, BOB))
    reason = s("Revocation Reason", enum("Revocation Reason Code", RevocationReasonCode.CESSATION_OF_OPERATION))
    assert uid_op(executor, v, Operation.REVOKE, uid, BOB, reason).reason() == not_found(v)
    ok(grant(executor, uid, "bob", "revoke"))
    ok(uid_op(executor, v, Operation.REVOKE, uid, BOB, reason))
    assert uid_op(executor, v, Operation.DESTROY, uid, BOB).reason() == not_found(v)
    ok(grant(executor, uid, "bob", "destroy"))
    ok(uid_op(executor, v, Operation.DESTROY, uid, BOB))


def test_wildcard_grants(executor: Executor) -> None:
    v = (1, 4)
    uid = create_aes(executor, v, peer=ALICE)
    ok(grant(executor, uid, "*", "get"))
    for peer in (BOB, CAROL, Peer(identity="someone-new", address="x")):
        assert ok(uid_op(executor, v, Operation.GET, uid, peer))
        assert uid_op(executor, v, Operation.DESTROY, uid, peer).reason() == not_found(v)
    ok(grant(executor, uid, "bob", "get_attributes"))
    ok(revoke_access(executor, uid, "*", "get"))
    assert uid_op(executor, v, Operation.GET, uid, CAROL).reason() == not_found(v)
    assert uid_op(executor, v, Operation.GET, uid, BOB).reason() == not_found(v)
    ok(uid_op(executor, v, Operation.GET_ATTRIBUTES, uid, BOB))  # his own grant stays
    # A grant to a user literally named "*" is only the wildcard; "**" or "" are not.
    assert grant(executor, uid, "", "get").reason() == ResultReason.INVALID_FIELD


def test_only_the_owner_manages_grants(executor: Executor) -> None:
    v = (2, 1)
    uid = create_aes(executor, v, peer=ALICE)
    assert grant(executor, uid, "bob", "get", peer=BOB).reason() == not_found((2, 1))  # no right: not even there
    ok(grant(executor, uid, "bob", "get"))
    r = grant(executor, uid, "carol", "get", peer=BOB)
    assert r.reason() == ResultReason.PERMISSION_DENIED
    assert grant(executor, uid, "bob", "destroy", peer=BOB).reason() == ResultReason.PERMISSION_DENIED
    assert revoke_access(executor, uid, "alice", "get", peer=BOB).reason() == ResultReason.PERMISSION_DENIED
    assert uid_op(executor, v, Operation.DESTROY, uid, BOB).reason() == not_found(v)
    assert uid_op(executor, v, AccessOperation.LIST_ACCESS, uid, BOB).reason() == ResultReason.PERMISSION_DENIED
    # The owner's view.
    ok(grant(executor, uid, "*", "locate"))
    listed = ok(uid_op(executor, v, AccessOperation.LIST_ACCESS, uid, ALICE)).payload()
    assert listed.get(AccessTag.ACCESS_OWNER) == "alice"
    grants = {
        g.get(AccessTag.ACCESS_USER): [r.value for r in g.find_all(AccessTag.ACCESS_RIGHT)]
        for g in listed.find_all(AccessTag.ACCESS_GRANT)
    }
    assert grants == {"*": ["locate"], "bob": ["get"]}
    # Bad requests.
    assert grant(executor, uid, "bob", "steal").reason() == ResultReason.INVALID_FIELD
    assert grant(executor, uid, "alice", "get").reason() == ResultReason.INVALID_FIELD
    assert grant(executor, uid, "bob").reason() == ResultReason.MISSING_DATA
    assert grant(executor, str(uuid.uuid4()), "bob", "get").reason() == not_found((2, 1))


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"{v[0]}.{v[1]}")
def test_access_operations_in_every_version(executor: Executor, version: tuple[int, int]) -> None:
    uid = create_aes(executor, version, peer=ALICE)
    ok(grant(executor, uid, "bob", "Get Attributes", "get", version=version))
    ok(uid_op(executor, version, Operation.GET_ATTRIBUTES, uid, BOB))
    listed = ok(uid_op(executor, version, AccessOperation.LIST_ACCESS, uid, ALICE))
    rights = [r.value for r in listed.payload().find(AccessTag.ACCESS_GRANT).find_all(AccessTag.ACCESS_RIGHT)]  # type: ignore[union-attr]
    assert rights == ["get", "get_attributes"]
    assert listed.items[0].get(tag("Operation")) == AccessOperation.LIST_ACCESS


def test_grant_in_a_batch_uses_the_placeholder(executor: Executor) -> None:
    v = (2, 1)
    attrs = attributes(v, enum("Cryptographic Algorithm", 3), integer("Cryptographic Length", 128))
    batch = request(
        v,
        (Operation.CREATE, [enum("Object Type", 2), attrs]),
        (AccessOperation.GRANT_ACCESS, access_payload("bob", "get")),
    )  # type: ignore[arg-type]
    r = ok(call(executor, batch, ALICE), 1)
    uid = r.get("Unique Identifier", 0)
    assert r.get("Unique Identifier", 1) == uid
    ok(uid_op(executor, v, Operation.GET, uid, BOB))


def test_privileged_users(executor_store: Store) -> None:
    store = executor_store
    try:
        ex = Executor(store, ExecutorSettings(access=AccessPolicy(frozenset({"alice"}))))
        for version in ((1, 0), (2, 1)):
            create_aes(ex, version, peer=ALICE)
            attrs = attributes(version, enum("Cryptographic Algorithm", 3), integer("Cryptographic Length", 128))
            r = call(ex, request(version, (Operation.CREATE, [enum("Object Type", 2), attrs])), BOB)
            assert r.reason() == ResultReason.PERMISSION_DENIED
            key = s(
                "Symmetric Key",
                s("Key Block", enum("Key Format Type", 1), s("Key Value", bstr("Key Material", bytes(16))),
                  enum("Cryptographic Algorithm", 3), integer("Cryptographic Length", 128)),
            )  # fmt: skip
            r = call(
                ex, request(version, (Operation.REGISTER, [enum("Object Type", 2), attributes(version), key])), BOB
            )
            assert r.reason() == ResultReason.PERMISSION_DENIED
        # Bob may still use what he is granted.
        uid = create_aes(ex, (2, 1), peer=ALICE)
        ok(grant(ex, uid, "bob", "get"))
        ok(uid_op(ex, (2, 1), Operation.GET, uid, BOB))
    finally:
        store.close()


def _create_and_register(ex: Executor, version: tuple[int, int], peer: Peer) -> tuple[Response, Response]:
    attrs = attributes(version, enum("Cryptographic Algorithm", 3), integer("Cryptographic Length", 128))
    created = call(ex, request(version, (Operation.CREATE, [enum("Object Type", 2), attrs])), peer)
    key = s(
        "Symmetric Key",
        s("Key Block", enum("Key Format Type", 1), s("Key Value", bstr("Key Material", bytes(16))),
          enum("Cryptographic Algorithm", 3), integer("Cryptographic Length", 128)),
    )  # fmt: skip
    registered = call(
        ex, request(version, (Operation.REGISTER, [enum("Object Type", 2), attributes(version), key])), peer
    )
    return created, registered


def _may_create(ex: Executor, peer: Peer) -> bool:
    outcomes = {r.reason() for version in ((1, 0), (2, 1)) for r in _create_and_register(ex, version, peer)}
    assert len(outcomes) == 1, outcomes  # all succeed or all are refused
    (reason,) = outcomes
    assert reason in (None, ResultReason.PERMISSION_DENIED), reason
    return reason is None


def test_privileged_users_grant_the_create_right(executor_store: Store) -> None:
    """Unique Identifier ``*`` names the server: privileged users grant and revoke ``create`` on it."""
    ex = Executor(executor_store, ExecutorSettings(access=AccessPolicy(frozenset({"alice"}))))
    assert _may_create(ex, ALICE) and not _may_create(ex, BOB)
    # Only a privileged user grants it, and only "create" is granted on "*".
    assert grant(ex, access.SERVER, "bob", "create", peer=CAROL).reason() == ResultReason.PERMISSION_DENIED
    assert grant(ex, access.SERVER, "bob", "get", peer=ALICE).reason() == ResultReason.INVALID_FIELD
    assert grant(ex, access.SERVER, "bob", "create", "get", peer=ALICE).reason() == ResultReason.INVALID_FIELD
    assert not _may_create(ex, BOB)
    r = ok(grant(ex, access.SERVER, "bob", "create", peer=ALICE, version=(1, 0)))
    assert r.get("Unique Identifier") == "*"
    assert _may_create(ex, BOB) and not _may_create(ex, CAROL)
    # What Bob makes is his.
    bobs = create_aes(ex, (2, 1), peer=BOB)
    ok(uid_op(ex, (2, 1), Operation.GET, bobs, BOB))
    assert uid_op(ex, (2, 1), Operation.GET, bobs, ALICE).reason() == ResultReason.OBJECT_NOT_FOUND
    # A grantee cannot pass the right on, nor take it away.
    assert grant(ex, access.SERVER, "carol", "create", peer=BOB).reason() == ResultReason.PERMISSION_DENIED
    assert revoke_access(ex, access.SERVER, "bob", "create", peer=BOB).reason() == ResultReason.PERMISSION_DENIED
    assert not _may_create(ex, CAROL)
    with executor_store.transaction(readonly=True) as tx:
        assert tx.create_grants() == [("bob", "alice")]
        assert access.create_access(tx, ex.settings.access) == access.CreateAccess(("alice",), (("bob", "alice"),))
    ok(revoke_access(ex, access.SERVER, "bob", "create", peer=ALICE))
    assert not _may_create(ex, BOB)
    # "*": everyone, until revoked.
    ok(grant(ex, access.SERVER, "*", "create", peer=ALICE))
    assert _may_create(ex, BOB) and _may_create(ex, CAROL)
    ok(revoke_access(ex, access.SERVER, "*", "create", peer=ALICE))
    assert not _may_create(ex, BOB) and not _may_create(ex, CAROL)


def test_create_right_is_not_granted_without_privileged_users(executor: Executor) -> None:
    """Everyone may create already: granting on ``*`` is refused rather than stored for later."""
    assert grant(executor, access.SERVER, "bob", "create").reason() == ResultReason.PERMISSION_DENIED
    with executor.store.transaction(readonly=True) as tx:
        assert tx.create_grants() == []


def test_core_owned_and_obtained(executor: Executor) -> None:
    a1 = create_aes(executor, (2, 1), peer=ALICE)
    a2 = create_aes(executor, (2, 1), peer=ALICE)
    b1 = create_aes(executor, (2, 1), peer=BOB)
    ok(grant(executor, a1, "bob", "get", "encrypt"))
    ok(grant(executor, a2, "*", "locate"))
    with executor.store.transaction(readonly=True) as tx:
        assert access.owned(tx, "alice") == [a1, a2]
        assert access.owned(tx, "bob") == [b1]
        got = {g.uid: g.operations for g in access.obtained(tx, "bob")}
        assert got == {a1: frozenset({"get", "encrypt"}), a2: frozenset({"locate"})}
        assert access.obtained(tx, "alice") == []


def test_handlers_use_the_grantable_operation_names() -> None:
    """Every access check in kmsd/ops names an operation a grant can hold."""
    root = Path(__file__).parent.parent / "kmsd" / "ops"
    used = set()
    for path in root.glob("*.py"):
        used |= set(re.findall(r'objects\.load\(\s*ctx,\s*\w+,\s*"([a-z_]+)"', path.read_text()))
    assert used, "no objects.load(...) calls found"
    assert used <= access.OPERATION_NAMES, used - access.OPERATION_NAMES


# -- end to end: PyKMIP clients with two certificates --------------------------------------------

kmip = pytest.importorskip("kmip", reason="PyKMIP is a test dependency")

from kmip import enums as kenums  # noqa: E402
from kmip.pie.client import ProxyKmipClient  # noqa: E402
from kmip.pie.exceptions import KmipOperationFailure  # noqa: E402


def pykmip(
    server: RunningServer, user: str, version: kenums.KMIPVersion = kenums.KMIPVersion.KMIP_1_2
) -> ProxyKmipClient:
    cert, key = (server.admin_cert, server.admin_key) if user == "admin" else server.client_cert(user)
    return ProxyKmipClient(
        hostname="127.0.0.1", port=server.port, cert=cert, key=key, ca=server.ca,
        ssl_version="PROTOCOL_TLS", kmip_version=version,
    )  # fmt: skip


def raw_call(server: RunningServer, user: str, data: bytes) -> Response:
    """One request over TLS with ``user``'s certificate (for the extension operations PyKMIP cannot send)."""
    cert, key = server.client_cert(user)
    ctx = ssl.create_default_context(cafile=server.ca)
    ctx.load_cert_chain(cert, key)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(data)
            head = _read(tls, 8)
            body = _read(tls, struct.unpack(">I", head[4:])[0])
    return Response(head + body)


def _read(sock: ssl.SSLSocket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        assert chunk, "connection closed"
        buf += chunk
    return buf


def pykmip_not_found(version: kenums.KMIPVersion) -> kenums.ResultReason:
    return (
        kenums.ResultReason.OBJECT_NOT_FOUND
        if version == kenums.KMIPVersion.KMIP_2_0
        else kenums.ResultReason.ITEM_NOT_FOUND
    )


@pytest.mark.parametrize("version", [kenums.KMIPVersion.KMIP_1_2, kenums.KMIPVersion.KMIP_2_0], ids=["1.2", "2.0"])
def test_pykmip_clients_see_only_their_own_objects_unless_granted(
    kmsd_server: RunningServer, version: kenums.KMIPVersion
) -> None:
    with pykmip(kmsd_server, "alice-e2e", version) as alice:
        uid = alice.create(kenums.CryptographicAlgorithm.AES, 128, name=f"alice-e2e-{version.name}")
    with pykmip(kmsd_server, "bob-e2e", version) as bob:
        for attempt in (bob.get, bob.activate, bob.destroy, lambda u: bob.get_attributes(u, ["State"])):
            with pytest.raises(KmipOperationFailure) as failure:
                attempt(uid)
            assert failure.value.reason == pykmip_not_found(version)
        assert uid not in bob.locate()
    granted = raw_call(
        kmsd_server,
        "alice-e2e",
        request((1, 2), (AccessOperation.GRANT_ACCESS, access_payload("bob-e2e", "get", uid=uid))),
    )  # type: ignore[arg-type]
    assert granted.status() == ResultStatus.SUCCESS, granted.message()
    with pykmip(kmsd_server, "bob-e2e", version) as bob:
        assert len(bob.get(uid).value) == 16
        assert uid in bob.locate()
        with pytest.raises(KmipOperationFailure) as failure:
            bob.destroy(uid)
        assert failure.value.reason == pykmip_not_found(version)
    stolen = raw_call(
        kmsd_server,
        "bob-e2e",
        request((1, 2), (AccessOperation.GRANT_ACCESS, access_payload("bob-e2e", "destroy", uid=uid))),
    )  # type: ignore[arg-type]
    assert stolen.reason() == ResultReason.PERMISSION_DENIED
