"""The message layer and handlers in process, against a real store (SQLite, PostgreSQL, MySQL).

Every flow runs in a 1.x and a 2.x protocol version: the adapters must make
the two look the same to the handlers, and each response must be in the
request's own version.
"""

from __future__ import annotations

import pytest

import ttlv
from kmsd.kmip.enums import (
    BatchErrorContinuation,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    KeyFormatType,
    ObjectType,
    Operation,
    QueryFunction,
    ResultReason,
    ResultStatus,
    RevocationReasonCode,
    SecretDataType,
    State,
    StorageStatusMask,
)
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.server.peer import Peer
from kmsd.store import Store

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

V1, V2 = (1, 2), (2, 0)
VERSIONS = [(1, 0), (1, 2), (1, 4), (2, 0), (2, 1)]
ALICE = Peer(identity="alice", address="127.0.0.1:1")
BOB = Peer(identity="bob", address="127.0.0.1:2")


@pytest.fixture
def executor(executor_store: Store) -> Executor:
    """On every backend (``executor_store`` from tests/db_fixtures.py)."""
    return Executor(executor_store, ExecutorSettings())


def call(ex: Executor, data: bytes, peer: Peer = ALICE) -> Response:
    out = ex.process(data, peer)
    assert out is not None
    return Response(out)


def create_aes(ex: Executor, version: tuple[int, int], name: str = "k1", peer: Peer = ALICE) -> str:
    mask = CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT
    attrs = attributes(
        version,
        enum("Cryptographic Algorithm", CryptographicAlgorithm.AES),
        integer("Cryptographic Length", 256),
        integer("Cryptographic Usage Mask", mask),
        name_value(name),
    )
    r = call(ex, request(version, (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), attrs])), peer)
    assert r.status() == ResultStatus.SUCCESS, r.message()
    assert r.version() == version
    uid = r.get("Unique Identifier")
    assert isinstance(uid, str)
    return uid


@pytest.mark.parametrize("version", VERSIONS)
def test_symmetric_lifecycle(executor: Executor, version: tuple[int, int]) -> None:
    uid = create_aes(executor, version)
    # Get returns 32 bytes of Raw key material in a Symmetric Key.
    r = call(executor, request(version, (Operation.GET, [text("Unique Identifier", uid)])))
    assert r.status() == ResultStatus.SUCCESS
    block = r.payload().find(tag("Symmetric Key")).find(tag("Key Block"))  # type: ignore[union-attr]
    assert block.get(tag("Key Format Type")) == KeyFormatType.RAW
    material = block.find(tag("Key Value")).get(tag("Key Material"))  # type: ignore[union-attr]
    assert isinstance(material, bytes) and len(material) == 32

    # Destroying an Active key is refused (1.x: Permission Denied, 2.x: Wrong Key Lifecycle State).
    call(executor, request(version, (Operation.ACTIVATE, [text("Unique Identifier", uid)])))
    r = call(executor, request(version, (Operation.DESTROY, [text("Unique Identifier", uid)])))
    assert r.status() == ResultStatus.OPERATION_FAILED
    expected = ResultReason.WRONG_KEY_LIFECYCLE_STATE if version >= V2 else ResultReason.PERMISSION_DENIED
    assert r.reason() == expected

    reason = s("Revocation Reason", enum("Revocation Reason Code", RevocationReasonCode.CESSATION_OF_OPERATION))
    r = call(executor, request(version, (Operation.REVOKE, [text("Unique Identifier", uid), reason])))
    assert r.status() == ResultStatus.SUCCESS, r.message()
    r = call(executor, request(version, (Operation.DESTROY, [text("Unique Identifier", uid)])))
    assert r.status() == ResultStatus.SUCCESS, r.message()

    # Material gone, metadata kept.
    r = call(executor, request(version, (Operation.GET, [text("Unique Identifier", uid)])))
    assert r.status() == ResultStatus.OPERATION_FAILED
    r = call(executor, request(version, (Operation.GET_ATTRIBUTES, _state_request(version, uid))))
    assert r.status() == ResultStatus.SUCCESS
    assert _attribute_values(r, version, "State") == [State.DESTROYED]


def _state_request(version: tuple[int, int], uid: str) -> list[ttlv.Item]:
    if version >= V2:
        return [text("Unique Identifier", uid), enum("Attribute Reference", tag("State"))]
    return [text("Unique Identifier", uid), text("Attribute Name", "State")]


def _attribute_values(r: Response, version: tuple[int, int], name: str) -> list[object]:
    payload = r.payload()
    if version >= V2:
        attrs = payload.find(tag("Attributes"))
        assert attrs is not None
        return [a.value for a in attrs.children if a.tag == tag(name)]
    return [
        a.get(tag("Attribute Value"))
        for a in payload.find_all(tag("Attribute"))
        if a.get(tag("Attribute Name")) == name
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_get_attributes_shape_per_version(executor: Executor, version: tuple[int, int]) -> None:
    uid = create_aes(executor, version)
    r = call(executor, request(version, (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid)])))
    payload = r.payload()
    if version >= V2:
        assert payload.find(tag("Attributes")) is not None
        assert payload.find(tag("Attribute")) is None
    else:
        assert payload.find(tag("Attributes")) is None
        names = {a.get(tag("Attribute Name")) for a in payload.find_all(tag("Attribute"))}
        assert {"Cryptographic Algorithm", "Cryptographic Length", "State", "Name", "Digest"} <= names
    # Nothing the version does not define.
    for item in r.item.walk():
        entry = ttlv.REGISTRY.tags.by_value(item.tag, version)
        assert entry is not None and entry.defined_in(version), hex(item.tag)
    assert _attribute_values(r, version, "Cryptographic Length") == [256]


@pytest.mark.parametrize("version", [V1, V2])
def test_locate_filters_and_order(executor: Executor, version: tuple[int, int]) -> None:
    first = create_aes(executor, version, "alpha")
    second = create_aes(executor, version, "beta")
    third = create_aes(executor, version, "gamma")

    def locate(*attrs: ttlv.Item, extra: tuple[ttlv.Item, ...] = ()) -> list[str]:
        if version >= V2:
            payload = [*extra, s("Attributes", *attrs)]
        else:
            names = {tag("Name"): "Name", tag("Object Type"): "Object Type", tag("State"): "State"}
            payload = [*extra, *(attribute_v1(names[a.tag], a) for a in attrs)]
        r = call(executor, request(version, (Operation.LOCATE, payload)))
        assert r.status() == ResultStatus.SUCCESS, r.message()
        return [c.value for c in r.payload().find_all(tag("Unique Identifier"))]  # type: ignore[misc]

    assert locate(name_value("alpha")) == [first]
    assert locate(name_value("beta")) == [second]
    assert locate(enum("Object Type", ObjectType.SYMMETRIC_KEY)) == [third, second, first]
    assert locate(extra=(integer("Maximum Items", 1),)) == [third]
    if version >= (1, 3):
        assert locate(extra=(integer("Maximum Items", 1), integer("Offset Items", 1))) == [second]
    call(executor, request(version, (Operation.ACTIVATE, [text("Unique Identifier", second)])))
    assert locate(enum("State", State.ACTIVE)) == [second]
    # Another user sees none of them.
    r = call(executor, request(version, (Operation.LOCATE, [])), BOB)
    assert r.payload().find_all(tag("Unique Identifier")) == []


@pytest.mark.parametrize("version", [V1, V2])
def test_other_user_gets_item_not_found(executor: Executor, version: tuple[int, int]) -> None:
    uid = create_aes(executor, version)
    for op in (Operation.GET, Operation.GET_ATTRIBUTES, Operation.ACTIVATE, Operation.DESTROY):
        r = call(executor, request(version, (op, [text("Unique Identifier", uid)])), BOB)
        not_found = ResultReason.OBJECT_NOT_FOUND if version >= V2 else ResultReason.ITEM_NOT_FOUND
        assert r.status() == ResultStatus.OPERATION_FAILED
        assert r.reason() == not_found
    missing = call(executor, request(version, (Operation.GET, [text("Unique Identifier", "no-such-id")])), BOB)
    assert missing.reason() == not_found
    assert r.message() == f"object {uid} not found"


@pytest.mark.parametrize("version", [V1, V2])
def test_id_placeholder_batch(executor: Executor, version: tuple[int, int]) -> None:
    attrs = attributes(
        version, enum("Cryptographic Algorithm", CryptographicAlgorithm.AES), integer("Cryptographic Length", 128)
    )
    data = request(
        version,
        (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), attrs]),
        (Operation.ACTIVATE, []),
        (Operation.GET, []),
    )
    r = call(executor, data)
    assert [r.status(i) for i in range(3)] == [ResultStatus.SUCCESS] * 3
    uid = r.get("Unique Identifier", 0)
    assert r.get("Unique Identifier", 1) == uid == r.get("Unique Identifier", 2)


@pytest.mark.parametrize("option", list(BatchErrorContinuation))
def test_batch_error_continuation(executor: Executor, option: BatchErrorContinuation) -> None:
    version = (1, 4)
    attrs = attributes(
        version, enum("Cryptographic Algorithm", CryptographicAlgorithm.AES), integer("Cryptographic Length", 128)
    )
    data = request(
        version,
        (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), attrs]),
        (Operation.GET, [text("Unique Identifier", "missing")]),
        (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), attrs]),
        header_extra=[enum("Batch Error Continuation Option", option)],
    )
    r = call(executor, data)
    statuses = [r.status(i) for i in range(len(r.items))]
    if option == BatchErrorContinuation.CONTINUE:
        assert statuses == [ResultStatus.SUCCESS, ResultStatus.OPERATION_FAILED, ResultStatus.SUCCESS]
    elif option == BatchErrorContinuation.STOP:
        assert statuses == [ResultStatus.SUCCESS, ResultStatus.OPERATION_FAILED]
    else:
        assert statuses == [ResultStatus.OPERATION_UNDONE, ResultStatus.OPERATION_FAILED]
    located = call(executor, request(version, (Operation.LOCATE, [])))
    count = len(located.payload().find_all(tag("Unique Identifier")))
    assert count == {BatchErrorContinuation.CONTINUE: 2, BatchErrorContinuation.STOP: 1}.get(option, 0)


@pytest.mark.parametrize("version", [V1, V2])
def test_register_secret_data_and_opaque(executor: Executor, version: tuple[int, int]) -> None:
    secret = s(
        "Secret Data",
        enum("Secret Data Type", SecretDataType.PASSWORD),
        s("Key Block", enum("Key Format Type", KeyFormatType.OPAQUE), s("Key Value", bstr("Key Material", b"hunter2"))),
    )
    r = call(
        executor,
        request(
            version, (Operation.REGISTER, [enum("Object Type", ObjectType.SECRET_DATA), attributes(version), secret])
        ),
    )
    assert r.status() == ResultStatus.SUCCESS, r.message()
    uid = r.get("Unique Identifier")
    r = call(executor, request(version, (Operation.GET, [text("Unique Identifier", uid)])))
    got = r.payload().find(tag("Secret Data"))
    assert got is not None
    km = got.find(tag("Key Block")).find(tag("Key Value")).get(tag("Key Material"))  # type: ignore[union-attr]
    assert km == b"hunter2"

    opaque = s("Opaque Object", enum("Opaque Data Type", 0x80000001), bstr("Opaque Data Value", b"\x01\x02"))
    r = call(
        executor,
        request(
            version, (Operation.REGISTER, [enum("Object Type", ObjectType.OPAQUE_OBJECT), attributes(version), opaque])
        ),
    )
    assert r.status() == ResultStatus.SUCCESS, r.message()


@pytest.mark.parametrize("version", [V1, V2])
def test_read_only_attribute_refused(executor: Executor, version: tuple[int, int]) -> None:
    attrs = attributes(
        version,
        enum("Cryptographic Algorithm", CryptographicAlgorithm.AES),
        integer("Cryptographic Length", 128),
        enum("State", State.ACTIVE),
    )
    r = call(executor, request(version, (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), attrs])))
    assert r.status() == ResultStatus.OPERATION_FAILED
    expected = ResultReason.ATTRIBUTE_READ_ONLY if version >= V2 else ResultReason.PERMISSION_DENIED
    assert r.reason() == expected
    # Nothing was stored half-way.
    located = call(executor, request(version, (Operation.LOCATE, [])))
    assert located.payload().find_all(tag("Unique Identifier")) == []


def test_fips_policy_refuses_3des(executor: Executor) -> None:
    attrs = attributes(
        V2, enum("Cryptographic Algorithm", CryptographicAlgorithm._3DES), integer("Cryptographic Length", 168)
    )
    r = call(executor, request(V2, (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), attrs])))
    assert r.reason() == ResultReason.INVALID_FIELD
    assert "FIPS" in (r.message() or "")


@pytest.mark.parametrize("version", [(1, 0), V1, V2])
def test_add_modify_delete_attribute(executor: Executor, version: tuple[int, int]) -> None:
    uid = create_aes(executor, version)
    if version >= V2:
        add = [text("Unique Identifier", uid), s("New Attribute", name_value("second"))]
        modify = [
            text("Unique Identifier", uid),
            s("Current Attribute", name_value("second")),
            s("New Attribute", name_value("renamed")),
        ]
        delete = [text("Unique Identifier", uid), s("Current Attribute", name_value("renamed"))]
    else:
        add = [text("Unique Identifier", uid), attribute_v1("Name", name_value("second"))]
        modify = [text("Unique Identifier", uid), attribute_v1("Name", name_value("renamed"), index=1)]
        delete = [text("Unique Identifier", uid), text("Attribute Name", "Name"), integer("Attribute Index", 1)]
    for op, payload in (
        (Operation.ADD_ATTRIBUTE, add),
        (Operation.MODIFY_ATTRIBUTE, modify),
    ):
        r = call(executor, request(version, (op, payload)))
        assert r.status() == ResultStatus.SUCCESS, r.message()
        if version < V2:
            attr = r.payload().find(tag("Attribute"))
            assert attr is not None and attr.get(tag("Attribute Index")) == 1
    r = call(executor, request(version, (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid)])))
    names = [a.get(tag("Name Value")) for a in _attribute_items(r, version, "Name")]
    assert names == ["k1", "renamed"]
    r = call(executor, request(version, (Operation.DELETE_ATTRIBUTE, delete)))
    assert r.status() == ResultStatus.SUCCESS, r.message()
    r = call(executor, request(version, (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid)])))
    assert [a.get(tag("Name Value")) for a in _attribute_items(r, version, "Name")] == ["k1"]


def _attribute_items(r: Response, version: tuple[int, int], name: str) -> list[ttlv.Item]:
    values = _attribute_values(r, version, name)
    return [ttlv.Item(tag(name), ttlv.ItemType.STRUCTURE, v) for v in values]  # type: ignore[arg-type]


def test_query_and_discover(executor: Executor) -> None:
    r = call(
        executor,
        request(
            (1, 2),
            (Operation.QUERY, [enum("Query Function", QueryFunction.QUERY_OPERATIONS)]),
            (Operation.DISCOVER_VERSIONS, []),
        ),
    )
    ops = {i.value for i in r.payload(0).find_all(tag("Operation"))}
    assert {Operation.CREATE, Operation.GET, Operation.LOCATE, Operation.DESTROY} <= ops
    assert Operation.SET_ATTRIBUTE not in ops  # a 2.x operation is not offered to a 1.2 client
    versions = [
        (v.get(tag("Protocol Version Major")), v.get(tag("Protocol Version Minor")))
        for v in r.payload(1).find_all(tag("Protocol Version"))
    ]
    assert versions[0] == (2, 1) and (1, 0) in versions


def test_bad_messages(executor: Executor) -> None:
    # Not TTLV at all: the connection is to be closed.
    assert executor.process(b"\x00" * 16, ALICE) is None
    # A readable header with an unsupported version: an error response.
    r = call(executor, request((3, 0), (Operation.QUERY, [])))
    assert r.reason() == ResultReason.INVALID_MESSAGE
    # Batch Count mismatch.
    bad = request((1, 4), (Operation.QUERY, []), header_extra=[])
    msg = ttlv.decode(bad)
    header = msg.children[0]
    wrong = header._replace(
        value=tuple(c._replace(value=5) if c.tag == tag("Batch Count") else c for c in header.children)
    )
    r = call(executor, ttlv.encode(msg._replace(value=(wrong, *msg.children[1:]))))
    assert r.reason() == ResultReason.INVALID_MESSAGE
    # An unknown operation.
    r = call(executor, request((2, 1), (0x8000FFFF, [])))  # type: ignore[arg-type]
    assert r.reason() == ResultReason.OPERATION_NOT_SUPPORTED


def test_maximum_response_size(executor: Executor) -> None:
    r = call(
        executor,
        request(
            (1, 2),
            (Operation.QUERY, [enum("Query Function", QueryFunction.QUERY_OPERATIONS)]),
            header_extra=[integer("Maximum Response Size", 64)],
        ),
    )
    assert r.reason() == ResultReason.RESPONSE_TOO_LARGE


def test_locate_storage_status(executor: Executor) -> None:
    uid = create_aes(executor, V2)
    call(executor, request(V2, (Operation.DESTROY, [text("Unique Identifier", uid)])))
    r = call(executor, request(V2, (Operation.LOCATE, [s("Attributes")])))
    assert r.payload().find_all(tag("Unique Identifier")) == []
    r = call(
        executor,
        request(
            V2,
            (Operation.LOCATE, [integer("Storage Status Mask", StorageStatusMask.DESTROYED_STORAGE), s("Attributes")]),
        ),
    )
    assert [i.value for i in r.payload().find_all(tag("Unique Identifier"))] == [uid]


@pytest.mark.parametrize("version", [(1, 0), (1, 4), (2, 1)])
def test_custom_attributes_stored_and_returned(executor: Executor, version: tuple[int, int]) -> None:
    uid = create_aes(executor, version)
    value = text("Attribute Value", "blue")
    if version >= V2:
        custom = s("Attribute", text("Vendor Identification", "x"), text("Attribute Name", "colour"), value)
        add = [text("Unique Identifier", uid), s("New Attribute", custom)]
    else:
        add = [text("Unique Identifier", uid), attribute_v1("x-colour", value)]
    r = call(executor, request(version, (Operation.ADD_ATTRIBUTE, add)))
    assert r.status() == ResultStatus.SUCCESS, r.message()
    r = call(executor, request(version, (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid)])))
    payload = r.payload()
    if version >= V2:
        attrs = payload.find(tag("Attributes"))
        assert attrs is not None
        customs = attrs.find_all(tag("Attribute"))
        assert [(c.get(tag("Vendor Identification")), c.get(tag("Attribute Name"))) for c in customs] == [
            ("x", "colour")
        ]
        assert customs[0].get(tag("Attribute Value")) == "blue"
    else:
        found = [a for a in payload.find_all(tag("Attribute")) if a.get(tag("Attribute Name")) == "x-colour"]
        assert [a.get(tag("Attribute Value")) for a in found] == ["blue"]
    # A server attribute (y-) cannot be set by a client.
    server_attr = attribute_v1("y-owner-note", text("Attribute Value", "x"))
    if version < V2:
        r = call(executor, request(version, (Operation.ADD_ATTRIBUTE, [text("Unique Identifier", uid), server_attr])))
        assert r.status() == ResultStatus.OPERATION_FAILED


@pytest.mark.parametrize("version", [(1, 0), (1, 2)])
def test_templates_and_operation_policy_name(executor: Executor, version: tuple[int, int]) -> None:
    template = s(
        "Template",
        attribute_v1("Name", name_value("aes-template")),
        attribute_v1("Cryptographic Algorithm", enum("Cryptographic Algorithm", CryptographicAlgorithm.AES)),
        attribute_v1("Cryptographic Length", integer("Cryptographic Length", 128)),
        attribute_v1("Object Group", text("Object Group", "from-template")),
    )
    r = call(
        executor,
        request(
            version, (Operation.REGISTER, [enum("Object Type", ObjectType.TEMPLATE), s("Template-Attribute"), template])
        ),
    )
    assert r.status() == ResultStatus.SUCCESS, r.message()
    # A Create that names the template inherits its attributes (1.x, deprecated but still used).
    uses_template = s(
        "Template-Attribute",
        s("Name", text("Name Value", "aes-template"), enum("Name Type", 1)),
        attribute_v1("Operation Policy Name", text("Operation Policy Name", "default")),
        attribute_v1("Name", name_value("made-from-template")),
    )
    r = call(
        executor, request(version, (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), uses_template]))
    )
    assert r.status() == ResultStatus.SUCCESS, r.message()
    uid = r.get("Unique Identifier")
    r = call(executor, request(version, (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid)])))
    assert _attribute_values(r, version, "Cryptographic Length") == [128]
    assert _attribute_values(r, version, "Object Group") == ["from-template"]
    assert _attribute_values(r, version, "Operation Policy Name") == ["default"]
    names = [a.get(tag("Name Value")) for a in _attribute_items(r, version, "Name")]
    assert names == ["made-from-template"]  # the template's own Name stays with the template
    # A 2.x client never sees the attribute its version removed.
    r = call(executor, request((2, 0), (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid)])))
    assert r.status() == ResultStatus.SUCCESS
    assert all(i.tag != tag("Operation Policy Name") for i in r.item.walk())
    # Naming a template that does not exist fails cleanly, and creates nothing.
    missing_template = s("Template-Attribute", s("Name", text("Name Value", "no-such-template"), enum("Name Type", 1)))
    r = call(
        executor,
        request(version, (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), missing_template])),
    )
    assert r.reason() == ResultReason.ITEM_NOT_FOUND


@pytest.mark.parametrize("version", [V1, V2])
def test_names_are_unique(executor: Executor, version: tuple[int, int]) -> None:
    non_unique = ResultReason.NON_UNIQUE_NAME_ATTRIBUTE if version >= V2 else ResultReason.INVALID_FIELD
    uid = create_aes(executor, version, "only-once")
    # An object never holds the same Name twice.
    if version >= V2:
        add = [text("Unique Identifier", uid), s("New Attribute", name_value("only-once"))]
    else:
        add = [text("Unique Identifier", uid), attribute_v1("Name", name_value("only-once"))]
    assert call(executor, request(version, (Operation.ADD_ATTRIBUTE, add))).reason() == non_unique
    # By default two objects may share a name: PyKMIP-based clients give every
    # object of a type the same default name.
    create_aes(executor, version, "only-once")

    strict = Executor(executor.store, ExecutorSettings(unique_names=True))
    attrs = attributes(
        version,
        enum("Cryptographic Algorithm", CryptographicAlgorithm.AES),
        integer("Cryptographic Length", 128),
        name_value("strict-name"),
    )
    create = request(version, (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), attrs]))
    first = call(strict, create)
    assert first.status() == ResultStatus.SUCCESS, first.message()
    assert call(strict, create).reason() == non_unique
    # Uniqueness is checked among what the caller sees: never reveals another user's object.
    assert call(strict, create, BOB).status() == ResultStatus.SUCCESS
    # Once destroyed, the key no longer holds its name.
    call(strict, request(version, (Operation.DESTROY, [text("Unique Identifier", first.get("Unique Identifier"))])))
    assert call(strict, create).status() == ResultStatus.SUCCESS


@pytest.mark.parametrize("version", [V1, V2])
def test_get_clears_fresh(executor: Executor, version: tuple[int, int]) -> None:
    uid = create_aes(executor, version)
    fresh = [text("Unique Identifier", uid)]
    fresh.append(enum("Attribute Reference", tag("Fresh")) if version >= V2 else text("Attribute Name", "Fresh"))
    assert _attribute_values(call(executor, request(version, (Operation.GET_ATTRIBUTES, fresh))), version, "Fresh") == [
        True
    ]
    r = call(executor, request(version, (Operation.GET, [text("Unique Identifier", uid)])))
    assert r.status() == ResultStatus.SUCCESS
    assert _attribute_values(call(executor, request(version, (Operation.GET_ATTRIBUTES, fresh))), version, "Fresh") == [
        False
    ]
