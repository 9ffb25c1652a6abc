"""PKCS#12 (Key Format Type PKCS#12, KMIP 1.4+/2.x): Register and Get.

Get: the bag holds the private key, the certificate its PKCS#12 Certificate
Link names (or, per KMIP 2.1 section 6.1.19, the one its public key's PKCS#12
Certificate Link names) and the chain that follows from each certificate's
Certificate Link (the issuer); it is encrypted under the password of the
Secret Data the key's PKCS#12 Password Link names, and carries the key's
PKCS#12 Friendly Name.  Encryption is PBES2 (PBKDF2-HMAC-SHA-256,
AES-256-CBC) with an HMAC-SHA-256 MAC — the approved choices; without a
password the bag is unencrypted.

Register (KMIP 2.1 sections 4.39, 6.1.43): the bag is opened with the
password of the Secret Data named by the one PKCS#12 Password Link among the
request's attributes (it must be an Active Password); the private key is
kept in PKCS#8 — the form a PKCS#12 key bag carries it in — and each
certificate of the bag becomes a Certificate object: the key's PKCS#12
Certificate Link names the one certifying it, and each certificate's
Certificate Link names its issuer's when the bag holds it.  The PKCS#12
Friendly Name the client gives selects the key's alias; without one the
alias found in the bag is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.serialization import pkcs12

from kmsd.crypto import asymmetric, certificates
from kmsd.kmip import tags
from kmsd.kmip.enums import KeyFormatType, LinkType, ObjectType, ResultReason, SecretDataType, State
from kmsd.kmip.errors import KmipError, invalid_field
from ttlv import Item, ItemType

from . import asymkeys, objects
from .context import Context
from .keyblock import material_of

MAX_CHAIN = 10
MAX_BAG_BYTES = 256 * 1024  # bounds the parser's (and the KDF's) work; a real bag is a few kB
PKCS12_CERTIFICATE_LINK = 0x0000010C
PKCS12_PASSWORD_LINK = 0x0000010D


# -- errors ---------------------------------------------------------------------------
def _bad_password(ctx: Context, message: str, legacy: ResultReason) -> KmipError:
    """KMIP 2.0 introduced Bad Password: "Key Format Type is PKCS#12, but
    missing or multiple PKCS#12 Password Links, or not Secret Data, or not
    Active" (2.1 section 11.46; Register Table 294).  A 1.x client
    cannot receive it: there KMIP 1.4 Table 330 names Invalid Field for the
    link and object-type problems, and a password in the wrong state is the
    lifecycle error (reported to 1.x as Permission Denied)."""
    return KmipError(ResultReason.BAD_PASSWORD if ctx.version >= (2, 0) else legacy, message)


# -- links ----------------------------------------------------------------------------
def _links(attrs: tuple[Item, ...], link_type: int) -> list[str]:
    out: list[str] = []
    for a in attrs:
        if a.tag == tags.Link and a.get(tags.LinkType) == link_type:
            value = a.get(tags.LinkedObjectIdentifier)
            if isinstance(value, str):
                out.append(value)
    return out


def _linked(mo: objects.ManagedObject, link_type: int) -> str | None:
    found = _links(mo.attrs, link_type)
    return found[0] if found else None


def _certificate(ctx: Context, uid: str) -> objects.ManagedObject:
    mo = objects.load(ctx, uid, "get")
    if mo.object_type != ObjectType.CERTIFICATE:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"linked object {uid} is not a Certificate")
    if mo.obj is None:
        raise KmipError(ResultReason.OBJECT_DESTROYED, f"linked object {uid} has been destroyed")
    return mo


def _password(ctx: Context, links: list[str], *, registering: bool) -> bytes:
    """The password the PKCS#12 Password Links name: exactly one link, to an
    Active Secret Data — of type Password when registering (KMIP 1.4 Table
    330 names that check for Register only)."""
    if len(links) != 1:
        raise _bad_password(
            ctx, f"PKCS#12 needs exactly one PKCS#12 Password Link, found {len(links)}", ResultReason.INVALID_FIELD
        )
    uid = links[0]
    try:
        secret = objects.load(ctx, uid, "get")
    except KmipError:
        raise _bad_password(ctx, f"PKCS#12 password {uid} not found", ResultReason.INVALID_FIELD) from None
    if secret.object_type != ObjectType.SECRET_DATA or secret.obj is None:
        raise _bad_password(ctx, f"PKCS#12 password {uid} is not Secret Data", ResultReason.INVALID_FIELD)
    if registering and secret.obj.get(tags.SecretDataType) != SecretDataType.PASSWORD:
        raise _bad_password(ctx, f"PKCS#12 password {uid} is not of type Password", ResultReason.INVALID_FIELD)
    if secret.state != State.ACTIVE:
        raise _bad_password(ctx, f"PKCS#12 password {uid} is not Active", ResultReason.WRONG_KEY_LIFECYCLE_STATE)
    block = secret.obj.find(tags.KeyBlock)
    if block is None:
        raise _bad_password(ctx, f"PKCS#12 password {uid} has no Key Block", ResultReason.INVALID_FIELD)
    return material_of(block)[0]


# -- Get ------------------------------------------------------------------------------
def _first_certificate(ctx: Context, mo: objects.ManagedObject) -> str | None:
    uid = _linked(mo, PKCS12_CERTIFICATE_LINK)
    if uid is not None:
        return uid
    # KMIP 2.1 section 6.1.19: "using the private key's Public Key link to get
    # the corresponding public key (where relevant), and then using that
    # public key's PKCS#12 Certificate Link to get the base certificate".
    public_uid = _linked(mo, LinkType.PUBLIC_KEY_LINK)
    if public_uid is None:
        return None
    public = objects.load(ctx, public_uid, "get")
    return _linked(public, PKCS12_CERTIFICATE_LINK) or _linked(public, LinkType.CERTIFICATE_LINK)


def get_pkcs12(ctx: Context, mo: objects.ManagedObject) -> Item:
    if mo.object_type != ObjectType.PRIVATE_KEY or mo.obj is None:
        raise KmipError(ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, "only private keys are returned as PKCS#12")
    key = asymkeys.read_block(ObjectType.PRIVATE_KEY, mo.obj)[0]
    chain: list[x509.Certificate] = []
    seen = {mo.uid}
    uid = _first_certificate(ctx, mo)
    while uid is not None and uid not in seen and len(chain) < MAX_CHAIN:
        seen.add(uid)
        current = _certificate(ctx, uid)
        assert current.obj is not None
        chain.append(certificates.load(current.obj)[0])
        uid = _linked(current, LinkType.CERTIFICATE_LINK)
    if not chain:
        raise KmipError(
            ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, f"private key {mo.uid} has no PKCS#12 Certificate Link"
        )
    if chain[0].public_key() != key.public_key():  # type: ignore[union-attr]
        raise KmipError(ResultReason.INVALID_FIELD, "the linked certificate does not certify this private key")
    links = _links(mo.attrs, PKCS12_PASSWORD_LINK)
    password = _password(ctx, links, registering=False) if links else None
    name = mo.get(tags.PKCS_12FriendlyName)
    encryption: ser.KeySerializationEncryption
    if password:
        encryption = (
            ser.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(600_000)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
            .build(password)
        )
    else:
        encryption = ser.NoEncryption()
    data = pkcs12.serialize_key_and_certificates(
        # 2.1 section 4.39: without a Friendly Name the server SHOULD use "alias".
        name.encode() if isinstance(name, str) else b"alias",
        key,  # type: ignore[arg-type]
        chain[0],
        chain[1:] or None,
        encryption,
    )
    block = Item(
        tags.KeyBlock,
        ItemType.STRUCTURE,
        (
            Item(tags.KeyFormatType, ItemType.ENUMERATION, int(KeyFormatType.PKCS_12)),
            Item(tags.KeyValue, ItemType.STRUCTURE, (Item(tags.KeyMaterial, ItemType.BYTE_STRING, data),)),
        ),
    )
    return Item(tags.PrivateKey, ItemType.STRUCTURE, (block,))


# -- Register -------------------------------------------------------------------------
def is_pkcs12(supplied: Item) -> bool:
    block = supplied.find(tags.KeyBlock)
    return block is not None and block.get(tags.KeyFormatType) == KeyFormatType.PKCS_12


@dataclass(frozen=True, slots=True)
class _Bag:
    key: asymmetric.PrivateKey
    name: str | None
    chain: tuple[x509.Certificate, ...]  # the key's certificate first, then issuers; may be empty
    others: tuple[x509.Certificate, ...]  # the bag's certificates outside that chain


def _open(ctx: Context, supplied: Item, attrs: tuple[Item, ...]) -> _Bag:
    block = supplied.find(tags.KeyBlock)
    assert block is not None
    if block.find(tags.KeyWrappingData) is not None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "a wrapped PKCS#12 Key Block is not supported")
    # 1.4 carries the bag as the Key Value byte string, 2.x as its Key Material.
    data = material_of(block)[0]
    if len(data) > MAX_BAG_BYTES:
        raise invalid_field(f"PKCS#12 bag of {len(data)} bytes exceeds {MAX_BAG_BYTES}")
    password = _password(ctx, _links(attrs, PKCS12_PASSWORD_LINK), registering=True)
    try:
        bag = pkcs12.load_pkcs12(data, password)
    except ValueError:
        # cryptography does not tell a wrong password from a malformed bag.
        raise _bad_password(
            ctx, "the PKCS#12 bag is malformed or not protected by the linked password", ResultReason.INVALID_FIELD
        ) from None
    if bag.key is None:
        raise invalid_field("the PKCS#12 bag holds no private key")
    if not isinstance(bag.key, asymmetric.PrivateKey):
        raise KmipError(ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, "the PKCS#12 bag's key algorithm is not supported")
    key: asymmetric.PrivateKey = bag.key
    leaf = bag.cert
    name = leaf.friendly_name.decode("utf-8", "replace") if leaf is not None and leaf.friendly_name else None
    wanted = next((a.value for a in attrs if a.tag == tags.PKCS_12FriendlyName and isinstance(a.value, str)), None)
    if wanted is not None and name is not None and wanted.lower() != name.lower():
        # 2.1 section 4.39: the given alias names the key to take ("caseIgnoreMatch").
        raise invalid_field(f"the PKCS#12 bag holds no private key under the alias {wanted!r}")
    pool = [c.certificate for c in bag.additional_certs]
    chain: list[x509.Certificate] = []
    if leaf is not None:
        if leaf.certificate.public_key() != key.public_key():
            raise invalid_field("the PKCS#12 bag's certificate does not certify its private key")
        chain.append(leaf.certificate)
        while len(chain) < MAX_CHAIN:
            issuer = next((c for c in pool if c.subject == chain[-1].issuer and c not in chain), None)
            if issuer is None or chain[-1].issuer == chain[-1].subject:
                break
            chain.append(issuer)
    others = tuple(c for c in pool if c not in chain)
    return _Bag(key, wanted or name, tuple(chain), others)


def _insert_certificate(ctx: Context, cert: x509.Certificate, name: str | None, issuer_uid: str | None) -> str:
    given: list[Item] = []
    if name is not None:
        given.append(Item(tags.PKCS_12FriendlyName, ItemType.TEXT_STRING, name))
    if issuer_uid is not None:
        given.append(objects.link(LinkType.CERTIFICATE_LINK, issuer_uid))
    mo = asymkeys.new_certificate(ctx, cert, tuple(given))
    objects.insert(ctx, mo)
    return mo.uid


def register_pkcs12(
    ctx: Context, supplied: Item, attrs: tuple[Item, ...]
) -> tuple[Item, tuple[Item, ...], tuple[Item, ...]]:
    """Register of a Private Key in PKCS#12: (key object to store, client
    attributes completed, server-set attributes).  The bag's certificates are
    stored here, before the key, so the key's link can name its certificate."""
    bag = _open(ctx, supplied, attrs)
    spec = asymmetric.spec_of(bag.key)
    asymmetric.check_policy(ctx.policy, spec)
    fmt = KeyFormatType.PKCS_8
    material = asymkeys.dump(bag.key, fmt)
    obj = asymkeys.key_object(ObjectType.PRIVATE_KEY, material, fmt, spec.algorithm, spec.bits)
    attrs = asymkeys.key_attributes(attrs, spec.algorithm, spec.bits)
    server = list(asymkeys.digests(ObjectType.PRIVATE_KEY, bag.key, material, fmt))
    if bag.name is not None and not any(a.tag == tags.PKCS_12FriendlyName for a in attrs):
        server.append(Item(tags.PKCS_12FriendlyName, ItemType.TEXT_STRING, bag.name))
    for cert in bag.others:
        _insert_certificate(ctx, cert, None, None)
    previous: str | None = None  # the chain is stored root first, so each links to its issuer
    for cert in reversed(bag.chain):
        previous = _insert_certificate(ctx, cert, bag.name, previous)
    if previous is not None:  # the last stored is the key's own certificate
        server.append(objects.link(PKCS12_CERTIFICATE_LINK, previous))
    return obj, attrs, tuple(server)
