"""Run test-case files: one connection per file, messages in file order.

Theory of operation: :func:`run_case` reads a file, opens a connection,
and for each exchange fills in the request (:class:`~.bindings.Bindings`),
encodes it in binary TTLV, sends it, decodes the answer and compares it with
the expected response (:class:`~.compare.Comparer`).  The first mismatch ends
the file (later requests would depend on what went wrong).  Errors of the
harness's own making — an unreadable file, a placeholder nothing bound — are
failures too, with the reason in the result.  :func:`run_all` runs files in
the order given, on one server, because some files depend on objects an
earlier file of the same profile made (TL-M-3 after TL-M-2).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import ttlv
from ttlv import Item

from . import rules
from .bindings import Bindings, Unbound
from .cases import Case, load, profile_of, version_from_name
from .compare import Comparer, Mismatch
from .transport import Transport, TransportError


@dataclass(frozen=True, slots=True)
class Result:
    id: str
    path: str
    version: str
    profile: str
    passed: bool
    messages: int  # exchanges completed
    where: str = ""  # first differing path
    expected: str = ""
    actual: str = ""
    error: str = ""  # a harness-level failure (unreadable file, unbound placeholder, transport)
    seconds: float = 0.0
    transcript: str = ""  # with --debug: the failing exchange in XML

    @property
    def detail(self) -> str:
        if self.passed:
            return ""
        if self.error:
            return f"{self.where + ': ' if self.where else ''}{self.error}"
        return f"{self.where}: expected {self.expected}, actual {self.actual}"


def _failure(
    case: Case,
    done: int,
    start: float,
    *,
    mismatch: Mismatch | None = None,
    where: str = "",
    error: str = "",
    transcript: str = "",
) -> Result:
    return Result(
        case.id,
        str(case.path),
        case.version,
        case.profile,
        False,
        done,
        where=mismatch.where if mismatch else where,
        expected=mismatch.expected if mismatch else "",
        actual=mismatch.actual if mismatch else "",
        error=error,
        seconds=time.monotonic() - start,
        transcript=transcript,
    )


def _transcript(request: Item, expected: Item, actual: Item) -> str:
    parts = []
    for title, item in (("request sent", request), ("expected", expected), ("actual", actual)):
        try:
            text = ttlv.xml.encode(item)
        except ttlv.TTLVError as exc:
            text = f"(not printable: {exc})"
        parts.append(f"--- {title}\n{text}")
    return "\n".join(parts)


def run_case(case: Case, transport: Transport, debug: bool = False) -> Result:
    start = time.monotonic()
    bindings = Bindings()
    bends = rules.FILE_EXCEPTIONS.get(case.id, ())
    try:
        connection = transport.connect()
    except TransportError as exc:
        return _failure(case, 0, start, error=str(exc))
    try:
        for exchange in case.exchanges:
            where = f"msg {exchange.index}"
            try:
                request = bindings.prepare(exchange.request)
                data = ttlv.encode(request)
            except (Unbound, ttlv.TTLVError) as exc:
                return _failure(case, exchange.index - 1, start, where=where, error=f"cannot build the request: {exc}")
            try:
                answer = connection.exchange(data)
            except TransportError as exc:
                return _failure(case, exchange.index - 1, start, where=where, error=str(exc))
            if answer is None:
                return _failure(case, exchange.index - 1, start, where=where, error="the server closed the connection")
            try:
                actual = ttlv.decode(answer)
            except ttlv.TTLVError as exc:
                return _failure(case, exchange.index - 1, start, where=where, error=f"undecodable response: {exc}")
            if exchange.expected is not None:
                version = ttlv.xml.item_version(exchange.expected) or ttlv.LATEST
                comparer = Comparer(bindings, version, bends)
                mismatch = comparer.response(exchange.index, exchange.expected, actual, request)
                if mismatch is not None:
                    transcript = _transcript(request, exchange.expected, actual) if debug else ""
                    return _failure(case, exchange.index - 1, start, mismatch=mismatch, transcript=transcript)
                bindings.commit(comparer.new, comparer.literals)
            bindings.observe(actual)
    finally:
        connection.close()
    return Result(
        case.id, str(case.path), case.version, case.profile, True, len(case.exchanges), seconds=time.monotonic() - start
    )


def run_path(path: Path, transport: Transport, debug: bool = False) -> Result:
    try:
        case = load(path)
    except (ttlv.TTLVError, OSError) as exc:
        version = version_from_name(path.stem) or "?"
        return Result(path.stem, str(path), version, profile_of(path.stem), False, 0, error=f"unreadable file: {exc}")
    return run_case(case, transport, debug)


def run_all(
    paths: Iterable[Path], transport: Transport, progress: Callable[[Result], None] | None = None, debug: bool = False
) -> list[Result]:
    results = []
    group: str | None = None
    for path in paths:
        next_group = rules.state_group(path.stem, version_from_name(path.stem) or str(path.parent))
        if group is not None and next_group != group:
            transport.reset()
        group = next_group
        result = run_path(path, transport, debug)
        if progress is not None:
            progress(result)
        results.append(result)
    return results
