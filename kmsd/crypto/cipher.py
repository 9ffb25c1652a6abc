"""Symmetric encryption and decryption, single-shot or by parts, over ``cryptography``.

Theory of operation.  :func:`open_cipher` validates everything up front — the
algorithm and mode against the policy, the key length, the IV/nonce length,
the tag length, the padding — and returns a :class:`CipherStream`: ``update``
takes bytes and returns what can already be released, ``finish`` returns the
rest and, for authenticated modes when encrypting, the tag.  A single-shot
Encrypt is ``update`` then ``finish`` on one stream; a streamed one spreads
the same calls over several requests (:mod:`kmsd.ops.streams`).

Two kinds of stream:

* incremental (ECB, CBC, CTR, GCM; 3DES ECB/CBC; ChaCha20): a
  ``cryptography`` cipher context (plus a PKCS#7 padder) holds at most a
  block between calls, so a stream costs constant memory;
* buffered (AES Key Wrap KW/KWP, XTS, ChaCha20-Poly1305, AES-GCM-SIV): the
  primitive is one-shot by construction (RFC 3394/5649 wrap the whole
  input; XTS encrypts one data unit; the AEAD interfaces of ``cryptography``
  are one-shot), so the input is buffered up to :data:`MAX_BUFFERED_BYTES`.

Nothing here reimplements a primitive; this module only chooses, checks and
wires them.  Error messages name fields and sizes, never data or keys.
"""

from __future__ import annotations

import hmac as _hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import keywrap, padding
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV, ChaCha20Poly1305

from kmsd.kmip.enums import BlockCipherMode as Mode
from kmsd.kmip.enums import CryptographicAlgorithm as Alg
from kmsd.kmip.enums import PaddingMethod as Pad
from kmsd.kmip.enums import ResultReason
from kmsd.kmip.errors import KmipError

from .policy import Policy

#: Vendor extension value of Block Cipher Mode for AES-GCM-SIV (RFC 8452),
#: which KMIP 2.1 does not enumerate (extensions are 0x8000xxxx, §11).
GCM_SIV = 0x80000001
#: Bytes a buffered stream may hold (one-shot primitives used by parts).
MAX_BUFFERED_BYTES = 1 << 20
#: SP 800-38D §5.2.1.2: the tag lengths GCM allows (bytes).
GCM_TAG_LENGTHS = frozenset({4, 8, 12, 13, 14, 15, 16})
#: SP 800-38D §8.2: a 96-bit IV is recommended; other lengths are allowed
#: (1 .. 2^64-1 bits); we accept 8 to 128 bytes.
GCM_IV_DEFAULT, GCM_IV_MIN, GCM_IV_MAX = 12, 8, 128
AES_BLOCK = 16
#: The shortest Poly1305 tag accepted on decryption (the profile test truncates to 12).
MIN_TRUNCATED_POLY1305 = 12
DES_BLOCK = 8
KEY_WRAP_MODES = frozenset({Mode.NISTKEYWRAP, Mode.AESKEYWRAPPADDING})


class CipherError(KmipError):
    """Base of this module's errors (each is a KmipError with a fixed reason)."""


class BadParameters(CipherError):
    """A parameter (mode, padding, tag length, IV length …) this operation cannot use."""

    def __init__(self, message: str) -> None:
        super().__init__(ResultReason.INVALID_FIELD, message)


class UnsupportedParameters(CipherError):
    """An algorithm or mode this server does not implement, or the policy refuses."""

    def __init__(self, message: str) -> None:
        super().__init__(ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS, message)


class MissingIV(CipherError):
    """The mode needs an IV/Counter/Nonce and none was given or asked for.  The
    OASIS profiles (CS-BC-M-11/13, 1.2 to 2.1) expect Invalid Message."""

    def __init__(self, message: str) -> None:
        super().__init__(ResultReason.INVALID_MESSAGE, message)


class BadTagLength(CipherError):
    """A Tag Length the AEAD cannot produce.  The OASIS profiles (CS-BC-M-GCM-1,
    CS-BC-M-CHACHA20POLY1305-1) expect General Failure for it."""

    def __init__(self, message: str) -> None:
        super().__init__(ResultReason.GENERAL_FAILURE, message)


class AuthenticationFailed(CipherError):
    """The tag did not verify, the key unwrap integrity check failed, or the
    padding was wrong: the data is not authentic under this key."""

    def __init__(self, message: str = "the data could not be decrypted and authenticated") -> None:
        super().__init__(ResultReason.CRYPTOGRAPHIC_FAILURE, message)


class TooMuchData(CipherError):
    def __init__(self) -> None:
        super().__init__(
            ResultReason.SERVER_LIMIT_EXCEEDED, f"a stream in this mode buffers at most {MAX_BUFFERED_BYTES} bytes"
        )


@dataclass(frozen=True, slots=True)
class CipherParams:
    """The resolved Cryptographic Parameters an Encrypt/Decrypt uses (KMIP 2.1 §4.16)."""

    mode: int | None = None
    padding: int | None = None
    tag_length: int | None = None  # bytes
    iv_length: int | None = None  # bits
    random_iv: bool = False
    fixed_field_length: int | None = None  # bits
    invocation_field_length: int | None = None  # bits
    initial_counter_value: int | None = None


class CipherStream(Protocol):
    def update(self, data: bytes) -> bytes: ...

    def finish(self) -> tuple[bytes, bytes | None]:
        """The remaining output, and the tag (authenticated encryption only)."""
        ...


@dataclass(frozen=True, slots=True)
class Opened:
    stream: CipherStream
    iv: bytes | None  # the IV/Counter/Nonce the server generated (to return), else None
    tag_from_data: int  # decrypt: the tag is the last N bytes of the data (KMIP < 1.4 style)


# -- streams -----------------------------------------------------------------------
class _ContextStream:
    """A cryptography cipher context, with PKCS#7 padding when asked."""

    def __init__(self, ctx: CipherContext, pad_block: int | None, encrypt: bool, tag_length: int | None) -> None:
        self._ctx = ctx
        self._encrypt = encrypt
        self._tag_length = tag_length
        self._pad: padding.PaddingContext | None = None
        if pad_block is not None:
            scheme = padding.PKCS7(pad_block * 8)
            self._pad = scheme.padder() if encrypt else scheme.unpadder()

    def update(self, data: bytes) -> bytes:
        if self._encrypt:
            return self._ctx.update(self._pad.update(data) if self._pad else data)
        out = self._ctx.update(data)
        return self._pad.update(out) if self._pad else out

    def finish(self) -> tuple[bytes, bytes | None]:
        try:
            if self._encrypt:
                out = self._ctx.update(self._pad.finalize()) if self._pad else b""
                out += self._ctx.finalize()
                tag: bytes | None = getattr(self._ctx, "tag", None)
                if tag is not None and self._tag_length is not None:
                    tag = tag[: self._tag_length]
                return out, tag
            out = self._ctx.finalize()
            if self._pad is not None:
                out = self._pad.update(out) + self._pad.finalize()
            return out, None
        except InvalidTag:
            raise AuthenticationFailed() from None
        except ValueError:
            # Data not a multiple of the block size, or bad PKCS#7 padding.
            if self._encrypt or self._pad is None:
                raise BadParameters("the data length is not a multiple of the block size") from None
            raise AuthenticationFailed("the decrypted data has invalid padding") from None


class _TagTailStream:
    """Decrypt where the tag trails the ciphertext (no Authenticated Encryption
    Tag field, as KMIP 1.2/1.3 clients send it): hold back the last bytes."""

    def __init__(self, make: Callable[[bytes], CipherContext], tag_length: int) -> None:
        self._make = make
        self._tag_length = tag_length
        self._ctx: CipherContext | None = None
        self._tail = b""

    def update(self, data: bytes) -> bytes:
        buf = self._tail + data
        cut = max(0, len(buf) - self._tag_length)
        self._tail = buf[cut:]
        if self._ctx is None:
            self._ctx = self._make(b"")
        return self._ctx.update(buf[:cut])

    def finish(self) -> tuple[bytes, bytes | None]:
        if len(self._tail) < self._tag_length:
            raise AuthenticationFailed("the data is shorter than the authentication tag")
        ctx = self._ctx or self._make(b"")
        try:
            return ctx.finalize_with_tag(self._tail), None  # type: ignore[attr-defined]
        except (InvalidTag, ValueError):
            raise AuthenticationFailed() from None


class _BufferedStream:
    """One-shot primitives used by parts: buffer, then run once at the end."""

    def __init__(self, run: Callable[[bytes], tuple[bytes, bytes | None]]) -> None:
        self._run = run
        self._buf = bytearray()

    def update(self, data: bytes) -> bytes:
        if len(self._buf) + len(data) > MAX_BUFFERED_BYTES:
            raise TooMuchData()
        self._buf += data
        return b""

    def finish(self) -> tuple[bytes, bytes | None]:
        data = bytes(self._buf)
        self._buf.clear()
        return self._run(data)


# -- opening -------------------------------------------------------------------------
def open_cipher(
    policy: Policy,
    algorithm: int,
    key: bytes,
    params: CipherParams,
    *,
    encrypt: bool,
    iv: bytes | None,
    aad: bytes | None = None,
    tag: bytes | None = None,
) -> Opened:
    """A stream for Encrypt (``encrypt=True``) or Decrypt with ``key``.

    ``iv`` is the client's IV/Counter/Nonce (None when absent); ``aad`` and
    ``tag`` the Authenticated Encryption Additional Data and Tag."""
    mode = params.mode
    if algorithm == Alg.CHACHA20POLY1305 or (algorithm == Alg.CHACHA20 and mode == Mode.AEAD):
        policy.check_cipher(Alg.CHACHA20POLY1305, Mode.AEAD, encrypt=encrypt)
        return _chacha_poly(key, params, encrypt, iv, aad, tag)
    if algorithm == Alg.CHACHA20:
        policy.check_cipher(algorithm, None, encrypt=encrypt)
        return _chacha20(key, params, iv)
    if mode is None:
        raise BadParameters("Cryptographic Parameters with a Block Cipher Mode are required for this key")
    policy.check_cipher(algorithm, mode, encrypt=encrypt)
    if algorithm == Alg._3DES:
        return _triple_des(key, params, encrypt, iv)
    if algorithm != Alg.AES:
        raise UnsupportedParameters("this key's algorithm cannot encrypt or decrypt")
    _check_aes_key(key, xts=mode == Mode.XTS)
    opener = _AES_MODES.get(mode)
    if opener is None:
        raise UnsupportedParameters(f"block cipher mode {_mode_name(mode)} is not supported")
    return opener(key, params, encrypt, iv, aad, tag)


def _check_aes_key(key: bytes, *, xts: bool) -> None:
    sizes = (32, 64) if xts else (16, 24, 32)
    if len(key) not in sizes:
        raise BadParameters(f"a {len(key) * 8}-bit AES key cannot be used in this mode")


def _padding(params: CipherParams, allow_pkcs5: bool) -> bool:
    """Whether PKCS#5 (PKCS#7 on the block size) padding applies."""
    if params.padding in (None, Pad.NONE):
        return False
    if params.padding == Pad.PKCS5 and allow_pkcs5:
        return True
    raise UnsupportedParameters("this padding method is not supported with this mode")


def _need_iv(params: CipherParams, iv: bytes | None, length: int, encrypt: bool) -> tuple[bytes, bytes | None]:
    """The IV to use and the one to return (generated by the server)."""
    if iv is not None:
        if len(iv) != length:
            raise BadParameters(f"the IV/Counter/Nonce must be {length} bytes, not {len(iv)}")
        return iv, None
    if encrypt and params.random_iv:
        fresh = os.urandom(length)
        return fresh, fresh
    raise MissingIV("an IV/Counter/Nonce is required (or Random IV, to have the server generate one)")


def _ecb(
    key: bytes, params: CipherParams, encrypt: bool, iv: bytes | None, aad: bytes | None, tag: bytes | None
) -> Opened:
    pad = _padding(params, allow_pkcs5=True)
    cipher = Cipher(algorithms.AES(key), modes.ECB())
    ctx = cipher.encryptor() if encrypt else cipher.decryptor()
    return Opened(_ContextStream(ctx, AES_BLOCK if pad else None, encrypt, None), None, 0)


def _cbc(
    key: bytes, params: CipherParams, encrypt: bool, iv: bytes | None, aad: bytes | None, tag: bytes | None
) -> Opened:
    pad = _padding(params, allow_pkcs5=True)
    used, generated = _need_iv(params, iv, AES_BLOCK, encrypt)
    cipher = Cipher(algorithms.AES(key), modes.CBC(used))
    ctx = cipher.encryptor() if encrypt else cipher.decryptor()
    return Opened(_ContextStream(ctx, AES_BLOCK if pad else None, encrypt, None), generated, 0)


def _ctr(
    key: bytes, params: CipherParams, encrypt: bool, iv: bytes | None, aad: bytes | None, tag: bytes | None
) -> Opened:
    _padding(params, allow_pkcs5=False)
    # SP 800-38A §B.2: the whole 128-bit counter block is the IV/Counter/Nonce.
    used, generated = _need_iv(params, iv, AES_BLOCK, encrypt)
    cipher = Cipher(algorithms.AES(key), modes.CTR(used))
    ctx = cipher.encryptor() if encrypt else cipher.decryptor()
    return Opened(_ContextStream(ctx, None, encrypt, None), generated, 0)


def _xts(
    key: bytes, params: CipherParams, encrypt: bool, iv: bytes | None, aad: bytes | None, tag: bytes | None
) -> Opened:
    _padding(params, allow_pkcs5=False)
    # IEEE 1619 / SP 800-38E: the 128-bit tweak is the IV/Counter/Nonce; one data unit per operation.
    tweak, generated = _need_iv(params, iv, AES_BLOCK, encrypt)
    if key[: len(key) // 2] == key[len(key) // 2 :]:
        raise BadParameters("the two halves of an XTS key must differ (SP 800-38E)")
    cipher = Cipher(algorithms.AES(key), modes.XTS(tweak))

    def run(data: bytes) -> tuple[bytes, bytes | None]:
        if len(data) < AES_BLOCK:
            raise BadParameters("XTS needs at least 16 bytes of data")
        ctx = cipher.encryptor() if encrypt else cipher.decryptor()
        return ctx.update(data) + ctx.finalize(), None

    return Opened(_BufferedStream(run), generated, 0)


def _gcm_iv(params: CipherParams, iv: bytes | None, encrypt: bool) -> tuple[bytes, bytes | None]:
    """SP 800-38D §8.2.  With Random IV and a Fixed Field Length, the client's
    IV/Counter/Nonce is the fixed field and the server appends a random
    invocation field (§8.2.2's RBG-based construction, fixed part first)."""
    if params.iv_length is not None and params.iv_length % 8:
        raise BadParameters("IV Length must be a whole number of bytes")
    length = params.iv_length // 8 if params.iv_length else None
    if params.fixed_field_length is not None and encrypt and params.random_iv:
        fixed_bits = params.fixed_field_length
        invocation_bits = params.invocation_field_length
        total = length or GCM_IV_DEFAULT
        if invocation_bits is None:
            invocation_bits = total * 8 - fixed_bits
        if fixed_bits % 8 or invocation_bits % 8 or fixed_bits + invocation_bits != total * 8 or invocation_bits < 64:
            raise BadParameters("Fixed Field Length + Invocation Field Length must be the IV length, in bytes")
        fixed = iv or b""
        if len(fixed) != fixed_bits // 8:
            raise BadParameters(f"the IV/Counter/Nonce must hold the {fixed_bits // 8}-byte fixed field")
        full = fixed + os.urandom(invocation_bits // 8)
        return full, full
    if iv is not None and length is None:
        length = len(iv)
    length = length or GCM_IV_DEFAULT
    if not GCM_IV_MIN <= length <= GCM_IV_MAX:
        raise BadParameters(f"a GCM IV must be {GCM_IV_MIN} to {GCM_IV_MAX} bytes")
    return _need_iv(params, iv, length, encrypt)


def _tag_length(params: CipherParams, allowed: frozenset[int], default: int) -> int:
    length = params.tag_length if params.tag_length is not None else default
    if length not in allowed:
        raise BadTagLength(f"invalid tag length {length} (allowed: {sorted(allowed)})")
    return length


def _gcm(
    key: bytes, params: CipherParams, encrypt: bool, iv: bytes | None, aad: bytes | None, tag: bytes | None
) -> Opened:
    _padding(params, allow_pkcs5=False)
    used, generated = _gcm_iv(params, iv, encrypt)
    aes = algorithms.AES(key)
    if encrypt:
        tag_length = _tag_length(params, GCM_TAG_LENGTHS, 16)
        ctx = Cipher(aes, modes.GCM(used)).encryptor()
        if aad:
            ctx.authenticate_additional_data(aad)
        return Opened(_ContextStream(ctx, None, True, tag_length), generated, 0)
    if tag is not None:
        # Decrypt: the tag's own length is what is checked (CS-BC-M-GCM-1 decrypts a 12-byte tag).
        if len(tag) not in GCM_TAG_LENGTHS:
            raise BadParameters(f"an authentication tag of {len(tag)} bytes is not allowed")
        dctx = Cipher(aes, modes.GCM(used, tag, min_tag_length=len(tag))).decryptor()
        if aad:
            dctx.authenticate_additional_data(aad)
        return Opened(_ContextStream(dctx, None, False, None), None, 0)
    tag_length = params.tag_length or 16
    if tag_length not in GCM_TAG_LENGTHS:
        raise BadParameters(f"an authentication tag of {tag_length} bytes is not allowed")

    def make(_: bytes) -> CipherContext:
        ctx = Cipher(aes, modes.GCM(used, min_tag_length=tag_length)).decryptor()
        if aad:
            ctx.authenticate_additional_data(aad)
        return ctx

    return Opened(_TagTailStream(make, tag_length), None, tag_length)


def _key_wrap(padded: bool) -> Callable[..., Opened]:
    """RFC 3394 (NIST KW, SP 800-38F §6.2) and RFC 5649 (KWP, §6.3) as Encrypt/Decrypt modes."""

    def opener(
        key: bytes, params: CipherParams, encrypt: bool, iv: bytes | None, aad: bytes | None, tag: bytes | None
    ) -> Opened:
        if iv is not None:
            raise BadParameters("AES key wrap takes no IV/Counter/Nonce (the RFC's default IV is used)")

        def run(data: bytes) -> tuple[bytes, bytes | None]:
            try:
                if encrypt:
                    wrap = keywrap.aes_key_wrap_with_padding if padded else keywrap.aes_key_wrap
                    return wrap(key, data), None
                unwrap = keywrap.aes_key_unwrap_with_padding if padded else keywrap.aes_key_unwrap
                return unwrap(key, data), None
            except keywrap.InvalidUnwrap:
                raise AuthenticationFailed("the key unwrap integrity check failed") from None
            except ValueError:
                need = "at least 1 byte" if padded else "a multiple of 8 bytes, at least 16"
                raise BadParameters(f"key wrap data must be {need}") from None

        return Opened(_BufferedStream(run), None, 0)

    return opener


def _gcm_siv(
    key: bytes, params: CipherParams, encrypt: bool, iv: bytes | None, aad: bytes | None, tag: bytes | None
) -> Opened:
    """RFC 8452, 96-bit nonce, 128-bit tag (non-FIPS; a vendor mode value)."""
    nonce, generated = _need_iv(params, iv, 12, encrypt)
    return _aead_oneshot(AESGCMSIV(key), nonce, generated, params, encrypt, aad, tag)


def _chacha_poly(
    key: bytes, params: CipherParams, encrypt: bool, iv: bytes | None, aad: bytes | None, tag: bytes | None
) -> Opened:
    """RFC 8439 §2.8: 256-bit key, 96-bit nonce, 128-bit tag."""
    if len(key) != 32:
        raise BadParameters("ChaCha20-Poly1305 needs a 256-bit key")
    nonce, generated = _need_iv(params, iv, 12, encrypt)
    return _aead_oneshot(ChaCha20Poly1305(key), nonce, generated, params, encrypt, aad, tag, key)


def _aead_oneshot(
    aead: AESGCMSIV | ChaCha20Poly1305,
    nonce: bytes,
    generated: bytes | None,
    params: CipherParams,
    encrypt: bool,
    aad: bytes | None,
    tag: bytes | None,
    chacha_key: bytes | None = None,
) -> Opened:
    if encrypt:
        _tag_length(params, frozenset({16}), 16)

        def seal(data: bytes) -> tuple[bytes, bytes | None]:
            out = aead.encrypt(nonce, data, aad or None)
            return out[:-16], out[-16:]

        return Opened(_BufferedStream(seal), generated, 0)
    truncated = tag is not None and len(tag) != 16
    if truncated and (chacha_key is None or not MIN_TRUNCATED_POLY1305 <= len(tag or b"") < 16):
        raise AuthenticationFailed("the authentication tag has the wrong length")

    def open_(data: bytes) -> tuple[bytes, bytes | None]:
        if truncated and chacha_key is not None and tag is not None:
            return _open_truncated(chacha_key, aead, nonce, data, aad, tag), None
        try:
            return aead.decrypt(nonce, data + (tag or b""), aad or None), None
        except InvalidTag:
            raise AuthenticationFailed() from None

    return Opened(_BufferedStream(open_), None, 0 if tag is not None else 16)


def _open_truncated(
    key: bytes, aead: AESGCMSIV | ChaCha20Poly1305, nonce: bytes, data: bytes, aad: bytes | None, tag: bytes
) -> bytes:
    """A truncated Poly1305 tag (CS-BC-M-CHACHA20POLY1305-1 decrypts with 12
    bytes): RFC 8439 §2.8 encrypts with ChaCha20 from block counter 1, so the
    plaintext is recovered with ChaCha20 alone, sealed again to compute the
    full tag, and the prefix compared in constant time."""
    ctx = Cipher(algorithms.ChaCha20(key, (1).to_bytes(4, "little") + nonce), mode=None).decryptor()
    plaintext = ctx.update(data) + ctx.finalize()
    full = aead.encrypt(nonce, plaintext, aad or None)[-16:]
    if not _hmac.compare_digest(full[: len(tag)], tag):
        raise AuthenticationFailed()
    return plaintext


def _chacha20(key: bytes, params: CipherParams, iv: bytes | None) -> Opened:
    """ChaCha20 alone (non-FIPS).  A 64-bit nonce (original construction, 64-bit
    counter) or a 96-bit one (RFC 8439 §2.4, 32-bit counter, Initial Counter
    Value default 0) or the 128-bit counter||nonce block ``cryptography`` takes."""
    if len(key) != 32:
        raise BadParameters("ChaCha20 needs a 256-bit key")
    if iv is None:
        raise MissingIV("ChaCha20 needs an IV/Counter/Nonce")
    counter = params.initial_counter_value or 0
    if len(iv) == 8:
        block = counter.to_bytes(8, "little") + iv
    elif len(iv) == 12:
        block = counter.to_bytes(4, "little") + iv
    elif len(iv) == 16:
        block = iv
    else:
        raise BadParameters("a ChaCha20 nonce must be 8, 12 or 16 bytes")
    ctx = Cipher(algorithms.ChaCha20(key, block), mode=None).encryptor()
    return Opened(_ContextStream(ctx, None, True, None), None, 0)


def _triple_des(key: bytes, params: CipherParams, encrypt: bool, iv: bytes | None) -> Opened:
    """Legacy 3DES (SP 800-67 Rev. 2, decryption of old data only; the policy decides)."""
    if len(key) not in (16, 24):
        raise BadParameters("a 3DES key is 16 or 24 bytes")
    pad = _padding(params, allow_pkcs5=True)
    generated = None
    if params.mode == Mode.ECB:
        cipher: Cipher[modes.ECB] | Cipher[modes.CBC] = Cipher(TripleDES(key), modes.ECB())
    elif params.mode == Mode.CBC:
        used, generated = _need_iv(params, iv, DES_BLOCK, encrypt)
        cipher = Cipher(TripleDES(key), modes.CBC(used))
    else:
        raise UnsupportedParameters("3DES is supported in ECB and CBC modes only")
    ctx = cipher.encryptor() if encrypt else cipher.decryptor()
    return Opened(_ContextStream(ctx, DES_BLOCK if pad else None, encrypt, None), generated, 0)


_AES_MODES: dict[int, Callable[..., Opened]] = {
    Mode.ECB: _ecb,
    Mode.CBC: _cbc,
    Mode.CTR: _ctr,
    Mode.GCM: _gcm,
    Mode.XTS: _xts,
    Mode.NISTKEYWRAP: _key_wrap(padded=False),
    Mode.AESKEYWRAPPADDING: _key_wrap(padded=True),
    GCM_SIV: _gcm_siv,
}


def _mode_name(mode: int) -> str:
    return Mode(mode).name if mode in Mode._value2member_map_ else hex(mode)
