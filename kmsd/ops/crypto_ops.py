"""Encrypt, Decrypt, MAC, MAC Verify, Hash and RNG Seed (KMIP 2.1 §6.1).

Theory of operation.  Each handler (1) finds its key through
:func:`kmsd.ops.crypto_keys.use_key` (access, lifecycle, usage mask),
(2) resolves the Cryptographic Parameters — the request's fields first,
field by field, then the key's own Cryptographic Parameters attribute
(§6.1.17: "MAY be omitted … as they can be specified as associated
attributes") — (3) opens a stream from :mod:`kmsd.crypto.cipher` or
:mod:`kmsd.crypto.digests` and (4) either finishes it at once (single part)
or files it in :data:`kmsd.ops.streams.STREAMS` (Init Indicator) for later
parts named by their Correlation Value.  Parameters are only read when a
stream opens; later parts use the ones it was opened with.

Authenticated encryption tags: from KMIP 1.4 on, the tag travels in the
Authenticated Encryption Tag field.  KMIP 1.2 and 1.3 have no such field:
there the tag is appended to the ciphertext (the adapter
:mod:`kmsd.kmip.adapt` appends it to an Encrypt response), and a Decrypt
without a tag field takes the last Tag Length bytes (default 16) of its
data as the tag — which also serves 2.x clients that send it that way.

Asymmetric keys: :data:`ASYMMETRIC` maps (operation, object type) to a
handler the asymmetric module registers once it lands; until then Encrypt
or Decrypt with a public/private key is Invalid Object Type.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from kmsd.crypto import cipher, digests
from kmsd.kmip import tags
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.kmip.enums import ObjectType, Operation, ResultReason, ValidityIndicator
from kmsd.kmip.errors import KmipError, invalid_field, missing
from ttlv import Item, ItemType

from .context import Context
from .crypto_keys import UsableKey, charge, use_key
from .objects import request_uid
from .registry import handler
from .streams import STREAMS

log = logging.getLogger("kmsd.crypto")

#: (Operation, ObjectType) -> handler for asymmetric keys (filled by their module).
ASYMMETRIC: dict[tuple[int, int], Callable[[Context, UsableKey, Item], Item]] = {}
#: RNG Seed: at most this much is mixed in per request (the rest is reported unused).
MAX_SEED_BYTES = 4096
URANDOM = "/dev/urandom"


# -- request fields ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Parts:
    """Init/Final Indicators and Correlation Value of a request."""

    correlation: bytes | None
    init: bool
    final: bool

    @property
    def single(self) -> bool:
        return self.correlation is None and not self.init

    @classmethod
    def of(cls, payload: Item) -> Parts:
        cv = payload.get(tags.CorrelationValue)
        if cv is not None and not isinstance(cv, bytes):
            raise invalid_field("Correlation Value must be a Byte String")
        init = payload.get(tags.InitIndicator) is True
        if init and cv is not None:
            raise invalid_field("Init Indicator and Correlation Value are exclusive")
        return cls(cv, init, payload.get(tags.FinalIndicator) is True)


def _bytes(payload: Item, tag: int, name: str) -> bytes | None:
    value = payload.get(tag)
    if value is not None and not isinstance(value, bytes):
        raise invalid_field(f"{name} must be a Byte String")
    return value


def _parameters(payload: Item, key: UsableKey | None) -> dict[int, object]:
    """Request Cryptographic Parameters over the key's (first) attribute instance."""
    merged: dict[int, object] = {}
    if key is not None:
        stored = next((a for a in key.mo.attrs if a.tag == tags.CryptographicParameters), None)
        if isinstance(stored, Item):
            merged.update((c.tag, c.value) for c in stored.children)
    requested = payload.find(tags.CryptographicParameters)
    if requested is not None:
        merged.update((c.tag, c.value) for c in requested.children)
    return merged


def _int(params: dict[int, object], tag: int) -> int | None:
    value = params.get(tag)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _cipher_params(params: dict[int, object]) -> cipher.CipherParams:
    return cipher.CipherParams(
        mode=_int(params, tags.BlockCipherMode),
        padding=_int(params, tags.PaddingMethod),
        tag_length=_int(params, tags.TagLength),
        iv_length=_int(params, tags.IVLength),
        random_iv=params.get(tags.RandomIV) is True,
        fixed_field_length=_int(params, tags.FixedFieldLength),
        invocation_field_length=_int(params, tags.InvocationFieldLength),
        initial_counter_value=_int(params, tags.InitialCounterValue),
    )


def _response(*items: Item | None) -> Item:
    return Item(tags.ResponsePayload, ItemType.STRUCTURE, tuple(i for i in items if i is not None))


def _uid(uid: str) -> Item:
    return Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, uid)


def _blob(tag: int, value: bytes | None) -> Item | None:
    return None if value is None else Item(tag, ItemType.BYTE_STRING, value)


def _asymmetric(ctx: Context, operation: Operation, key: UsableKey, payload: Item) -> Item | None:
    if key.mo.object_type == ObjectType.SYMMETRIC_KEY:
        return None
    hook = ASYMMETRIC.get((operation, key.mo.object_type))
    if hook is None:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"a {key.mo.object_type.name} cannot be used for this")
    return hook(ctx, key, payload)


# -- Encrypt / Decrypt ---------------------------------------------------------------
@dataclass(slots=True)
class _CipherState:
    stream: cipher.CipherStream


def _crypt(ctx: Context, payload: Item, encrypt: bool) -> Item:
    operation = Operation.ENCRYPT if encrypt else Operation.DECRYPT
    uid = request_uid(ctx, payload)
    parts = Parts.of(payload)
    data = _bytes(payload, tags.Data, "Data")
    if data is None and parts.single:
        raise missing("Data")
    right, mask = ("encrypt", Mask.ENCRYPT) if encrypt else ("decrypt", Mask.DECRYPT)
    key = use_key(ctx, uid, right, mask, protect=encrypt)
    if (done := _asymmetric(ctx, operation, key, payload)) is not None:
        return done
    if key.material is None or key.algorithm is None:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "this object cannot be used to encrypt or decrypt")

    generated_iv: bytes | None = None
    if parts.correlation is not None:
        state = STREAMS.get(parts.correlation, ctx.user, operation, uid).state
        assert isinstance(state, _CipherState)
        stream = state.stream
    else:
        opened = cipher.open_cipher(
            ctx.policy,
            key.algorithm,
            key.material,
            _cipher_params(_parameters(payload, key)),
            encrypt=encrypt,
            iv=_bytes(payload, tags.IVCounterNonce, "IV/Counter/Nonce"),
            aad=_bytes(payload, tags.AuthenticatedEncryptionAdditionalData, "Additional Data"),
            tag=None if encrypt else _bytes(payload, tags.AuthenticatedEncryptionTag, "Authenticated Encryption Tag"),
        )
        stream, generated_iv = opened.stream, opened.iv
    if encrypt:
        charge(ctx, key.mo, len(data or b""), new_object=parts.correlation is None)
    out = stream.update(data or b"")
    tag: bytes | None = None
    correlation = parts.correlation
    if parts.single or parts.final:
        rest, tag = stream.finish()
        out += rest
        if correlation is not None:
            STREAMS.close(correlation)
        correlation = None
    elif correlation is None:
        correlation = STREAMS.open(ctx.user, operation, uid, _CipherState(stream))
    streamed = not parts.single
    return _response(
        _uid(uid),
        None if streamed and not out else _blob(tags.Data, out),
        _blob(tags.IVCounterNonce, generated_iv),
        _blob(tags.CorrelationValue, correlation),
        _blob(tags.AuthenticatedEncryptionTag, tag),
    )


@handler(Operation.ENCRYPT, since=(1, 2), writes=True)
def encrypt(ctx: Context, payload: Item) -> Item:
    return _crypt(ctx, payload, encrypt=True)


@handler(Operation.DECRYPT, since=(1, 2))
def decrypt(ctx: Context, payload: Item) -> Item:
    return _crypt(ctx, payload, encrypt=False)


# -- MAC / MAC Verify ----------------------------------------------------------------
@dataclass(slots=True)
class _DigestState:
    stream: digests.DigestStream
    expected: bytes | None = None  # MAC Verify: the MAC Data given at Init


def _digest_stream(
    ctx: Context, operation: Operation, uid: str | None, parts: Parts, open_: Callable[[], _DigestState]
) -> _DigestState:
    if parts.correlation is not None:
        state = STREAMS.get(parts.correlation, ctx.user, operation, uid).state
        assert isinstance(state, _DigestState)
        return state
    return open_()


def _mac_key(ctx: Context, payload: Item, verify: bool) -> tuple[str, UsableKey]:
    uid = request_uid(ctx, payload)
    right, mask = ("verify", Mask.MAC_VERIFY) if verify else ("mac", Mask.MAC_GENERATE)
    key = use_key(ctx, uid, right, mask, protect=not verify)
    if key.material is None:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "only symmetric keys compute MACs")
    return uid, key


def _open_mac(ctx: Context, payload: Item, key: UsableKey) -> digests.DigestStream:
    params = _parameters(payload, key)
    kind = digests.mac_kind(
        key.algorithm, _int(params, tags.CryptographicAlgorithm), _int(params, tags.BlockCipherMode)
    )
    assert key.material is not None
    return digests.open_mac(ctx.policy, key.material, kind)


def _finish(parts: Parts, state: _DigestState) -> bytes:
    if parts.correlation is not None:
        STREAMS.close(parts.correlation)
    return state.stream.finish()


@handler(Operation.MAC, since=(1, 2), writes=True)
def mac(ctx: Context, payload: Item) -> Item:
    parts = Parts.of(payload)
    data = _bytes(payload, tags.Data, "Data")
    if data is None and parts.single:
        raise missing("Data")
    uid, key = _mac_key(ctx, payload, verify=False)
    state = _digest_stream(ctx, Operation.MAC, uid, parts, lambda: _DigestState(_open_mac(ctx, payload, key)))
    charge(ctx, key.mo, len(data or b""), new_object=parts.correlation is None)
    state.stream.update(data or b"")
    if parts.single or parts.final:
        value = _finish(parts, state)
        return _response(_uid(uid), _blob(tags.MACData, value))
    correlation = parts.correlation or STREAMS.open(ctx.user, Operation.MAC, uid, state)
    return _response(_uid(uid), _blob(tags.CorrelationValue, correlation))


@handler(Operation.MAC_VERIFY, since=(1, 2))
def mac_verify(ctx: Context, payload: Item) -> Item:
    parts = Parts.of(payload)
    data = _bytes(payload, tags.Data, "Data")
    given = _bytes(payload, tags.MACData, "MAC Data")
    if parts.single and (data is None or given is None):
        raise missing("Data and MAC Data")
    uid, key = _mac_key(ctx, payload, verify=True)
    state = _digest_stream(
        ctx, Operation.MAC_VERIFY, uid, parts, lambda: _DigestState(_open_mac(ctx, payload, key), given)
    )
    state.stream.update(data or b"")
    if parts.single or parts.final:
        expected = given if given is not None else state.expected
        if expected is None:
            raise missing("MAC Data")
        computed = _finish(parts, state)
        valid = ValidityIndicator.VALID if digests.verify_mac(computed, expected) else ValidityIndicator.INVALID
        return _response(_uid(uid), Item(tags.ValidityIndicator, ItemType.ENUMERATION, int(valid)))
    correlation = parts.correlation or STREAMS.open(ctx.user, Operation.MAC_VERIFY, uid, state)
    return _response(_uid(uid), _blob(tags.CorrelationValue, correlation))


# -- Hash ----------------------------------------------------------------------------
@handler(Operation.HASH, since=(1, 2))
def hash_(ctx: Context, payload: Item) -> Item:
    parts = Parts.of(payload)
    data = _bytes(payload, tags.Data, "Data")
    if data is None and parts.single:
        raise missing("Data")

    def open_() -> _DigestState:
        algorithm = _int(_parameters(payload, None), tags.HashingAlgorithm)
        if algorithm is None:
            raise missing("Cryptographic Parameters with a Hashing Algorithm")
        return _DigestState(digests.open_hash(ctx.policy, algorithm))

    state = _digest_stream(ctx, Operation.HASH, None, parts, open_)
    state.stream.update(data or b"")
    if parts.single or parts.final:
        return _response(_blob(tags.Data, _finish(parts, state)))
    correlation = parts.correlation or STREAMS.open(ctx.user, Operation.HASH, None, state)
    return _response(_blob(tags.CorrelationValue, correlation))


# -- RNG Seed ------------------------------------------------------------------------
@handler(Operation.RNG_SEED, since=(1, 2))
def rng_seed(ctx: Context, payload: Item) -> Item:
    """Accepted and mixed in (KMIP 2.1 §6.1.50; CS-RNG-O-1..4 expect success).

    The server's randomness is the kernel CSPRNG (``os.urandom``, which
    OpenSSL's DRBG also seeds from).  Writing to /dev/urandom mixes the bytes
    into the kernel's input pool without crediting any entropy (random(4)):
    a client can add unpredictability but never reduce or control it.  The
    response's Data Length is the number of bytes mixed in: 0 if the device
    cannot be written, at most MAX_SEED_BYTES."""
    data = _bytes(payload, tags.Data, "Data")
    if data is None:
        raise missing("Data")
    used = data[:MAX_SEED_BYTES]
    try:
        with open(URANDOM, "wb", buffering=0) as device:
            device.write(used)
    except OSError as exc:
        log.warning("RNG Seed: cannot write %s: %s", URANDOM, exc.strerror)
        used = b""
    return _response(Item(tags.DataLength, ItemType.INTEGER, len(used)))
