"""Create Split Key and Join Split Key (KMIP 2.1 §6.1.10, §6.1.27; 1.2+), and Split Key objects (§2.8).

Theory of operation.  A Split Key object is one share of a secret: the
structure's Split Key Parts (n), Key Part Identifier (x, 1..n), Split Key
Threshold (k), Split Key Method and, for the prime field method only, Prime
Field Size fields, then a Key Block whose Key Material is the share (Raw
format).  The structure is the same in every version (1.0-2.1); Create and
Join Split Key exist from 1.2.  Create Split Key splits an existing Symmetric
Key or Secret Data (its Unique Identifier, read with the ``get`` right, since
the parts reveal it) or a new symmetric key it generates from the request's
Cryptographic Algorithm and Length, and registers the n parts as new objects
owned by the caller; the ID Placeholder becomes part 1.  Join Split Key reads
k or more parts (again ``get``: a part the caller may not see is Object Not
Found / Item Not Found, as a missing one), checks that they belong together
and recombines them into a new Symmetric Key or Secret Data.  Fewer than k
parts is Cryptographic Failure, as the OASIS test cases TC-SJ-1-14/TC-SJ-2-14
expect.  The arithmetic of the four methods is :mod:`kmsd.crypto.sharing`.

Links.  The spec asks for none, but its Link Types fit: each part has a Parent
Link to the key it was split from (when one was given), and the parts of one
split are a chain of Previous/Next Links in Key Part Identifier order; the
original key gets a Child Link to each part when the caller may modify its
attributes (owner or ``modify_attributes`` grant; splitting needs only
``get``, which must not let a caller write to someone else's key).

"Not one split".  Parts that disagree on Parts, Threshold, Method, Prime Field
Size, Cryptographic Length or Parent Link are refused (Invalid Field), and so
are server-made parts whose chain of Next Links from one to the next does not
arrive at the other (the chain is read directly: it reveals nothing about the
intermediate parts but whether the two given ones belong together).  With
more than k parts the surplus ones must lie on the same polynomial.  Exactly k
registered parts of different splits, without links, cannot be told apart
from one split: they join to a wrong key, a limit of the scheme itself.

The secret's length.  GF(2^16) shares of an odd-length secret are one byte
longer, and prime field shares are as long as the prime: for these methods a
part's Key Block carries the secret's Cryptographic Length (for Secret Data
too), and a join without it assumes an even-length secret (GF(2^16)) or the
longest secret the prime allows, (bits(p) - 1) // 8 bytes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from kmsd.crypto import sharing, symmetric
from kmsd.kmip import tags
from kmsd.kmip.enums import (
    KeyFormatType,
    LinkType,
    ObjectType,
    Operation,
    ResultReason,
    SecretDataType,
    State,
)
from kmsd.kmip.enums import SplitKeyMethod as Method
from kmsd.kmip.errors import KmipError, invalid_field, missing
from ttlv import Item, ItemType

from . import batchrefs, objects, templates
from .context import Context
from .keyblock import key_block, material_of
from .newobject import initial_attributes, object_tag, require_type
from .objects import link
from .registry import handler

MAX_PARTS = 255  # GF(2^8) has 255 non-zero evaluation points; a server limit for the other methods
MAX_SECRET_BYTES = 64 * 1024
JOINABLE = frozenset({ObjectType.SYMMETRIC_KEY, ObjectType.SECRET_DATA})
#: Methods whose shares do not tell the secret's length (kmsd.crypto.sharing).
LENGTH_IN_BLOCK = frozenset({Method.POLYNOMIAL_SHARING_GF_2_16, Method.POLYNOMIAL_SHARING_PRIME_FIELD})
NOT_ONE_SPLIT = "the Split Keys were not split together"
#: Field multiplications one request may cost (about 1.5 s of Python): 255-of-255
#: of a 256-bit key fits; 255 parts of a 64 KiB secret would take an hour.
WORK_LIMIT = 1 << 21


# -- the Split Key fields ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Scheme:
    parts: int
    threshold: int
    method: Method
    prime: int | None  # Prime Field Size, for the prime field method only

    def split(self, secret: bytes) -> list[bytes]:
        if self.method == Method.XOR:
            return sharing.xor_split(secret, self.parts)
        if self.method == Method.POLYNOMIAL_SHARING_GF_2_8:
            return sharing.gf256_split(secret, self.parts, self.threshold)
        if self.method == Method.POLYNOMIAL_SHARING_GF_2_16:
            return sharing.gf65536_split(secret, self.parts, self.threshold)
        assert self.prime is not None
        return sharing.prime_split(secret, self.parts, self.threshold, self.prime)

    def check_work(self, points: int, share_size: int) -> None:
        """Splitting (``points`` = n) or joining (the parts given) costs about
        points * k multiplications per field element."""
        elements = {
            Method.POLYNOMIAL_SHARING_GF_2_8: share_size,
            Method.POLYNOMIAL_SHARING_GF_2_16: (share_size + 1) // 2,
            Method.POLYNOMIAL_SHARING_PRIME_FIELD: 1,
        }.get(self.method, 0)
        if points * self.threshold * elements > WORK_LIMIT:
            raise KmipError(
                ResultReason.SERVER_LIMIT_EXCEEDED,
                f"{points} parts with threshold {self.threshold} of a {share_size}-byte secret: over the server limit",
            )

    def join(self, shares: dict[int, bytes], secret_size: int | None) -> bytes:
        """``secret_size``: bytes, from the parts' Key Block (None: not given)."""
        if self.method == Method.XOR:
            return sharing.xor_join(*shares.values())
        if self.method == Method.POLYNOMIAL_SHARING_GF_2_8:
            return sharing.gf256_join(shares, self.threshold)
        if self.method == Method.POLYNOMIAL_SHARING_GF_2_16:
            share_size = len(next(iter(shares.values())))
            return sharing.gf65536_join(shares, self.threshold, share_size if secret_size is None else secret_size)
        assert self.prime is not None
        if secret_size is None:
            secret_size = (self.prime.bit_length() - 1) // 8
        elif self.prime <= 1 << (8 * secret_size):
            raise invalid_field(f"Prime Field Size is too small for the parts' {8 * secret_size}-bit secret")
        return sharing.prime_join(shares, self.threshold, self.prime, secret_size)


def _int_field(source: Item, tag: int, name: str) -> int:
    value = source.get(tag)
    if value is None:
        raise missing(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_field(f"{name} must be an Integer")
    return value


def read_scheme(source: Item, *, for_create: bool = False) -> Scheme:
    """The scheme of a Create Split Key request or of a Split Key object (same
    tags).  The prime is checked for size here, for primality by the caller."""
    parts = _int_field(source, tags.SplitKeyParts, "Split Key Parts")
    threshold = _int_field(source, tags.SplitKeyThreshold, "Split Key Threshold")
    raw_method = _int_field(source, tags.SplitKeyMethod, "Split Key Method")
    try:
        method = Method(raw_method)
    except ValueError:
        raise invalid_field(f"unknown Split Key Method {raw_method:#x}") from None
    if not 1 <= parts <= MAX_PARTS:
        raise invalid_field(f"Split Key Parts must be from 1 to {MAX_PARTS}")
    if not 1 <= threshold <= parts:
        raise invalid_field(f"Split Key Threshold must be from 1 to Split Key Parts ({parts}), not {threshold}")
    if method == Method.XOR and threshold != parts:
        raise invalid_field("with XOR the Split Key Threshold is the number of Split Key Parts (§13.1)")
    if for_create and parts < 2:
        raise invalid_field("a key is split into at least 2 parts")
    prime = None
    if method == Method.POLYNOMIAL_SHARING_PRIME_FIELD:
        # Required with this method only (Table 9); ignored with the others.
        prime = _int_field(source, tags.PrimeFieldSize, "Prime Field Size")
        sharing.check_prime_size(prime)
    return Scheme(parts, threshold, method, prime)


def secret_size(obj: Item) -> int | None:
    """The secret's size in bytes, from the Cryptographic Algorithm and Length a
    part's Key Block declares (3DES: 168 bits are 24 bytes), or None."""
    block = obj.find(tags.KeyBlock)
    bits = block.get(tags.CryptographicLength) if block is not None else None
    if bits is None or block is None:
        return None
    algorithm = block.get(tags.CryptographicAlgorithm)
    if not isinstance(bits, int) or bits <= 0:
        raise invalid_field("a Split Key's Cryptographic Length must be a positive Integer")
    material = symmetric.material_bits(algorithm if isinstance(algorithm, int) else None, bits)
    if material % 8:
        raise invalid_field(f"a Split Key's Cryptographic Length must be whole bytes, not {bits} bits")
    return material // 8


def split_key_object(supplied: Item) -> Item:
    """A Split Key given to Register, checked (§2.8) and kept as given."""
    scheme = read_scheme(supplied)
    part = _int_field(supplied, tags.KeyPartIdentifier, "Key Part Identifier")
    if not 1 <= part <= scheme.parts:
        raise invalid_field(f"Key Part Identifier must be from 1 to Split Key Parts ({scheme.parts}), not {part}")
    if scheme.prime is not None:
        size = secret_size(supplied)
        sharing.check_prime_field(scheme.prime, None if size is None else 8 * size)
        block = supplied.find(tags.KeyBlock)
        if block is not None and int.from_bytes(material_of(block)[0], "big") >= scheme.prime:
            raise invalid_field("the share is not below Prime Field Size")
    return supplied


def _part_item(scheme: Scheme, part: int, share: bytes, algorithm: int | None, length: int | None) -> Item:
    prime = () if scheme.prime is None else (Item(tags.PrimeFieldSize, ItemType.BIG_INTEGER, scheme.prime),)
    return Item(
        object_tag(ObjectType.SPLIT_KEY),
        ItemType.STRUCTURE,
        (
            Item(tags.SplitKeyParts, ItemType.INTEGER, scheme.parts),
            Item(tags.KeyPartIdentifier, ItemType.INTEGER, part),
            Item(tags.SplitKeyThreshold, ItemType.INTEGER, scheme.threshold),
            Item(tags.SplitKeyMethod, ItemType.ENUMERATION, int(scheme.method)),
            *prime,
            key_block(share, KeyFormatType.RAW, algorithm, length),
        ),
    )


def _first_int(attrs: tuple[Item, ...], tag: int) -> int | None:
    return next((a.value for a in attrs if a.tag == tag and isinstance(a.value, int)), None)


def _without(attrs: tuple[Item, ...], *drop: int) -> tuple[Item, ...]:
    return tuple(a for a in attrs if a.tag not in drop)


def _uid_item(uid: str) -> Item:
    return Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, uid)


def _material(mo: objects.ManagedObject) -> bytes:
    block = mo.obj.find(tags.KeyBlock) if mo.obj is not None else None
    if block is None:
        raise KmipError(ResultReason.KEY_VALUE_NOT_PRESENT, f"object {mo.uid} has no key material")
    material, _ = material_of(block)
    return material


def _linked(attrs: tuple[Item, ...], link_type: LinkType) -> str | None:
    for a in attrs:
        if a.tag == tags.Link and a.get(tags.LinkType) == link_type:
            target = a.get(tags.LinkedObjectIdentifier)
            return target if isinstance(target, str) else None
    return None


def _part_links(uids: list[str], index: int, base: str | None) -> tuple[Item, ...]:
    links = [] if base is None else [link(LinkType.PARENT_LINK, base)]
    if index > 0:
        links.append(link(LinkType.PREVIOUS_LINK, uids[index - 1]))
    if index + 1 < len(uids):
        links.append(link(LinkType.NEXT_LINK, uids[index + 1]))
    return tuple(links)


# -- Create Split Key ------------------------------------------------------------------
@handler(Operation.CREATE_SPLIT_KEY, since=(1, 2), writes=True)
def create_split_key(ctx: Context, payload: Item) -> Item:
    if require_type(payload) != ObjectType.SPLIT_KEY:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "Create Split Key makes Split Key objects")
    scheme = read_scheme(payload, for_create=True)
    requested = payload.find(tags.Attributes)
    attrs = templates.expand(ctx, requested.children if requested else ())
    algorithm = _first_int(attrs, tags.CryptographicAlgorithm)
    length = _first_int(attrs, tags.CryptographicLength)
    base: objects.ManagedObject | None = None
    if payload.find(tags.UniqueIdentifier) is not None:
        # "If the attributes supplied in the request do not match those of the
        # key supplied, the attributes of the key take precedence."
        base = objects.load(ctx, objects.request_uid(ctx, payload), "get", for_update=True)
        if base.object_type not in JOINABLE:
            raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "only Symmetric Keys and Secret Data are split")
        if base.get(tags.Extractable) is False:
            raise KmipError(ResultReason.NOT_EXTRACTABLE, f"object {base.uid} is not extractable")
        secret = _material(base)
        base_alg, base_len = base.get(tags.CryptographicAlgorithm), base.get(tags.CryptographicLength)
        algorithm = base_alg if isinstance(base_alg, int) else None
        length = base_len if isinstance(base_len, int) else None
        if base.object_type == ObjectType.SYMMETRIC_KEY and length is None:
            length = len(secret) * 8
    else:
        if algorithm is None:
            raise missing("Cryptographic Algorithm")
        if length is None:
            raise missing("Cryptographic Length")
        ctx.policy.check_symmetric(algorithm, length)
        secret = symmetric.generate(length, algorithm)
    if not secret or len(secret) > MAX_SECRET_BYTES:
        raise invalid_field(f"the secret must be from 1 to {MAX_SECRET_BYTES} bytes")
    if scheme.method in LENGTH_IN_BLOCK:
        # The joiner learns the secret's size from the parts' Key Block only.
        if length is None:
            length = len(secret) * 8
        elif not symmetric.length_fits(algorithm, length, secret):
            raise invalid_field(f"Cryptographic Length {length} does not describe the key's material")
    if scheme.prime is not None:
        sharing.check_prime_field(scheme.prime, len(secret) * 8)
    scheme.check_work(scheme.parts, len(secret))
    shares = scheme.split(secret)
    attrs = _without(attrs, tags.CryptographicAlgorithm, tags.CryptographicLength)
    if algorithm is not None:
        attrs = (*attrs, Item(tags.CryptographicAlgorithm, ItemType.ENUMERATION, algorithm))
    if length is not None:
        attrs = (*attrs, Item(tags.CryptographicLength, ItemType.INTEGER, length))
    uids = [objects.new_uid() for _ in shares]
    for index, share in enumerate(shares):
        mo = objects.ManagedObject(
            uid=uids[index],
            object_type=ObjectType.SPLIT_KEY,
            state=State.PRE_ACTIVE,
            owner=ctx.user,
            obj=_part_item(scheme, index + 1, share, algorithm, length),
            attrs=(),
        )
        links = _part_links(uids, index, base.uid if base is not None else None)
        mo.attrs = (*initial_attributes(ctx, attrs, share, generated=True), *links)
        objects.apply_time_transitions(mo, ctx.now)
        objects.insert(ctx, mo)
    if base is not None and _may_modify(ctx, base):
        base.attrs = (*base.attrs, *(link(LinkType.CHILD_LINK, uid) for uid in uids))
        objects.save(ctx, base)
    ctx.id_placeholder = uids[0]  # "the split whose Key Part Identifier is 1"
    return Item(tags.ResponsePayload, ItemType.STRUCTURE, tuple(_uid_item(u) for u in uids))


def _may_modify(ctx: Context, mo: objects.ManagedObject) -> bool:
    return mo.owner == ctx.user or "modify_attributes" in ctx.tx.permissions(mo.uid, ctx.user)


# -- Join Split Key --------------------------------------------------------------------
def _request_uids(ctx: Context, payload: Item) -> list[str]:
    out = []
    for item in payload.children:
        if item.tag != tags.UniqueIdentifier:
            continue
        out.append(item.value if isinstance(item.value, str) else batchrefs.resolve(ctx, item))
    if not out:
        raise missing("Unique Identifier")
    return out


@dataclass(slots=True)
class _Gathered:
    """The parts of a Join, checked to agree on everything they declare."""

    scheme: Scheme
    parts: dict[int, objects.ManagedObject]  # by Key Part Identifier
    shares: dict[int, bytes]
    secret_size: int | None
    algorithm: int | None


def _gather(ctx: Context, uids: list[str]) -> _Gathered:
    found: _Gathered | None = None
    share_length = 0
    sizes: set[int] = set()
    parents: set[str] = set()
    for uid in uids:
        mo = objects.load(ctx, uid, "get")
        if mo.object_type != ObjectType.SPLIT_KEY:
            raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"object {uid} is not a Split Key")
        if mo.obj is None:
            raise KmipError(ResultReason.OBJECT_DESTROYED, f"object {uid} has been destroyed")
        scheme = read_scheme(mo.obj)
        part = _int_field(mo.obj, tags.KeyPartIdentifier, "Key Part Identifier")
        if not 1 <= part <= scheme.parts:
            raise invalid_field(f"object {uid}: Key Part Identifier {part} is not from 1 to {scheme.parts}")
        material = _material(mo)
        block = mo.obj.find(tags.KeyBlock)
        alg = block.get(tags.CryptographicAlgorithm) if block is not None else None
        if found is None:
            found = _Gathered(scheme, {}, {}, None, None)
            share_length = len(material)
        elif scheme != found.scheme:
            raise invalid_field(f"{NOT_ONE_SPLIT}: Parts, Threshold, Method or Prime Field Size differ")
        elif len(material) != share_length:
            raise invalid_field(f"{NOT_ONE_SPLIT}: the shares differ in length")
        if part in found.parts:
            raise invalid_field(f"Key Part Identifier {part} is given twice")
        # A registered part may lack what server-made ones carry: only values given must agree.
        size = secret_size(mo.obj) if scheme.method in LENGTH_IN_BLOCK else None
        parent = _linked(mo.attrs, LinkType.PARENT_LINK)
        sizes.update(() if size is None else (size,))
        parents.update(() if parent is None else (parent,))
        if len(sizes) > 1:
            raise invalid_field(f"{NOT_ONE_SPLIT}: their Key Blocks give different Cryptographic Lengths")
        if len(parents) > 1:
            raise invalid_field(f"{NOT_ONE_SPLIT}: their Parent Links name different keys")
        found.parts[part] = mo
        found.shares[part] = material
        if found.algorithm is None and isinstance(alg, int):
            found.algorithm = alg
    assert found is not None
    found.secret_size = next(iter(sizes), None)
    return found


def _check_chain(ctx: Context, parts: dict[int, objects.ManagedObject]) -> None:
    """Parts that the server made are a chain of Next Links: from each given
    part, the chain must reach the next given one.  A chain that the client
    broke (Delete Attribute) or whose objects are gone proves nothing."""
    chained = sorted(
        x
        for x, mo in parts.items()
        if _linked(mo.attrs, LinkType.NEXT_LINK) is not None or _linked(mo.attrs, LinkType.PREVIOUS_LINK) is not None
    )
    for low, high in itertools.pairwise(chained):
        current = parts[low].attrs
        target = parts[high].uid
        for step in range(high - low):
            following = _linked(current, LinkType.NEXT_LINK)
            if following is None:
                break
            if step == high - low - 1:
                if following != target:
                    raise invalid_field(f"{NOT_ONE_SPLIT}: Key Parts {low} and {high} come from different splits")
                break
            stored = ctx.tx.get(following)
            if stored is None:
                break
            current = objects.ManagedObject.from_stored(stored).attrs


@handler(Operation.JOIN_SPLIT_KEY, since=(1, 2), writes=True)
def join_split_key(ctx: Context, payload: Item) -> Item:
    object_type = require_type(payload)
    if object_type not in JOINABLE:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "Join Split Key makes Symmetric Keys or Secret Data")
    got = _gather(ctx, _request_uids(ctx, payload))
    threshold = got.scheme.threshold
    if len(got.shares) < threshold:
        raise KmipError(
            ResultReason.CRYPTOGRAPHIC_FAILURE,
            f"{len(got.shares)} Split Keys given, the Split Key Threshold is {threshold}: at least {threshold} needed",
        )
    _check_chain(ctx, got.parts)
    got.scheme.check_work(len(got.shares), len(next(iter(got.shares.values()))))
    secret = got.scheme.join(got.shares, got.secret_size)

    requested = payload.find(tags.Attributes)
    attrs = templates.expand(ctx, requested.children if requested else ())
    if object_type == ObjectType.SYMMETRIC_KEY:
        algorithm = _first_int(attrs, tags.CryptographicAlgorithm)
        algorithm = algorithm if algorithm is not None else got.algorithm
        if algorithm is None:
            raise missing("Cryptographic Algorithm")
        length = _first_int(attrs, tags.CryptographicLength)
        if length is not None and length != len(secret) * 8:
            raise invalid_field(f"Cryptographic Length {length} does not match the {len(secret) * 8}-bit joined key")
        length = len(secret) * 8
        ctx.policy.check_symmetric(algorithm, length)
        attrs = (
            *_without(attrs, tags.CryptographicAlgorithm, tags.CryptographicLength),
            Item(tags.CryptographicAlgorithm, ItemType.ENUMERATION, algorithm),
            Item(tags.CryptographicLength, ItemType.INTEGER, length),
        )
        obj = Item(
            object_tag(object_type), ItemType.STRUCTURE, (key_block(secret, KeyFormatType.RAW, algorithm, length),)
        )
    else:
        data_type = payload.get(tags.SecretDataType)
        if not isinstance(data_type, int):
            data_type = int(SecretDataType.PASSWORD)
        attrs = _without(attrs, tags.CryptographicAlgorithm, tags.CryptographicLength)
        extra = Item(tags.SecretDataType, ItemType.ENUMERATION, data_type)
        obj = Item(
            object_tag(object_type), ItemType.STRUCTURE, (extra, key_block(secret, KeyFormatType.OPAQUE, None, None))
        )
    mo = objects.ManagedObject(
        uid=objects.new_uid(),
        object_type=object_type,
        state=State.PRE_ACTIVE,
        owner=ctx.user,
        obj=obj,
        attrs=(),
    )
    mo.attrs = initial_attributes(ctx, attrs, secret)
    objects.apply_time_transitions(mo, ctx.now)
    objects.insert(ctx, mo)
    ctx.id_placeholder = mo.uid
    return Item(tags.ResponsePayload, ItemType.STRUCTURE, (_uid_item(mo.uid),))
