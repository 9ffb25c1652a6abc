"""Managed objects as handlers use them: load with access checks, save, index.

Theory of operation: a managed object is its KMIP object item (Symmetric Key,
Secret Data …; None once destroyed), its attributes in the internal 2.1 form
(see kmsd.kmip.attributes), its state and its owner.  Unique Identifier,
Object Type and State are not stored as attributes: they are columns, and
``all_attributes`` adds them when a client asks.

Access: the owner may do everything; anyone else needs a grant of the
operation.  An object the caller may not see is reported exactly as a
missing one (Item Not Found), so identifiers cannot be probed.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache

import ttlv
from kmsd.kmip import attributes as A
from kmsd.kmip import tags
from kmsd.kmip.enums import ObjectType, State
from kmsd.kmip.errors import not_found
from kmsd.store.base import StoredObject
from ttlv import Item, ItemType

from . import batchrefs
from .context import Context, NeedsWrite

STATELESS_TYPES = frozenset({ObjectType.OPAQUE_OBJECT, ObjectType.TEMPLATE})


@dataclass(slots=True)
class ManagedObject:
    uid: str
    object_type: ObjectType
    state: State
    owner: str
    obj: Item | None
    attrs: tuple[Item, ...]
    sequence: int = 0

    # -- attributes -----------------------------------------------------------
    def get(self, tag: int) -> object:
        return A.value_of(self.attrs, tag)

    def set_attr(self, tag: int, item: Item | None) -> None:
        self.attrs = A.replace_all(self.attrs, tag, item)

    def set_date(self, tag: int, when: datetime) -> None:
        self.set_attr(tag, Item(tag, ItemType.DATE_TIME, when))

    def all_attributes(self) -> tuple[Item, ...]:
        """Stored attributes plus the ones derived from columns."""
        derived = [
            Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, self.uid),
            Item(tags.ObjectType, ItemType.ENUMERATION, int(self.object_type)),
        ]
        if self.object_type not in STATELESS_TYPES:
            derived.append(Item(tags.State, ItemType.ENUMERATION, int(self.state)))
        derived.append(Item(tags.ShortUniqueIdentifier, ItemType.BYTE_STRING, short_unique_identifier(self.uid)))
        return (*derived, *self.attrs)

    # -- persistence ---------------------------------------------------------------
    def to_stored(self) -> StoredObject:
        names = tuple(v for a in self.attrs if a.tag == tags.Name and isinstance(v := a.get(tags.NameValue), str))
        groups = tuple(a.value for a in self.attrs if a.tag == tags.ObjectGroup and isinstance(a.value, str))
        alg = self.get(tags.CryptographicAlgorithm)
        length = self.get(tags.CryptographicLength)
        return StoredObject(
            uid=self.uid,
            object_type=int(self.object_type),
            state=int(self.state),
            owner=self.owner,
            payload=ttlv.encode(self.obj) if self.obj is not None else b"",
            attributes=ttlv.encode(Item(tags.Attributes, ItemType.STRUCTURE, self.attrs)),
            names=names,
            object_groups=groups,
            cryptographic_algorithm=alg if isinstance(alg, int) else None,
            cryptographic_length=length if isinstance(length, int) else None,
            sequence=self.sequence,
        )

    @classmethod
    def from_stored(cls, stored: StoredObject) -> ManagedObject:
        # The object (key material) is decoded afresh every time: a cache of
        # it would keep destroyed keys alive in memory.
        obj = ttlv.decode(stored.payload) if stored.payload else None
        attrs = _decode_attributes(stored.attributes).children if stored.attributes else ()
        return cls(
            uid=stored.uid,
            object_type=ObjectType(stored.object_type),
            state=State(stored.state) if stored.state else State.PRE_ACTIVE,
            owner=stored.owner,
            obj=obj,
            attrs=attrs,
            sequence=stored.sequence,
        )


@lru_cache(maxsize=2048)
def _decode_attributes(blob: bytes) -> Item:
    """Attribute blobs decoded once: items are immutable, so a hot object read
    by many clients is decoded once, keyed by the blob's exact bytes.  Holds no
    key material (attributes never do)."""
    return ttlv.decode(blob)


def short_unique_identifier(uid: str) -> bytes:
    """KMIP 2.x Short Unique Identifier: SHA-256 of the Unique Identifier."""
    return hashlib.sha256(uid.encode()).digest()


def new_uid() -> str:
    return str(uuid.uuid4())


def request_uid(ctx: Context, payload: Item) -> str:
    """The payload's Unique Identifier, or the ID Placeholder when omitted."""
    uid = payload.get(tags.UniqueIdentifier)
    if isinstance(uid, str):
        return uid
    if uid is not None:
        # 2.x: a Unique Identifier Enumeration or a batch item reference (kmsd.ops.batchrefs).
        return batchrefs.resolve(ctx, payload.find(tags.UniqueIdentifier))
    if ctx.id_placeholder is None:
        # No earlier item left an identifier (none ran, it failed, or a Locate
        # matched no single object): the object the request means is not found.
        raise not_found(None)
    return ctx.id_placeholder


def can(ctx: Context, stored: StoredObject, operation: str) -> bool:
    if stored.owner == ctx.user:
        return True
    return operation in ctx.tx.permissions(stored.uid, ctx.user)


def load(ctx: Context, uid: str, operation: str, *, for_update: bool = False) -> ManagedObject:
    stored = ctx.tx.get(uid, for_update=for_update)
    if stored is None or not can(ctx, stored, operation):
        raise not_found(uid)
    mo = ManagedObject.from_stored(stored)
    apply_time_transitions(mo, ctx.now)
    return mo


def insert(ctx: Context, mo: ManagedObject) -> None:
    if ctx.readonly:
        raise NeedsWrite
    # The 2.x Key Format Type attribute: the format the key is kept in.  Stored
    # (not derived from the key block) so that it outlives Destroy.
    block = mo.obj.find(tags.KeyBlock) if mo.obj is not None else None
    key_format = block.get(tags.KeyFormatType) if block is not None else None
    if isinstance(key_format, int) and mo.get(tags.KeyFormatType) is None:
        mo.attrs = (*mo.attrs, Item(tags.KeyFormatType, ItemType.ENUMERATION, key_format))
    stored = mo.to_stored()
    ctx.tx.insert(stored)
    mo.sequence = stored.sequence


def save(ctx: Context, mo: ManagedObject, *, touch: bool = True) -> None:
    if ctx.readonly:
        raise NeedsWrite
    if touch:
        mo.set_date(tags.LastChangeDate, ctx.now)
    ctx.tx.update(mo.to_stored())


def apply_time_transitions(mo: ManagedObject, now: datetime) -> None:
    """Date-driven transitions (spec: the state changes when the date is reached)."""
    if mo.object_type in STATELESS_TYPES:
        return
    activation = mo.get(tags.ActivationDate)
    deactivation = mo.get(tags.DeactivationDate)
    if mo.state == State.PRE_ACTIVE and isinstance(activation, datetime) and activation <= now:
        mo.state = State.ACTIVE
    if mo.state in (State.PRE_ACTIVE, State.ACTIVE) and isinstance(deactivation, datetime) and deactivation <= now:
        mo.state = State.DEACTIVATED


def copy(mo: ManagedObject) -> ManagedObject:
    return replace(mo)
