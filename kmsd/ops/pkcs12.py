"""Get of a private key as PKCS#12 (Key Format Type PKCS#12, KMIP 1.4+/2.x).

The bag holds the private key, the certificate its PKCS#12 Certificate Link
names and the chain that follows from each certificate's own PKCS#12
Certificate Link (falling back to its Certificate Link, the issuer); it is
encrypted under the password of the Secret Data the key's PKCS#12 Password
Link names, and carries the key's PKCS#12 Friendly Name.  Encryption is
PBES2 (PBKDF2-HMAC-SHA-256, AES-256-CBC) with an HMAC-SHA-256 MAC — the
approved choices; without a password the bag is unencrypted.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.serialization import pkcs12

from kmsd.crypto import certificates
from kmsd.kmip import tags
from kmsd.kmip.enums import KeyFormatType, LinkType, ObjectType, ResultReason, State
from kmsd.kmip.errors import KmipError
from ttlv import Item, ItemType

from . import objects
from .asymkeys import read_block
from .context import Context
from .keyblock import material_of

MAX_CHAIN = 10
PKCS12_CERTIFICATE_LINK = 0x0000010C
PKCS12_PASSWORD_LINK = 0x0000010D


def _linked(mo: objects.ManagedObject, link_type: int) -> str | None:
    for a in mo.attrs:
        if a.tag == tags.Link and a.get(tags.LinkType) == link_type:
            value = a.get(tags.LinkedObjectIdentifier)
            if isinstance(value, str):
                return value
    return None


def _usable(ctx: Context, uid: str, object_type: ObjectType) -> objects.ManagedObject:
    mo = objects.load(ctx, uid, "get")
    if mo.object_type != object_type:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"linked object {uid} is not a {object_type.name}")
    if mo.obj is None:
        raise KmipError(ResultReason.OBJECT_DESTROYED, f"linked object {uid} has been destroyed")
    if mo.state != State.ACTIVE and object_type == ObjectType.SECRET_DATA:
        raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, f"password {uid} is not Active")
    return mo


def get_pkcs12(ctx: Context, mo: objects.ManagedObject) -> Item:
    if mo.object_type != ObjectType.PRIVATE_KEY or mo.obj is None:
        raise KmipError(ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, "only private keys are returned as PKCS#12")
    key = read_block(ObjectType.PRIVATE_KEY, mo.obj)[0]
    chain: list[x509.Certificate] = []
    current: objects.ManagedObject = mo
    seen = {mo.uid}
    while len(chain) < MAX_CHAIN:
        uid = _linked(current, PKCS12_CERTIFICATE_LINK)
        if uid is None and current is not mo:
            uid = _linked(current, LinkType.CERTIFICATE_LINK)
        if uid is None or uid in seen:
            break
        seen.add(uid)
        current = _usable(ctx, uid, ObjectType.CERTIFICATE)
        assert current.obj is not None
        chain.append(certificates.load(current.obj)[0])
    if not chain:
        raise KmipError(
            ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, f"private key {mo.uid} has no PKCS#12 Certificate Link"
        )
    if chain[0].public_key() != key.public_key():  # type: ignore[union-attr]
        raise KmipError(ResultReason.INVALID_FIELD, "the linked certificate does not certify this private key")
    password: bytes | None = None
    password_uid = _linked(mo, PKCS12_PASSWORD_LINK)
    if password_uid is not None:
        secret = _usable(ctx, password_uid, ObjectType.SECRET_DATA)
        assert secret.obj is not None
        block = secret.obj.find(tags.KeyBlock)
        if block is None:
            raise KmipError(ResultReason.INVALID_FIELD, f"password {password_uid} has no Key Block")
        password, _ = material_of(block)
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
        name.encode() if isinstance(name, str) else None,
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
