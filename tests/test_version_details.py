"""Per-version protocol details the OASIS test cases rely on, fixed one by one.

Each test names the case (and the spec text) that needs the detail, so a
change that breaks a conformance case fails here first, with a readable reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kmsd.kmip import tags
from kmsd.kmip.enums import (
    CryptographicAlgorithm,
    CryptographicUsageMask,
    KeyFormatType,
    ObjectGroupMember,
    ObjectType,
    Operation,
    ProfileName,
    QueryFunction,
    ResultReason,
    ResultStatus,
    SecretDataType,
    UniqueIdentifierEnum,
)
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.ops.newobject import DEFAULT_OBJECT_GROUP
from kmsd.server.peer import Peer
from kmsd.store.sqlite import SqliteStore
from ttlv import Item, ItemType

from .kmip_builders import (
    Response,
    attribute_v1,
    attributes,
    boolean,
    bstr,
    enum,
    integer,
    request,
    s,
    tag,
    text,
)

ALICE = Peer(identity="alice", address="127.0.0.1:1")
MASK = int(CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT)


@pytest.fixture
def ex(tmp_path: Path) -> Iterator[Executor]:
    store = SqliteStore(str(tmp_path / "kms.db"))
    yield Executor(store, ExecutorSettings())
    store.close()


def call(ex: Executor, data: bytes) -> Response:
    out = ex.process(data, ALICE)
    assert out is not None
    return Response(out)


def aes_attrs(version: tuple[int, int], *extra: Item) -> Item:
    return attributes(
        version,
        enum("Cryptographic Algorithm", CryptographicAlgorithm.AES),
        integer("Cryptographic Length", 256),
        integer("Cryptographic Usage Mask", MASK),
        *extra,
    )


def create(ex: Executor, version: tuple[int, int], *extra: Item) -> str:
    r = call(
        ex,
        request(
            version, (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), aes_attrs(version, *extra)])
        ),
    )
    assert r.status() == ResultStatus.SUCCESS, r.message()
    uid = r.get("Unique Identifier")
    assert isinstance(uid, str)
    return uid


def group_locate(version: tuple[int, int], group: str, member: ObjectGroupMember) -> tuple[Operation, list[Item]]:
    """A 1.x Locate for one member of an object group (TC_151-153)."""
    return (
        Operation.LOCATE,
        [
            integer("Maximum Items", 1),
            enum("Object Group Member", member),
            attribute_v1("Object Group", text("Object Group", group)),
        ],
    )


# --- Object groups (1.1+ Object Group Member; kmsd.ops.groups) ---------------


@pytest.mark.parametrize("version", [(1, 1), (1, 2), (1, 4)])
def test_objects_without_a_group_join_the_default_group(ex: Executor, version: tuple[int, int]) -> None:
    """SKFF-O-6-11 lists Object Group among a created key's attributes."""
    uid = create(ex, version)
    r = call(ex, request(version, (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid)])))
    groups = [a for a in r.payload().find_all(tags.Attribute) if a.get(tags.AttributeName) == "Object Group"]
    assert [g.get(tags.AttributeValue) for g in groups] == [DEFAULT_OBJECT_GROUP]


def test_group_member_fresh_serves_oldest_first_and_empties(ex: Executor) -> None:
    """TC_152: fresh members in creation order; Get clears Fresh; an exhausted
    client group stays empty and a batched Get fails with Item Not Found."""
    v = (1, 1)
    first = create(ex, v, text("Object Group", "ClientFreshTest"))
    second = create(ex, v, text("Object Group", "ClientFreshTest"))
    for expected in (first, second):
        r = call(
            ex,
            request(v, group_locate(v, "ClientFreshTest", ObjectGroupMember.GROUP_MEMBER_FRESH), (Operation.GET, [])),
        )
        assert r.get("Unique Identifier", 0) == expected
        assert r.status(1) == ResultStatus.SUCCESS
    r = call(
        ex, request(v, group_locate(v, "ClientFreshTest", ObjectGroupMember.GROUP_MEMBER_FRESH), (Operation.GET, []))
    )
    assert r.payload(0).find(tags.UniqueIdentifier) is None
    assert r.reason(1) == ResultReason.ITEM_NOT_FOUND


def test_group_member_default_is_round_robin(ex: Executor) -> None:
    """TC_153: the oldest fresh member, then (none fresh) the oldest again."""
    v = (1, 2)
    uids = [create(ex, v, text("Object Group", "RR")) for _ in range(3)]
    served = []
    for _ in range(4):
        r = call(ex, request(v, group_locate(v, "RR", ObjectGroupMember.GROUP_MEMBER_DEFAULT), (Operation.GET, [])))
        served.append(r.get("Unique Identifier", 0))
    assert served == [*uids, uids[0]]


def test_fresh_member_of_the_default_group_is_made_on_the_fly(ex: Executor) -> None:
    """TC_151: "the server MAY choose to generate a new object on-the-fly"
    (kmsd: only for its own default group), and the new object is Fresh."""
    v = (1, 1)
    r = call(
        ex,
        request(
            v,
            group_locate(v, DEFAULT_OBJECT_GROUP, ObjectGroupMember.GROUP_MEMBER_FRESH),
            (Operation.GET_ATTRIBUTES, [text("Attribute Name", "Fresh")]),
        ),
    )
    assert isinstance(r.get("Unique Identifier", 0), str)
    assert r.payload(1).find(tags.Attribute).get(tags.AttributeValue) is True  # type: ignore[union-attr]
    r = call(ex, request(v, group_locate(v, "someone-elses", ObjectGroupMember.GROUP_MEMBER_FRESH)))
    assert r.payload().find(tags.UniqueIdentifier) is None


# --- Batch items and Unique Identifiers --------------------------------------


@pytest.mark.parametrize("version", [(1, 0), (1, 2), (2, 1)])
def test_critical_message_extension_fails_with_feature_not_supported(ex: Executor, version: tuple[int, int]) -> None:
    """TC_72: spec error table, "Criticality Indicator ... True, but the server
    does not understand the extension" -> Feature Not Supported; TC_71: a
    non-critical one is ignored."""
    import ttlv

    from .kmip_builders import s as struct

    for critical, status in ((True, ResultStatus.OPERATION_FAILED), (False, ResultStatus.SUCCESS)):
        data = ttlv.decode(request(version, (Operation.QUERY, [enum("Query Function", QueryFunction.QUERY_OBJECTS)])))
        item = data.find(tags.BatchItem)
        assert item is not None
        extension = struct(
            "Message Extension",
            text("Vendor Identification", "Acme"),
            boolean("Criticality Indicator", critical),
            struct("Vendor Extension", Item(0x54FF01, ItemType.TEXT_STRING, "na")),
        )
        patched = Item(item.tag, item.type, (*item.children, extension))
        message = Item(data.tag, data.type, tuple(patched if c.tag == tags.BatchItem else c for c in data.children))
        r = call(ex, ttlv.encode(message))
        assert r.status() == status
        if critical:
            assert r.reason() == ResultReason.FEATURE_NOT_SUPPORTED


def test_2x_unique_identifier_enumerations_and_batch_indexes(ex: Executor) -> None:
    """TC-REENCRYPT-3/4/5: ID Placeholder, the most recent "Create", an Integer
    naming a batch item (negative: counted back from the current one)."""
    v = (2, 1)
    new = (Operation.CREATE, [enum("Object Type", ObjectType.SYMMETRIC_KEY), aes_attrs(v)])

    def get(ref: Item) -> tuple[Operation, list[Item]]:
        return (Operation.GET, [ref])

    r = call(
        ex,
        request(
            v,
            new,
            get(enum("Unique Identifier", UniqueIdentifierEnum.ID_PLACEHOLDER)),
            new,
            get(enum("Unique Identifier", UniqueIdentifierEnum.CREATE)),
            get(integer("Unique Identifier", -4)),
            get(integer("Unique Identifier", 2)),
        ),
    )
    first, second = r.get("Unique Identifier", 0), r.get("Unique Identifier", 2)
    assert [r.get("Unique Identifier", i) for i in (1, 3, 4, 5)] == [first, second, first, second]


def test_an_empty_id_placeholder_is_item_not_found(ex: Executor) -> None:
    """TC-REENCRYPT-5 (2.x: Object Not Found) and TC_152 (1.x: Item Not Found)."""
    assert call(ex, request((1, 2), (Operation.GET, []))).reason() == ResultReason.ITEM_NOT_FOUND
    assert call(ex, request((2, 1), (Operation.GET, []))).reason() == ResultReason.OBJECT_NOT_FOUND


def test_get_attributes_with_a_repeated_name_is_invalid_message(ex: Executor) -> None:
    """TC_171: 1.x Get Attributes errors, "The same Attribute Name is present more than once"."""
    v = (1, 1)
    uid = create(ex, v)
    names = [text("Attribute Name", "Object Type")] * 2
    r = call(ex, request(v, (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid), *names])))
    assert r.reason() == ResultReason.INVALID_MESSAGE


# --- Register / Create details ----------------------------------------------


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_register_without_key_value_sets_key_value_present_false(ex: Executor, version: tuple[int, int]) -> None:
    """TC-MDO-1: a Key Block without Key Value; "Key Value Present SHALL be
    created by the server if the Key Value is absent"; Get returns the block."""
    block = s(
        "Key Block",
        enum("Key Format Type", KeyFormatType.RAW),
        enum("Cryptographic Algorithm", CryptographicAlgorithm.AES),
        integer("Cryptographic Length", 128),
    )
    location = s("Key Value Location", text("Key Value Location Value", "HSM-1"), enum("Key Value Location Type", 1))
    mask = integer("Cryptographic Usage Mask", MASK)
    r = call(
        ex,
        request(
            version,
            (
                Operation.REGISTER,
                [
                    enum("Object Type", ObjectType.SYMMETRIC_KEY),
                    attributes(version, mask, location),
                    s("Symmetric Key", block),
                ],
            ),
        ),
    )
    assert r.status() == ResultStatus.SUCCESS, r.message()
    uid = r.get("Unique Identifier")
    got = call(ex, request(version, (Operation.GET, [text("Unique Identifier", uid)])))
    key_block = got.payload().find(tags.SymmetricKey).find(tags.KeyBlock)  # type: ignore[union-attr]
    assert key_block is not None and key_block.find(tags.KeyValue) is None
    ref = (
        text("Attribute Name", "Key Value Present")
        if version < (2, 0)
        else enum("Attribute Reference", tag("Key Value Present"))
    )
    attrs = call(ex, request(version, (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid), ref])))
    assert False in [i.value for i in attrs.payload().walk() if i.tag in (tags.KeyValuePresent, tags.AttributeValue)]


def test_original_creation_date_may_be_set_at_register(ex: Executor) -> None:
    """TC-MDO-2: "The Original Creation Date MAY be set by the client during a Register operation"."""
    from datetime import UTC, datetime

    from .kmip_builders import dt

    v = (2, 1)
    when = datetime(1970, 1, 1, 10, 42, tzinfo=UTC)
    key = s(
        "Symmetric Key",
        s(
            "Key Block",
            enum("Key Format Type", KeyFormatType.RAW),
            s("Key Value", bstr("Key Material", bytes(16))),
            enum("Cryptographic Algorithm", CryptographicAlgorithm.AES),
            integer("Cryptographic Length", 128),
        ),
    )
    attrs = s(
        "Attributes",
        enum("Cryptographic Algorithm", CryptographicAlgorithm.AES),
        integer("Cryptographic Length", 128),
        dt("Original Creation Date", when),
    )
    r = call(ex, request(v, (Operation.REGISTER, [enum("Object Type", ObjectType.SYMMETRIC_KEY), attrs, key])))
    assert r.status() == ResultStatus.SUCCESS, r.message()
    got = call(
        ex,
        request(
            v,
            (
                Operation.GET_ATTRIBUTES,
                [
                    text("Unique Identifier", r.get("Unique Identifier")),
                    enum("Attribute Reference", tag("Original Creation Date")),
                ],
            ),
        ),
    )
    assert got.payload().find(tags.Attributes).get(tags.OriginalCreationDate) == when  # type: ignore[union-attr]


def test_transparent_symmetric_key_gets_a_digest_per_format(ex: Executor) -> None:
    """TC-DIGESTS-1-21: the mandatory SHA-256 over Raw, plus one over the
    TTLV-encoded Key Material of the format it was registered in."""
    v = (2, 1)
    material = bytes.fromhex("0000111122223333444455556666777788889999aaaabbbbccccddddeeeeffff")
    key = s(
        "Symmetric Key",
        s(
            "Key Block",
            enum("Key Format Type", KeyFormatType.TRANSPARENT_SYMMETRIC_KEY),
            s("Key Value", s("Key Material", bstr("Key", material))),
            enum("Cryptographic Algorithm", CryptographicAlgorithm.AES),
            integer("Cryptographic Length", 256),
        ),
    )
    r = call(ex, request(v, (Operation.REGISTER, [enum("Object Type", ObjectType.SYMMETRIC_KEY), aes_attrs(v), key])))
    uid = r.get("Unique Identifier")
    got = call(
        ex,
        request(
            v, (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid), enum("Attribute Reference", tag("Digest"))])
        ),
    )
    found = got.payload().find(tags.Attributes)
    assert found is not None
    digests = {d.get(tags.KeyFormatType): d.get(tags.DigestValue) for d in found.find_all(tags.Digest)}
    assert digests == {
        KeyFormatType.RAW: bytes.fromhex("6c064fe051add11edc07727b594eb48711df843e08445bba2cd786bc16bc58e8"),
        KeyFormatType.TRANSPARENT_SYMMETRIC_KEY: bytes.fromhex(
            "499ce96ff6f5e19fe9fe7a2fe4c3e92b88db0001a4e8df28d9966856b6c4b87c"
        ),
    }


def test_create_secret_data(ex: Executor) -> None:
    """TC-CREATE-SD-1: 2.x Create "generate[s] Secret Data" of Cryptographic Length bits."""
    v = (2, 1)
    r = call(
        ex,
        request(
            v,
            (
                Operation.CREATE,
                [enum("Object Type", ObjectType.SECRET_DATA), s("Attributes", integer("Cryptographic Length", 80))],
            ),
            (Operation.GET, []),
        ),
    )
    secret = r.payload(1).find(tags.SecretData)
    assert secret is not None and secret.get(tags.SecretDataType) == SecretDataType.PASSWORD
    assert len(secret.find(tags.KeyBlock).find(tags.KeyValue).get(tags.KeyMaterial)) == 10  # type: ignore[arg-type,union-attr]


def test_set_attribute_on_a_custom_attribute(ex: Executor) -> None:
    """TC-SETATTR-2/3-21: Set Attribute creates the first instance and
    replaces a single one, even for a multi-instance attribute."""
    v = (2, 1)
    uid = create(ex, v)

    def custom(value: str) -> Item:
        return s(
            "Attribute",
            text("Vendor Identification", "tc"),
            text("Attribute Name", "Set"),
            text("Attribute Value", value),
        )

    for value in ("one", "two"):
        r = call(
            ex,
            request(v, (Operation.SET_ATTRIBUTE, [text("Unique Identifier", uid), s("New Attribute", custom(value))])),
        )
        assert r.status() == ResultStatus.SUCCESS, r.message()
    ref = s("Attribute Reference", text("Vendor Identification", "tc"), text("Attribute Name", "Set"))
    got = call(ex, request(v, (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid), ref])))
    values = [a.get(tags.AttributeValue) for a in got.payload().find(tags.Attributes).find_all(tags.Attribute)]  # type: ignore[union-attr]
    assert values == ["two"]


# --- Query, Poll, Cancel -----------------------------------------------------


def query(ex: Executor, version: tuple[int, int], *functions: QueryFunction) -> Item:
    r = call(ex, request(version, (Operation.QUERY, [enum("Query Function", f) for f in functions])))
    return r.payload()


@pytest.mark.parametrize(
    ("version", "claimed", "not_claimed"),
    [
        ((1, 3), ProfileName.BASIC_CRYPTOGRAPHIC_SERVER_KMIP_V1_2, ProfileName.TAPE_LIBRARY_SERVER_KMIP_V1_4),
        ((1, 4), ProfileName.TAPE_LIBRARY_SERVER_KMIP_V1_4, ProfileName.BASELINE_SERVER_BASIC_KMIP_V1_4),
        ((2, 1), ProfileName.TAPE_LIBRARY_SERVER, ProfileName.BASELINE_SERVER),
    ],
)
def test_query_profiles_per_version(ex: Executor, version: tuple[int, int], claimed: int, not_claimed: int) -> None:
    """TC-Q-PROF-1-14: profiles (a 1.3 Query function) in the request
    version's numbering, editions up to the request's version, only those that pass."""
    names = [
        p.get(tags.ProfileName)
        for p in query(ex, version, QueryFunction.QUERY_PROFILES).find_all(tags.ProfileInformation)
    ]
    assert claimed in names and not_claimed not in names


@pytest.mark.parametrize("version", [(1, 3), (1, 4), (2, 1)])
def test_query_capabilities_fields_per_version(ex: Executor, version: tuple[int, int]) -> None:
    """Query Capabilities (1.3+) with the 1.3 fields Unwrap Mode … RNG Mode (TC-Q-CAP-*)."""
    caps = query(ex, version, QueryFunction.QUERY_CAPABILITIES).find(tags.CapabilityInformation)
    assert caps is not None
    assert caps.get(tags.DestroyAction) == 2  # Key Material Deleted
    assert caps.get(tags.ShreddingAlgorithm) == 3  # Unsupported
    assert caps.get(tags.StreamingCapability) is True and caps.get(tags.AsynchronousCapability) is False


def test_query_rngs_extensions_and_defaults(ex: Executor) -> None:
    """TC-Q-RNGS-1-14 (Unspecified), TC_122 (extension list/map), TC-MD-1-21 (Defaults Information)."""
    rng = query(ex, (1, 4), QueryFunction.QUERY_RNGS).find(tags.RNGParameters)
    assert rng is not None and rng.get(tags.RNGAlgorithm) == 1
    ext = query(ex, (1, 1), QueryFunction.QUERY_EXTENSION_MAP).find_all(tags.ExtensionInformation)
    assert ("Access User", 0x540002) in [(e.get(tags.ExtensionName), e.get(tags.ExtensionTag)) for e in ext]
    assert query(ex, (2, 1), QueryFunction.QUERY_DEFAULTS_INFORMATION).find(tags.DefaultsInformation) is not None
    assert query(ex, (1, 4), QueryFunction.QUERY_DEFAULTS_INFORMATION).find(tags.DefaultsInformation) is None


@pytest.mark.parametrize(
    ("version", "reason"),
    [((1, 0), ResultReason.ITEM_NOT_FOUND), ((2, 1), ResultReason.INVALID_ASYNCHRONOUS_CORRELATION_VALUE)],
)
def test_poll_and_cancel_know_no_correlation_value(ex: Executor, version: tuple[int, int], reason: int) -> None:
    """kmsd never answers Operation Pending, so every value is unknown (1.x: Item Not Found)."""
    assert {Operation.POLL, Operation.CANCEL} <= {
        i.value for i in query(ex, version, QueryFunction.QUERY_OPERATIONS).children
    }
    for op in (Operation.POLL, Operation.CANCEL):
        r = call(ex, request(version, (op, [bstr("Asynchronous Correlation Value", b"\x01\x02")])))
        assert r.reason() == reason
