"""Sign and Signature Verify (KMIP 2.1 §6.1.47–48), and RSA Encrypt/Decrypt.

Theory of operation.  Like the handlers of :mod:`kmsd.ops.crypto_ops`: the
key comes from :func:`~kmsd.ops.crypto_keys.use_key` (access right ``sign``
or ``verify``, lifecycle, Cryptographic Usage Mask Sign or Verify), the
Cryptographic Parameters are the request's over the key's attribute, and
:mod:`kmsd.crypto.signatures` picks the scheme.  Data comes whole (Data),
as a digest the client computed (Digested Data), or by parts (Init
Indicator, then Correlation Value, the last part with Final Indicator): a
stream holds a hash context filed in :data:`~kmsd.ops.streams.STREAMS`.

A signature that does not verify — tampered, truncated, for other data or
another key — is a *successful* Signature Verify whose Validity Indicator is
Invalid; errors are kept for requests the server cannot act on.

RSA Encrypt/Decrypt (OAEP; PKCS#1 v1.5 non-FIPS) are single-part: they are
the :data:`~kmsd.ops.crypto_ops.ASYMMETRIC` hooks for Public and Private Keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa

from kmsd.crypto import asymmetric, certificates, signatures
from kmsd.kmip import tags
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.kmip.enums import ObjectType, Operation, ResultReason, ValidityIndicator
from kmsd.kmip.errors import KmipError, invalid_field, missing
from ttlv import Item, ItemType

from .asymkeys import read_block
from .context import Context
from .crypto_keys import UsableKey, charge, use_key
from .crypto_ops import ASYMMETRIC, Parts, _blob, _bytes, _int, _parameters, _response, _uid
from .objects import request_uid
from .registry import handler
from .streams import STREAMS

SIGNING_TYPES = frozenset({ObjectType.PRIVATE_KEY})
VERIFYING_TYPES = frozenset({ObjectType.PUBLIC_KEY, ObjectType.CERTIFICATE})


def _sign_params(payload: Item, key: UsableKey) -> signatures.SignParams:
    return sign_params(_parameters(payload, key))


def sign_params(params: dict[int, object]) -> signatures.SignParams:
    """The signing choices in Cryptographic Parameters (tag -> value; empty: the defaults)."""
    p_source = params.get(tags.PSource)
    return signatures.SignParams(
        signature_algorithm=_int(params, tags.DigitalSignatureAlgorithm),
        algorithm=_int(params, tags.CryptographicAlgorithm),
        hashing=_int(params, tags.HashingAlgorithm),
        padding=_int(params, tags.PaddingMethod),
        mgf_hashing=_int(params, tags.MaskGeneratorHashingAlgorithm),
        salt_length=_int(params, tags.SaltLength),
        p_source=p_source if isinstance(p_source, bytes) else None,
    )


def _key_object(ctx: Context, key: UsableKey, allowed: frozenset[ObjectType]) -> object:
    mo = key.mo
    if mo.object_type not in allowed or mo.obj is None:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"a {mo.object_type.name} cannot be used for this")
    public: object
    if mo.object_type == ObjectType.CERTIFICATE:
        public = certificates.load(mo.obj)[0].public_key()
    else:
        public = read_block(mo.object_type, mo.obj)[0]
    asymmetric.check_policy(ctx.policy, asymmetric.spec_of(public))  # type: ignore[arg-type]
    return public


@dataclass(slots=True)
class _SignState:
    key: object
    scheme: signatures.Scheme
    stream: signatures.SignStream
    signature: bytes | None = None  # Signature Verify: Signature Data given before the final part


def _state(
    ctx: Context,
    operation: Operation,
    uid: str,
    parts: Parts,
    payload: Item,
    key: UsableKey,
    verify: bool,
    digested: bytes | None,
) -> _SignState:
    if parts.correlation is not None:
        state = STREAMS.get(parts.correlation, ctx.user, operation, uid).state
        assert isinstance(state, _SignState)
        return state
    obj = _key_object(ctx, key, VERIFYING_TYPES if verify else SIGNING_TYPES)
    # A Digested Data's length names its hash when the parameters do not (kmsd.crypto.signatures).
    size = None if digested is None else len(digested)
    s = signatures.scheme(ctx.policy, obj, _sign_params(payload, key), verify=verify, digest_size=size)
    return _SignState(obj, s, signatures.SignStream(s))


def _input(payload: Item, parts: Parts) -> tuple[bytes | None, bytes | None]:
    data = _bytes(payload, tags.Data, "Data")
    digested = _bytes(payload, tags.DigestedData, "Digested Data")
    if data is not None and digested is not None:
        raise invalid_field("Data and Digested Data are exclusive")
    if digested is not None and not parts.single:
        raise invalid_field("Digested Data cannot be streamed")
    if digested == b"":
        raise invalid_field("Digested Data must not be empty")
    if parts.single and data is None and digested is None:
        raise missing("Data or Digested Data")
    return data, digested


@handler(Operation.SIGN, since=(1, 2), writes=True)
def sign(ctx: Context, payload: Item) -> Item:
    uid = request_uid(ctx, payload)
    parts = Parts.of(payload)
    data, digested = _input(payload, parts)
    key = use_key(ctx, uid, "sign", Mask.SIGN, protect=True)
    state = _state(ctx, Operation.SIGN, uid, parts, payload, key, verify=False, digested=digested)
    charge(ctx, key.mo, len(data or digested or b""), new_object=parts.correlation is None)
    if digested is not None:
        value = signatures.sign(state.key, state.scheme, digested, digested=True)
        return _response(_uid(uid), _blob(tags.SignatureData, value))
    state.stream.update(data or b"")
    if parts.single or parts.final:
        if parts.correlation is not None:
            STREAMS.close(parts.correlation)
        message, hashed = state.stream.message()
        value = signatures.sign(state.key, state.scheme, message, digested=hashed)
        return _response(_uid(uid), _blob(tags.SignatureData, value))
    correlation = parts.correlation or STREAMS.open(ctx.user, Operation.SIGN, uid, state)
    return _response(_uid(uid), _blob(tags.CorrelationValue, correlation))


@handler(Operation.SIGNATURE_VERIFY, since=(1, 2))
def signature_verify(ctx: Context, payload: Item) -> Item:
    uid = request_uid(ctx, payload)
    parts = Parts.of(payload)
    data, digested = _input(payload, parts)
    given = _bytes(payload, tags.SignatureData, "Signature Data")
    if parts.single and given is None:
        raise missing("Signature Data")
    key = use_key(ctx, uid, "verify", Mask.VERIFY, protect=False)
    state = _state(ctx, Operation.SIGNATURE_VERIFY, uid, parts, payload, key, verify=True, digested=digested)
    if given is not None:
        state.signature = given
    if digested is not None:
        assert given is not None
        ok = signatures.verify(state.key, state.scheme, digested, given, digested=True)
        return _verdict(uid, ok)
    state.stream.update(data or b"")
    if parts.single or parts.final:
        if parts.correlation is not None:
            STREAMS.close(parts.correlation)
        if state.signature is None:
            raise missing("Signature Data")
        message, hashed = state.stream.message()
        return _verdict(uid, signatures.verify(state.key, state.scheme, message, state.signature, digested=hashed))
    correlation = parts.correlation or STREAMS.open(ctx.user, Operation.SIGNATURE_VERIFY, uid, state)
    return _response(_uid(uid), _blob(tags.CorrelationValue, correlation))


def _verdict(uid: str, ok: bool) -> Item:
    valid = ValidityIndicator.VALID if ok else ValidityIndicator.INVALID
    return _response(_uid(uid), Item(tags.ValidityIndicator, ItemType.ENUMERATION, int(valid)))


# -- RSA Encrypt / Decrypt (the crypto_ops ASYMMETRIC hooks) --------------------------------
def _rsa_data(payload: Item) -> bytes:
    parts = Parts.of(payload)
    if not parts.single:
        raise invalid_field("RSA encryption is single-part: no Init Indicator or Correlation Value")
    data = _bytes(payload, tags.Data, "Data")
    if data is None:
        raise missing("Data")
    return data


def rsa_encrypt(ctx: Context, key: UsableKey, payload: Item) -> Item:
    data = _rsa_data(payload)
    public = _key_object(ctx, key, frozenset({ObjectType.PUBLIC_KEY}))
    if not isinstance(public, rsa.RSAPublicKey):
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "only RSA public keys encrypt")
    pad = signatures.rsa_padding(ctx.policy, _sign_params(payload, key))
    charge(ctx, key.mo, len(data), new_object=True)
    return _response(_uid(key.mo.uid), _blob(tags.Data, signatures.rsa_encrypt(public, pad, data)))


def rsa_decrypt(ctx: Context, key: UsableKey, payload: Item) -> Item:
    data = _rsa_data(payload)
    mo = key.mo
    assert mo.obj is not None
    private = read_block(mo.object_type, mo.obj)[0]
    if not isinstance(private, rsa.RSAPrivateKey):
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "only RSA private keys decrypt")
    asymmetric.check_policy(ctx.policy, asymmetric.spec_of(private))
    pad = signatures.rsa_padding(ctx.policy, _sign_params(payload, key))
    return _response(_uid(mo.uid), _blob(tags.Data, signatures.rsa_decrypt(private, pad, data)))


ASYMMETRIC[(Operation.ENCRYPT, ObjectType.PUBLIC_KEY)] = rsa_encrypt
ASYMMETRIC[(Operation.DECRYPT, ObjectType.PRIVATE_KEY)] = rsa_decrypt
