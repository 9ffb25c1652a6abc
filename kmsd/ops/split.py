"""Create Split Key and Join Split Key (KMIP 2.1 §6.1.10, §6.1.27; 1.2+), and Split Key objects (§2.8).

Theory of operation.  A Split Key object is one share of a secret: the
structure's Split Key Parts (n), Key Part Identifier (x, 1..n), Split Key
Threshold (k) and Split Key Method fields, then a Key Block whose Key
Material is the share (Raw format).  Create Split Key splits an existing
Symmetric Key or Secret Data (its Unique Identifier, read with the ``get``
right, since the parts reveal it) or a new symmetric key it generates from
the request's Cryptographic Algorithm and Length, and registers the n parts
as new objects owned by the caller; the ID Placeholder becomes part 1.  Join
Split Key reads k or more parts (again ``get``: a part the caller may not see
is Object Not Found / Item Not Found, as a missing one), checks that they
belong together and recombines them into a new Symmetric Key or Secret Data.
Fewer than k parts is Cryptographic Failure, as the OASIS test cases
TC-SJ-1-14/TC-SJ-3-14 expect.

Methods (§13.1 "Split Key Algorithms"):

=====================  ==========================================================
XOR                    n = k parts; n-1 are random, the last is the secret XOR
                       all of them; joining XORs every part
Polynomial Sharing     Shamir's scheme [w1979] applied to each byte of the
GF(2^8)                secret independently: byte i of part x is f_i(x), f_i a
                       random polynomial of degree k-1 with f_i(0) the secret
                       byte; joining is Lagrange interpolation at 0
=====================  ==========================================================

The field GF(2^8) is the one §13.1 defines: bytes, addition XOR, and
multiplication modulo the polynomial "285 - x^8+x^4+x^3+x^2+1", i.e. 0x11D
(note: *not* the AES polynomial 0x11B, although the section cites FIPS 197
for notation; the OASIS vectors of TC-SJ-2-14/TC-SJ-3-14 confirm 0x11D).
The evaluation point of a part is its Key Part Identifier, so at most 255
parts.  Random coefficients come from :mod:`secrets`.  Polynomial Sharing
GF(2^16) and Prime Field are Feature Not Supported.
"""

from __future__ import annotations

import secrets

from kmsd.crypto import symmetric
from kmsd.kmip import tags
from kmsd.kmip.enums import KeyFormatType, ObjectType, Operation, ResultReason, SecretDataType, State
from kmsd.kmip.enums import SplitKeyMethod as Method
from kmsd.kmip.errors import KmipError, invalid_field, missing
from ttlv import Item, ItemType

from . import batchrefs, objects, templates
from .context import Context
from .keyblock import key_block, material_of
from .newobject import initial_attributes, object_tag, require_type
from .registry import handler

MAX_PARTS = 255  # GF(2^8) has 255 non-zero evaluation points
MAX_SECRET_BYTES = 64 * 1024
JOINABLE = frozenset({ObjectType.SYMMETRIC_KEY, ObjectType.SECRET_DATA})
SUPPORTED_METHODS = frozenset({Method.XOR, Method.POLYNOMIAL_SHARING_GF_2_8})

# -- GF(2^8), KMIP 2.1 §13.1 ---------------------------------------------------------
GF256_POLYNOMIAL = 0x11D  # x^8 + x^4 + x^3 + x^2 + 1 ("285")


def gf_mul(a: int, b: int) -> int:
    """Product in GF(2^8): shift-and-add, reducing by x^8+x^4+x^3+x^2+1."""
    product = 0
    while b:
        if b & 1:
            product ^= a
        b >>= 1
        a <<= 1
        if a & 0x100:
            a ^= GF256_POLYNOMIAL
    return product


def gf_inv(a: int) -> int:
    """Multiplicative inverse: a^254, since a^255 = 1 for every non-zero a."""
    if a == 0:
        raise ZeroDivisionError("0 has no inverse in GF(2^8)")
    result, power, exponent = 1, a, 254
    while exponent:
        if exponent & 1:
            result = gf_mul(result, power)
        power = gf_mul(power, power)
        exponent >>= 1
    return result


def shamir_split(secret: bytes, parts: int, threshold: int) -> list[bytes]:
    """Share i-1 is every byte's polynomial evaluated at x = i (i = 1..parts)."""
    shares = [bytearray(len(secret)) for _ in range(parts)]
    for index, byte in enumerate(secret):
        coefficients = [byte, *secrets.token_bytes(threshold - 1)]
        for x in range(1, parts + 1):
            y = 0
            for c in reversed(coefficients):  # Horner
                y = gf_mul(y, x) ^ c
            shares[x - 1][index] = y
    return [bytes(s) for s in shares]


def shamir_join(shares: dict[int, bytes]) -> bytes:
    """f(0) by Lagrange interpolation: sum of y_j * prod_{m != j} x_m / (x_m - x_j)
    (subtraction is XOR in characteristic 2)."""
    xs = list(shares)
    weights = []
    for j in xs:
        numerator, denominator = 1, 1
        for m in xs:
            if m != j:
                numerator = gf_mul(numerator, m)
                denominator = gf_mul(denominator, m ^ j)
        weights.append(gf_mul(numerator, gf_inv(denominator)))
    size = len(shares[xs[0]])
    out = bytearray(size)
    for weight, x in zip(weights, xs, strict=True):
        share = shares[x]
        for i in range(size):
            out[i] ^= gf_mul(weight, share[i])
    return bytes(out)


def xor_split(secret: bytes, parts: int) -> list[bytes]:
    shares = [secrets.token_bytes(len(secret)) for _ in range(parts - 1)]
    return [*shares, xor_join(secret, *shares)]


def xor_join(*shares: bytes) -> bytes:
    out = bytearray(len(shares[0]))
    for share in shares:
        for i, b in enumerate(share):
            out[i] ^= b
    return bytes(out)


# -- the Split Key fields ----------------------------------------------------------------
def _int_field(source: Item, tag: int, name: str) -> int:
    value = source.get(tag)
    if value is None:
        raise missing(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_field(f"{name} must be an Integer")
    return value


def check_scheme(parts: int, threshold: int, method: int, *, for_create: bool = False) -> Method:
    try:
        known = Method(method)
    except ValueError:
        raise invalid_field(f"unknown Split Key Method {method:#x}") from None
    if not 1 <= parts <= MAX_PARTS:
        raise invalid_field(f"Split Key Parts must be from 1 to {MAX_PARTS}")
    if not 1 <= threshold <= parts:
        raise invalid_field("Split Key Threshold must be from 1 to Split Key Parts")
    if known == Method.XOR and threshold != parts:
        raise invalid_field("with XOR the Split Key Threshold is the number of Split Key Parts (§13.1)")
    if for_create and parts < 2:
        raise invalid_field("a key is split into at least 2 parts")
    if known not in SUPPORTED_METHODS:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, f"Split Key Method {known.name} is not supported")
    return known


def split_key_object(supplied: Item) -> Item:
    """A Split Key given to Register, checked (§2.8) and kept as given."""
    parts = _int_field(supplied, tags.SplitKeyParts, "Split Key Parts")
    part = _int_field(supplied, tags.KeyPartIdentifier, "Key Part Identifier")
    threshold = _int_field(supplied, tags.SplitKeyThreshold, "Split Key Threshold")
    method = _int_field(supplied, tags.SplitKeyMethod, "Split Key Method")
    check_scheme(parts, threshold, method)
    if not 1 <= part <= parts:
        raise invalid_field("Key Part Identifier must be from 1 to Split Key Parts")
    return supplied


def _part_item(
    parts: int, part: int, threshold: int, method: Method, share: bytes, algorithm: int | None, length: int | None
) -> Item:
    return Item(
        object_tag(ObjectType.SPLIT_KEY),
        ItemType.STRUCTURE,
        (
            Item(tags.SplitKeyParts, ItemType.INTEGER, parts),
            Item(tags.KeyPartIdentifier, ItemType.INTEGER, part),
            Item(tags.SplitKeyThreshold, ItemType.INTEGER, threshold),
            Item(tags.SplitKeyMethod, ItemType.ENUMERATION, int(method)),
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


# -- Create Split Key ------------------------------------------------------------------
@handler(Operation.CREATE_SPLIT_KEY, since=(1, 2), writes=True)
def create_split_key(ctx: Context, payload: Item) -> Item:
    if require_type(payload) != ObjectType.SPLIT_KEY:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "Create Split Key makes Split Key objects")
    parts = _int_field(payload, tags.SplitKeyParts, "Split Key Parts")
    threshold = _int_field(payload, tags.SplitKeyThreshold, "Split Key Threshold")
    method = check_scheme(
        parts, threshold, _int_field(payload, tags.SplitKeyMethod, "Split Key Method"), for_create=True
    )
    requested = payload.find(tags.Attributes)
    attrs = templates.expand(ctx, requested.children if requested else ())
    algorithm = _first_int(attrs, tags.CryptographicAlgorithm)
    length = _first_int(attrs, tags.CryptographicLength)
    if payload.find(tags.UniqueIdentifier) is not None:
        # "If the attributes supplied in the request do not match those of the
        # key supplied, the attributes of the key take precedence."
        base = objects.load(ctx, objects.request_uid(ctx, payload), "get")
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
        secret = symmetric.generate(length)
    if not secret or len(secret) > MAX_SECRET_BYTES:
        raise invalid_field(f"the secret must be from 1 to {MAX_SECRET_BYTES} bytes")
    shares = xor_split(secret, parts) if method == Method.XOR else shamir_split(secret, parts, threshold)
    attrs = _without(attrs, tags.CryptographicAlgorithm, tags.CryptographicLength)
    if algorithm is not None:
        attrs = (*attrs, Item(tags.CryptographicAlgorithm, ItemType.ENUMERATION, algorithm))
    if length is not None:
        attrs = (*attrs, Item(tags.CryptographicLength, ItemType.INTEGER, length))
    uids = []
    for number, share in enumerate(shares, start=1):
        mo = objects.ManagedObject(
            uid=objects.new_uid(),
            object_type=ObjectType.SPLIT_KEY,
            state=State.PRE_ACTIVE,
            owner=ctx.user,
            obj=_part_item(parts, number, threshold, method, share, algorithm, length),
            attrs=(),
        )
        mo.attrs = initial_attributes(ctx, attrs, share, generated=True)
        objects.apply_time_transitions(mo, ctx.now)
        objects.insert(ctx, mo)
        uids.append(mo.uid)
    ctx.id_placeholder = uids[0]  # "the split whose Key Part Identifier is 1"
    return Item(tags.ResponsePayload, ItemType.STRUCTURE, tuple(_uid_item(u) for u in uids))


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


@handler(Operation.JOIN_SPLIT_KEY, since=(1, 2), writes=True)
def join_split_key(ctx: Context, payload: Item) -> Item:
    object_type = require_type(payload)
    if object_type not in JOINABLE:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "Join Split Key makes Symmetric Keys or Secret Data")
    scheme: tuple[int, int, int] | None = None
    shares: dict[int, bytes] = {}
    block_alg: int | None = None
    for uid in _request_uids(ctx, payload):
        mo = objects.load(ctx, uid, "get")
        if mo.object_type != ObjectType.SPLIT_KEY:
            raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"object {uid} is not a Split Key")
        if mo.obj is None:
            raise KmipError(ResultReason.OBJECT_DESTROYED, f"object {uid} has been destroyed")
        fields = (
            _int_field(mo.obj, tags.SplitKeyParts, "Split Key Parts"),
            _int_field(mo.obj, tags.SplitKeyThreshold, "Split Key Threshold"),
            _int_field(mo.obj, tags.SplitKeyMethod, "Split Key Method"),
        )
        if scheme is None:
            scheme = fields
        elif fields != scheme:
            raise invalid_field("the Split Keys were not split together (Parts, Threshold or Method differ)")
        part = _int_field(mo.obj, tags.KeyPartIdentifier, "Key Part Identifier")
        if part in shares:
            raise invalid_field(f"Key Part Identifier {part} is given twice")
        material = _material(mo)
        if shares and len(material) != len(next(iter(shares.values()))):
            raise invalid_field("the Split Keys' key material differs in length")
        shares[part] = material
        block = mo.obj.find(tags.KeyBlock)
        alg = block.get(tags.CryptographicAlgorithm) if block is not None else None
        if block_alg is None and isinstance(alg, int):
            block_alg = alg
    assert scheme is not None
    parts, threshold, raw_method = scheme
    method = check_scheme(parts, threshold, raw_method)
    if len(shares) < threshold:
        raise KmipError(
            ResultReason.CRYPTOGRAPHIC_FAILURE, f"{len(shares)} parts given, the Split Key Threshold is {threshold}"
        )
    secret = xor_join(*shares.values()) if method == Method.XOR else shamir_join(shares)

    requested = payload.find(tags.Attributes)
    attrs = templates.expand(ctx, requested.children if requested else ())
    if object_type == ObjectType.SYMMETRIC_KEY:
        algorithm = _first_int(attrs, tags.CryptographicAlgorithm)
        algorithm = algorithm if algorithm is not None else block_alg
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
