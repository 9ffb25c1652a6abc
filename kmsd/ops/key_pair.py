"""Create Key Pair: a new public/private key pair generated in the server.

KMIP 2.1 section 6.1.9 (1.4 section 4.2).  The request's Common Attributes
apply to both halves; Private Key / Public Key Attributes take precedence for
single-valued attributes and are united with them for multi-valued ones.
Algorithm, Length, Domain Parameters and Cryptographic Parameters must agree
between the halves (Table 191).  Each half gets a Link to the other; the
response names both; the ID Placeholder becomes the private key's.
"""

from __future__ import annotations

from kmsd.crypto import asymmetric
from kmsd.crypto.asymmetric import KeySpec, Kind
from kmsd.kmip import attributes as A
from kmsd.kmip import tags
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.kmip.enums import LinkType, ObjectType, Operation, ResultReason, State
from kmsd.kmip.errors import KmipError, invalid_field, missing
from ttlv import Item, ItemType

from . import objects
from .asymkeys import default_formats, digest, dump, key_attributes, key_object
from .attribute_rules import rule_for
from .context import Context
from .newobject import initial_attributes
from .registry import handler

# Attributes that SHALL be equal on both halves (KMIP 2.1 Table 191).
SAME_ON_BOTH = (
    tags.CryptographicAlgorithm,
    tags.CryptographicLength,
    tags.CryptographicDomainParameters,
    tags.CryptographicParameters,
)
# Usage a kind of key cannot have, whatever the client asks.
_NO_CIPHER = Mask.ENCRYPT | Mask.DECRYPT | Mask.WRAP_KEY | Mask.UNWRAP_KEY
IMPOSSIBLE_USAGE: dict[Kind, int] = {
    Kind.ED25519: _NO_CIPHER | Mask.KEY_AGREEMENT,
    Kind.ED448: _NO_CIPHER | Mask.KEY_AGREEMENT,
    Kind.X25519: _NO_CIPHER | Mask.SIGN | Mask.VERIFY | Mask.CERTIFICATE_SIGN | Mask.CRL_SIGN,
    Kind.X448: _NO_CIPHER | Mask.SIGN | Mask.VERIFY | Mask.CERTIFICATE_SIGN | Mask.CRL_SIGN,
    Kind.DSA: _NO_CIPHER | Mask.KEY_AGREEMENT,  # a signature algorithm only (FIPS 186-4)
}


@handler(Operation.CREATE_KEY_PAIR, writes=True)
def create_key_pair(ctx: Context, payload: Item) -> Item:
    common = _attrs(payload, tags.CommonAttributes)
    private_attrs = merge(common, _attrs(payload, tags.PrivateKeyAttributes))
    public_attrs = merge(common, _attrs(payload, tags.PublicKeyAttributes))
    for tag in SAME_ON_BOTH:
        if [a for a in private_attrs if a.tag == tag] != [a for a in public_attrs if a.tag == tag]:
            raise invalid_field(f"{A.attribute_key(Item(tag, ItemType.STRUCTURE, ()))} differs between the two keys")

    if any(a.tag == tags.QuantumSafe and a.value is True for a in (*private_attrs, *public_attrs)):
        # RSA, elliptic-curve and Edwards keys all fall to Shor's algorithm.
        raise KmipError(ResultReason.GENERAL_FAILURE, "no asymmetric key this server makes is quantum safe")
    spec = requested_spec(private_attrs)
    asymmetric.check_policy(ctx.policy, spec, generate=True)
    algorithm = A.value_of(private_attrs, tags.CryptographicAlgorithm)
    assert isinstance(algorithm, int)
    for attrs in (private_attrs, public_attrs):
        _check_usage(spec, attrs)

    private_key = asymmetric.generate(spec)
    private_fmt, public_fmt = default_formats(spec)
    private = (ObjectType.PRIVATE_KEY, dump(private_key, private_fmt), private_fmt, private_attrs)
    public = (ObjectType.PUBLIC_KEY, dump(private_key.public_key(), public_fmt), public_fmt, public_attrs)
    uids = (objects.new_uid(), objects.new_uid())
    links = (LinkType.PUBLIC_KEY_LINK, LinkType.PRIVATE_KEY_LINK)  # each half points at the other
    for (object_type, material, fmt, attrs), uid, other, link_type in zip(
        (private, public), uids, reversed(uids), links, strict=True
    ):
        mo = objects.ManagedObject(
            uid=uid,
            object_type=object_type,
            state=State.PRE_ACTIVE,
            owner=ctx.user,
            obj=key_object(object_type, material, fmt, algorithm, spec.bits),
            attrs=(),
        )
        client = key_attributes(attrs, algorithm, spec.bits)
        server_set = (digest(material, fmt), objects.link(link_type, other))
        mo.attrs = (*initial_attributes(ctx, client, None, generated=True), *server_set)
        objects.apply_time_transitions(mo, ctx.now)
        objects.insert(ctx, mo)
    ctx.id_placeholder = uids[0]
    return Item(
        tags.ResponsePayload,
        ItemType.STRUCTURE,
        (
            Item(tags.PrivateKeyUniqueIdentifier, ItemType.TEXT_STRING, uids[0]),
            Item(tags.PublicKeyUniqueIdentifier, ItemType.TEXT_STRING, uids[1]),
        ),
    )


def merge(common: tuple[Item, ...], specific: tuple[Item, ...]) -> tuple[Item, ...]:
    """Specific attributes override common single-valued ones; multi-valued unite."""
    overridden = {A.attribute_key(a) for a in specific if not rule_for(a).multi}
    return (*(a for a in common if A.attribute_key(a) not in overridden), *specific)


def requested_spec(attrs: tuple[Item, ...]) -> KeySpec:
    algorithm = A.value_of(attrs, tags.CryptographicAlgorithm)
    if not isinstance(algorithm, int):
        raise missing("Cryptographic Algorithm")
    length = A.value_of(attrs, tags.CryptographicLength)
    params = A.first(attrs, tags.CryptographicDomainParameters)
    curve = params.get(tags.RecommendedCurve) if params is not None else None
    return asymmetric.spec_for_request(
        algorithm,
        length if isinstance(length, int) else None,
        curve if isinstance(curve, int) else None,
    )


def _attrs(payload: Item, tag: int) -> tuple[Item, ...]:
    found = payload.find(tag)
    return found.children if found is not None else ()


def _check_usage(spec: KeySpec, attrs: tuple[Item, ...]) -> None:
    mask = A.value_of(attrs, tags.CryptographicUsageMask)
    impossible = IMPOSSIBLE_USAGE.get(spec.kind, 0)
    if isinstance(mask, int) and mask & impossible:
        names = ", ".join(m.name or "?" for m in Mask if m & mask & impossible)
        raise invalid_field(f"a {spec.kind.value} key cannot be used for {names}")
