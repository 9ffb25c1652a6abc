"""``kmsd serve``: configuration, certificates, store, processor, listener.

Theory of operation: :func:`run_server` does the blocking start-up in order
and fails with one clear line when something is missing: the data directory
(created 0700: it holds keys), the TLS material (the development PKI of
:mod:`kmsd.server.certs` unless ``--tls-cert/--tls-key/--client-ca`` are
given), the TLS context (built once), the store (``kmsd.store.factory``),
then the message processor (``kmsd.kmip.app.build_processor``).  Both
factories are imported only here, so this module stays importable while the
layers below it grow.

:func:`serve_async` then runs under trio: it binds, writes the bound port to
``DATA_DIR/kmip.port`` (so ``--kmip-port 0`` is usable by tests and
scripts), logs how to connect, and serves until SIGINT or SIGTERM.  The
first signal drains (see :mod:`kmsd.server.kmip_listener`); a second one
stops waiting for the grace period.  The store is closed last, after every
request being processed has finished.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import shlex
import signal
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click
import trio

from kmsd.auth.authenticator import Authenticator, build_authenticator, log_start
from kmsd.auth.errors import AuthConfigError
from kmsd.auth.identity import certificate_identity
from kmsd.gate import ProcessingGate
from kmsd.kmip.processor import MessageProcessor
from kmsd.server import logfmt, workers
from kmsd.server.balance import ConnectionBalance, WorkerShare
from kmsd.server.certs import PKCS12_PASSWORD, DevPki, DevPkiError, ensure_dev_pki
from kmsd.server.config import ConfigCommand, ServerConfig
from kmsd.server.kmip_listener import KmipListener, ListenerSettings
from kmsd.server.telemetry import Telemetry, build_telemetry
from kmsd.server.tls import TlsConfigError, build_server_context
from kmsd.store.base import Store

if TYPE_CHECKING:
    from kmsd.http.service import HttpService

log = logging.getLogger("kmsd.serve")

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Signals this close together are one request (see _watch_signals).
SAME_SIGNAL_WINDOW_S = 1.0
PROCESSOR_MODULE = "kmsd.kmip.app"

StoreFactory = Callable[[str, str], Store]
ProcessorFactory = Callable[..., MessageProcessor]  # (config, store, *, authenticator)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert_chain: Path
    key: Path
    client_ca: Path
    dev_pki: DevPki | None  # set when the files are the generated development ones


@dataclass(frozen=True, slots=True)
class Running:
    """What :func:`serve_async` reports once it listens."""

    host: str
    port: int
    listener: KmipListener


def run_server(config: ServerConfig) -> None:
    """Start-up in order, then serve until a signal.  Errors are click exceptions."""
    configure_logging(config.log_level, config.log_format)
    log.info("configuration: %s", config.masked(), extra={"config": config.masked()})
    prepare_data_dir(config.data_dir)
    tls = prepare_tls(config)
    if config.workers > 1:
        raise SystemExit(_run_workers(config, tls))
    _serve_one(config, tls)


def _run_workers(config: ServerConfig, tls: TlsFiles) -> int:
    """Bind once, fork the workers (before any thread or connection exists)."""
    try:
        kmip = workers.bind(config.bind, config.kmip_port)
        from kmsd.http.service import http_bind

        http = workers.bind(http_bind(config), config.http_port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen: {exc.strerror}") from exc
    shared = workers.SharedSockets(kmip, http, ConnectionBalance(config.workers))

    def child(index: int) -> None:
        if config.worker_affinity == "auto":
            cpu = workers.pin(index, config.workers)
            log.info("worker %d on CPU %s", index, "any" if cpu is None else cpu)
        audit = config.audit_file if index == 0 else config.audit_file.with_name(f"{config.audit_file.name}.w{index}")
        own = dataclasses.replace(config, audit_log=audit, metrics_port=config.metrics_port if index == 0 else None)
        _serve_one(own, tls, shared, index)

    return workers.run(config.workers, child)


def _serve_one(
    config: ServerConfig, tls: TlsFiles, shared: workers.SharedSockets | None = None, index: int = 0
) -> None:
    authenticator = _authenticator(config)
    ssl_context = _tls_context(tls, authenticator.requires_client_certificate)
    open_store = _store_factory()
    build_processor = _processor_factory()
    store = _open_store(open_store, config)
    from kmsd.ops.kek import KekConfigError

    try:
        telemetry = build_telemetry(config, store)
        processor = build_processor(config, store, authenticator=authenticator, observer=telemetry.observer)
    except KekConfigError as exc:  # --key-encryption-key names no usable key
        store.close()
        raise click.ClickException(str(exc)) from None
    except BaseException:
        store.close()
        raise
    try:
        http = _http_service(config, tls, processor, store, authenticator, telemetry)
    except BaseException:
        store.close()
        raise
    if http is not None and shared is not None:
        http.sock = shared.http
    share = shared.balance.worker(index) if shared is not None and shared.balance is not None else None
    serve = partial(
        serve_async, telemetry=telemetry, http=http, kmip_socket=shared.kmip if shared else None, balance=share
    )
    try:
        trio.run(serve, config, tls, ssl_context, processor, store)
    except KeyboardInterrupt:
        log.warning("interrupted")
        raise SystemExit(130) from None


def configure_logging(level: str, fmt: str = "console") -> None:
    logfmt.configure_logging(level, fmt)


def prepare_data_dir(data_dir: Path) -> None:
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot create the data directory {data_dir}: {exc.strerror}") from exc


def prepare_tls(config: ServerConfig) -> TlsFiles:
    if not config.generates_tls:
        assert config.tls_cert and config.tls_key and config.client_ca
        return TlsFiles(config.tls_cert, config.tls_key, config.client_ca, None)
    try:
        pki = ensure_dev_pki(config.data_dir)
    except (DevPkiError, OSError) as exc:
        raise click.ClickException(f"development certificates: {exc}") from exc
    if pki.created:
        log.info("created development certificates in %s: %s", pki.certs_dir, ", ".join(pki.created))
    else:
        log.info("using the development certificates in %s", pki.certs_dir)
    return TlsFiles(pki.server_cert, pki.server_key, pki.ca_cert, pki)


def _authenticator(config: ServerConfig) -> Authenticator:
    """Read the user list, token file and JWT settings; log the methods (loudly for --insecure)."""
    try:
        authenticator = build_authenticator(config)
    except AuthConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    log_start(authenticator)
    return authenticator


def _tls_context(tls: TlsFiles, require_client_cert: bool = True) -> ssl.SSLContext:
    try:
        return build_server_context(tls.cert_chain, tls.key, tls.client_ca, require_client_cert=require_client_cert)
    except TlsConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _http_service(
    config: ServerConfig,
    tls: TlsFiles,
    processor: MessageProcessor,
    store: Store,
    authenticator: Authenticator,
    telemetry: Telemetry,
) -> HttpService | None:
    from kmsd.http.service import build_http_service

    files = (tls.cert_chain, tls.key, tls.client_ca)
    return build_http_service(config, *files, processor, store, authenticator, telemetry)


def _store_factory() -> StoreFactory:
    try:
        from kmsd.store.factory import open_store
    except ModuleNotFoundError as exc:
        if exc.name not in ("kmsd.store.factory",):
            raise
        raise click.ClickException("this build has no store yet (kmsd.store.factory is missing)") from exc
    return open_store


def _processor_factory() -> ProcessorFactory:
    # Imported by name: the message layer is built separately and may not exist yet.
    try:
        module = importlib.import_module(PROCESSOR_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != PROCESSOR_MODULE:
            raise
        message = f"this build has no KMIP message processor yet ({PROCESSOR_MODULE} is missing)"
        raise click.ClickException(message) from exc
    factory = getattr(module, "build_processor", None)
    if not callable(factory):
        raise click.ClickException(f"{PROCESSOR_MODULE} has no build_processor(config, store)")
    return cast(ProcessorFactory, factory)


def _open_store(open_store: StoreFactory, config: ServerConfig) -> Store:
    from kmsd.store.base import StoreError

    if config.database_type == "sqlite":
        target = config.sqlite_file
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise click.ClickException(f"cannot create {target.parent}: {exc.strerror}") from exc
        where = str(target)
    else:
        assert config.database_url is not None
        where = config.database_url
    try:
        store = open_store(config.database_type, where)
    except StoreError as exc:
        raise click.ClickException(f"cannot open the {config.database_type} store: {exc}") from exc
    log.info("store: %s schema version %d", config.database_type, store.schema_version)
    return store


async def serve_async(
    config: ServerConfig,
    tls: TlsFiles,
    ssl_context: ssl.SSLContext,
    processor: MessageProcessor,
    store: Store,
    *,
    handle_signals: bool = True,
    telemetry: Telemetry | None = None,
    http: HttpService | None = None,
    kmip_socket: socket.socket | None = None,
    balance: WorkerShare | None = None,
    task_status: trio.TaskStatus[Running] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until a signal (or ``Running.listener.shutdown()``), then close the store."""
    listener = KmipListener(
        processor,
        ssl_context,
        ListenerSettings(
            max_message_size=config.max_message_size,
            idle_timeout=config.idle_timeout,
            handshake_timeout=config.handshake_timeout,
            max_connections=config.max_connections,
            shutdown_grace=config.shutdown_grace,
            identify=certificate_identity(config.client_identity),
            gate=ProcessingGate() if store.local_io else None,
            balance=balance,
        ),
        observer=telemetry.connections() if telemetry is not None else None,
    )
    # The signal watcher outlives the listener, so that a signal arriving
    # while the store closes is handled here rather than by the default
    # action (which would end the process mid-close).
    async with trio.open_nursery() as nursery:
        if handle_signals:
            await nursery.start(_watch_signals, listener)
        try:
            if telemetry is not None:
                await nursery.start(telemetry.serve_metrics)
            if http is not None:
                await nursery.start(http.serve)
            addresses = await nursery.start(partial(listener.serve, config.bind, config.kmip_port, sock=kmip_socket))
            host, port = addresses[0]
            _write_port_file(config.port_file, port)
            _log_how_to_connect(config, tls, host, port)
            task_status.started(Running(host, port, listener))
            await listener.wait_stopped()
        finally:
            config.port_file.unlink(missing_ok=True)
            with trio.CancelScope(shield=True):
                if http is not None:
                    await http.stop()  # drain HTTP requests before the store closes
                await trio.to_thread.run_sync(store.close)
                if telemetry is not None:
                    await trio.to_thread.run_sync(telemetry.close)
            log.info("stopped")
        nursery.cancel_scope.cancel()


async def _watch_signals(listener: KmipListener, *, task_status: trio.TaskStatus[None]) -> None:
    with trio.open_signal_receiver(*SHUTDOWN_SIGNALS) as signals:
        task_status.started()
        received = 0
        first = 0.0
        async for signum in signals:
            # A worker process gets the signal twice when a terminal or a
            # service manager signals the whole group and the parent forwards
            # it too: one shutdown request, not a second "stop waiting".
            if received and trio.current_time() - first < SAME_SIGNAL_WINDOW_S:
                continue
            received += 1
            if received == 1:
                first = trio.current_time()
                log.info("%s: shutting down (send it again to stop waiting)", signal.Signals(signum).name)
                listener.shutdown()
            else:
                log.warning("%s again: not waiting for in-flight requests", signal.Signals(signum).name)
                raise KeyboardInterrupt


def _write_port_file(path: Path, port: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{port}\n", encoding="ascii")
    os.replace(tmp, path)


def _log_how_to_connect(config: ServerConfig, tls: TlsFiles, host: str, port: int) -> None:
    log.info("KMIP (TTLV over TLS) listening on %s:%d; bound port written to %s", host, port, config.port_file)
    print(f"kmsd: KMIP listening on {host}:{port}", flush=True)  # a stable line for scripts
    pki = tls.dev_pki
    if pki is None:
        log.info("server certificate %s; client CA %s", tls.cert_chain, tls.client_ca)
        return
    connect = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    q = shlex.quote
    log.info(
        "client certificate for user 'admin': %s, key %s, PKCS#12 %s (password %r); CA %s",
        pki.admin_cert,
        pki.admin_key,
        pki.admin_p12,
        PKCS12_PASSWORD,
        pki.ca_cert,
    )
    log.info(
        "try: openssl s_client -connect %s:%d -cert %s -key %s -CAfile %s",
        connect,
        port,
        q(str(pki.admin_cert)),
        q(str(pki.admin_key)),
        q(str(pki.ca_cert)),
    )
    log.info(
        "PyKMIP: ProxyKmipClient(hostname=%r, port=%d, cert=%r, key=%r, ca=%r, ssl_version='PROTOCOL_TLSv1_2')",
        connect,
        port,
        str(pki.admin_cert),
        str(pki.admin_key),
        str(pki.ca_cert),
    )


serve_command = ConfigCommand(
    "serve",
    callback=run_server,
    help=(
        "Serve KMIP over TLS.  Settings come from the command line, then KMS_* environment "
        "variables, then ./.env, then the TOML file of --config, then defaults."
    ),
)
