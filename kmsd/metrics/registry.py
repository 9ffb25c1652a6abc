"""A small, thread-safe metrics registry rendering the Prometheus text format.

Theory of operation: a :class:`Registry` holds metric families; each family
(:class:`Counter`, :class:`Gauge`, :class:`Histogram`) keeps one value (or
one bucket array) per tuple of label values, under its own lock, because
worker threads update them concurrently.  :meth:`Registry.render` writes the
text exposition format 0.0.4 (the one every Prometheus scrapes), in
registration order, with HELP and TYPE lines.

Why not ``prometheus_client``: it keeps a process-global default registry
and metric names must be unique in it, which fights with several servers in
one test process; what we need (three metric kinds, fixed buckets, labels,
one renderer) is about 150 lines.  The tests parse our output with
``prometheus_client.parser``, so the format is checked by an independent
implementation.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterable, Sequence
from typing import TypeVar

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Request latency buckets, in seconds: sub-millisecond reads up to slow HSM or fsync work.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

LabelValues = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: tuple[str, str] | None = None) -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra is not None:
        pairs.append(f'{extra[0]}="{_escape(extra[1])}"')
    return "{" + ",".join(pairs) + "}" if pairs else ""


class _Family:
    kind = "untyped"

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str]) -> LabelValues:
        try:
            if len(labels) == len(self.labelnames):
                return tuple([str(labels[n]) for n in self.labelnames])
        except KeyError:
            pass
        raise ValueError(f"{self.name}: labels {sorted(labels)} != {sorted(self.labelnames)}")

    def header(self) -> list[str]:
        return [
            f"# HELP {self.name} {self.help.replace(chr(92), chr(92) * 2).replace(chr(10), ' ')}",
            f"# TYPE {self.name} {self.kind}",
        ]

    def render(self) -> list[str]:
        raise NotImplementedError


class _Scalar(_Family):
    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help, labelnames)
        self._values: dict[LabelValues, float] = {}
        if not self.labelnames:
            self._values[()] = 0.0

    def _add(self, amount: float, labels: dict[str, str]) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def render(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.labelnames, k)} {_number(v)}" for k, v in items]


class Counter(_Scalar):
    """A monotonically increasing count; its name should end in ``_total``."""

    kind = "counter"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        self._add(amount, labels)


class Gauge(_Scalar):
    """A value that goes up and down (open connections)."""

    kind = "gauge"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self._add(amount, labels)

    def dec(self, amount: float = 1.0, **labels: str) -> None:
        self._add(-amount, labels)

    def set(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)


class Histogram(_Family):
    """Observations counted into fixed cumulative buckets, with their sum and count."""

    kind = "histogram"

    def __init__(
        self, name: str, help: str, labelnames: Sequence[str] = (), buckets: Iterable[float] = LATENCY_BUCKETS
    ) -> None:
        super().__init__(name, help, labelnames)
        self.buckets = tuple(sorted(float(b) for b in buckets if not math.isinf(b)))
        if not self.buckets:
            raise ValueError("a histogram needs at least one finite bucket")
        # Per label tuple: counts per bucket (non-cumulative, +Inf last), sum.
        self._series: dict[LabelValues, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        index = bisect.bisect_left(self.buckets, value)
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = ([0] * (len(self.buckets) + 1), [0.0])
            series[0][index] += 1
            series[1][0] += value

    def count(self, **labels: str) -> int:
        with self._lock:
            series = self._series.get(self._key(labels))
            return sum(series[0]) if series else 0

    def render(self) -> list[str]:
        with self._lock:
            items = sorted((k, (list(c), s[0])) for k, (c, s) in self._series.items())
        lines: list[str] = []
        for key, (counts, total) in items:
            running = 0
            for bound, n in zip((*self.buckets, math.inf), counts, strict=True):
                running += n
                le = ("le", _number(bound))
                lines.append(f"{self.name}_bucket{_labels(self.labelnames, key, le)} {_number(running)}")
            lines.append(f"{self.name}_sum{_labels(self.labelnames, key)} {_number(total)}")
            lines.append(f"{self.name}_count{_labels(self.labelnames, key)} {_number(running)}")
        return lines


_F = TypeVar("_F", bound=_Family)


class Registry:
    def __init__(self) -> None:
        self._families: list[_Family] = []
        self._names: set[str] = set()
        self._lock = threading.Lock()

    def register(self, family: _F) -> _F:
        with self._lock:
            if family.name in self._names:
                raise ValueError(f"metric {family.name} registered twice")
            self._names.add(family.name)
            self._families.append(family)
        return family

    def counter(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Counter:
        return self.register(Counter(name, help, labelnames))

    def gauge(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Gauge:
        return self.register(Gauge(name, help, labelnames))

    def histogram(
        self, name: str, help: str, labelnames: Sequence[str] = (), buckets: Iterable[float] = LATENCY_BUCKETS
    ) -> Histogram:
        return self.register(Histogram(name, help, labelnames, buckets))

    def render(self) -> str:
        with self._lock:
            families = list(self._families)
        lines: list[str] = []
        for family in families:
            lines.extend(family.header())
            lines.extend(family.render())
        return "\n".join(lines) + "\n"
