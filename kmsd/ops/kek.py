"""The server's key-encryption key (``--key-encryption-key UID``): start-up.

Theory of operation: with a KEK configured, every object holding secret
material is stored sealed under it (:mod:`kmsd.crypto.at_rest` makes and
opens the envelopes; :class:`kmsd.ops.objects.ManagedObject` is the one place
that calls it, when rows are read and written).  This module runs once, when
the server starts, before any request:

1. it reads the KEK from the store and fails with one clear line when it is
   missing, destroyed, or not a key that can wrap: an AES key (128/192/256
   bits, AES Key Wrap with Padding), or an RSA private key — or a public key
   whose Private Key Link names it — (RSA-OAEP + AES-KWP);
2. it seals every row still in the clear (objects from before the KEK was
   configured), and re-seals rows sealed under a previous KEK that is still
   in the store: rotating the KEK is restarting with a new one.  The previous
   KEK itself is then sealed like any other key.

The KEK is stored in the clear — it has to be readable first — so it
protects the other keys against leaks of their rows, backups and dumps that
do not include the KEK's row, not against a copy of the whole database.  It
cannot be destroyed or replaced while configured (Permission Denied, see
:meth:`kmsd.ops.objects.ManagedObject.to_stored`).
"""

from __future__ import annotations

import dataclasses
import logging
import time

from cryptography.hazmat.primitives.asymmetric import rsa

import ttlv
from kmsd.crypto import at_rest as codec
from kmsd.crypto.at_rest import AtRest
from kmsd.crypto.policy import Policy
from kmsd.kmip import tags
from kmsd.kmip.enums import CryptographicAlgorithm, CryptographicUsageMask, LinkType, ObjectType
from kmsd.kmip.errors import KmipError
from kmsd.store.base import ConflictError, LocateFilter, Store, StoredObject, Transaction
from ttlv import Item

from .keyblock import material_of

log = logging.getLogger("kmsd.kek")

#: How deep a chain of KEKs sealing one another may go when a KEK is itself
#: found sealed (rotated A -> B -> C ...): bounds the work and breaks cycles.
MAX_CHAIN = 8
#: How long start-up waits for another process sealing the same database.
SEAL_WAIT_SECONDS = 600.0
SEAL_RETRY_SECONDS = 0.2


class KekConfigError(Exception):
    """``--key-encryption-key`` names no usable key; the server must not start."""


def configure(store: Store, uid: str | None, policy: Policy) -> AtRest | None:
    """The KEK to run with (None: none configured), every row sealed under it."""
    if not uid:
        return None
    # A look first, in a read-only transaction: a restart with nothing left to
    # seal (the usual case) never takes the write lock, which other processes
    # on the same database (--workers, a second server) may hold.
    with store.transaction(readonly=True) as tx:
        at_rest, pending = _configured(tx, uid, policy, write=False)
        pending += _seal_all(tx, at_rest, policy, write=False)
    if pending:
        at_rest, pending = _seal_waiting(store, uid, policy)
    log.info("key-encryption key %s: key material is stored wrapped (%d rows sealed now)", uid, pending)
    return at_rest


def _seal_waiting(store: Store, uid: str, policy: Policy) -> tuple[AtRest, int]:
    """Seal in one write transaction, waiting past the store's busy timeout.

    With ``--workers`` every worker starts here at once; the first seals
    every row while the others wait for the write lock, which on a large
    database takes longer than a request would ever wait.  The others then
    find nothing left to do.
    """
    deadline = time.monotonic() + SEAL_WAIT_SECONDS
    waiting_logged = False
    while True:
        try:
            with store.transaction() as tx:
                at_rest, _ = _configured(tx, uid, policy, write=True)
                return at_rest, _seal_all(tx, at_rest, policy, write=True)
        except ConflictError:
            if time.monotonic() >= deadline:
                raise KekConfigError(
                    f"key-encryption key {uid}: the store stayed busy for {SEAL_WAIT_SECONDS} s while sealing"
                ) from None
            if not waiting_logged:
                log.info("key-encryption key %s: waiting for another process to finish sealing", uid)
                waiting_logged = True
            time.sleep(SEAL_RETRY_SECONDS)


# -- the configured KEK -----------------------------------------------------------------
def _configured(tx: Transaction, uid: str, policy: Policy, *, write: bool) -> tuple[AtRest, int]:
    """The configured KEK, and how many of its rows (it, or its RSA private
    half) had to be written back in the clear — or would have, without ``write``."""
    row, obj = _clear_row(tx, uid, policy, ())
    rows = [(row, obj)]
    at_rest = _at_rest(tx, row, obj, policy, check_usage=True, pair=rows)
    pending = 0
    for kept, clear in rows:
        if codec.is_sealed(kept.payload):  # a KEK is kept in the clear
            pending += 1
            if write:
                tx.update(dataclasses.replace(kept, payload=ttlv.encode(clear)))
    return at_rest, pending


def _clear_row(tx: Transaction, uid: str, policy: Policy, chain: tuple[str, ...]) -> tuple[StoredObject, Item]:
    """A key's row and its object item, opened with the KEK that sealed it when it is sealed."""
    row = tx.get(uid)
    if row is None:
        raise KekConfigError(
            f"--key-encryption-key {uid}: no such object in the store "
            "(create it first, e.g. an AES-256 key with the Wrap Key and Unwrap Key usages)"
        )
    if not row.payload:
        raise KekConfigError(f"--key-encryption-key {uid}: the object has been destroyed")
    if not codec.is_sealed(row.payload):
        return row, ttlv.decode(row.payload)
    sealer = codec.envelope_kek(row.payload)
    if sealer in chain or len(chain) >= MAX_CHAIN:
        raise KekConfigError(f"--key-encryption-key {uid}: it is sealed under a cycle of key-encryption keys")
    try:
        opener = _previous(tx, sealer, policy, (*chain, uid))
        return row, opener.open(uid, row.payload)
    except KmipError as exc:
        raise KekConfigError(f"--key-encryption-key {uid}: cannot open it: {exc.message}") from None


def _previous(tx: Transaction, uid: str, policy: Policy, chain: tuple[str, ...]) -> AtRest:
    """A KEK that sealed rows earlier, to open them (its usage is not checked again)."""
    row, obj = _clear_row(tx, uid, policy, chain)
    return _at_rest(tx, row, obj, policy, check_usage=False)


def _at_rest(
    tx: Transaction,
    row: StoredObject,
    obj: Item,
    policy: Policy,
    *,
    check_usage: bool,
    pair: list[tuple[StoredObject, Item]] | None = None,
) -> AtRest:
    """The AtRest of a KEK's row; a public key's private half is appended to ``pair``."""
    from .asymkeys import read_block  # the asymmetric key formats

    uid = row.uid
    usage = _usage(row)
    try:
        if row.object_type == ObjectType.SYMMETRIC_KEY:
            block = obj.find(tags.KeyBlock)
            if block is None or block.get(tags.CryptographicAlgorithm) != CryptographicAlgorithm.AES:
                raise KekConfigError(f"--key-encryption-key {uid}: a symmetric key-encryption key must be AES")
            if check_usage:
                _require(uid, usage, CryptographicUsageMask.WRAP_KEY | CryptographicUsageMask.UNWRAP_KEY)
            return AtRest.aes(uid, material_of(block)[0])
        protected: frozenset[str] = frozenset()
        if row.object_type == ObjectType.PUBLIC_KEY:
            if check_usage:
                _require(uid, usage, CryptographicUsageMask.WRAP_KEY)
            private_uid = _private_link(row)
            protected = frozenset({uid})
            row, obj = _clear_row(tx, private_uid, policy, (uid,))
            usage = _usage(row)
            if pair is not None:
                pair.append((row, obj))  # its private half is kept in the clear too
        if row.object_type != ObjectType.PRIVATE_KEY:
            kind = ObjectType(row.object_type).name
            raise KekConfigError(f"--key-encryption-key {uid}: must be an AES key or an RSA key pair, not a {kind}")
        key = read_block(ObjectType.PRIVATE_KEY, obj)[0]
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KekConfigError(f"--key-encryption-key {uid}: an asymmetric key-encryption key must be RSA")
        policy.check_rsa(key.key_size)
        if check_usage:
            _require(row.uid, usage, CryptographicUsageMask.UNWRAP_KEY)
        return AtRest.rsa(uid, key, protected | {row.uid})
    except KmipError as exc:
        raise KekConfigError(f"--key-encryption-key {uid}: {exc.message}") from None


def _usage(row: StoredObject) -> int | None:
    attrs = ttlv.decode(row.attributes).children if row.attributes else ()
    mask = next((a.value for a in attrs if a.tag == tags.CryptographicUsageMask), None)
    return mask if isinstance(mask, int) else None


def _require(uid: str, usage: int | None, bits: int) -> None:
    # A key without a usage mask is not restricted by one (as for every operation).
    if usage is not None and usage & bits != bits:
        raise KekConfigError(
            f"--key-encryption-key {uid}: the key's Cryptographic Usage Mask lacks "
            f"{CryptographicUsageMask(bits & ~usage).name or 'Wrap Key/Unwrap Key'}"
        )


def _private_link(row: StoredObject) -> str:
    attrs = ttlv.decode(row.attributes).children if row.attributes else ()
    for a in attrs:
        if a.tag == tags.Link and a.get(tags.LinkType) == LinkType.PRIVATE_KEY_LINK:
            target = a.get(tags.LinkedObjectIdentifier)
            if isinstance(target, str):
                return target
    raise KekConfigError(f"--key-encryption-key {row.uid}: the public key has no Private Key Link")


# -- sealing the rest ----------------------------------------------------------------------
def _seal_all(tx: Transaction, at_rest: AtRest, policy: Policy, *, write: bool) -> int:
    """Seal every clear row, re-seal rows sealed under an earlier KEK; the count
    (without ``write``: only count them)."""
    openers = {at_rest.uid: at_rest}
    count = 0
    for row in tx.locate(LocateFilter()):  # matches fixed at the call; writing meanwhile is allowed
        if not row.payload or row.uid in at_rest.protected or not codec.sealable(row.object_type):
            continue
        if codec.is_sealed(row.payload):
            sealer = codec.envelope_kek(row.payload)
            if sealer == at_rest.uid:
                continue
            if not write:
                count += 1
                continue
            if sealer not in openers:
                openers[sealer] = _previous(tx, sealer, policy, ())
            try:
                obj = openers[sealer].open(row.uid, row.payload)
            except KmipError as exc:
                raise KekConfigError(f"object {row.uid} cannot be re-wrapped: {exc.message}") from None
        elif not write:
            count += 1
            continue
        else:
            obj = ttlv.decode(row.payload)
        tx.update(dataclasses.replace(row, payload=at_rest.seal(row.uid, obj)))
        count += 1
    return count
