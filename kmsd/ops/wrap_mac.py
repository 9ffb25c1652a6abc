"""The MAC/sign half of key wrapping (Key Wrapping Data / Specification with
MAC/Signature Key Information; KMIP 1.4 section 2.1.5, 2.1 section 3.3).

Theory of operation: :mod:`kmsd.ops.wrapping` builds the bytes a Wrapping
Method protects and calls :func:`authenticate` (Get, Export) or
:func:`check` (Register, Import) on them:

* MAC/sign: the Key Value bytes (TTLV-encoded Key Value, or the raw Key
  Material with No Encoding) travel in the clear, with their MAC/signature;
* Encrypt then MAC/sign: the MAC/signature covers the wrapped (encrypted)
  bytes, and is checked before anything is decrypted;
* MAC/sign then encrypt: it covers the plaintext, and is checked after
  decryption.  The spec gives the MAC/Signature its own field of the Key
  Wrapping Data, so it is carried there, not inside the ciphertext.

The key named by MAC/Signature Key Information is "the Symmetric Key used to
MAC, or the Private Key (or its corresponding Public Key) used to sign":

* a symmetric key MACs as the MAC operation does (:func:`kmsd.crypto.digests.mac_kind`:
  an HMAC key computes its HMAC, an AES key CMAC), with the MAC Generate
  usage (or Wrap Key: it is a wrapping key) and, to check, MAC Verify (or
  Unwrap Key, or MAC Generate: a key that made a MAC may check it);
* a private key signs as Sign does (:func:`kmsd.crypto.signatures.scheme`),
  with the Sign (or Wrap Key) usage; a public key named instead signs with
  its linked private key.  To check, the public key verifies (a private key
  named instead lends its public half), with the Verify (or Unwrap Key) usage.

A MAC or signature that does not match is Cryptographic Failure, as a failed
unwrap is: the data or the key is wrong, and which one is not said.  A MAC is
compared in full and in constant time (no truncation when it guards a key).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from kmsd.crypto import asymmetric, digests, signatures
from kmsd.crypto.asymmetric import PrivateKey, PublicKey
from kmsd.crypto.errors import CryptographicFailure
from kmsd.crypto.formats import PRIVATE_TYPES
from kmsd.kmip import tags
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.kmip.enums import LinkType, ObjectType, ResultReason
from kmsd.kmip.errors import KmipError, missing
from ttlv import Item

from . import objects
from .context import Context
from .keyblock import material_of
from .sign_ops import sign_params

#: Resolves a linked key's Unique Identifier (a public key's private key …).
Loader = Callable[[str], objects.ManagedObject]


def require_usage(mo: objects.ManagedObject, bit: int, also: int = 0) -> None:
    mask = mo.get(tags.CryptographicUsageMask)
    if not isinstance(mask, int) or not mask & (bit | also):
        name = Mask(bit).name or hex(bit)
        raise KmipError(
            ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK, f"key {mo.uid} does not have the {name} usage"
        )


def authenticate(ctx: Context, key: objects.ManagedObject, params: Item | None, data: bytes, load: Loader) -> bytes:
    """The MAC or signature of ``data`` with ``key``."""
    if key.object_type == ObjectType.SYMMETRIC_KEY:
        require_usage(key, Mask.MAC_GENERATE, Mask.WRAP_KEY)
        return _mac(ctx, key, params, data)
    if key.object_type == ObjectType.PUBLIC_KEY:
        key = load(_link(key, LinkType.PRIVATE_KEY_LINK))
    if key.object_type != ObjectType.PRIVATE_KEY:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"a {key.object_type.name} cannot MAC or sign a key")
    require_usage(key, Mask.SIGN, Mask.WRAP_KEY)
    private = _asymmetric(ctx, key)
    scheme = signatures.scheme(ctx.policy, private, sign_params(_fields(params)), verify=False)
    return signatures.sign(private, scheme, data, digested=False)


def check(ctx: Context, key: objects.ManagedObject, params: Item | None, data: bytes, given: bytes | None) -> None:
    """Raise Cryptographic Failure unless ``given`` is ``key``'s MAC or signature of ``data``."""
    if not given:
        raise missing("MAC/Signature")
    if key.object_type == ObjectType.SYMMETRIC_KEY:
        require_usage(key, Mask.MAC_VERIFY, Mask.UNWRAP_KEY | Mask.MAC_GENERATE)
        valid = hmac.compare_digest(_mac(ctx, key, params, data), given)
    elif key.object_type in (ObjectType.PUBLIC_KEY, ObjectType.PRIVATE_KEY):
        # A private key named here lends its public half; one that may sign may have its signature checked.
        require_usage(
            key, Mask.VERIFY, Mask.UNWRAP_KEY | (Mask.SIGN if key.object_type == ObjectType.PRIVATE_KEY else 0)
        )
        found = _asymmetric(ctx, key)
        public = found.public_key() if isinstance(found, PRIVATE_TYPES) else found
        scheme = signatures.scheme(ctx.policy, public, sign_params(_fields(params)), verify=True)
        valid = signatures.verify(public, scheme, data, given, digested=False)
    else:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"a {key.object_type.name} cannot check a MAC or signature")
    if not valid:
        raise CryptographicFailure("the MAC/Signature of the wrapped key does not verify")


def _mac(ctx: Context, key: objects.ManagedObject, params: Item | None, data: bytes) -> bytes:
    assert key.obj is not None
    block = key.obj.find(tags.KeyBlock)
    if block is None:
        raise missing("Key Block of the MAC key")
    material, _ = material_of(block)
    algorithm = block.get(tags.CryptographicAlgorithm)
    if not isinstance(algorithm, int):
        attr = key.get(tags.CryptographicAlgorithm)
        algorithm = attr if isinstance(attr, int) else None
    kind = digests.mac_kind(algorithm, _int(params, tags.CryptographicAlgorithm), _int(params, tags.BlockCipherMode))
    stream = digests.open_mac(ctx.policy, material, kind)
    stream.update(data)
    return stream.finish()


def _asymmetric(ctx: Context, key: objects.ManagedObject) -> PrivateKey | PublicKey:
    from .asymkeys import read_block

    if key.obj is None:
        raise KmipError(ResultReason.WRAPPING_OBJECT_DESTROYED, f"key {key.uid} has been destroyed")
    found = read_block(key.object_type, key.obj)[0]
    asymmetric.check_policy(ctx.policy, asymmetric.spec_of(found))
    return found


def _fields(params: Item | None) -> dict[int, object]:
    return {c.tag: c.value for c in params.children} if params is not None else {}


def _int(params: Item | None, tag: int) -> int | None:
    value = params.get(tag) if params is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _link(mo: objects.ManagedObject, link_type: LinkType) -> str:
    for a in mo.attrs:
        if a.tag == tags.Link and a.get(tags.LinkType) == link_type:
            target = a.get(tags.LinkedObjectIdentifier)
            if isinstance(target, str):
                return target
    raise KmipError(ResultReason.WRAPPING_OBJECT_NOT_FOUND, f"no private key is linked to {mo.uid}")
