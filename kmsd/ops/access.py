"""KMIP extension operations for managing grants: Grant, Revoke and List Access.

Theory of operation: thin KMIP wrappers around :mod:`kmsd.auth.access`
(where the rules live, shared with the HTTP API).  They are server
extensions, in the ranges the KMIP specification reserves for them
(Operation values 0x8XXXXXXX, tags 0x54XXXX), and work in every protocol
version (1.0-2.1).

Operations (Operation enumeration values):

=====================  ============  =============================================
Grant Access           0x80000001    give a user (or ``*``) rights on an object
Revoke Access          0x80000002    take rights back
List Access            0x80000003    an object's owner and grants (owner only)
=====================  ============  =============================================

Tags:

=====================  ========  ===========  =====================================
Access Grant           0x540001  Structure    one user's rights (List Access)
Access User            0x540002  Text String  a user name; ``*`` is everyone
Access Right           0x540003  Text String  an operation name, repeatable
Access Owner           0x540004  Text String  the object's owner (List Access)
=====================  ========  ===========  =====================================

Operation names (Access Right): ``create get encrypt decrypt import revoke
locate rekey destroy get_attributes modify_attributes activate archive
recover export sign verify mac``; KMIP spellings such as ``Get Attributes``
are accepted and normalised.

Requests and responses (Unique Identifier is the standard tag 0x420094; when
it is omitted the batch's ID Placeholder is used, as for standard operations)::

    Grant Access / Revoke Access
      Request Payload:  Unique Identifier?, Access User, Access Right+
      Response Payload: Unique Identifier
    List Access
      Request Payload:  Unique Identifier?
      Response Payload: Unique Identifier, Access Owner,
                        Access Grant* (Access User, Access Right+)

The create right (``--privileged-users``): a Unique Identifier of exactly
``*`` names the server itself rather than an object.  Grant Access / Revoke
Access with Unique Identifier ``*`` and the single Access Right ``create``
let the Access User (or ``*``, everyone) create, register and import
objects, or take that back.  Only privileged users may do this (a grantee
cannot pass the right on); the response's Unique Identifier is ``*`` and
the ID Placeholder is left unchanged.  Example::

    Grant Access
      Request Payload:  Unique Identifier "*", Access User "bob", Access Right "create"

Errors: an object the caller neither owns nor holds any right on is Item
Not Found (as if it did not exist); a non-owner who holds some right gets
Permission Denied, as does a non-privileged caller granting or revoking the
create right (or anyone, when no privileged users are configured); an
unknown operation name, a malformed user name, or a right other than
``create`` on ``*`` is Invalid Field.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import cast

from kmsd.auth import access
from kmsd.kmip import tags
from kmsd.kmip.enums import Operation, ResultReason
from kmsd.kmip.errors import KmipError, invalid_field, missing, not_found
from ttlv import Item, ItemType

from . import objects
from .context import Context
from .registry import handler


class AccessOperation(enum.IntEnum):
    GRANT_ACCESS = 0x80000001
    REVOKE_ACCESS = 0x80000002
    LIST_ACCESS = 0x80000003


class AccessTag:
    """Extension tags (plain ints: TTLV items carry exact ``int`` tags)."""

    ACCESS_GRANT = 0x540001
    ACCESS_USER = 0x540002
    ACCESS_RIGHT = 0x540003
    ACCESS_OWNER = 0x540004


def _text(tag: int, value: str) -> Item:
    return Item(tag, ItemType.TEXT_STRING, value)


def _uid_payload(uid: str, *extra: Item) -> Item:
    return Item(tags.ResponsePayload, ItemType.STRUCTURE, (_text(tags.UniqueIdentifier, uid), *extra))


def _translate(uid: str, call: Callable[[], object]) -> object:
    try:
        return call()
    except access.ObjectNotFound:
        raise not_found(uid) from None
    except access.NotOwner:
        raise KmipError(ResultReason.PERMISSION_DENIED, "only the object's owner manages its access") from None
    except access.NotPrivileged as exc:
        raise KmipError(ResultReason.PERMISSION_DENIED, str(exc)) from None
    except access.InvalidRequest as exc:
        raise invalid_field(str(exc)) from None


def _user_and_rights(payload: Item) -> tuple[str, list[str]]:
    user = payload.get(AccessTag.ACCESS_USER)
    if not isinstance(user, str):
        raise missing("Access User")
    rights = [r.value for r in payload.find_all(AccessTag.ACCESS_RIGHT)]
    if not rights:
        raise missing("Access Right")
    if not all(isinstance(r, str) for r in rights):
        raise invalid_field("Access Right must be a Text String")
    return user, cast(list[str], rights)


def _change(ctx: Context, payload: Item, change: Callable[..., frozenset[str]]) -> Item:
    uid = objects.request_uid(ctx, payload)
    user, rights = _user_and_rights(payload)
    _translate(uid, lambda: change(ctx.tx, ctx.user, uid, user, rights, ctx.access))
    if uid != access.SERVER:
        ctx.id_placeholder = uid
    return _uid_payload(uid)


@handler(cast(Operation, AccessOperation.GRANT_ACCESS), writes=True)
def grant_access(ctx: Context, payload: Item) -> Item:
    return _change(ctx, payload, access.grant)


@handler(cast(Operation, AccessOperation.REVOKE_ACCESS), writes=True)
def revoke_access(ctx: Context, payload: Item) -> Item:
    return _change(ctx, payload, access.revoke)


def _grant_item(user: str, rights: Iterable[str]) -> Item:
    children = (_text(AccessTag.ACCESS_USER, user), *(_text(AccessTag.ACCESS_RIGHT, r) for r in sorted(rights)))
    return Item(AccessTag.ACCESS_GRANT, ItemType.STRUCTURE, children)


@handler(cast(Operation, AccessOperation.LIST_ACCESS))
def list_access(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    listed = cast(access.ObjectAccess, _translate(uid, lambda: access.list_access(ctx.tx, ctx.user, uid)))
    ctx.id_placeholder = uid
    grants = [_grant_item(g.user, g.operations) for g in listed.grants]
    return _uid_payload(uid, _text(AccessTag.ACCESS_OWNER, listed.owner), *grants)
