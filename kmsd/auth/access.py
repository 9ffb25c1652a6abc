"""Access control: owners, per-object grants, privileged users.

Theory of operation (the seed's model).  Every object has an owner, the user
that created, registered (or otherwise made) it.  The owner may do
everything with it; anyone else may do exactly the operations they were
granted on it, one by one, by name (:data:`OPERATION_NAMES`).  A grant to
the user ``*`` (:data:`EVERYONE`) applies to every user.  No right implies
another: a grant of ``get`` is not a grant of ``destroy``, ``revoke`` or
``activate``.  Only the owner grants, revokes, or lists an object's grants.
Grants are rows of the store's ``read_access`` table (object id, user,
JSON list of operation names).

Visibility: an object a caller may not use for the operation at hand is
reported exactly as a missing one (Item Not Found) by the handlers
(:func:`kmsd.ops.objects.load`), and Locate only returns objects the caller
owns or holds ``get``, ``locate`` or ``get_attributes`` on.  Here, a
non-owner who holds no right at all on an object learns nothing either:
granting on it answers "not found"; one who holds some right already knows
it exists and is told "only the owner may".

Privileged users (``--privileged-users``): when the list is non-empty only
those users, and the users they grant the ``create`` right to, may make new
objects (Create, Create Key Pair, Register, Derive Key, Certify, Import …:
:data:`CREATING_OPERATIONS`).  Re-Key stays a per-object right (``rekey``)
of the object's owner or grantees.  The create right is granted on the
server rather than on an object: :func:`grant` and :func:`revoke` with the
identifier ``*`` (:data:`SERVER`) and the single right ``create``.  Only a
privileged user grants or revokes it (a grantee cannot pass it on), a grant
to ``*`` lets everyone create, and the grants are rows of the store's
``create_access`` table (user, granted by).  Without privileged users
everyone may create and there is nothing to grant.

This module is the one implementation: the KMIP extension operations
(:mod:`kmsd.ops.access`) and the HTTP ``/access/*`` endpoints call it with
an open store transaction and the authenticated caller, and translate
:class:`AccessError` into their own error vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kmsd.kmip.enums import Operation
from kmsd.store.base import Grant, LocateFilter, StoredObject, Transaction

EVERYONE = "*"
#: The Unique Identifier that names the server itself, for the ``create`` right.
SERVER = "*"

#: Operation names a grant may hold (the seed's list, extended for this server's operations).
OPERATION_NAMES = frozenset(
    {
        "create",
        "get",
        "encrypt",
        "decrypt",
        "import",
        "revoke",
        "locate",
        "rekey",
        "destroy",
        "get_attributes",
        "modify_attributes",
        "activate",
        "archive",
        "recover",
        "export",
        "sign",
        "verify",
        "mac",
    }
)
#: Other spellings accepted on input (KMIP operation names, dashes, spaces).
ALIASES = {"re_key": "rekey", "re-key": "rekey", "mac_verify": "verify", "signature_verify": "verify"}
#: Rights that make an object visible to Locate.
LOCATE_RIGHTS = ("get", "locate", "get_attributes")
#: Operations that make a new object (not derived from one the caller may already use).
CREATING_OPERATIONS = frozenset(
    {
        Operation.CREATE,
        Operation.CREATE_KEY_PAIR,
        Operation.REGISTER,
        Operation.DERIVE_KEY,
        Operation.CERTIFY,
        # Put: a peer's pushed object is stored as a new one (kmsd.ops.notify_put).
        *(op for op in Operation if op.name in ("IMPORT", "JOIN_SPLIT_KEY", "CREATE_SPLIT_KEY", "PUT")),
    }
)
MAX_USER_LENGTH = 256


class AccessError(Exception):
    """An access-management request cannot be honoured; subclasses say why."""


class ObjectNotFound(AccessError):
    """No such object, or one the caller may not know about."""


class NotOwner(AccessError):
    """The caller may see the object but does not own it."""


class InvalidRequest(AccessError):
    """A user or operation name is malformed or unknown."""


class NotPrivileged(AccessError):
    """Only a privileged user (``--privileged-users``) manages the create right."""


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    privileged_users: frozenset[str] = field(default_factory=frozenset)

    def is_privileged(self, user: str) -> bool:
        return user in self.privileged_users

    def may_create(self, tx: Transaction, user: str) -> bool:
        """No privileged users configured, ``user`` is one, or one granted ``user`` (or ``*``) create."""
        if not self.privileged_users or user in self.privileged_users:
            return True
        return any(grantee in (user, EVERYONE) for grantee, _ in tx.create_grants())


@dataclass(frozen=True, slots=True)
class ObjectAccess:
    uid: str
    owner: str
    grants: tuple[Grant, ...]


def normalize_operations(names: Iterable[str]) -> frozenset[str]:
    """Validated operation names; ``Get Attributes`` and ``get-attributes`` mean ``get_attributes``."""
    out: set[str] = set()
    for raw in names:
        name = raw.strip().lower()
        name = ALIASES.get(name, name).replace("-", "_").replace(" ", "_")
        name = ALIASES.get(name, name)
        if name not in OPERATION_NAMES:
            known = ", ".join(sorted(OPERATION_NAMES))
            raise InvalidRequest(f"unknown operation {raw[:64]!r} (known: {known})")
        out.add(name)
    if not out:
        raise InvalidRequest("no operation given")
    return frozenset(out)


def check_user(user: str) -> str:
    if not user or len(user) > MAX_USER_LENGTH or any(c in user for c in "\0\n\r"):
        raise InvalidRequest("user names are 1 to 256 printable characters")
    return user


def may(tx: Transaction, stored: StoredObject, user: str, operation: str) -> bool:
    """Whether ``user`` may do ``operation`` on ``stored``: owner, or an exact grant."""
    return stored.owner == user or operation in tx.permissions(stored.uid, user)


def _owned(tx: Transaction, caller: str, uid: str, *, for_update: bool) -> StoredObject:
    stored = tx.get(uid, for_update=for_update)
    if stored is None:
        raise ObjectNotFound(uid)
    if stored.owner != caller:
        if tx.permissions(uid, caller):
            raise NotOwner(uid)
        raise ObjectNotFound(uid)
    return stored


def _server_right(policy: AccessPolicy | None, caller: str, ops: frozenset[str]) -> None:
    """Checks for a grant or revocation on :data:`SERVER`: only ``create``, only by a privileged user."""
    if ops != {"create"}:
        raise InvalidRequest(f"on {SERVER!r} (the server) only the create right is granted")
    if policy is None or not policy.privileged_users:
        raise NotPrivileged("no privileged users are configured: everyone may create")
    if not policy.is_privileged(caller):
        raise NotPrivileged("only privileged users grant or revoke the create right")


def grant(
    tx: Transaction,
    caller: str,
    uid: str,
    user: str,
    operations: Iterable[str],
    policy: AccessPolicy | None = None,
) -> frozenset[str]:
    """Give ``user`` (or ``*``) the ``operations`` on ``uid``; returns the normalized names.

    ``uid`` :data:`SERVER` with the right ``create``: let ``user`` make new
    objects (``caller`` must be privileged under ``policy``).
    """
    ops = normalize_operations(operations)
    check_user(user)
    if uid == SERVER:
        _server_right(policy, caller, ops)
        if policy is not None and policy.is_privileged(user):
            raise InvalidRequest("privileged users already hold the create right")
        tx.grant_create(user, caller)
        return ops
    stored = _owned(tx, caller, uid, for_update=True)
    if user == stored.owner:
        raise InvalidRequest("the owner already holds every right")
    tx.grant(uid, user, ops)
    return ops


def revoke(
    tx: Transaction,
    caller: str,
    uid: str,
    user: str,
    operations: Iterable[str],
    policy: AccessPolicy | None = None,
) -> frozenset[str]:
    """Take ``operations`` on ``uid`` back from ``user`` (a grant to ``*`` is its own row).

    ``uid`` :data:`SERVER` with the right ``create``: take the create right back.
    """
    ops = normalize_operations(operations)
    check_user(user)
    if uid == SERVER:
        _server_right(policy, caller, ops)
        tx.revoke_create(user)
        return ops
    _owned(tx, caller, uid, for_update=True)
    tx.revoke(uid, user, ops)
    return ops


def list_access(tx: Transaction, caller: str, uid: str) -> ObjectAccess:
    """The owner and every grant of ``uid`` (owner only)."""
    stored = _owned(tx, caller, uid, for_update=False)
    return ObjectAccess(uid, stored.owner, tuple(tx.grants(uid)))


@dataclass(frozen=True, slots=True)
class CreateAccess:
    """Who may create objects: the privileged users and those they granted ``create`` (user, granted by)."""

    privileged_users: tuple[str, ...]
    grants: tuple[tuple[str, str], ...]


def create_access(tx: Transaction, policy: AccessPolicy) -> CreateAccess:
    """The privileged users and the create grants (for anyone to read: the caller decides what to show)."""
    return CreateAccess(tuple(sorted(policy.privileged_users)), tuple(tx.create_grants()))


def owned(tx: Transaction, caller: str) -> list[str]:
    """Identifiers of the objects ``caller`` owns, oldest first."""
    return [o.uid for o in tx.locate(LocateFilter(visible_to=caller, visible_with=()))]


def obtained(tx: Transaction, caller: str) -> list[Grant]:
    """Objects others granted ``caller`` (directly or through ``*``), with the rights held."""
    out: list[Grant] = []
    flt = LocateFilter(visible_to=caller, visible_with=tuple(sorted(OPERATION_NAMES)))
    for stored in tx.locate(flt):
        if stored.owner == caller:
            continue
        rights = tx.permissions(stored.uid, caller)
        if rights:
            out.append(Grant(stored.uid, caller, rights))
    return out
