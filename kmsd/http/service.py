"""Composition of the HTTP side: what ``kmsd serve`` starts beside the KMIP listener.

Theory of operation: :func:`build_http_service` runs during the blocking
start-up (so every problem is one clear line before anything listens): it
refuses ``--insecure`` on a non-loopback ``--http-bind`` unless
``--i-know``, builds the TLS context once (same certificate, key and client
CA as the KMIP port, client certificate *optional*), the session key, an
executor sharing the KMIP processor's store, policy, observer and
authenticator (wrapped so that callers proved by HTTP are accepted, see
:mod:`kmsd.http.auth`), and the route table.  :meth:`HttpService.serve`
then runs under trio in the server's nursery: it binds, writes the bound
port to ``DATA_DIR/http.port`` and prints one stable line for scripts.
:meth:`HttpService.stop` drains it like the KMIP listener, before the store
is closed.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import socket
import ssl
from functools import partial
from pathlib import Path
from typing import Any

import click
import trio

from kmsd.auth.access import AccessPolicy
from kmsd.auth.authenticator import Authenticator
from kmsd.auth.identity import certificate_identity
from kmsd.kmip.processor import MessageProcessor
from kmsd.server.tls import TlsConfigError, build_server_context
from kmsd.store.base import Store

from . import access_routes, cosmian, info_routes, kmip_routes, ui
from .app import App, HttpMetrics, Route, Services
from .auth import HttpKmipAuthenticator
from .listener import HttpListener, HttpSettings
from .sessions import SessionError, SessionSigner, load_or_create_key

log = logging.getLogger("kmsd.http")

PORT_FILENAME = "http.port"
ROUTES: tuple[Route, ...] = (
    *kmip_routes.ROUTES,
    *cosmian.ROUTES,
    *access_routes.ROUTES,
    *info_routes.ROUTES,
    *ui.ROUTES,
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def http_bind(config: Any) -> str:
    """``--http-bind``, defaulting to every interface, or to 127.0.0.1 under ``--insecure``."""
    bind = getattr(config, "http_bind", None)
    if bind:
        return str(bind)
    return "127.0.0.1" if getattr(config, "insecure", False) else "0.0.0.0"


class HttpService:
    def __init__(self, listener: HttpListener, host: str, port: int, port_file: Path) -> None:
        self.listener = listener
        self.host = host
        self.port = port
        self.port_file = port_file
        self.bound: tuple[str, int] | None = None
        self.sock: socket.socket | None = None  # a listening socket shared by worker processes

    async def serve(self, *, task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            addresses = await nursery.start(partial(self.listener.serve, self.host, self.port, sock=self.sock))
            host, port = addresses[0]
            self.bound = (host, port)
            tmp = self.port_file.with_name(f".{self.port_file.name}.{os.getpid()}.tmp")
            tmp.write_text(f"{port}\n", encoding="ascii")
            os.replace(tmp, self.port_file)
            scheme = "https" if self.listener.tls else "http"
            log.info(
                "HTTP API listening on %s://%s:%d (UI at /ui); port written to %s", scheme, host, port, self.port_file
            )
            task_status.started((host, port))

    async def stop(self) -> None:
        self.listener.shutdown()
        await self.listener.wait_stopped()
        self.port_file.unlink(missing_ok=True)


def _http_executor(processor: MessageProcessor, authenticator: Authenticator) -> MessageProcessor:
    from kmsd.ops.executor import Executor

    if not isinstance(processor, Executor):
        return processor
    settings = dataclasses.replace(processor.settings, authenticator=HttpKmipAuthenticator(authenticator))
    return Executor(processor.store, settings)


def build_http_service(
    config: Any,
    cert_chain: Path,
    key: Path,
    client_ca: Path,
    processor: MessageProcessor,
    store: Store,
    authenticator: Authenticator,
    telemetry: Any = None,
) -> HttpService | None:
    """The HTTP service for ``config``; errors are click exceptions."""
    host = http_bind(config)
    insecure = bool(getattr(config, "insecure", False))
    if insecure and not is_loopback(host) and not getattr(config, "i_know", False):
        raise click.ClickException(
            f"--insecure serves HTTP without authentication; refusing to listen on {host}. "
            "Use --http-bind 127.0.0.1, or add --i-know if you really mean it."
        )
    if insecure:
        log.warning("INSECURE MODE: the HTTP API on %s is plain HTTP and unauthenticated", host)
    ssl_context: ssl.SSLContext | None = None
    if not insecure:
        try:
            ssl_context = build_server_context(cert_chain, key, client_ca, require_client_cert=False)
        except TlsConfigError as exc:
            raise click.ClickException(str(exc)) from exc
    try:
        signer = SessionSigner(load_or_create_key(config.data_dir))
    except (SessionError, OSError) as exc:
        raise click.ClickException(f"HTTP session key: {exc}") from exc
    from kmsd.kmip.messages import SUPPORTED_VERSIONS

    access_policy = getattr(getattr(processor, "settings", None), "access", None) or AccessPolicy(
        frozenset(getattr(config, "privileged_users", ()) or ())
    )
    metrics = getattr(telemetry, "metrics", None)
    services = Services(
        store=store,
        executor=_http_executor(processor, authenticator),
        authenticator=authenticator,
        access_policy=access_policy,
        sessions=signer,
        audit=getattr(telemetry, "audit", None),
        metrics=HttpMetrics(metrics.registry) if metrics is not None else None,
        render_metrics=metrics.render if metrics is not None else None,
        max_message_size=int(config.max_message_size),
        info={
            "kmip_versions": [f"{v[0]}.{v[1]}" for v in reversed(SUPPORTED_VERSIONS)],
            "tls": not insecure,
            "insecure": insecure,
            "fips": not bool(getattr(config, "non_fips", False)),
            "database": str(config.database_type),
            "auth_mode": authenticator.settings.mode,
            "privileged_users_configured": bool(access_policy.privileged_users),
        },
    )
    app = App(services, ROUTES)
    settings = HttpSettings(
        max_body=int(config.max_message_size),
        handshake_timeout=float(config.handshake_timeout),
        max_connections=int(config.max_connections),
        shutdown_grace=float(config.shutdown_grace),
        identify=certificate_identity(str(config.client_identity)),
    )
    observer = telemetry.connections("http") if telemetry is not None else None
    listener = HttpListener(app.handle, ssl_context, settings, observer=observer)
    return HttpService(listener, host, int(config.http_port), config.data_dir / PORT_FILENAME)
