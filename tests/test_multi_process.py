"""Two ``kmsd serve`` processes on one PostgreSQL (or MySQL/MariaDB) database.

Theory of operation: per server backend, one throwaway database and two real
server processes on it (module scope: starting them is the slow part).  The
first generates the development PKI; the second is given the first one's
server certificate, key and client CA, so one client certificate works on
both.  Clients speak raw TTLV over TLS (``tests/kmip_builders.py``), one
persistent connection per user and server, plus a PyKMIP ProxyKmipClient
cross-check.  Nothing is cached between the processes: what one commits the
other must see at once, and concurrent writers from both must serialise in
the database (exactly one lifecycle transition wins; no grant is lost).
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kmsd.kmip.enums import Operation, ResultReason, ResultStatus, RevocationReasonCode, State
from kmsd.ops.access import AccessOperation, AccessTag
from ttlv import Item, ItemType

from .db_fixtures import SERVER_BACKENDS, throwaway_database
from .kmip_builders import Response, attributes, enum, integer, name_value, request, s, tag, text
from .server_process import RunningServer, start_server

V = (2, 1)
#: What a missing object may be answered with in 2.1 (Object Not Found is 2.x's name for it).
NOT_FOUND_REASONS = {ResultReason.ITEM_NOT_FOUND, ResultReason.OBJECT_NOT_FOUND}
#: Client threads per server in the concurrent tests (2 cores here: contention, not throughput).
THREADS_PER_SERVER = 4
#: Rounds of the concurrent lifecycle race; each round is a fresh key.
ROUNDS = 8
SOCKET_TIMEOUT_S = 30.0


# -- two servers on one database ---------------------------------------------------------------


@dataclass
class Pair:
    kind: str
    a: RunningServer
    b: RunningServer
    clients: list[Client] = field(default_factory=list)

    def client(self, server: RunningServer, user: str) -> Client:
        """A new TLS connection to ``server`` as ``user`` (certificates from the shared CA)."""
        cert, key = self.a.client_cert(user)
        c = Client(server.port, cert, key, self.a.ca)
        self.clients.append(c)
        return c


@pytest.fixture(scope="module", params=SERVER_BACKENDS)
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    kind = str(request.param)
    with throwaway_database(kind, tmp_path_factory.mktemp(f"multi-{kind}")) as db:
        root = tmp_path_factory.mktemp(f"servers-{kind}")
        a = start_server(root / "a", *db.serve_args())
        try:
            certs = a.certs
            b = start_server(
                root / "b",
                *db.serve_args(),
                "--tls-cert", str(certs / "server.pem"),
                "--tls-key", str(certs / "server.key"),
                "--client-ca", str(certs / "ca.pem"),
            )  # fmt: skip
            try:
                p = Pair(kind, a, b)
                yield p
                for c in p.clients:
                    c.close()
            finally:
                b.stop()
        finally:
            a.stop()  # both are gone before the database is dropped


class Client:
    """One persistent TLS connection speaking binary TTLV."""

    def __init__(self, port: int, cert: str, key: str, ca: str) -> None:
        ctx = ssl.create_default_context(cafile=ca)
        ctx.load_cert_chain(cert, key)
        raw = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")

    def call(self, *items: tuple[int, list[Item]]) -> Response:
        self.sock.sendall(request(V, *items))  # type: ignore[arg-type]
        head = self._read(8)
        return Response(head + self._read(struct.unpack(">I", head[4:])[0]))

    def _read(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            assert chunk, "the server closed the connection"
            buf += chunk
        return buf

    def close(self) -> None:
        self.sock.close()


# -- request helpers ----------------------------------------------------------------------------------


def uid_item(uid: str) -> Item:
    return text("Unique Identifier", uid)


def ok(r: Response) -> Response:
    assert r.status() == ResultStatus.SUCCESS, (r.reason(), r.message())
    return r


def create_aes(c: Client, name: str) -> str:
    attrs = attributes(V, enum("Cryptographic Algorithm", 3), integer("Cryptographic Length", 256), name_value(name))
    uid = ok(c.call((Operation.CREATE, [enum("Object Type", 2), attrs]))).get("Unique Identifier")
    assert isinstance(uid, str)
    return uid


def key_material(r: Response) -> bytes:
    found = [i.value for i in r.payload().walk() if i.type == ItemType.BYTE_STRING]
    assert len(found) == 1
    assert isinstance(found[0], bytes)
    return found[0]


def state_of(c: Client, uid: str) -> int:
    r = ok(c.call((Operation.GET_ATTRIBUTES, [uid_item(uid), enum("Attribute Reference", tag("State"))])))
    values = [i.value for i in r.payload().walk() if i.tag == tag("State")]
    assert len(values) == 1, values
    assert isinstance(values[0], int)
    return values[0]


def access(op: AccessOperation, uid: str, user: str, *rights: str) -> tuple[int, list[Item]]:
    return int(op), [
        uid_item(uid),
        Item(AccessTag.ACCESS_USER, ItemType.TEXT_STRING, user),
        *(Item(AccessTag.ACCESS_RIGHT, ItemType.TEXT_STRING, r) for r in rights),
    ]


def granted_rights(c: Client, uid: str, user: str) -> set[str]:
    r = ok(c.call((AccessOperation.LIST_ACCESS, [uid_item(uid)])))
    rights: set[str] = set()
    for g in r.payload().find_all(AccessTag.ACCESS_GRANT):
        if g.get(AccessTag.ACCESS_USER) == user:
            rights |= {str(i.value) for i in g.find_all(AccessTag.ACCESS_RIGHT)}
    return rights


def revoke_payload(uid: str) -> list[Item]:
    return [
        uid_item(uid),
        s("Revocation Reason", enum("Revocation Reason Code", RevocationReasonCode.CESSATION_OF_OPERATION)),
    ]


def assert_as_if_missing(r: Response, c: Client, op: int) -> None:
    """``r`` is exactly what ``c`` gets for ``op`` on an identifier that does not exist."""
    missing = c.call((op, [uid_item(f"no-such-{uuid.uuid4()}")]))
    assert (r.status(), r.reason()) == (missing.status(), missing.reason()), r.message()
    assert r.status() == ResultStatus.OPERATION_FAILED and r.reason() in NOT_FOUND_REASONS


def located(c: Client) -> list[str]:
    return [str(i.value) for i in ok(c.call((Operation.LOCATE, []))).payload().find_all(tag("Unique Identifier"))]


# -- one process writes, the other reads --------------------------------------------------------------


def test_create_on_one_get_grant_and_destroy_on_the_other(pair: Pair) -> None:
    alice_a, alice_b = pair.client(pair.a, "alice"), pair.client(pair.b, "alice")
    bob_a, bob_b = pair.client(pair.a, "bob"), pair.client(pair.b, "bob")
    uid = create_aes(alice_a, f"shared-{pair.kind}")
    material = key_material(ok(alice_a.call((Operation.GET, [uid_item(uid)]))))
    assert key_material(ok(alice_b.call((Operation.GET, [uid_item(uid)])))) == material
    assert uid in located(alice_b)

    # Bob knows nothing of it on either process until alice grants, on one process...
    for bob in (bob_a, bob_b):
        assert_as_if_missing(bob.call((Operation.GET, [uid_item(uid)])), bob, Operation.GET)
        assert uid not in located(bob)
    ok(alice_a.call(access(AccessOperation.GRANT_ACCESS, uid, "bob", "get")))
    # ... and the other honours the grant at once, exactly as given.
    assert key_material(ok(bob_b.call((Operation.GET, [uid_item(uid)])))) == material
    assert uid in located(bob_b)
    assert_as_if_missing(bob_b.call((Operation.DESTROY, [uid_item(uid)])), bob_b, Operation.DESTROY)
    assert granted_rights(alice_b, uid, "bob") == {"get"}
    # A revocation made on B is honoured on A at once.
    ok(alice_b.call(access(AccessOperation.REVOKE_ACCESS, uid, "bob", "get")))
    assert_as_if_missing(bob_a.call((Operation.GET, [uid_item(uid)])), bob_a, Operation.GET)

    # Lifecycle across the processes: activate on B, revoke on A, destroy on B.
    ok(alice_b.call((Operation.ACTIVATE, [uid_item(uid)])))
    assert state_of(alice_a, uid) == State.ACTIVE
    ok(alice_a.call((Operation.REVOKE, revoke_payload(uid))))
    assert state_of(alice_b, uid) == State.DEACTIVATED
    ok(alice_b.call((Operation.DESTROY, [uid_item(uid)])))
    assert state_of(alice_a, uid) == State.DESTROYED
    assert alice_a.call((Operation.DESTROY, [uid_item(uid)])).reason() == ResultReason.OBJECT_DESTROYED
    assert alice_a.call((Operation.GET, [uid_item(uid)])).status() != ResultStatus.SUCCESS


def test_pykmip_create_on_one_get_on_the_other(pair: Pair) -> None:
    pytest.importorskip("kmip", reason="PyKMIP is a test dependency")
    from kmip import enums as kenums
    from kmip.pie.client import ProxyKmipClient

    def pykmip(server: RunningServer) -> ProxyKmipClient:
        cert, key = pair.a.client_cert("carol")
        return ProxyKmipClient(
            hostname="127.0.0.1", port=server.port, cert=cert, key=key, ca=pair.a.ca,
            ssl_version="PROTOCOL_TLS", kmip_version=kenums.KMIPVersion.KMIP_1_2,
        )  # fmt: skip

    with pykmip(pair.a) as on_a:
        uid = on_a.create(kenums.CryptographicAlgorithm.AES, 128, name=f"pykmip-{pair.kind}")
        material = on_a.get(uid).value
    with pykmip(pair.b) as on_b:
        assert on_b.get(uid).value == material
        assert uid in on_b.locate()
        on_b.destroy(uid)
    with pykmip(pair.a) as on_a:
        assert on_a.get_attributes(uid, ["State"])[1][0].attribute_value.value == kenums.State.DESTROYED


# -- both processes at once --------------------------------------------------------------------------------


def race(clients: list[Client], requests: list[tuple[int, list[Item]]]) -> list[Response]:
    """Client i sends ``requests[i]``, all at the same moment (a barrier); the responses, in client order."""
    assert len(requests) == len(clients)
    barrier = threading.Barrier(len(clients))
    results: list[Response | BaseException | None] = [None] * len(clients)

    def run(i: int, c: Client) -> None:
        try:
            barrier.wait(SOCKET_TIMEOUT_S)
            results[i] = c.call(requests[i])
        except BaseException as exc:  # reported below, in the test's thread
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(2 * SOCKET_TIMEOUT_S)
    errors = [r for r in results if not isinstance(r, Response)]
    assert not errors, errors
    return [r for r in results if isinstance(r, Response)]


def outcomes(responses: list[Response]) -> Counter[int | None]:
    """Successes count under None, failures under their Result Reason."""
    return Counter(None if r.status() == ResultStatus.SUCCESS else r.reason() for r in responses)


@pytest.fixture(scope="module")
def racers(pair: Pair) -> list[Client]:
    """Alice's connections: half to each process."""
    return [pair.client(server, "alice") for server in (pair.a, pair.b) for _ in range(THREADS_PER_SERVER)]


def test_concurrent_activate_then_destroy_transition_once(pair: Pair, racers: list[Client]) -> None:
    for n in range(ROUNDS):
        uid = create_aes(racers[n % len(racers)], f"race-{pair.kind}-{n}")
        got = outcomes(race(racers, [(Operation.ACTIVATE, [uid_item(uid)])] * len(racers)))
        assert got == {None: 1, ResultReason.WRONG_KEY_LIFECYCLE_STATE: len(racers) - 1}, got
        assert state_of(racers[0], uid) == State.ACTIVE
        # Revoke with a non-compromise reason is idempotent (Deactivated -> Deactivated): all succeed.
        got = outcomes(race(racers, [(Operation.REVOKE, revoke_payload(uid))] * len(racers)))
        assert got == {None: len(racers)}, got
        assert state_of(racers[-1], uid) == State.DEACTIVATED
        got = outcomes(race(racers, [(Operation.DESTROY, [uid_item(uid)])] * len(racers)))
        assert got == {None: 1, ResultReason.OBJECT_DESTROYED: len(racers) - 1}, got
        assert state_of(racers[0], uid) == State.DESTROYED


def test_concurrent_mixed_transitions_exactly_one_wins(pair: Pair, racers: list[Client]) -> None:
    """From Pre-Active both Activate and Destroy are legal and exclude each other: one request wins."""
    for n in range(ROUNDS):
        uid = create_aes(racers[0], f"mixed-{pair.kind}-{n}")
        # Alternate the operations, shifted each round so both processes send both.
        ops = [Operation.ACTIVATE if (i + n) % 2 else Operation.DESTROY for i in range(len(racers))]
        responses = race(racers, [(op, [uid_item(uid)]) for op in ops])
        winners = [ops[i] for i, r in enumerate(responses) if r.status() == ResultStatus.SUCCESS]
        assert len(winners) == 1, [(ops[i], r.reason(), r.message()) for i, r in enumerate(responses)]
        losers = outcomes([r for r in responses if r.status() != ResultStatus.SUCCESS])
        allowed = {ResultReason.WRONG_KEY_LIFECYCLE_STATE, ResultReason.OBJECT_DESTROYED}
        assert set(losers) <= allowed, losers
        expected = State.ACTIVE if winners[0] == Operation.ACTIVATE else State.DESTROYED
        assert state_of(racers[n % len(racers)], uid) == expected


def test_concurrent_grants_from_both_processes_are_all_kept(pair: Pair, racers: list[Client]) -> None:
    rights = ["get", "encrypt", "decrypt", "locate", "get_attributes", "sign", "verify", "mac"]
    assert len(rights) == len(racers)
    for n in range(ROUNDS // 2):
        uid = create_aes(racers[0], f"grants-{pair.kind}-{n}")
        got = outcomes(race(racers, [access(AccessOperation.GRANT_ACCESS, uid, "dave", r) for r in rights]))
        assert got == {None: len(racers)}, got
        assert granted_rights(racers[0], uid, "dave") == set(rights)
        assert granted_rights(racers[-1], uid, "dave") == set(rights)
        # And concurrent revocations of half of them leave exactly the other half.
        # Each of rights[0::2] is revoked twice at once, from one connection to each process.
        revoked = [rights[0::2][i % THREADS_PER_SERVER] for i in range(len(racers))]
        got = outcomes(race(racers, [access(AccessOperation.REVOKE_ACCESS, uid, "dave", r) for r in revoked]))
        assert got == {None: len(racers)}, got
        assert granted_rights(racers[len(racers) // 2], uid, "dave") == set(rights[1::2])


def test_the_two_processes_are_distinct(pair: Pair) -> None:
    """Guard: the test is meaningless if both clients reached one process."""
    assert pair.a.port != pair.b.port
    assert pair.a.process.pid != pair.b.process.pid
    assert pair.a.process.poll() is None and pair.b.process.poll() is None
    assert Path(pair.a.data_dir) != Path(pair.b.data_dir)
