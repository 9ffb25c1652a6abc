"""Managed objects at rest under the server's key-encryption key (KEK).

Theory of operation: the store keeps each managed object as one opaque blob,
the TTLV encoding of its object item (:mod:`kmsd.ops.objects`).  With
``--key-encryption-key`` that blob is replaced, for every object that holds
secret material, by a *sealed envelope*, and this module is the only code
that makes or opens one.  Objects are opened in memory when a handler uses
them and never written back in the clear.

The envelope is itself a KMIP-shaped TTLV item, so a database dump explains
itself::

    Key Block
      Key Value            Byte String: the wrapped plaintext (below)
      Key Wrapping Data
        Wrapping Method    Encrypt
        Encryption Key Information
          Unique Identifier          the KEK
          Cryptographic Parameters   how it wrapped (see the two schemes)
        Encoding Option    TTLV Encoding

A bare Key Block is never a managed object's top-level item (those are
Symmetric Key, Private Key …), so an envelope is told from a clear object by
its first three bytes.  The plaintext is the TTLV ``Key Value { Unique
Identifier, <object item> }``: the object's identifier is wrapped with it,
so an envelope copied into another row (by someone who can write the
database but not read keys) fails to open instead of swapping two keys.

Schemes (only ``cryptography``'s primitives, via :mod:`kmsd.crypto.wrap`):

* an AES KEK: AES Key Wrap with Padding, RFC 5649 (SP 800-38F KWP), which
  takes a payload of any length and authenticates it;
* an RSA KEK pair: RSA-OAEP (SHA-256) of a fresh AES-256 key that
  KWP-wraps the payload (PKCS#11 CKM_RSA_AES_KEY_WRAP,
  :func:`kmsd.crypto.wrap.rsa_aes_kwp_wrap`).  Every open costs one RSA
  private-key operation, which is why objects are opened lazily.

Certificates, public keys and templates hold nothing secret and stay in the
clear (:data:`EXEMPT`), as does the KEK itself: it must be readable before
anything else can be (it is the caller's job to skip its identifiers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa

import ttlv
from kmsd.kmip import tags
from kmsd.kmip.enums import (
    BlockCipherMode,
    EncodingOption,
    HashingAlgorithm,
    ObjectType,
    PaddingMethod,
    ResultReason,
    WrappingMethod,
)
from kmsd.kmip.errors import KmipError
from ttlv import Item, ItemType

from . import wrap
from .errors import CryptographicFailure, MalformedMaterial

#: Object types whose payload is never sealed: nothing in them is secret.
EXEMPT = frozenset({int(ObjectType.CERTIFICATE), int(ObjectType.PUBLIC_KEY), int(ObjectType.TEMPLATE)})
#: The TTLV header bytes of a Key Block structure: how a sealed payload starts.
_ENVELOPE_TAG = ttlv.encode(Item(tags.KeyBlock, ItemType.STRUCTURE, ()))[:3]
_RSA_HASH = "SHA-256"


def is_sealed(payload: bytes) -> bool:
    return payload[:3] == _ENVELOPE_TAG


def sealable(object_type: int) -> bool:
    return object_type not in EXEMPT


def envelope_kek(payload: bytes) -> str:
    """The Unique Identifier of the KEK a sealed payload names."""
    return _parse(payload)[1]


@dataclass(frozen=True, slots=True)
class AtRest:
    """The configured KEK, able to seal and open payloads.  Holds key material:
    no ``repr``, and never logged."""

    uid: str
    #: Identifiers that must stay in the clear and may not be destroyed or
    #: replaced: the KEK, and for an RSA pair both of its halves.
    protected: frozenset[str]
    _wrap: Callable[[bytes], bytes] = field(repr=False)
    _unwrap: Callable[[bytes], bytes] = field(repr=False)
    _params: Item = field(repr=False)

    def __repr__(self) -> str:
        return f"AtRest(uid={self.uid!r})"

    @classmethod
    def aes(cls, uid: str, key: bytes, protected: frozenset[str] = frozenset()) -> AtRest:
        if len(key) not in wrap.KEK_LENGTHS:
            raise MalformedMaterial(f"an AES key-encryption key is 128, 192 or 256 bits, not {len(key) * 8}")
        params = _params(Item(tags.BlockCipherMode, ItemType.ENUMERATION, int(BlockCipherMode.AESKEYWRAPPADDING)))
        return cls(
            uid,
            protected | {uid},
            lambda data: wrap.aes_key_wrap_pad(key, data),
            lambda data: wrap.aes_key_unwrap_pad(key, data),
            params,
        )

    @classmethod
    def rsa(cls, uid: str, private_key: rsa.RSAPrivateKey, protected: frozenset[str] = frozenset()) -> AtRest:
        public = private_key.public_key()
        params = _params(
            Item(tags.BlockCipherMode, ItemType.ENUMERATION, int(BlockCipherMode.AESKEYWRAPPADDING)),
            Item(tags.PaddingMethod, ItemType.ENUMERATION, int(PaddingMethod.OAEP)),
            Item(tags.HashingAlgorithm, ItemType.ENUMERATION, int(HashingAlgorithm.SHA_256)),
        )
        return cls(
            uid,
            protected | {uid},
            lambda data: wrap.rsa_aes_kwp_wrap(public, data, _RSA_HASH),
            lambda data: wrap.rsa_aes_kwp_unwrap(private_key, data, _RSA_HASH),
            params,
        )

    # -- the boundary -------------------------------------------------------------
    def seal(self, uid: str, obj: Item) -> bytes:
        """The envelope for object ``uid`` whose object item is ``obj``."""
        plaintext = ttlv.encode(
            Item(tags.KeyValue, ItemType.STRUCTURE, (Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, uid), obj))
        )
        info = Item(
            tags.EncryptionKeyInformation,
            ItemType.STRUCTURE,
            (Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, self.uid), self._params),
        )
        kwd = Item(
            tags.KeyWrappingData,
            ItemType.STRUCTURE,
            (
                Item(tags.WrappingMethod, ItemType.ENUMERATION, int(WrappingMethod.ENCRYPT)),
                info,
                Item(tags.EncodingOption, ItemType.ENUMERATION, int(EncodingOption.TTLV_ENCODING)),
            ),
        )
        value = Item(tags.KeyValue, ItemType.BYTE_STRING, self._wrap(plaintext))
        return ttlv.encode(Item(tags.KeyBlock, ItemType.STRUCTURE, (value, kwd)))

    def open(self, uid: str, sealed: bytes) -> Item:
        """The object item sealed in ``sealed`` for object ``uid``."""
        wrapped, kek = _parse(sealed)
        if kek != self.uid:
            raise KmipError(
                ResultReason.GENERAL_FAILURE,
                f"object {uid} is wrapped at rest under another key-encryption key than the configured one",
            )
        try:
            plain = ttlv.decode(self._unwrap(wrapped))
        except CryptographicFailure:
            raise CryptographicFailure(f"object {uid} failed its integrity check at rest") from None
        except ttlv.DecodeError:
            raise CryptographicFailure(f"object {uid} is not a valid sealed object") from None
        children = plain.children if plain.tag == tags.KeyValue and plain.type is ItemType.STRUCTURE else ()
        if len(children) != 2 or children[0].tag != tags.UniqueIdentifier or children[0].value != uid:
            # Wrapped for another row: a copied envelope must not open as this object.
            raise CryptographicFailure(f"the sealed payload of object {uid} belongs to another object")
        return children[1]


def open_payload(at_rest: AtRest | None, uid: str, payload: bytes) -> Item | None:
    """The object item a stored payload holds (None: destroyed), opening a
    sealed one with ``at_rest``."""
    if not payload:
        return None
    if not is_sealed(payload):
        return ttlv.decode(payload)
    if at_rest is None:
        raise KmipError(
            ResultReason.GENERAL_FAILURE,
            f"object {uid} is wrapped at rest: the server must run with its --key-encryption-key",
        )
    return at_rest.open(uid, payload)


def _params(*children: Item) -> Item:
    return Item(tags.CryptographicParameters, ItemType.STRUCTURE, children)


def _parse(sealed: bytes) -> tuple[bytes, str]:
    try:
        envelope = ttlv.decode(sealed)
    except ttlv.DecodeError:
        raise CryptographicFailure("a sealed object is not a valid envelope") from None
    value = envelope.get(tags.KeyValue)
    kwd = envelope.find(tags.KeyWrappingData)
    info = kwd.find(tags.EncryptionKeyInformation) if kwd is not None else None
    kek = info.get(tags.UniqueIdentifier) if info is not None else None
    if not isinstance(value, bytes) or not isinstance(kek, str):
        raise CryptographicFailure("a sealed object is not a valid envelope")
    return value, kek
