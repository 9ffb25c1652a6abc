"""Create Split Key / Join Split Key and Split Key objects (kmsd.ops.split)."""

from __future__ import annotations

import itertools
import random
import secrets

import pytest

from kmsd.crypto import sharing
from kmsd.kmip.enums import (
    CryptographicAlgorithm,
    KeyFormatType,
    LinkType,
    ObjectType,
    Operation,
    ResultReason,
    ResultStatus,
    SecretDataType,
    SplitKeyMethod,
)
from kmsd.kmip.errors import KmipError
from kmsd.ops.access import AccessOperation, AccessTag
from kmsd.ops.executor import Executor, ExecutorSettings
from kmsd.server.peer import Peer
from kmsd.store import Store
from ttlv import Item, ItemType

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


def key_block(material: bytes, *, algorithm: bool = True) -> Item:
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
    ex: Executor,
    version: tuple[int, int],
    uid: str | None,
    parts: int,
    threshold: int,
    method: int,
    prime: int | None = None,
    peer: Peer = ALICE,
) -> Response:
    payload = [enum("Object Type", ObjectType.SPLIT_KEY)]
    if uid is not None:
        payload.append(text("Unique Identifier", uid))
    payload += [
        integer("Split Key Parts", parts),
        integer("Split Key Threshold", threshold),
        enum("Split Key Method", method),
        *(() if prime is None else (Item(tag("Prime Field Size"), ItemType.BIG_INTEGER, prime),)),
        attributes(
            version,
            *(
                (enum("Cryptographic Algorithm", CryptographicAlgorithm.AES), integer("Cryptographic Length", 256))
                if uid is None
                else ()
            ),
        ),
    ]
    return call(ex, request(version, (Operation.CREATE_SPLIT_KEY, payload)), peer)


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


# -- the arithmetic (kmsd.crypto.sharing) --------------------------------------------------
def test_gf256_is_the_spec_field() -> None:
    # KMIP 2.1 §13.1: modulo x^8+x^4+x^3+x^2+1 (0x11D), not the AES polynomial.
    mul = sharing.GF256.mul
    assert mul(0x02, 0xC6) == 0x91
    assert mul(0x80, 0x02) == 0x1D
    for a in range(1, 256):
        assert mul(a, sharing.GF256.inv(a)) == 1
        assert mul(a, 1) == a and mul(a, 0) == 0
        for b in range(256):
            assert mul(a, b) == sharing.gf256_mul_slow(a, b)


def test_shamir_matches_the_oasis_vectors() -> None:
    # TC-SJ-3-14: parts 1, 3 and 4 of a 2-of-4 GF(2^8) split of 0102…10.
    shares = {
        1: bytes.fromhex("66C46A7754F94DE420C7B1A7FFF5EC56"),
        3: bytes.fromhex("A855B891F61AD9217240D8EC061E37DA"),
        4: bytes.fromhex("803DBAD55CDD329FAD19D99AE2C5A415"),
    }
    assert sharing.gf256_join({1: shares[1], 3: shares[3]}, 2) == KEY
    assert sharing.gf256_join({3: shares[3], 4: shares[4]}, 2) == KEY
    assert sharing.gf256_join(shares, 2) == KEY  # the third part lies on the same polynomial
    corrupt = {**shares, 4: bytes([shares[4][0] ^ 1]) + shares[4][1:]}
    with pytest.raises(sharing.SharingError, match="Key Part 4"):
        sharing.gf256_join(corrupt, 2)


def spec_inverse(a: int) -> int:
    """KMIP 2.1 §13.1: (uy+v)^-1 = u d^-1 y + (u+v) d^-1, d = (u+v)v + m u^2."""
    f = sharing.GF256
    u, v = a >> 8, a & 0xFF
    d = f.mul(u ^ v, v) ^ f.mul(sharing.GF65536_M, f.mul(u, u))
    return (f.mul(u, f.inv(d)) << 8) | f.mul(u ^ v, f.inv(d))


def test_gf65536_is_the_spec_tower() -> None:
    f, tower, big = sharing.GF256, sharing.gf65536_mul_tower, sharing.gf65536()
    # y^2 + y + m is irreducible over GF(2^8): no root (so the tower is a field).
    assert all(f.mul(y, y) ^ y ^ sharing.GF65536_M for y in range(256))
    assert tower(0x0100, 0x0100) == 0x0100 ^ sharing.GF65536_M  # y^2 = y + m
    for a in range(1, 1 << 16):
        assert big.inv(a) == spec_inverse(a)  # the spec's inverse formula, under our product
    rng = random.Random(1)
    for _ in range(3000):
        a, b, c = (rng.randrange(1 << 16) for _ in range(3))
        assert big.mul(a, b) == tower(a, b) == tower(b, a)
        assert tower(tower(a, b), c) == tower(a, tower(b, c))
        assert tower(a, b ^ c) == tower(a, b) ^ tower(a, c)
        assert tower(a, 1) == a
    # GF(2^8) sits inside as the elements 0y + v: part numbers multiply as bytes.
    assert all(big.mul(a, b) == f.mul(a, b) for a in range(256) for b in range(0, 256, 7))


def test_the_printed_gf65536_product_has_no_unit() -> None:
    """§13.1 prints the constant term as ru + svm; with it no e has e*1 = 1 and
    e*y = y, so it cannot be the field's product (sharing implements rum + sv)."""
    f, m = sharing.GF256, sharing.GF65536_M

    def printed(a: int, b: int) -> int:
        r, s_, u, v = a >> 8, a & 0xFF, b >> 8, b & 0xFF
        high = f.mul(r ^ s_, u ^ v) ^ f.mul(s_, v)
        return (high << 8) | (f.mul(r, u) ^ f.mul(f.mul(s_, v), m))

    assert not [e for e in range(1 << 16) if printed(e, 1) == 1 and printed(e, 0x0100) == 0x0100]


PRIME_128 = 2**128 + 51  # the least prime above 2^128
PRIME_255 = 2**255 - 19
PRIME_256 = 2**256 + 297  # the least prime above 2^256


def test_primality() -> None:
    for p in (257, 65537, 2**127 - 1, PRIME_128, 2**128 - 159, PRIME_255, PRIME_256, 2**521 - 1):
        assert sharing.is_probable_prime(p), p
    # 561 a Carmichael number, 2^128+1 = 59649589127497217 * 5704689200685129054721, a square, a product of two primes.
    for n in (1, 0, -7, 561, 2**128 + 1, PRIME_128**2, (2**127 - 1) * PRIME_128, 1 << 130):
        assert not sharing.is_probable_prime(n), n


def test_prime_field_checks() -> None:
    sharing.check_prime_field(PRIME_128, 128)
    for prime, bits, message in (
        (PRIME_128, 136, "larger than 2\\^136"),
        (2**128 + 1, 128, "not a prime"),
        (251, None, "larger than 256"),
        (-PRIME_128, None, "larger than 256"),
        (2**1279 - 1, None, "at most 1040 bits"),
    ):
        with pytest.raises(KmipError, match=message) as caught:
            sharing.check_prime_field(prime, bits)
        assert caught.value.reason == ResultReason.INVALID_FIELD


METHODS = ("xor", "gf8", "gf16", "prime")


def split_with(method: str, secret: bytes, parts: int, threshold: int) -> list[bytes]:
    if method == "xor":
        return sharing.xor_split(secret, parts)
    if method == "gf8":
        return sharing.gf256_split(secret, parts, threshold)
    if method == "gf16":
        return sharing.gf65536_split(secret, parts, threshold)
    return sharing.prime_split(secret, parts, threshold, PRIME_128)


def join_with(method: str, shares: dict[int, bytes], threshold: int, size: int) -> bytes:
    if method == "xor":
        return sharing.xor_join(*shares.values())
    if method == "gf8":
        return sharing.gf256_join(shares, threshold)
    if method == "gf16":
        return sharing.gf65536_join(shares, threshold, size)
    return sharing.prime_join(shares, threshold, PRIME_128, size)


@pytest.mark.parametrize("method", METHODS)
def test_every_small_scheme(method: str) -> None:
    """Every k-of-n with n <= 5: each k parts give the secret back, k-1 do not."""
    for size in (16, 15, 1):
        for parts in range(1, 6):
            for threshold in (parts,) if method == "xor" else range(1, parts + 1):
                secret = secrets.token_bytes(size)
                shares = split_with(method, secret, parts, threshold)
                assert len(shares) == parts
                expected = {"gf16": size + size % 2, "prime": 17}.get(method, size)
                assert all(len(x) == expected for x in shares)
                numbered = dict(enumerate(shares, start=1))
                for chosen in itertools.combinations(numbered, threshold):
                    assert join_with(method, {x: numbered[x] for x in chosen}, threshold, size) == secret
                # All n parts at once: the surplus ones are checked, and agree.
                assert join_with(method, numbered, threshold, size) == secret
                if threshold >= 2 and size == 16:
                    # k-1 parts read as a (k-1)-of-n split give some other value.
                    for chosen in itertools.combinations(numbered, threshold - 1):
                        below = {x: numbered[x] for x in chosen}
                        if method == "xor":
                            assert sharing.xor_join(*below.values()) != secret
                        elif method == "prime":  # f(0) is any field element: read it whole
                            value = sharing.prime_join(below, threshold - 1, PRIME_128, 17)
                            assert int.from_bytes(value, "big") != int.from_bytes(secret, "big")
                        else:
                            assert join_with(method, below, threshold - 1, size) != secret


def test_one_part_reveals_nothing_about_one_byte() -> None:
    """2-of-n over GF(2^8): for a fixed part 1, every secret byte is possible,
    each with exactly one part 2 (the shares are uniform, not a function of s)."""
    for share_one in (0x00, 0x5A, 0xFF):
        seen = {sharing.gf256_join({1: bytes([share_one]), 2: bytes([b])}, 2)[0] for b in range(256)}
        assert seen == set(range(256))


@pytest.mark.parametrize("method", ["gf8", "gf16", "prime"])
def test_surplus_parts_of_another_split_are_refused(method: str) -> None:
    secret = secrets.token_bytes(16)
    one, two = split_with(method, secret, 4, 2), split_with(method, secret, 4, 2)
    with pytest.raises(sharing.SharingError, match="not split together"):
        join_with(method, {1: one[0], 2: one[1], 3: two[2]}, 2, 16)
    with pytest.raises(ValueError, match="1 shares, 2 needed"):
        join_with(method, {1: one[0]}, 2, 16)


def test_bad_shares() -> None:
    with pytest.raises(sharing.SharingError, match="not below Prime Field Size"):
        sharing.prime_join({1: (PRIME_128 + 1).to_bytes(17, "big"), 2: bytes(17)}, 2, PRIME_128, 16)
    # Exactly k parts of different splits over a large prime: f(0) is no 128-bit value.
    one, two = (sharing.prime_split(KEY, 3, 2, PRIME_255) for _ in range(2))
    with pytest.raises(sharing.SharingError, match="not split together"):
        sharing.prime_join({1: one[0], 2: two[1]}, 2, PRIME_255, 16)
    with pytest.raises(sharing.SharingError, match="has 16 bytes, not 15"):
        sharing.gf65536_join({1: bytes(15), 2: bytes(15)}, 2, 15)


# -- the operations -----------------------------------------------------------------------
PRIME = SplitKeyMethod.POLYNOMIAL_SHARING_PRIME_FIELD
GF16 = SplitKeyMethod.POLYNOMIAL_SHARING_GF_2_16
GF8 = SplitKeyMethod.POLYNOMIAL_SHARING_GF_2_8
ROUND_TRIPS = [
    (SplitKeyMethod.XOR, 3, 3, [0, 1, 2], None),
    (GF8, 5, 3, [4, 0, 2], None),
    (GF16, 4, 2, [3, 1], None),
    (PRIME, 3, 2, [2, 0, 1], PRIME_128),
]


def register_part(
    ex: Executor, version: tuple[int, int], fields: tuple[Item, ...], share: bytes, bits: int | None = None
) -> Response:
    block = s(
        "Key Block",
        enum("Key Format Type", KeyFormatType.RAW),
        s("Key Value", bstr("Key Material", share)),
        # As Create Split Key makes them: the split key's algorithm and length.
        *(
            ()
            if bits is None
            else (enum("Cryptographic Algorithm", CryptographicAlgorithm.AES), integer("Cryptographic Length", bits))
        ),
    )
    payload = [enum("Object Type", ObjectType.SPLIT_KEY), attributes(version), s("Split Key", *fields, block)]
    return call(ex, request(version, (Operation.REGISTER, payload)))


def scheme_fields(parts: int, part: int, threshold: int, method: int, prime: int | None) -> tuple[Item, ...]:
    return (
        integer("Split Key Parts", parts),
        integer("Key Part Identifier", part),
        integer("Split Key Threshold", threshold),
        enum("Split Key Method", method),
        *(() if prime is None else (Item(tag("Prime Field Size"), ItemType.BIG_INTEGER, prime),)),
    )


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("method", "parts", "threshold", "pick", "prime"), ROUND_TRIPS)
def test_round_trip(
    executor: Executor,
    version: tuple[int, int],
    method: int,
    parts: int,
    threshold: int,
    pick: list[int],
    prime: int | None,
) -> None:
    base = register_key(executor, version)
    r = create_split(executor, version, base, parts, threshold, method, prime)
    assert r.status() == ResultStatus.SUCCESS, r.message()
    made = uids(r)
    assert len(made) == parts
    # Get returns the Split Key with its fields (in the spec's order) and the original key's algorithm and length.
    g = call(executor, request(version, (Operation.GET, [text("Unique Identifier", made[1])])))
    assert g.get("Object Type") == ObjectType.SPLIT_KEY
    obj = g.payload().find(tag("Split Key"))
    assert obj is not None
    names = ["Split Key Parts", "Key Part Identifier", "Split Key Threshold", "Split Key Method"]
    names += ["Prime Field Size"] if prime is not None else []
    assert [c.tag for c in obj.children] == [tag(n) for n in [*names, "Key Block"]]
    assert obj.get(tag("Split Key Parts")) == parts and obj.get(tag("Key Part Identifier")) == 2
    assert obj.get(tag("Split Key Threshold")) == threshold and obj.get(tag("Split Key Method")) == method
    assert obj.get(tag("Prime Field Size")) == prime
    block = obj.find(tag("Key Block"))
    assert block is not None
    assert block.get(tag("Cryptographic Algorithm")) == CryptographicAlgorithm.AES
    assert block.get(tag("Cryptographic Length")) == 128
    share = material_of(executor, version, made[1], "Split Key")
    assert share != KEY and len(share) == (17 if prime else 16)

    r = join(executor, version, [made[i] for i in pick])
    assert r.status() == ResultStatus.SUCCESS, r.message()
    joined = r.get("Unique Identifier")
    assert material_of(executor, version, joined) == KEY

    # Registered parts join the same way (without Cryptographic Length: the size comes from the share or prime).
    parts_again = []
    for i in pick:
        share = material_of(executor, version, made[i], "Split Key")
        reg = register_part(executor, version, scheme_fields(parts, i + 1, threshold, method, prime), share)
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


def attribute_values(ex: Executor, version: tuple[int, int], uid: str, name: str, peer: Peer = ALICE) -> list[Item]:
    r = call(ex, request(version, (Operation.GET_ATTRIBUTES, [text("Unique Identifier", uid)])), peer)
    assert r.status() == ResultStatus.SUCCESS, r.message()
    if version >= (2, 0):
        attrs = r.payload().find(tag("Attributes"))
        assert attrs is not None
        return [a for a in attrs.children if a.tag == tag(name)]
    out = []
    for a in r.payload().find_all(tag("Attribute")):
        if a.get(tag("Attribute Name")) == name:
            value = a.find(tag("Attribute Value"))
            assert value is not None
            out.append(value)
    return out


def links_of(ex: Executor, version: tuple[int, int], uid: str, peer: Peer = ALICE) -> set[tuple[int, str]]:
    out = set()
    for v in attribute_values(ex, version, uid, "Link", peer):
        link_type, target = v.get(tag("Link Type")), v.get(tag("Linked Object Identifier"))
        assert isinstance(link_type, int) and isinstance(target, str)
        out.add((link_type, target))
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_links(executor: Executor, version: tuple[int, int]) -> None:
    base = register_key(executor, version)
    made = uids(create_split(executor, version, base, 3, 2, GF8))
    assert links_of(executor, version, made[0]) == {(LinkType.PARENT_LINK, base), (LinkType.NEXT_LINK, made[1])}
    assert links_of(executor, version, made[1]) == {
        (LinkType.PARENT_LINK, base),
        (LinkType.PREVIOUS_LINK, made[0]),
        (LinkType.NEXT_LINK, made[2]),
    }
    assert links_of(executor, version, made[2]) == {(LinkType.PARENT_LINK, base), (LinkType.PREVIOUS_LINK, made[1])}
    assert links_of(executor, version, base) == {(LinkType.CHILD_LINK, u) for u in made}
    # A generated key has no object to link to: the parts only chain.
    made = uids(create_split(executor, version, None, 2, 2, SplitKeyMethod.XOR))
    assert links_of(executor, version, made[0]) == {(LinkType.NEXT_LINK, made[1])}


def test_links_need_the_right_to_modify_the_base(executor: Executor) -> None:
    version = (2, 1)
    base = register_key(executor, version)
    payload = [text("Unique Identifier", base), Item(AccessTag.ACCESS_USER, ItemType.TEXT_STRING, "bob")]
    payload.append(Item(AccessTag.ACCESS_RIGHT, ItemType.TEXT_STRING, "get"))
    granted = call(executor, request(version, (AccessOperation.GRANT_ACCESS, payload)))  # type: ignore[arg-type]
    assert granted.status() == ResultStatus.SUCCESS, granted.message()
    r = create_split(executor, version, base, 2, 2, SplitKeyMethod.XOR, peer=BOB)
    assert r.status() == ResultStatus.SUCCESS, r.message()
    assert links_of(executor, version, base) == set()  # Bob may read Alice's key, not write to it
    part = uids(r)[0]
    assert (LinkType.PARENT_LINK, base) in links_of(executor, version, part, BOB)  # Bob's part points at it


@pytest.mark.parametrize("version", [(1, 4), (2, 1)])
@pytest.mark.parametrize(("method", "prime"), [(GF16, None), (PRIME, PRIME_128), (GF8, None)])
def test_secret_data_of_odd_length(
    executor: Executor, version: tuple[int, int], method: int, prime: int | None
) -> None:
    secret = b"seven b"  # 7 bytes: a GF(2^16) share is 8, a prime field share 17
    payload = [
        enum("Object Type", ObjectType.SECRET_DATA),
        attributes(version),
        s(
            "Secret Data",
            enum("Secret Data Type", SecretDataType.PASSWORD),
            s("Key Block", enum("Key Format Type", KeyFormatType.OPAQUE), s("Key Value", bstr("Key Material", secret))),
        ),
    ]
    reg = call(executor, request(version, (Operation.REGISTER, payload)))
    assert reg.status() == ResultStatus.SUCCESS, reg.message()
    r = create_split(executor, version, reg.get("Unique Identifier"), 3, 2, method, prime)
    assert r.status() == ResultStatus.SUCCESS, r.message()
    made = uids(r)
    share = material_of(executor, version, made[0], "Split Key")
    assert len(share) == {int(GF16): 8, int(PRIME): 17}.get(method, 7)
    payload = [enum("Object Type", ObjectType.SECRET_DATA), text("Unique Identifier", made[2])]
    payload.append(text("Unique Identifier", made[0]))
    r = call(executor, request(version, (Operation.JOIN_SPLIT_KEY, payload)))
    assert r.status() == ResultStatus.SUCCESS, r.message()
    assert material_of(executor, version, r.get("Unique Identifier"), "Secret Data") == secret


@pytest.mark.parametrize("version", [(1, 4), (2, 1)])
def test_generated_key_is_split(executor: Executor, version: tuple[int, int]) -> None:
    for method, prime in ((GF8, None), (GF16, None), (PRIME, PRIME_256)):
        r = create_split(executor, version, None, 3, 2, method, prime)
        assert r.status() == ResultStatus.SUCCESS, r.message()
        made = uids(r)
        one = material_of(executor, version, join(executor, version, [made[0], made[1]]).get("Unique Identifier"))
        two = material_of(executor, version, join(executor, version, [made[2], made[1]]).get("Unique Identifier"))
        assert one == two and len(one) == 32


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("method", "prime"), [(GF8, None), (GF16, None), (PRIME, PRIME_128)])
def test_threshold_too_low(executor: Executor, version: tuple[int, int], method: int, prime: int | None) -> None:
    made = uids(create_split(executor, version, register_key(executor, version), 5, 3, method, prime))
    r = join(executor, version, made[:2])
    assert r.status() == ResultStatus.OPERATION_FAILED
    assert r.reason() == ResultReason.CRYPTOGRAPHIC_FAILURE
    assert "2 Split Keys given, the Split Key Threshold is 3" in (r.message() or "")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("method", "prime"), [(GF8, None), (GF16, None), (PRIME, PRIME_128)])
def test_parts_of_different_splits(
    executor: Executor, version: tuple[int, int], method: int, prime: int | None
) -> None:
    base = register_key(executor, version)
    a = uids(create_split(executor, version, base, 4, 2, method, prime))
    b = uids(create_split(executor, version, base, 4, 2, method, prime))
    for mixed in ([a[0], b[1]], [a[3], b[0]], [b[2], a[0], a[1]]):
        r = join(executor, version, mixed)
        assert r.reason() == ResultReason.INVALID_FIELD, mixed
        assert "not split together" in (r.message() or "")
    # Registered copies carry no links: with a surplus part the polynomial tells.
    copies = []
    for uid, number in ((a[0], 1), (a[1], 2), (b[2], 3)):
        share = material_of(executor, version, uid, "Split Key")
        reg = register_part(executor, version, scheme_fields(4, number, 2, method, prime), share, 128)
        assert reg.status() == ResultStatus.SUCCESS, reg.message()
        copies.append(reg.get("Unique Identifier"))
    r = join(executor, version, copies)
    assert r.reason() == ResultReason.INVALID_FIELD and "not split together" in (r.message() or "")
    r = join(executor, version, copies[:2])
    assert r.status() == ResultStatus.SUCCESS and material_of(executor, version, r.get("Unique Identifier")) == KEY
    # Parts of different keys: their Parent Links differ.
    c = uids(create_split(executor, version, register_key(executor, version), 4, 2, method, prime))
    r = join(executor, version, [a[0], c[1]])
    assert r.reason() == ResultReason.INVALID_FIELD and "Parent Links" in (r.message() or "")


@pytest.mark.parametrize("version", VERSIONS)
def test_parts_of_another_user_are_not_found(executor: Executor, version: tuple[int, int]) -> None:
    made = uids(create_split(executor, version, register_key(executor, version), 2, 2, SplitKeyMethod.XOR))
    r = join(executor, version, made, BOB)
    not_found = ResultReason.OBJECT_NOT_FOUND if version >= (2, 0) else ResultReason.ITEM_NOT_FOUND
    assert r.status() == ResultStatus.OPERATION_FAILED and r.reason() == not_found
    # Nor may Bob split Alice's key.
    r = create_split(executor, version, register_key(executor, version), 2, 2, SplitKeyMethod.XOR, peer=BOB)
    assert r.status() == ResultStatus.OPERATION_FAILED and r.reason() == not_found


@pytest.mark.parametrize("version", VERSIONS)
def test_bad_schemes(executor: Executor, version: tuple[int, int]) -> None:
    base = register_key(executor, version)
    cases: list[tuple[int, int, int, int | None, int, str]] = [
        (3, 2, 0x99, None, ResultReason.INVALID_FIELD, "unknown Split Key Method"),
        (3, 2, SplitKeyMethod.XOR, None, ResultReason.INVALID_FIELD, "with XOR"),
        (3, 4, GF8, None, ResultReason.INVALID_FIELD, "Threshold must be from 1 to Split Key Parts (3), not 4"),
        (3, 4, GF16, None, ResultReason.INVALID_FIELD, "Threshold must be from 1"),
        (2, 3, PRIME, PRIME_128, ResultReason.INVALID_FIELD, "Threshold must be from 1"),
        (3, 0, GF16, None, ResultReason.INVALID_FIELD, "Threshold must be from 1"),
        (256, 2, GF8, None, ResultReason.INVALID_FIELD, "Parts must be from 1 to 255"),
        (1, 1, GF16, None, ResultReason.INVALID_FIELD, "at least 2 parts"),
        (3, 2, PRIME, None, ResultReason.MISSING_DATA, "Prime Field Size is required"),
        (3, 2, PRIME, 2**128 - 159, ResultReason.INVALID_FIELD, "larger than 2^128"),  # a prime, but below 2^128
        (3, 2, PRIME, 2**128 + 1, ResultReason.INVALID_FIELD, "not a prime"),
        (3, 2, PRIME, 255, ResultReason.INVALID_FIELD, "larger than 256"),
        (3, 2, PRIME, 2**1279 - 1, ResultReason.INVALID_FIELD, "at most 1040 bits"),
    ]
    for parts, threshold, method, prime, reason, message in cases:
        r = create_split(executor, version, base, parts, threshold, method, prime)
        assert r.status() == ResultStatus.OPERATION_FAILED, (parts, threshold, method)
        assert r.reason() == reason, (parts, threshold, method, r.message())
        assert message in (r.message() or ""), r.message()


@pytest.mark.parametrize("version", [(1, 4), (2, 1)])
def test_register_checks_the_fields(executor: Executor, version: tuple[int, int]) -> None:
    r = register_part(executor, version, scheme_fields(2, 3, 2, GF8, None), KEY)
    assert r.status() == ResultStatus.OPERATION_FAILED and r.reason() == ResultReason.INVALID_FIELD
    r = register_part(executor, version, scheme_fields(3, 1, 2, PRIME, None), KEY)
    assert r.reason() == ResultReason.MISSING_DATA
    r = register_part(executor, version, scheme_fields(3, 1, 2, PRIME, 2**128 + 1), KEY)
    assert r.reason() == ResultReason.INVALID_FIELD and "not a prime" in (r.message() or "")
    too_big = (PRIME_128 + 5).to_bytes(17, "big")
    r = register_part(executor, version, scheme_fields(3, 1, 2, PRIME, PRIME_128), too_big)
    assert r.reason() == ResultReason.INVALID_FIELD and "not below Prime Field Size" in (r.message() or "")
    r = register_part(executor, version, scheme_fields(3, 1, 2, PRIME, PRIME_128), bytes(17), 136)
    assert r.reason() == ResultReason.INVALID_FIELD and "larger than 2^136" in (r.message() or "")
    # Joining a part with a different scheme, or twice the same part, is refused.
    a = uids(create_split(executor, version, register_key(executor, version), 3, 2, GF8))
    b = uids(create_split(executor, version, register_key(executor, version), 4, 2, GF8))
    assert join(executor, version, [a[0], b[1]]).reason() == ResultReason.INVALID_FIELD
    assert join(executor, version, [a[0], a[0]]).reason() == ResultReason.INVALID_FIELD
    wrong_type = ResultReason.INVALID_OBJECT_TYPE if version >= (2, 0) else ResultReason.INVALID_FIELD  # 1.x has none
    assert join(executor, version, [register_key(executor, version)]).reason() == wrong_type


def test_work_is_bounded(executor: Executor) -> None:
    version = (2, 1)
    payload = [
        enum("Object Type", ObjectType.SECRET_DATA),
        attributes(version),
        s(
            "Secret Data",
            enum("Secret Data Type", SecretDataType.PASSWORD),
            s(
                "Key Block",
                enum("Key Format Type", KeyFormatType.OPAQUE),
                s("Key Value", bstr("Key Material", KEY * 4)),
            ),
        ),
    ]
    reg = call(executor, request(version, (Operation.REGISTER, payload)))
    assert reg.status() == ResultStatus.SUCCESS, reg.message()
    r = create_split(executor, version, reg.get("Unique Identifier"), 255, 255, GF8)  # 255 * 255 * 64 multiplications
    assert r.reason() == ResultReason.SERVER_LIMIT_EXCEEDED
    assert "255 parts with threshold 255 of a 64-byte secret" in (r.message() or "")
