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
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache, partial

import ttlv
from kmsd.crypto import at_rest as at_rest_codec
from kmsd.crypto.at_rest import AtRest
from kmsd.kmip import attributes as A
from kmsd.kmip import tags
from kmsd.kmip.enums import ObjectType, ResultReason, State
from kmsd.kmip.errors import KmipError, not_found
from kmsd.store.base import StoredObject
from ttlv import Item, ItemType

from . import batchrefs
from .context import Context, NeedsWrite

STATELESS_TYPES = frozenset({ObjectType.OPAQUE_OBJECT, ObjectType.TEMPLATE})


class ManagedObject:
    """One managed object as a handler uses it.

    ``obj`` is the object item with its key material in the clear (None once
    destroyed).  It is produced only when a handler reads it: loading an
    object for its attributes (Locate, Get Attributes …) neither decodes nor
    opens its payload, which matters when payloads are sealed under the
    server's key-encryption key (:mod:`kmsd.crypto.at_rest`).

    ``stored`` is the object item as it is kept: the same, except for a key
    the client registered wrapped, which is kept exactly as registered
    (``registered`` is then its wrapped Key Block) and unwrapped with the key
    the server holds only in memory, when ``obj`` is read.
    """

    __slots__ = (
        "_clear",
        "_have_obj",
        "_have_stored",
        "_obj",
        "_open",
        "_payload",
        "_registered",
        "_stored",
        "attrs",
        "changed",
        "object_type",
        "owner",
        "sequence",
        "state",
        "uid",
    )

    uid: str
    object_type: ObjectType
    state: State
    owner: str
    attrs: tuple[Item, ...]
    sequence: int
    changed: bool  # the object item was set since the row was read
    _registered: Item | None
    _obj: Item | None
    _have_obj: bool
    _stored: Item | None
    _have_stored: bool
    _payload: bytes | None  # the row's payload as read (sealed or not)
    _open: Callable[[bytes], Item | None] | None
    _clear: Callable[[Item], Item] | None

    def __init__(
        self,
        uid: str,
        object_type: ObjectType,
        state: State,
        owner: str,
        obj: Item | None,
        attrs: tuple[Item, ...],
        sequence: int = 0,
    ) -> None:
        self.uid = uid
        self.object_type = object_type
        self.state = state
        self.owner = owner
        self.attrs = attrs
        self.sequence = sequence
        self._payload = None
        self._open = None
        self._clear = None
        self._stored = None
        self._have_stored = False
        self.obj = obj  # sets registered, changed

    def __repr__(self) -> str:  # never the key material
        return f"ManagedObject(uid={self.uid!r}, object_type={self.object_type.name}, state={self.state.name})"

    # -- the object item ----------------------------------------------------------
    @property
    def obj(self) -> Item | None:
        if not self._have_obj:
            stored = self.stored
            block = stored.find(tags.KeyBlock) if stored is not None else None
            if stored is not None and block is not None and block.find(tags.KeyWrappingData) is not None:
                if self._clear is None:
                    raise KmipError(ResultReason.GENERAL_FAILURE, f"object {self.uid} was loaded without a context")
                self._registered = block
                stored = _with_block(stored, self._clear(block))
            self._obj, self._have_obj = stored, True
        return self._obj

    @obj.setter
    def obj(self, value: Item | None) -> None:
        # kmsd.ops.wrapping.keep_registered marks a registered wrapped block as
        # a top-level Key Wrapping Data child (never valid in a KMIP object).
        side = next((c for c in value.children if c.tag == tags.KeyWrappingData), None) if value else None
        self._registered = side.find(tags.KeyBlock) if side is not None else None
        if value is not None and side is not None:
            value = Item(value.tag, ItemType.STRUCTURE, tuple(c for c in value.children if c is not side))
        self._obj, self._have_obj = value, True
        self._have_stored = False
        self.changed = True

    @property
    def stored(self) -> Item | None:
        """The object item as kept at rest (opened, never unwrapped)."""
        if not self._have_stored:
            if not self.changed and self._payload is not None and self._open is not None:
                self._stored = self._open(self._payload)
            elif self._obj is not None and self._registered is not None:
                self._stored = _with_block(self._obj, self._registered)
            else:
                self._stored = self._obj
            self._have_stored = True
        return self._stored

    @property
    def registered(self) -> Item | None:
        """The wrapped Key Block of a key the client registered wrapped, else None."""
        if self._have_obj:
            return self._registered
        stored = self.stored
        block = stored.find(tags.KeyBlock) if stored is not None else None
        return block if block is not None and block.find(tags.KeyWrappingData) is not None else None

    @property
    def has_object(self) -> bool:
        """Whether the object still has its item (not destroyed), without opening it."""
        if not self.changed and self._payload is not None:
            return bool(self._payload)
        return self._obj is not None

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
    def to_stored(self, at_rest: AtRest | None) -> StoredObject:
        """The row to write; with ``at_rest`` (the server's key-encryption key)
        the payload of an object holding secret material is sealed."""
        names = tuple(v for a in self.attrs if a.tag == tags.Name and isinstance(v := a.get(tags.NameValue), str))
        groups = tuple(a.value for a in self.attrs if a.tag == tags.ObjectGroup and isinstance(a.value, str))
        alg = self.get(tags.CryptographicAlgorithm)
        length = self.get(tags.CryptographicLength)
        return StoredObject(
            uid=self.uid,
            object_type=int(self.object_type),
            state=int(self.state),
            owner=self.owner,
            payload=self._payload_bytes(at_rest),
            attributes=ttlv.encode(Item(tags.Attributes, ItemType.STRUCTURE, self.attrs)),
            names=names,
            object_groups=groups,
            cryptographic_algorithm=alg if isinstance(alg, int) else None,
            cryptographic_length=length if isinstance(length, int) else None,
            sequence=self.sequence,
        )

    def _payload_bytes(self, at_rest: AtRest | None) -> bytes:
        seal = at_rest is not None and at_rest_codec.sealable(self.object_type) and self.uid not in at_rest.protected
        if not self.changed and self._payload is not None:
            # Unchanged since it was loaded: written back as it was read, without opening it.
            if not seal or not self._payload or at_rest_codec.is_sealed(self._payload):
                return self._payload
        elif at_rest is not None and self.uid in at_rest.protected:
            raise KmipError(
                ResultReason.PERMISSION_DENIED,
                f"object {self.uid} is the server's key-encryption key: its key material cannot be destroyed "
                "or replaced while --key-encryption-key names it",
            )
        item = self.stored
        if item is None:
            return b""
        return at_rest.seal(self.uid, item) if seal and at_rest is not None else ttlv.encode(item)

    @classmethod
    def from_stored(
        cls,
        stored: StoredObject,
        at_rest: AtRest | None = None,
        unwrap: Callable[[Item], Item] | None = None,
    ) -> ManagedObject:
        """The object of a row.  Its payload is opened (with ``at_rest``) and a
        registered wrapped Key Block unwrapped (with ``unwrap``) only when the
        object item is read.  Nothing is cached across requests: a cache would
        keep destroyed keys alive in memory."""
        attrs = _decode_attributes(stored.attributes).children if stored.attributes else ()
        mo = cls(
            uid=stored.uid,
            object_type=ObjectType(stored.object_type),
            state=State(stored.state) if stored.state else State.PRE_ACTIVE,
            owner=stored.owner,
            obj=None,
            attrs=attrs,
            sequence=stored.sequence,
        )
        mo._payload, mo._clear = stored.payload, unwrap
        mo._open = partial(at_rest_codec.open_payload, at_rest, stored.uid)
        mo._have_obj = mo.changed = False
        return mo


def _with_block(obj: Item, block: Item) -> Item:
    return Item(obj.tag, ItemType.STRUCTURE, tuple(block if c.tag == tags.KeyBlock else c for c in obj.children))


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
    return _managed(ctx, stored)


def load_internal(ctx: Context, uid: str) -> ManagedObject | None:
    """An object the server itself needs (the key that wrapped a registered
    key, to unwrap it for use): no access check, None when absent."""
    stored = ctx.tx.get(uid)
    return _managed(ctx, stored) if stored is not None else None


def link(link_type: int, uid: str) -> Item:
    """A Link attribute to ``uid`` (``link_type``: a LinkType, or an extension value)."""
    return Item(
        tags.Link,
        ItemType.STRUCTURE,
        (
            Item(tags.LinkType, ItemType.ENUMERATION, int(link_type)),
            Item(tags.LinkedObjectIdentifier, ItemType.TEXT_STRING, uid),
        ),
    )


def _managed(ctx: Context, stored: StoredObject) -> ManagedObject:
    mo = ManagedObject.from_stored(stored, ctx.at_rest, partial(_unwrap_registered, ctx))
    apply_time_transitions(mo, ctx.now)
    return mo


def _unwrap_registered(ctx: Context, block: Item) -> Item:
    # Imported here: kmsd.ops.wrapping loads the wrapping keys through this module.
    from .wrapping import unwrap_block

    return unwrap_block(ctx, block, internal=True)


def insert(ctx: Context, mo: ManagedObject) -> None:
    if ctx.readonly:
        raise NeedsWrite
    # The 2.x Key Format Type attribute: the format the key is kept in.  Stored
    # (not derived from the key block) so that it outlives Destroy.
    block = mo.obj.find(tags.KeyBlock) if mo.obj is not None else None
    key_format = block.get(tags.KeyFormatType) if block is not None else None
    if isinstance(key_format, int) and mo.get(tags.KeyFormatType) is None:
        mo.attrs = (*mo.attrs, Item(tags.KeyFormatType, ItemType.ENUMERATION, key_format))
    stored = mo.to_stored(ctx.at_rest)
    ctx.tx.insert(stored)
    mo.sequence = stored.sequence


def save(ctx: Context, mo: ManagedObject, *, touch: bool = True) -> None:
    if ctx.readonly:
        raise NeedsWrite
    if touch:
        mo.set_date(tags.LastChangeDate, ctx.now)
    ctx.tx.update(mo.to_stored(ctx.at_rest))


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
    twin = ManagedObject.__new__(ManagedObject)
    for name in ManagedObject.__slots__:
        setattr(twin, name, getattr(mo, name))
    return twin
