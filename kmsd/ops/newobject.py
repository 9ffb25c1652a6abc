"""What Create and Register share: the object item and the initial attributes."""

from __future__ import annotations

from kmsd.crypto import symmetric
from kmsd.kmip import tags
from kmsd.kmip.enums import KeyFormatType, ObjectType, ProtectionStorageMask, ResultReason, RngAlgorithm
from kmsd.kmip.errors import KmipError, missing
from kmsd.store.base import LocateFilter
from ttlv import Item, ItemType

from .attribute_rules import check_initial
from .context import Context
from .crypto_keys import usage_limits_as_set
from .keyblock import key_block

KEY_OBJECTS = {
    ObjectType.SYMMETRIC_KEY: "SymmetricKey",
    ObjectType.SECRET_DATA: "SecretData",
    ObjectType.PUBLIC_KEY: "PublicKey",
    ObjectType.PRIVATE_KEY: "PrivateKey",
    ObjectType.SPLIT_KEY: "SplitKey",
}
OBJECT_TAG_NAMES = {
    **KEY_OBJECTS,
    ObjectType.OPAQUE_OBJECT: "OpaqueObject",
    ObjectType.CERTIFICATE: "Certificate",
    ObjectType.TEMPLATE: "Template",
    ObjectType.PGP_KEY: "PGPKey",
    ObjectType.CERTIFICATE_REQUEST: "CertificateRequest",
}


def require_type(payload: Item) -> ObjectType:
    value = payload.get(tags.ObjectType)
    if not isinstance(value, int):
        raise missing("Object Type")
    try:
        return ObjectType(value)
    except ValueError:
        raise KmipError(ResultReason.INVALID_FIELD, f"unknown Object Type {value:#x}") from None


def object_tag(object_type: ObjectType) -> int:
    name = OBJECT_TAG_NAMES.get(object_type)
    if name is None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, f"{object_type.name} objects are not supported yet")
    tag: int = getattr(tags, name)
    return tag


def object_item(
    object_type: ObjectType,
    material: bytes,
    key_format: KeyFormatType,
    algorithm: int | None,
    length: int | None,
    extra: tuple[Item, ...] = (),
) -> Item:
    block = key_block(material, key_format, algorithm, length)
    return Item(object_tag(object_type), ItemType.STRUCTURE, (*extra, block))


#: The lease the server grants: how long a client may keep a retrieved object
#: before asking again (the spec's Lease Time, server-set, advisory).
DEFAULT_LEASE_SECONDS = 3600

#: The server's default object group: cryptographic objects created without an
#: Object Group join it, and Locate with Group Member Fresh generates a new
#: key in it on the fly when it has no fresh member left (kmsd.ops.groups).
DEFAULT_OBJECT_GROUP = "default"


def initial_attributes(
    ctx: Context,
    requested: tuple[Item, ...],
    material: bytes | None,
    *,
    generated: bool = False,
    cryptographic: bool = True,
) -> tuple[Item, ...]:
    """Client-supplied attributes (checked) plus the ones the server sets.

    ``generated``: the server made the key material (Create, Create Key Pair),
    so it records its random number generator.  ``cryptographic``: keys,
    certificates and secret data (not opaque objects or templates) carry a
    lease and the sensitivity/extractability flags.
    """
    check_initial(requested)
    check_unique_names(ctx, requested)
    requested = tuple(usage_limits_as_set(a) for a in requested)  # Count starts at Total
    given = {a.tag for a in requested}
    server: list[Item] = [
        Item(tags.InitialDate, ItemType.DATE_TIME, ctx.now),
        Item(tags.LastChangeDate, ItemType.DATE_TIME, ctx.now),
    ]
    if tags.OriginalCreationDate not in given:
        server.append(Item(tags.OriginalCreationDate, ItemType.DATE_TIME, ctx.now))
    if material is not None:
        server.append(symmetric.digest_attribute(material))
    if tags.ObjectGroup not in given and cryptographic:
        server.append(Item(tags.ObjectGroup, ItemType.TEXT_STRING, DEFAULT_OBJECT_GROUP))
    # Fresh: the object has not yet been served to a client.
    if tags.Fresh not in given:
        server.append(Item(tags.Fresh, ItemType.BOOLEAN, True))
    if cryptographic:
        server.append(Item(tags.LeaseTime, ItemType.INTERVAL, DEFAULT_LEASE_SECONDS))
        if tags.ProtectionStorageMask not in given:
            # Where the object is kept: in software (the HSM integration will say Hardware).
            software = int(ProtectionStorageMask.SOFTWARE)
            server.append(Item(tags.ProtectionStorageMask, ItemType.INTEGER, software))
        sensitive = _flag(requested, tags.Sensitive, False)
        extractable = _flag(requested, tags.Extractable, True)
        if tags.Sensitive not in given:
            server.append(Item(tags.Sensitive, ItemType.BOOLEAN, sensitive))
        if tags.Extractable not in given:
            server.append(Item(tags.Extractable, ItemType.BOOLEAN, extractable))
        # "Always Sensitive"/"Never Extractable" start as the object's flags.
        server.append(Item(tags.AlwaysSensitive, ItemType.BOOLEAN, sensitive))
        server.append(Item(tags.NeverExtractable, ItemType.BOOLEAN, not extractable))
    if generated and tags.RandomNumberGenerator not in given:
        server.append(random_number_generator())
    return (*requested, *server)


def _flag(requested: tuple[Item, ...], tag: int, default: bool) -> bool:
    for a in requested:
        if a.tag == tag and isinstance(a.value, bool):
            return a.value
    return default


def random_number_generator() -> Item:
    """The RNG that made server-generated material: the operating system's
    CSPRNG (getrandom(2)), which no KMIP RNG Algorithm value names exactly."""
    return Item(
        tags.RandomNumberGenerator,
        ItemType.STRUCTURE,
        (Item(tags.RNGAlgorithm, ItemType.ENUMERATION, int(RngAlgorithm.UNSPECIFIED)),),
    )


def check_unique_names(
    ctx: Context, attrs: tuple[Item, ...], *, exclude: str | None = None, held: tuple[Item, ...] = ()
) -> None:
    """Names SHALL be unique within a key management server (spec, Name).

    Always: an object never holds the same Name twice (``held`` are the names
    it has).  With ``--unique-names``: no other object the caller can see
    holds it either (checked among visible objects only, so a clash never
    reveals another user's object; destroyed objects no longer hold a name).
    """
    for item in attrs:
        if item.tag != tags.Name:
            continue
        value = item.get(tags.NameValue)
        if not isinstance(value, str):
            continue
        if any(h.tag == tags.Name and h.get(tags.NameValue) == value for h in held):
            raise KmipError(ResultReason.NON_UNIQUE_NAME_ATTRIBUTE, f"the object already has the name {value!r}")
        if not ctx.unique_names:
            continue
        ctx.tx.serialize()  # no other writer may take the name between this check and the write
        for stored in ctx.tx.locate(LocateFilter(name=value, visible_to=ctx.user)):
            if stored.uid != exclude and stored.payload:
                raise KmipError(ResultReason.NON_UNIQUE_NAME_ATTRIBUTE, f"the name {value!r} is already in use")
