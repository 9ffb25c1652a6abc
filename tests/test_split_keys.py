"""Create Split Key / Join Split Key and Split Key objects (kmsd.ops.split)."""

from __future__ import annotations

import secrets

import pytest

from kmsd.kmip.enums import (
    CryptographicAlgorithm,
    KeyFormatType,
    ObjectType,
    Operation,
    ResultReason,
    ResultStatus,
    SplitKeyMethod,
)
from kmsd.ops import split
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.server.peer import Peer
from kmsd.store import Store

from .kmip_builders import Response, attributes, bstr, enum, integer, request, s, tag, text

VERSIONS = [(1, 2), (1, 4), (2, 1)]
ALICE = Peer(identity="alice", address="127.0.0.1:1")
BOB = Peer(identity="bob", address="127.0.0.1:2")
KEY = bytes.fromhex("0102030405060708090a0b0c0d0e0f10")


@pytest.fixture
def executor(executor_store: Store) -> Executor:
    return Executor(executor_store, ExecutorSettings())


def call(ex: Executor, data: bytes, peer: Peer = ALICE) -> Response:
    out = ex.process(data, peer)
    assert out is not None
    return Response(out)


def key_block(material: bytes, *, algorithm: bool = True) -> object:
    extra = (enum("Cryptographic Algorithm", CryptographicAlgorithm.AES), integer("Cryptographic Length", 128))
    return s(
        "Key Block",
        enum("Key Format Type", KeyFormatType.RAW),
        s("Key Value", bstr("Key Material", material)),
        *(extra if algorithm else ()),
    )


def register_key(ex: Executor, version: tuple[int, int], material: bytes = KEY) -> str:
    payload = [
        enum("Object Type", ObjectType.SYMMETRIC_KEY),
        attributes(version),
        s("Symmetric Key", key_block(material)),
    ]
    r = call(ex, request(version, (Operation.REGISTER, payload)))
    assert r.status() == ResultStatus.SUCCESS, r.message()
    uid = r.get("Unique Identifier")
    assert isinstance(uid, str)
    return uid


def create_split(
    ex: Executor, version: tuple[int, int], uid: str | None, parts: int, threshold: int, method: int
) -> Response:
    payload = [enum("Object Type", ObjectType.SPLIT_KEY)]
    if uid is not None:
        payload.append(text("Unique Identifier", uid))
    payload += [
        integer("Split Key Parts", parts),
        integer("Split Key Threshold", threshold),
        enum("Split Key Method", method),
        attributes(
            version,
            *(
                (enum("Cryptographic Algorithm", CryptographicAlgorithm.AES), integer("Cryptographic Length", 256))
                if uid is None
                else ()
            ),
        ),
    ]
    return call(ex, request(version, (Operation.CREATE_SPLIT_KEY, payload)))


def uids(r: Response) -> list[str]:
    return [c.value for c in r.payload().children if c.tag == tag("Unique Identifier")]  # type: ignore[misc]


def join(ex: Executor, version: tuple[int, int], parts: list[str], peer: Peer = ALICE) -> Response:
    payload = [enum("Object Type", ObjectType.SYMMETRIC_KEY), *(text("Unique Identifier", u) for u in parts)]
    return call(ex, request(version, (Operation.JOIN_SPLIT_KEY, payload)), peer)


def material_of(ex: Executor, version: tuple[int, int], uid: str, object_name: str = "Symmetric Key") -> bytes:
    r = call(ex, request(version, (Operation.GET, [text("Unique Identifier", uid)])))
    assert r.status() == ResultStatus.SUCCESS, r.message()
    obj = r.payload().find(tag(object_name))
    assert obj is not None
    value = obj.find(tag("Key Block")).find(tag("Key Value")).get(tag("Key Material"))  # type: ignore[union-attr]
    assert isinstance(value, bytes)
    return value


# -- the field and the schemes ----------------------------------------------------------
def test_gf256_is_the_spec_field() -> None:
    # KMIP 2.1 §13.1: modulo x^8+x^4+x^3+x^2+1 (0x11D), not the AES polynomial.
    assert split.gf_mul(0x02, 0xC6) == 0x91
    assert split.gf_mul(0x80, 0x02) == 0x1D
    for a in range(1, 256):
        assert split.gf_mul(a, split.gf_inv(a)) == 1
        assert split.gf_mul(a, 1) == a and split.gf_mul(a, 0) == 0


def test_shamir_matches_the_oasis_vectors() -> None:
    # TC-SJ-3-14: parts 1 and 3 of a 2-of-4 split of 0102…10.
    shares = {
        1: bytes.fromhex("66C46A7754F94DE420C7B1A7FFF5EC56"),
        3: bytes.fromhex("A855B891F61AD9217240D8EC061E37DA"),
        4: bytes.fromhex("803DBAD55CDD329FAD19D99AE2C5A415"),
    }
    assert split.shamir_join({1: shares[1], 3: shares[3]}) == KEY
    assert split.shamir_join({3: shares[3], 4: shares[4]}) == KEY
    assert split.shamir_join(shares) == KEY


def test_shamir_any_threshold_subset() -> None:
    secret = secrets.token_bytes(32)
    shares = split.shamir_split(secret, 5, 3)
    assert split.shamir_join({2: shares[1], 4: shares[3], 5: shares[4]}) == secret
    assert split.shamir_join({1: shares[0], 2: shares[1]}) != secret  # below the threshold (overwhelmingly)
    xor = split.xor_split(secret, 4)
    assert split.xor_join(*xor) == secret


# -- the operations -----------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("method", "parts", "threshold", "pick"),
    [(SplitKeyMethod.XOR, 3, 3, [0, 1, 2]), (SplitKeyMethod.POLYNOMIAL_SHARING_GF_2_8, 5, 3, [4, 0, 2])],
)
def test_round_trip(
    executor: Executor, version: tuple[int, int], method: int, parts: int, threshold: int, pick: list[int]
) -> None:
    base = register_key(executor, version)
    r = create_split(executor, version, base, parts, threshold, method)
    assert r.status() == ResultStatus.SUCCESS, r.message()
    made = uids(r)
    assert len(made) == parts
    # Get returns the Split Key with its fields and the original key's algorithm and length.
    g = call(executor, request(version, (Operation.GET, [text("Unique Identifier", made[1])])))
    assert g.get("Object Type") == ObjectType.SPLIT_KEY
    obj = g.payload().find(tag("Split Key"))
    assert obj is not None
    assert obj.get(tag("Split Key Parts")) == parts and obj.get(tag("Key Part Identifier")) == 2
    assert obj.get(tag("Split Key Threshold")) == threshold and obj.get(tag("Split Key Method")) == method
    assert obj.find(tag("Key Block")).get(tag("Cryptographic Algorithm")) == CryptographicAlgorithm.AES  # type: ignore[union-attr]
    assert material_of(executor, version, made[1], "Split Key") != KEY

    r = join(executor, version, [made[i] for i in pick])
    assert r.status() == ResultStatus.SUCCESS, r.message()
    joined = r.get("Unique Identifier")
    assert material_of(executor, version, joined) == KEY

    # Registered parts join the same way.
    parts_again = []
    for i in pick:
        share = material_of(executor, version, made[i], "Split Key")
        fields = (
            integer("Split Key Parts", parts),
            integer("Key Part Identifier", i + 1),
            integer("Split Key Threshold", threshold),
            enum("Split Key Method", method),
            key_block(share, algorithm=False),
        )
        payload = [enum("Object Type", ObjectType.SPLIT_KEY), attributes(version), s("Split Key", *fields)]
        reg = call(executor, request(version, (Operation.REGISTER, payload)))
        assert reg.status() == ResultStatus.SUCCESS, reg.message()
        parts_again.append(reg.get("Unique Identifier"))
    payload = [
        enum("Object Type", ObjectType.SYMMETRIC_KEY),
        *(text("Unique Identifier", u) for u in parts_again),
        attributes(version, enum("Cryptographic Algorithm", CryptographicAlgorithm.AES)),
    ]
    r = call(executor, request(version, (Operation.JOIN_SPLIT_KEY, payload)))
    assert r.status() == ResultStatus.SUCCESS, r.message()
    assert material_of(executor, version, r.get("Unique Identifier")) == KEY


@pytest.mark.parametrize("version", [(1, 4), (2, 1)])
def test_generated_key_is_split(executor: Executor, version: tuple[int, int]) -> None:
    r = create_split(executor, version, None, 3, 2, SplitKeyMethod.POLYNOMIAL_SHARING_GF_2_8)
    assert r.status() == ResultStatus.SUCCESS, r.message()
    made = uids(r)
    one = material_of(executor, version, join(executor, version, [made[0], made[1]]).get("Unique Identifier"))
    two = material_of(executor, version, join(executor, version, [made[2], made[1]]).get("Unique Identifier"))
    assert one == two and len(one) == 32


@pytest.mark.parametrize("version", VERSIONS)
def test_threshold_too_low(executor: Executor, version: tuple[int, int]) -> None:
    made = uids(create_split(executor, version, register_key(executor, version), 5, 3, 4))
    r = join(executor, version, made[:2])
    assert r.status() == ResultStatus.OPERATION_FAILED
    assert r.reason() == ResultReason.CRYPTOGRAPHIC_FAILURE


@pytest.mark.parametrize("version", VERSIONS)
def test_parts_of_another_user_are_not_found(executor: Executor, version: tuple[int, int]) -> None:
    made = uids(create_split(executor, version, register_key(executor, version), 2, 2, SplitKeyMethod.XOR))
    r = join(executor, version, made, BOB)
    not_found = ResultReason.OBJECT_NOT_FOUND if version >= (2, 0) else ResultReason.ITEM_NOT_FOUND
    assert r.status() == ResultStatus.OPERATION_FAILED and r.reason() == not_found
    # Nor may Bob split Alice's key.
    r = call(
        executor,
        request(
            version,
            (
                Operation.CREATE_SPLIT_KEY,
                [
                    enum("Object Type", ObjectType.SPLIT_KEY),
                    text("Unique Identifier", register_key(executor, version)),
                    integer("Split Key Parts", 2),
                    integer("Split Key Threshold", 2),
                    enum("Split Key Method", SplitKeyMethod.XOR),
                    attributes(version),
                ],
            ),
        ),
        BOB,
    )
    assert r.status() == ResultStatus.OPERATION_FAILED and r.reason() == not_found


@pytest.mark.parametrize("version", VERSIONS)
def test_wrong_method(executor: Executor, version: tuple[int, int]) -> None:
    base = register_key(executor, version)
    for parts, threshold, method in ((3, 2, 0x99), (3, 2, SplitKeyMethod.XOR), (3, 4, 4), (256, 2, 4)):
        r = create_split(executor, version, base, parts, threshold, method)
        assert r.status() == ResultStatus.OPERATION_FAILED
        assert r.reason() == ResultReason.INVALID_FIELD, (parts, threshold, method)
    r = create_split(executor, version, base, 3, 2, SplitKeyMethod.POLYNOMIAL_SHARING_GF_2_16)
    assert r.reason() == ResultReason.FEATURE_NOT_SUPPORTED


@pytest.mark.parametrize("version", [(1, 4), (2, 1)])
def test_register_checks_the_fields(executor: Executor, version: tuple[int, int]) -> None:
    fields = (
        integer("Split Key Parts", 2),
        integer("Key Part Identifier", 3),
        integer("Split Key Threshold", 2),
        enum("Split Key Method", SplitKeyMethod.POLYNOMIAL_SHARING_GF_2_8),
        key_block(KEY, algorithm=False),
    )
    payload = [enum("Object Type", ObjectType.SPLIT_KEY), attributes(version), s("Split Key", *fields)]
    r = call(executor, request(version, (Operation.REGISTER, payload)))
    assert r.status() == ResultStatus.OPERATION_FAILED and r.reason() == ResultReason.INVALID_FIELD
    # Joining a part with a different scheme, or twice the same part, is refused.
    a = uids(create_split(executor, version, register_key(executor, version), 3, 2, 4))
    b = uids(create_split(executor, version, register_key(executor, version), 4, 2, 4))
    assert join(executor, version, [a[0], b[1]]).reason() == ResultReason.INVALID_FIELD
    assert join(executor, version, [a[0], a[0]]).reason() == ResultReason.INVALID_FIELD
    wrong_type = ResultReason.INVALID_OBJECT_TYPE if version >= (2, 0) else ResultReason.INVALID_FIELD  # 1.x has none
    assert join(executor, version, [register_key(executor, version)]).reason() == wrong_type
