"""The server's metrics: one :class:`ServerMetrics` per running server.

Every family is created here, so ``/metrics`` lists them (at zero) from the
first scrape and their names and labels are documented in one place.  The
label sets are small and bounded: operation names come from the KMIP
registry, versions from the supported list, results from the Result Status
names; nothing user-controlled becomes a label.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kmsd import __version__

from .registry import Registry

log = logging.getLogger("kmsd.metrics")


class ServerMetrics:
    def __init__(self, registry: Registry | None = None) -> None:
        r = self.registry = registry or Registry()
        self.build_info = r.gauge("kmsd_build_info", "Always 1; the version label says which kmsd runs.", ["version"])
        self.build_info.set(1, version=__version__)
        self.requests = r.counter(
            "kmsd_requests_total",
            "Batch items processed, by protocol, operation, protocol version and result.",
            ["protocol", "operation", "version", "result"],
        )
        self.request_duration = r.histogram(
            "kmsd_request_duration_seconds",
            "Time to execute one batch item (the last item of a batch includes the commit).",
            ["protocol", "operation"],
        )
        self.message_duration = r.histogram(
            "kmsd_message_duration_seconds",
            "Time from a decoded request message to its encoded response.",
            ["protocol"],
        )
        self.connections_open = r.gauge("kmsd_connections_open", "Connections open now.", ["protocol"])
        self.connections = r.counter("kmsd_connections_total", "Connections accepted.", ["protocol"])
        self.tls_handshake_failures = r.counter(
            "kmsd_tls_handshake_failures_total", "TLS handshakes that failed or timed out.", ["protocol"]
        )
        self.authentication_failures = r.counter(
            "kmsd_authentication_failures_total",
            "Connections or requests refused because they identified nobody usable.",
            ["protocol"],
        )
        self.permission_denials = r.counter(
            "kmsd_permission_denials_total", "Batch items refused because the caller lacks the right.", ["protocol"]
        )
        self.undecodable = r.counter(
            "kmsd_undecodable_messages_total", "Messages that were not TTLV at all (connection closed).", ["protocol"]
        )
        self.store_errors = r.counter("kmsd_store_errors_total", "Requests failed by a store (database) error.")
        self.store_connections = r.gauge(
            "kmsd_store_connections", "Store connection pool: idle, in use, and the pool's maximum.", ["state"]
        )
        # Figures read at scrape time (pool usage), by callables the server adds.
        self.refreshers: list[Callable[[], None]] = []
        self.audit_records = r.counter("kmsd_audit_records_total", "Audit records written, MAC records included.")
        self.audit_sink_errors = r.counter(
            "kmsd_audit_sink_errors_total", "Audit writes that failed, by sink.", ["sink"]
        )
        # Zero rather than absent: alerting on "increase(...) > 0" then works from the start.
        for protocol in ("kmip",):
            for family in (
                self.connections_open,
                self.connections,
                self.tls_handshake_failures,
                self.authentication_failures,
                self.permission_denials,
                self.undecodable,
            ):
                family.inc(0, protocol=protocol)
        for sink in ("file", "stderr", "syslog"):
            self.audit_sink_errors.inc(0, sink=sink)

    def render(self) -> str:
        for refresh in self.refreshers:
            try:
                refresh()
            except Exception:  # a failing figure must not take /metrics down
                log.exception("refreshing a metric failed")
        return self.registry.render()
