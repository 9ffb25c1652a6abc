"""Derive Key (KMIP 2.1 §6.1.10, 1.4 §4.6): a new Symmetric Key or Secret Data from a base one.

Theory of operation.  The base object (a Symmetric Key or Secret Data, first
Unique Identifier of the request) must be Active, allow Derive Key in its
Cryptographic Usage Mask, and be usable by the caller.  Its bytes and the
Derivation Parameters go through one function per Derivation Method, each
returning exactly ``Cryptographic Length / 8`` bytes:

=========  =====================================================================
PBKDF2     PKCS #5 v2.1 / RFC 8018 §5.2 (SP 800-132): the base bytes are the
           password; Salt, Iteration Count; PRF HMAC with the Hashing Algorithm
           (SHA-1 when none is named, as RFC 8018 A.2 defaults)
HKDF       RFC 5869: Salt (optional), Derivation Data as the info string
HASH       the hash of the Derivation Data when given, else of the base key
           (KMIP 1.4 §4.6: "a hash over the derivation key or the derivation
           data"), truncated; the hash must be long enough
HMAC       HMAC(base key, Derivation Data), truncated
ENCRYPT    the base key encrypts the Derivation Data with the Cryptographic
           Parameters and the Initialization Vector (:mod:`kmsd.crypto.cipher`);
           the leading bytes of the ciphertext
ASYMMETRIC "key agreement between a private and public key" (2.1 §11.13): two
KEY        Unique Identifiers, a Private Key and a Public Key (either order),
           both with Derive Key in their mask; ECDH (SP 800-56A §5.7.1.2, the
           x-coordinate of the shared point) for EC keys of one curve, X25519 /
           X448 (RFC 7748) for Montgomery keys; the leading bytes of the
           shared secret Z (a KDF over Z is the client's to apply)
=========  =====================================================================

Hashes go through the policy (SHA-1 is allowed for PBKDF2/HMAC, whose PRF is
HMAC-SHA-1, as for MACs).  The new object's attributes come from the request
(Cryptographic Algorithm and Length required for a Symmetric Key; Length for
Secret Data).  It gets a Derivation Base Object Link to each object it was
derived from, and each of those a Derived Key Link to it ("the server SHALL
create a Link attribute ...", 2.1 §6.1.14, 1.0 §4.6).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from kmsd.crypto import asymmetric, cipher, digests
from kmsd.kmip import tags
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.kmip.enums import DerivationMethod as Method
from kmsd.kmip.enums import HashingAlgorithm as Hash
from kmsd.kmip.enums import KeyFormatType, LinkType, ObjectType, Operation, ResultReason, SecretDataType, State
from kmsd.kmip.errors import KmipError, invalid_field, missing
from ttlv import Item, ItemType

from . import objects, templates
from .asymkeys import read_block
from .context import Context
from .crypto_keys import UsableKey, charge, use_key
from .crypto_ops import _cipher_params, _int, _response, _uid
from .newobject import initial_attributes, object_item, require_type
from .objects import link
from .registry import handler

DERIVABLE = frozenset({ObjectType.SYMMETRIC_KEY, ObjectType.SECRET_DATA})
MAX_ITERATIONS = 10_000_000  # a bound on the work one request may ask for
MAX_DERIVED_BITS = 8 * 1024


def _hash(ctx: Context, value: int | None, default: int) -> hashes.HashAlgorithm:
    return digests._hash_algorithm(ctx.policy, value if value is not None else default, for_hmac=True)


def _fields(payload: Item) -> tuple[dict[int, object], dict[int, object]]:
    """(Derivation Parameters fields, their Cryptographic Parameters fields)."""
    dp = payload.find(tags.DerivationParameters)
    fields: dict[int, object] = {c.tag: c.value for c in dp.children} if dp is not None else {}
    cp = dp.find(tags.CryptographicParameters) if dp is not None else None
    params: dict[int, object] = {c.tag: c.value for c in cp.children} if cp is not None else {}
    return fields, params


def _opt_bytes(fields: dict[int, object], tag: int) -> bytes | None:
    value = fields.get(tag)
    if value is not None and not isinstance(value, bytes):
        raise invalid_field("Derivation Parameters byte fields must be Byte Strings")
    return value


def _truncate(value: bytes, size: int, what: str) -> bytes:
    if len(value) < size:
        raise invalid_field(f"{what} gives {len(value) * 8} bits, fewer than the {size * 8} asked for")
    return value[:size]


def derive_bytes(ctx: Context, method: int, base: bytes, algorithm: int | None, payload: Item, size: int) -> bytes:
    fields, params = _fields(payload)
    data = _opt_bytes(fields, tags.DerivationData)
    salt = _opt_bytes(fields, tags.Salt)
    hashing = _int(params, tags.HashingAlgorithm)
    if method == Method.PBKDF2:
        count = fields.get(tags.IterationCount)
        if not isinstance(count, int) or isinstance(count, bool):
            raise missing("Iteration Count")
        if not 1 <= count <= MAX_ITERATIONS:
            raise invalid_field(f"Iteration Count must be from 1 to {MAX_ITERATIONS}")
        if salt is None:
            raise missing("Salt")
        return PBKDF2HMAC(_hash(ctx, hashing, Hash.SHA_1), size, salt, count).derive(base)
    if method == Method.HKDF:
        algo = _hash(ctx, hashing, Hash.SHA_256)
        if size > 255 * algo.digest_size:
            raise invalid_field("HKDF cannot derive that many bytes with this hash")
        return HKDF(algo, size, salt, data).derive(base)
    if method == Method.HASH:
        algo = _hash(ctx, hashing, Hash.SHA_256)
        ctx.policy.check_hash(hashing if hashing is not None else Hash.SHA_256)
        h = hashes.Hash(algo)
        h.update(data if data is not None else base)
        return _truncate(h.finalize(), size, "the hash")
    if method == Method.HMAC:
        if data is None:
            raise missing("Derivation Data")
        algo = _hash(ctx, hashing, Hash.SHA_256)
        mac = hmac.HMAC(base, algo)
        mac.update(data)
        return _truncate(mac.finalize(), size, "the HMAC")
    if method == Method.ENCRYPT:
        if data is None:
            raise missing("Derivation Data")
        if algorithm is None:
            raise invalid_field("the base object has no Cryptographic Algorithm to encrypt with")
        opened = cipher.open_cipher(
            ctx.policy,
            algorithm,
            base,
            _cipher_params(params),
            encrypt=True,
            iv=_opt_bytes(fields, tags.InitializationVector),
            aad=None,
            tag=None,
        )
        out = opened.stream.update(data)
        out += opened.stream.finish()[0]
        return _truncate(out, size, "the ciphertext")
    name = Method(method).name if method in Method._value2member_map_ else hex(method)
    raise KmipError(ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS, f"Derivation Method {name} is not supported")


#: Cryptographic Algorithm values a client may name for an Asymmetric Key derivation.
AGREEMENT_ALGORITHMS = frozenset({Alg.ECDH, Alg.EC})  # X25519/X448 keys are EC or ECDH too


def _agreement_bases(ctx: Context, payload: Item) -> list[UsableKey]:
    """The Private Key and the Public Key of an Asymmetric Key derivation."""
    uids = [u.value for u in payload.find_all(tags.UniqueIdentifier) if isinstance(u.value, str)]
    if len(uids) != 2:
        raise invalid_field("Asymmetric Key derivation takes two Unique Identifiers: a Private Key and a Public Key")
    bases = [use_key(ctx, uid, "get", Mask.DERIVE_KEY, protect=True) for uid in uids]
    types = sorted(int(b.mo.object_type) for b in bases)
    if types != sorted((int(ObjectType.PRIVATE_KEY), int(ObjectType.PUBLIC_KEY))):
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE, "Asymmetric Key derivation takes one Private Key and one Public Key"
        )
    return bases


def agree(ctx: Context, bases: list[UsableKey], payload: Item) -> bytes:
    """The shared secret Z of the two keys (see the module's table)."""
    fields, params = _fields(payload)
    named = _int(params, tags.CryptographicAlgorithm)
    if named is not None and named not in AGREEMENT_ALGORITHMS:
        raise KmipError(
            ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS, "Asymmetric Key derivation is a key agreement (ECDH)"
        )
    if any(t in fields for t in (tags.DerivationData, tags.Salt, tags.IterationCount)):
        raise invalid_field("Asymmetric Key derivation takes no Derivation Data, Salt or Iteration Count")
    keys = {}
    for base in bases:
        assert base.mo.obj is not None  # use_key refuses objects without material
        key = read_block(base.mo.object_type, base.mo.obj)[0]
        asymmetric.check_policy(ctx.policy, asymmetric.spec_of(key))
        keys[base.mo.object_type] = key
    private, public = keys[ObjectType.PRIVATE_KEY], keys[ObjectType.PUBLIC_KEY]
    try:
        if isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(public, ec.EllipticCurvePublicKey):
            if private.curve.name != public.curve.name:
                raise invalid_field("the private and public keys are on different curves")
            return private.exchange(ec.ECDH(), public)
        if isinstance(private, x25519.X25519PrivateKey) and isinstance(public, x25519.X25519PublicKey):
            return private.exchange(public)
        if isinstance(private, x448.X448PrivateKey) and isinstance(public, x448.X448PublicKey):
            return private.exchange(public)
    except ValueError:
        # RFC 7748 §6.1: an all-zero X25519/X448 result (a small-order public key).
        raise KmipError(ResultReason.CRYPTOGRAPHIC_FAILURE, "the key agreement gave no usable shared secret") from None
    raise KmipError(
        ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK,
        "Asymmetric Key derivation needs EC (ECDH), X25519 or X448 keys of one kind",
    )


def _first_int(attrs: tuple[Item, ...], tag: int) -> int | None:
    return next((a.value for a in attrs if a.tag == tag and isinstance(a.value, int)), None)


@handler(Operation.DERIVE_KEY, since=(1, 0), writes=True)
def derive_key(ctx: Context, payload: Item) -> Item:
    object_type = require_type(payload)
    if object_type not in DERIVABLE:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "Derive Key makes Symmetric Keys or Secret Data")
    method = payload.get(tags.DerivationMethod)
    if not isinstance(method, int):
        raise missing("Derivation Method")
    if payload.find(tags.DerivationParameters) is None:
        raise missing("Derivation Parameters")
    if method == Method.ASYMMETRIC_KEY:
        bases = _agreement_bases(ctx, payload)
    else:
        base = use_key(ctx, objects.request_uid(ctx, payload), "get", Mask.DERIVE_KEY, protect=True)
        if base.material is None or base.mo.object_type not in DERIVABLE:
            raise KmipError(
                ResultReason.INVALID_OBJECT_TYPE,
                "keys are derived from a Symmetric Key or Secret Data (or, by Asymmetric Key, a key pair's halves)",
            )
        bases = [base]
    requested = payload.find(tags.Attributes)
    attrs = templates.expand(ctx, requested.children if requested else ())
    algorithm = _first_int(attrs, tags.CryptographicAlgorithm)
    length = _first_int(attrs, tags.CryptographicLength)
    if length is None:
        raise missing("Cryptographic Length")
    if length <= 0 or length % 8 or length > MAX_DERIVED_BITS:
        raise invalid_field(f"Cryptographic Length must be a positive multiple of 8, at most {MAX_DERIVED_BITS}")
    extra: tuple[Item, ...] = ()
    if object_type == ObjectType.SYMMETRIC_KEY:
        if algorithm is None:
            raise missing("Cryptographic Algorithm")
        ctx.policy.check_symmetric(algorithm, length)
        fmt = KeyFormatType.RAW
    else:
        fmt = KeyFormatType.OPAQUE
        extra = (Item(tags.SecretDataType, ItemType.ENUMERATION, int(SecretDataType.SEED)),)
    for used in bases:
        charge(ctx, used.mo, 0, new_object=True)
    if method == Method.ASYMMETRIC_KEY:
        material = _truncate(agree(ctx, bases, payload), length // 8, "the key agreement")
    else:
        material = derive_bytes(ctx, method, bases[0].material or b"", bases[0].algorithm, payload, length // 8)
    mo = objects.ManagedObject(
        uid=objects.new_uid(),
        object_type=object_type,
        state=State.PRE_ACTIVE,
        owner=ctx.user,
        obj=object_item(object_type, material, fmt, algorithm, length, extra),
        attrs=(),
    )
    mo.attrs = (
        *initial_attributes(ctx, attrs, material),
        *(link(LinkType.DERIVATION_BASE_OBJECT_LINK, used.mo.uid) for used in bases),
    )
    objects.apply_time_transitions(mo, ctx.now)
    objects.insert(ctx, mo)
    for used in bases:
        used.mo.attrs = (*used.mo.attrs, link(LinkType.DERIVED_KEY_LINK, mo.uid))
        objects.save(ctx, used.mo)
    ctx.id_placeholder = mo.uid
    return _response(_uid(mo.uid))
