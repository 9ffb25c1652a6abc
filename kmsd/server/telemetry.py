"""Composition of the operational side: audit log, metrics, /metrics and /health.

Theory of operation: :func:`build_telemetry` runs during start-up, after
the store is open: it loads (or creates) ``DATA_DIR/audit.key``, opens the
audit sinks, recovers the chain head from the audit file already on disk
(so the chain continues across restarts), and makes one
:class:`~kmsd.audit.observer.ServerObserver` that the executor (per request)
and the listener (per connection) report to.  :meth:`Telemetry.serve_metrics`
runs the small HTTP listener when ``--metrics-port`` is set.
:meth:`Telemetry.close` comes last, after every request has finished: it
seals the audit chain with a MAC record and closes the sinks.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import click
import trio

from kmsd.audit.chain import AuditKeyError, MacSigner, load_or_create_key
from kmsd.audit.observer import ConnectionEvents, ServerObserver
from kmsd.audit.pipeline import AuditLogger
from kmsd.audit.sinks import FileSink, Sink, StreamSink, SyslogSink, parse_syslog_address
from kmsd.metrics.catalog import ServerMetrics
from kmsd.metrics.http import Endpoints, MetricsServer
from kmsd.server.config import ServerConfig
from kmsd.store.base import Store

log = logging.getLogger("kmsd.telemetry")


@dataclass(slots=True)
class Telemetry:
    config: ServerConfig
    store: Store
    metrics: ServerMetrics
    audit: AuditLogger
    observer: ServerObserver

    def connections(self, protocol: str = "kmip") -> ConnectionEvents:
        return self.observer.connections(protocol)

    async def serve_metrics(
        self, *, task_status: trio.TaskStatus[tuple[str, int] | None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve /metrics and /health until cancelled (reports None at once when not configured)."""
        config = self.config
        if config.metrics_port is None:
            task_status.started(None)
            return
        server = MetricsServer(Endpoints(self.metrics.render, self.store))
        port_file = config.metrics_port_file
        try:
            async with trio.open_nursery() as nursery:
                host, port = await nursery.start(server.serve, config.metrics_bind, config.metrics_port)
                _write_port_file(port_file, port)
                log.info("metrics: http://%s:%d/metrics and /health; port written to %s", host, port, port_file)
                task_status.started((host, port))
        finally:
            port_file.unlink(missing_ok=True)

    def close(self) -> None:
        self.audit.close()
        log.info("audit log sealed at seq %d", self.audit.chain.head.seq)


def build_telemetry(config: ServerConfig, store: Store) -> Telemetry:
    """Open the audit log and make the observers; errors are click exceptions."""
    metrics = ServerMetrics()

    def pool_usage() -> None:
        for state, value in store.pool_stats().items():
            metrics.store_connections.set(value, state=state)

    metrics.refreshers.append(pool_usage)
    try:
        key = load_or_create_key(config.data_dir)
    except (AuditKeyError, OSError) as exc:
        raise click.ClickException(f"audit key: {exc}") from exc
    try:
        file_sink = FileSink(
            config.audit_file, rotate_bytes=config.audit_rotate_bytes, keep=config.audit_keep, fsync=config.audit_fsync
        )
    except OSError as exc:
        raise click.ClickException(f"cannot open the audit log {config.audit_file}: {exc.strerror}") from exc
    sinks: list[Sink] = [file_sink]
    if config.audit_stderr:
        sinks.append(StreamSink())
    if config.audit_syslog:
        try:
            sinks.append(SyslogSink(parse_syslog_address(config.audit_syslog)))
        except (ValueError, OSError) as exc:
            file_sink.close()
            raise click.ClickException(f"--audit-syslog: {exc}") from exc
    head = file_sink.recover()
    audit = AuditLogger(
        sinks,
        mac=MacSigner(key, config.audit_mac_every),
        head=head,
        on_sink_error=lambda sink, _exc: metrics.audit_sink_errors.inc(sink=sink),
        on_record=lambda _record: metrics.audit_records.inc(),
    )
    durability = "fsync" if config.audit_fsync else "flushed to the OS"
    where = ", ".join(s.name for s in sinks)
    log.info(
        "audit log %s (%s; sinks: %s), continuing the chain at seq %d",
        config.audit_file,
        durability,
        where,
        (head.seq if head else 0) + 1,
    )
    default_user = config.default_username if getattr(config, "insecure", False) else None
    return Telemetry(config, store, metrics, audit, ServerObserver(audit, metrics, default_user=default_user))


def _write_port_file(path: Path, port: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{port}\n", encoding="ascii")
    os.replace(tmp, path)
