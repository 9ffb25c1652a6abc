"""``/access/*``: per-object grants over HTTP, on :mod:`kmsd.auth.access` (the one implementation).

Shapes follow Cosmian KMS (``crate/server/src/routes/access.rs`` and its
``access`` types), so its CLI and UI work unchanged:

========================  ==============================================================
``POST /access/grant``    body ``{"unique_identifier", "user_id", "operation_types"}``
``POST /access/revoke``   same body; both answer ``{"success": "…"}``
``GET /access/list/{id}`` ``[{"user_id", "operations": [...]}]`` (owner only)
``GET /access/owned``     ``[{"object_id", "state", "attributes": {…}}]``
``GET /access/obtained``  ``[{"object_id", "owner_id", "state", "operations": [...]}]``
``GET /access/privileged`` ``{"has_privileged_access": bool}`` (may create objects); to a
                          privileged user also ``"privileged_users": [...]`` and
                          ``"create_grants": [{"user_id", "granted_by"}]``
========================  ==============================================================

The create right (``--privileged-users``) is managed with the same grant
and revoke bodies on the identifier ``*`` (the server) with
``"operation_types": ["create"]``; only privileged users may (403 otherwise).

Operation names are ours (``get``, ``get_attributes`` …), which are
Cosmian's ``KmipOperation`` names; KMIP spellings (``Get Attributes``) are
accepted on input.  Errors use the API's JSON shape: 400 for a malformed
request, 404 for an object the caller may not know about (exactly as for a
missing one), 403 when a grantee who can see the object is not its owner.
Every call is one store transaction in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import trio

from kmsd.auth import access
from kmsd.store.base import StoredObject, Transaction
from ttlv import REGISTRY
from ttlv.xml import format_enum

from .app import Ctx, Route
from .wire import HttpError, Response

T = TypeVar("T")
VERSION = (2, 1)
MAX_ID_LENGTH = 1024


def _enum(table: str, value: int | None) -> str | None:
    if value is None:
        return None
    return format_enum(value, REGISTRY.tables[table], VERSION)


def _state(stored: StoredObject) -> str:
    """The KMIP State name (``PreActive``); objects without a state (0) are reported ``Active`` as Cosmian does."""
    if not stored.state:
        return "Active"
    return _enum("State", stored.state) or "Unknown"


def object_summary(stored: StoredObject) -> dict[str, Any]:
    """The few attributes the store indexes, in Cosmian's attribute naming."""
    attributes: dict[str, Any] = {"ObjectType": _enum("Object Type", stored.object_type)}
    if stored.cryptographic_algorithm is not None:
        attributes["CryptographicAlgorithm"] = _enum("Cryptographic Algorithm", stored.cryptographic_algorithm)
    if stored.cryptographic_length is not None:
        attributes["CryptographicLength"] = stored.cryptographic_length
    if stored.names:
        attributes["Name"] = list(stored.names)
    if stored.object_groups:
        attributes["ObjectGroup"] = list(stored.object_groups)
    return attributes


async def _in_tx(ctx: Ctx, work: Callable[[Transaction], T], *, readonly: bool) -> T:
    def run() -> T:
        with ctx.services.store.transaction(readonly=readonly) as tx:
            return work(tx)

    try:
        return await trio.to_thread.run_sync(run)
    except access.ObjectNotFound:
        raise HttpError(404, "not_found", "no such object") from None
    except access.NotOwner:
        raise HttpError(403, "forbidden", "only the owner may manage access to this object") from None
    except access.NotPrivileged as exc:
        raise HttpError(403, "forbidden", str(exc)) from None
    except access.InvalidRequest as exc:
        raise HttpError(400, "bad_request", str(exc)) from None


def _access_body(ctx: Ctx) -> tuple[str, str, list[str]]:
    body = ctx.request.json()
    if not isinstance(body, dict):
        raise HttpError(400, "bad_request", "expected a JSON object")
    uid, user, ops = body.get("unique_identifier"), body.get("user_id"), body.get("operation_types")
    if not isinstance(uid, str) or not uid or len(uid) > MAX_ID_LENGTH:
        raise HttpError(400, "bad_request", "unique_identifier must be a non-empty string")
    if not isinstance(user, str):
        raise HttpError(400, "bad_request", "user_id must be a string")
    if not isinstance(ops, list) or not all(isinstance(o, str) for o in ops):
        raise HttpError(400, "bad_request", "operation_types must be a list of operation names")
    ctx.audit["object_ids"] = [uid]
    return uid, user, ops


async def grant(ctx: Ctx) -> Response:
    uid, user, ops = _access_body(ctx)
    policy = ctx.services.access_policy
    await _in_tx(ctx, lambda tx: access.grant(tx, ctx.user, uid, user, ops, policy), readonly=False)
    return Response.json({"success": f"Access for {user} successfully added"})


async def revoke(ctx: Ctx) -> Response:
    uid, user, ops = _access_body(ctx)
    policy = ctx.services.access_policy
    await _in_tx(ctx, lambda tx: access.revoke(tx, ctx.user, uid, user, ops, policy), readonly=False)
    return Response.json({"success": f"Access for {user} successfully deleted"})


async def list_for_object(ctx: Ctx) -> Response:
    uid = ctx.params["id"]
    ctx.audit["object_ids"] = [uid]
    result = await _in_tx(ctx, lambda tx: access.list_access(tx, ctx.user, uid), readonly=True)
    grants = sorted(result.grants, key=lambda g: g.user)
    return Response.json([{"user_id": g.user, "operations": sorted(g.operations)} for g in grants])


async def owned(ctx: Ctx) -> Response:
    def work(tx: Transaction) -> list[dict[str, Any]]:
        out = []
        for uid in access.owned(tx, ctx.user):
            stored = tx.get(uid)
            if stored is not None:
                out.append({"object_id": uid, "state": _state(stored), "attributes": object_summary(stored)})
        return out

    return Response.json(await _in_tx(ctx, work, readonly=True))


async def obtained(ctx: Ctx) -> Response:
    def work(tx: Transaction) -> list[dict[str, Any]]:
        out = []
        for g in access.obtained(tx, ctx.user):
            stored = tx.get(g.uid)
            if stored is not None:
                out.append(
                    {
                        "object_id": g.uid,
                        "owner_id": stored.owner,
                        "state": _state(stored),
                        "operations": sorted(g.operations),
                    }
                )
        return out

    return Response.json(await _in_tx(ctx, work, readonly=True))


async def may_create(ctx: Ctx, user: str) -> bool:
    """Whether ``user`` may create objects (privileged, or granted ``create``), read in a worker thread."""
    policy = ctx.services.access_policy
    if not policy.privileged_users or policy.is_privileged(user):
        return True  # no store access needed
    return await _in_tx(ctx, lambda tx: policy.may_create(tx, user), readonly=True)


async def privileged(ctx: Ctx) -> Response:
    policy = ctx.services.access_policy
    if not policy.is_privileged(ctx.user):
        return Response.json({"has_privileged_access": await may_create(ctx, ctx.user)})
    # Privileged users manage the create right: show them who holds it.
    listed = await _in_tx(ctx, lambda tx: access.create_access(tx, policy), readonly=True)
    return Response.json(
        {
            "has_privileged_access": True,
            "privileged_users": list(listed.privileged_users),
            "create_grants": [{"user_id": user, "granted_by": by} for user, by in listed.grants],
        }
    )


ROUTES = (
    Route("POST", "/access/grant", grant, "access.grant"),
    Route("POST", "/access/revoke", revoke, "access.revoke"),
    Route("GET", "/access/list/{id}", list_for_object, "access.list"),
    Route("GET", "/access/owned", owned, "access.owned"),
    Route("GET", "/access/obtained", obtained, "access.obtained"),
    Route("GET", "/access/privileged", privileged, "access.privileged"),
)
