"""The batch executor: one request message in, one response message out.

Theory of operation: ``process`` runs in a blocking thread (a KMIP
connection's own thread, or an HTTP worker thread).  It decodes the message,
reads the header, and executes every batch item inside ONE store
transaction, each item under its own savepoint, so that a failed item never
leaves a half-written object and the Undo option can roll back the batch.
The response is sent only after the commit (durability).  Every failure
whose header could be read becomes a KMIP error response; only bytes that
are not a TTLV message at all make it return None (close the connection).

Result Reasons that the client's version does not define are mapped to the
nearest one it does (2.x "Wrong Key Lifecycle State" is 1.x "Permission
Denied", as the 1.x profiles' test cases expect).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import ttlv
from kmsd.auth.access import CREATING_OPERATIONS, AccessPolicy
from kmsd.auth.authenticator import Authenticator
from kmsd.auth.errors import PUBLIC_MESSAGE, AuthenticationFailed
from kmsd.crypto.at_rest import AtRest
from kmsd.crypto.policy import Policy
from kmsd.kmip import adapt, tags
from kmsd.kmip.enums import AsynchronousIndicator, BatchErrorContinuation, ResultReason, ResultStatus
from kmsd.kmip.errors import KmipError
from kmsd.kmip.messages import (
    SUPPORTED_VERSIONS,
    Request,
    RequestHeader,
    ResponseBatchItem,
    build_response,
    negotiate,
    parse_request,
    read_version,
)
from kmsd.server.peer import Peer
from kmsd.store.base import StaleRead, Store, StoreError
from ttlv import REGISTRY, Item, ItemType, Version

from . import batchrefs
from .context import Context, NeedsWrite, ServerInfo
from .observe import BatchObserver, BatchTrace
from .registry import HANDLERS, load_all

log = logging.getLogger("kmsd.executor")

R = ResultReason
# Reasons a version lacks -> the one it has (checked in order of preference).
REASON_FALLBACKS: dict[int, tuple[int, ...]] = {
    R.WRONG_KEY_LIFECYCLE_STATE: (R.PERMISSION_DENIED,),
    R.OBJECT_NOT_FOUND: (R.ITEM_NOT_FOUND,),
    R.INVALID_ASYNCHRONOUS_CORRELATION_VALUE: (R.ITEM_NOT_FOUND,),  # 1.x Poll/Cancel: "No outstanding operation"
    R.NON_UNIQUE_NAME_ATTRIBUTE: (R.INVALID_FIELD,),
    R.ATTRIBUTE_READ_ONLY: (R.PERMISSION_DENIED,),
    R.ATTRIBUTE_SINGLE_VALUED: (R.INVALID_FIELD,),
    R.MULTI_VALUED_ATTRIBUTE: (R.INVALID_FIELD,),
    R.ATTRIBUTE_NOT_FOUND: (R.ITEM_NOT_FOUND,),
    R.ATTRIBUTE_INSTANCE_NOT_FOUND: (R.INDEX_OUT_OF_BOUNDS, R.ITEM_NOT_FOUND),
    R.OBJECT_DESTROYED: (R.ITEM_NOT_FOUND,),
    R.ILLEGAL_OBJECT_TYPE: (R.INVALID_FIELD,),
    R.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK: (R.PERMISSION_DENIED,),
    R.INDEX_OUT_OF_BOUNDS: (R.ATTRIBUTE_INSTANCE_NOT_FOUND,),
    R.INVALID_OBJECT_TYPE: (R.INVALID_FIELD,),
    R.INVALID_CORRELATION_VALUE: (R.INVALID_FIELD,),
    R.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS: (R.INVALID_FIELD,),
    R.INVALID_CSR: (R.INVALID_FIELD,),
    R.BAD_CRYPTOGRAPHIC_PARAMETERS: (R.INVALID_FIELD,),
    R.WRAPPING_OBJECT_NOT_FOUND: (R.ITEM_NOT_FOUND,),
    R.WRAPPING_OBJECT_DESTROYED: (R.ITEM_NOT_FOUND,),
    R.SENSITIVE: (R.PERMISSION_DENIED,),
    R.NOT_EXTRACTABLE: (R.PERMISSION_DENIED,),
    R.USAGE_LIMIT_EXCEEDED: (R.PERMISSION_DENIED,),
}


def reason_for(reason: int, version: Version, preferred: int | None = None) -> int:
    """``reason`` if ``version`` defines it, else ``preferred`` (the error's own
    1.x reason) if defined, else the first defined of REASON_FALLBACKS."""
    table = REGISTRY.tables["Result Reason"]
    entry = table.by_value(reason, version)
    if entry is not None and entry.defined_in(version):
        return reason
    for fallback in ((preferred,) if preferred is not None else ()) + REASON_FALLBACKS.get(reason, ()):
        entry = table.by_value(fallback, version)
        if entry is not None and entry.defined_in(version):
            return fallback
    return R.GENERAL_FAILURE


def _check_extension(extension: Item | None) -> None:
    """kmsd understands no vendor's Message Extension: a critical one fails the
    item (spec error table: "Criticality Indicator ... set to True, but the
    server does not understand the extension" -> Feature Not Supported); a
    non-critical one is ignored."""
    if extension is not None and extension.get(tags.CriticalityIndicator) is True:
        raise KmipError(R.FEATURE_NOT_SUPPORTED, "critical Message Extension not recognized")


@dataclass(frozen=True, slots=True)
class ExecutorSettings:
    policy: Policy = field(default_factory=Policy)
    info: ServerInfo = field(default_factory=ServerInfo)
    # Identity of callers the transport did not authenticate (--insecure), else None.
    default_user: str | None = None
    limits: ttlv.Limits = ttlv.DEFAULT_LIMITS
    # Told about every request (audit, metrics) before its response is returned.
    observer: BatchObserver | None = None
    # Resolves the caller from the peer and the header's Authentication (kmsd.auth);
    # None: the peer's certificate identity, else default_user.
    authenticator: Authenticator | None = None
    # Who may create objects (--privileged-users).
    access: AccessPolicy = field(default_factory=AccessPolicy)
    # Names unique across the objects a caller sees, not only per object.
    unique_names: bool = False
    # The server's key-encryption key: objects' key material sealed at rest (kmsd.ops.kek).
    at_rest: AtRest | None = None


class Executor:
    def __init__(self, store: Store, settings: ExecutorSettings | None = None) -> None:
        self.store = store
        self.settings = settings or ExecutorSettings()
        load_all()

    # -- the MessageProcessor protocol ---------------------------------------------
    def process(self, request: bytes, peer: Peer) -> bytes | None:
        observer = self.settings.observer
        trace = BatchTrace(peer, observer) if observer is not None else None
        try:
            message = ttlv.decode(request, self.settings.limits)
        except ttlv.DecodeError as exc:
            log.info("undecodable message from %s: %s", peer.address, exc)
            if observer is not None:
                observer.undecodable(peer)
            return None
        requested = read_version(message)
        version = negotiate(requested) if requested else SUPPORTED_VERSIONS[-1]
        try:
            if requested is None:
                raise KmipError(R.INVALID_MESSAGE, "Protocol Version missing or malformed")
            if requested not in SUPPORTED_VERSIONS:
                raise KmipError(R.INVALID_MESSAGE, f"protocol version {requested[0]}.{requested[1]} is not supported")
            parsed = parse_request(message, version)
        except KmipError as exc:
            refused = [self._failure(None, None, exc, version)]
            if trace is not None:
                trace.finish(version, None, refused)
            return self._encode(version, refused, None, None)
        items = self._execute(parsed, peer, trace)
        header = parsed.header
        data = self._encode(version, items, header.client_correlation, header.server_correlation)
        limit = header.max_response_size
        if limit is not None and len(data) > limit:
            too_large = KmipError(R.RESPONSE_TOO_LARGE, f"response of {len(data)} bytes exceeds {limit}")
            items = [self._failure(i.operation, i.unique_id, too_large, version) for i in items]
            data = self._encode(version, items, header.client_correlation, header.server_correlation)
        if trace is not None:
            trace.finish(version, parsed, items)
        return data

    # -- internals ----------------------------------------------------------------------
    def _encode(
        self, version: Version, items: list[ResponseBatchItem], client_cv: str | None, server_cv: str | None
    ) -> bytes:
        return ttlv.encode(build_response(version, items, client_correlation=client_cv, server_correlation=server_cv))

    @staticmethod
    def _failure(operation: int | None, unique_id: bytes | None, exc: KmipError, version: Version) -> ResponseBatchItem:
        return ResponseBatchItem(
            operation=operation,
            unique_id=unique_id,
            status=ResultStatus.OPERATION_FAILED,
            reason=ResultReason(reason_for(exc.reason, version, exc.v1_reason)),
            message=exc.message,
        )

    def _identity(self, peer: Peer, header: RequestHeader) -> str | None:
        authenticator = self.settings.authenticator
        if authenticator is None:
            return peer.identity or self.settings.default_user
        try:
            return authenticator.authenticate_kmip(peer, header.authentication)
        except AuthenticationFailed:
            return None  # logged by the authenticator; the client learns nothing more

    def _execute(self, request: Request, peer: Peer, trace: BatchTrace | None = None) -> list[ResponseBatchItem]:
        header = request.header
        version = header.version
        user = self._identity(peer, header)
        if trace is not None:
            trace.user = user
        if user is None:
            if trace is not None:
                trace.unauthenticated = True
            denied = KmipError(R.PERMISSION_DENIED, PUBLIC_MESSAGE)
            return [self._failure(bi.operation, bi.unique_id, denied, version) for bi in request.items]
        if header.asynchronous == AsynchronousIndicator.MANDATORY:
            refused = KmipError(R.FEATURE_NOT_SUPPORTED, "asynchronous processing is not supported")
            return [self._failure(bi.operation, bi.unique_id, refused, version) for bi in request.items]
        # Batches of read-only operations take a snapshot instead of the write
        # lock; one that turns out to write (NeedsWrite) is run again as a writer.
        # A writer may be optimistic (SQLite): when what it read changed before
        # it could write (StaleRead, nothing kept), it runs again exclusively.
        # Where an optimistic writer reads a snapshot too, read-only batches
        # start as one: a Get that clears Fresh then writes without a second run.
        readonly = not any((reg := HANDLERS.get(bi.operation)) is None or reg.writes for bi in request.items)
        attempts = ((True, False),) if readonly and not self.store.optimistic_reads else ()
        try:
            for attempt_readonly, optimistic in (*attempts, (False, True), (False, False)):
                if trace is not None:
                    trace.items.clear()
                try:
                    with self.store.transaction(readonly=attempt_readonly, optimistic=optimistic) as tx:
                        tx = trace.wrap(tx) if trace is not None else tx
                        ctx = Context(
                            user=user,
                            tx=tx,
                            policy=self.settings.policy,
                            info=self.settings.info,
                            version=version,
                            readonly=attempt_readonly,
                            unique_names=self.settings.unique_names,
                            at_rest=self.settings.at_rest,
                            access=self.settings.access,
                        )
                        return self._run_batch(ctx, request, trace)
                except NeedsWrite:
                    continue
                except StaleRead as exc:
                    if not optimistic:
                        raise
                    log.debug("running the request again with the write lock: %s", exc)
                    continue
            raise StoreError("a write was attempted in a write transaction's read-only retry")  # unreachable
        except StoreError as exc:
            log.error("store failure: %s", exc)
            if trace is not None:
                trace.store_error = True
            failed = KmipError(R.GENERAL_FAILURE, "the key store is unavailable")
            return [self._failure(bi.operation, bi.unique_id, failed, version) for bi in request.items]

    def _run_batch(self, ctx: Context, request: Request, trace: BatchTrace | None = None) -> list[ResponseBatchItem]:
        header = request.header
        version = header.version
        option = header.error_continuation
        start = ctx.tx.savepoint()
        results: list[ResponseBatchItem] = []
        for bi in request.items:
            if trace is not None:
                trace.item_started()
            savepoint = ctx.tx.savepoint()
            try:
                _check_extension(bi.extension)
                payload = self._run_item(ctx, bi.operation, batchrefs.with_data(ctx, bi.payload), version)
                batchrefs.record(ctx, bi.operation, payload)
                if bi.ephemeral:  # 2.x: the output serves later batch items only
                    payload = Item(tags.ResponsePayload, ItemType.STRUCTURE, ())
                results.append(
                    ResponseBatchItem(bi.operation, ResultStatus.SUCCESS, unique_id=bi.unique_id, payload=payload)
                )
                continue
            except KmipError as exc:
                failure = self._failure(bi.operation, bi.unique_id, exc, version)
            except ttlv.TTLVError as exc:
                failure = self._failure(bi.operation, bi.unique_id, KmipError(R.INVALID_FIELD, str(exc)), version)
            except (StoreError, NeedsWrite):
                raise
            except Exception:
                # A bug, not the client's fault: log it, never show it.
                log.exception("operation %s failed unexpectedly", bi.operation)
                failure = self._failure(
                    bi.operation, bi.unique_id, KmipError(R.GENERAL_FAILURE, "internal error"), version
                )
            ctx.tx.rollback_to(savepoint)
            batchrefs.record(ctx, bi.operation, None)
            results.append(failure)
            if option == BatchErrorContinuation.CONTINUE:
                continue
            if option == BatchErrorContinuation.UNDO:
                ctx.tx.rollback_to(start)
                for r in results[:-1]:
                    if r.status == ResultStatus.SUCCESS:
                        r.status = ResultStatus.OPERATION_UNDONE  # the payload says what was undone
            break
        return results

    def _run_item(self, ctx: Context, operation: int, payload: Item, version: Version) -> Item:
        registered = HANDLERS.get(operation)
        if registered is None or registered.since > version:
            raise KmipError(R.OPERATION_NOT_SUPPORTED, f"operation {operation:#x} is not supported")
        if operation in CREATING_OPERATIONS and not self.settings.access.may_create(ctx.tx, ctx.user):
            raise KmipError(R.PERMISSION_DENIED, "only privileged users may create objects")
        internal = adapt.lift_request(operation, payload, version)
        out = registered.handler(ctx, internal)
        return adapt.lower_response(operation, out, version)
