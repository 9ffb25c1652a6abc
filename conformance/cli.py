"""Command line: ``python -m conformance run|expected …``.

``run`` replays files or directories (recursively, sorted) and prints a line
per file, a table per version and profile, and ``N passed, M failed``; exit
status 0 unless a case expected to pass failed.  Without ``--server`` it
starts its own ``kmsd serve`` (temporary data directory, ephemeral port, its
generated admin certificate) and stops it at the end; ``--in-process`` calls
the executor directly instead.  ``--database-type``/``--database-url`` choose
the store of either (a scratch database: the in-process run empties it).
``expected`` runs the same way (or reads a ``--json`` result file with
``--from-json``) and regenerates EXPECTED.md (``--write``) and/or
expected.toml (``--update-toml``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from . import expected as exp
from . import report
from .cases import discover, load
from .runner import Result, run_all
from .transport import (
    HTTPS_ENCODINGS,
    HttpsTransport,
    InProcessTransport,
    ServerProcess,
    TlsSettings,
    TlsTransport,
    Transport,
    parse_server,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m conformance", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="replay test-case files against a server")
    _run_options(run)
    run.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    run.add_argument("-q", "--quiet", action="store_true", help="only failures, the table and the summary")
    regen = commands.add_parser("expected", help="regenerate EXPECTED.md / expected.toml from a run")
    _run_options(regen, paths_required=False)
    regen.add_argument("--from-json", type=Path, metavar="FILE", help="use a run's --json output instead of running")
    regen.add_argument("--write", action="store_true", help="write EXPECTED.md (else print it)")
    regen.add_argument("--markdown", type=Path, default=exp.DEFAULT_MARKDOWN, help="where EXPECTED.md goes")
    regen.add_argument("--update-toml", action="store_true", help="rewrite the expectations file from the run")
    return parser


def _run_options(parser: argparse.ArgumentParser, paths_required: bool = True) -> None:
    parser.add_argument("paths", nargs="+" if paths_required else "*", type=Path, metavar="PATH")
    parser.add_argument("--server", metavar="HOST:PORT", help="a running server (else one is started)")
    parser.add_argument("--ca", type=Path, help="CA bundle the server certificate chains to")
    parser.add_argument("--cert", type=Path, help="client certificate PEM")
    parser.add_argument("--key", type=Path, help="client private key PEM")
    parser.add_argument("--in-process", action="store_true", help="call the executor directly (no TLS, no server)")
    parser.add_argument(
        "--https",
        choices=sorted(HTTPS_ENCODINGS),
        metavar="ENCODING",
        help="replay over HTTPS (POST /kmip) in binary, xml or json instead of TTLV over TLS "
        "(with --server, HOST:PORT is the HTTP API's)",
    )
    parser.add_argument(
        "--database-type",
        choices=("sqlite", "postgresql", "mysql"),
        default="sqlite",
        help="store backend of --in-process or of the started server (default: a fresh SQLite file)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="a SCRATCH database for --database-type (--in-process deletes every object in it)",
    )
    parser.add_argument(
        "--fips",
        action="store_true",
        help="start the server with the default FIPS policy (by default it runs --non-fips: the profiles' "
        "cases use 3DES, which the FIPS policy refuses by design)",
    )
    parser.add_argument("--expected", type=Path, default=exp.DEFAULT_TOML, help="expectations file (TOML)")
    parser.add_argument("--no-expected", action="store_true", help="expect every case to pass")
    parser.add_argument("--debug", action="store_true", help="print the failing exchange (request, expected, actual)")


@contextmanager
def transport_for(args: argparse.Namespace) -> Iterator[Transport]:
    if args.database_type != "sqlite" and not args.database_url:
        raise SystemExit(f"--database-type {args.database_type} needs --database-url")
    database = ("--database-type", args.database_type, "--database-url", args.database_url) if args.database_url else ()
    if args.in_process:
        in_process = InProcessTransport(
            non_fips=not args.fips, database_type=args.database_type, database_url=args.database_url
        )
        try:
            yield in_process
        finally:
            in_process.close()
    elif args.server:
        if not (args.ca and args.cert and args.key):
            raise SystemExit("--server needs --ca, --cert and --key")
        host, port = parse_server(args.server)
        settings = TlsSettings(host, port, args.ca, args.cert, args.key)
        yield HttpsTransport(settings, args.https) if args.https else TlsTransport(settings)
    else:
        with ServerProcess((() if args.fips else ("--non-fips",)) + database) as server:
            yield (
                HttpsTransport(server.https_settings(), args.https)
                if args.https
                else TlsTransport(server.tls_settings())
            )


def _run(args: argparse.Namespace, expectations: dict[str, exp.Expectation], quiet: bool) -> list[Result]:
    def progress(result: Result) -> None:
        if not quiet or not result.passed:
            print(report.line(result, expectations), flush=True)
        if result.transcript:
            print(result.transcript, flush=True)

    with transport_for(args) as transport:
        return run_all(discover(args.paths), transport, progress, args.debug)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    expectations = {} if args.no_expected else exp.load(args.expected)
    if args.command == "run":
        results = _run(args, expectations, args.quiet)
        print(report.render_text(results, expectations, lines=False))
        if args.json:
            args.json.write_text(json.dumps(report.to_json(results, expectations), indent=2) + "\n")
        return 1 if report.to_json(results, expectations)["unexpected_failures"] else 0
    return _expected(args, expectations)


def _expected(args: argparse.Namespace, expectations: dict[str, exp.Expectation]) -> int:
    if args.from_json:
        results = report.results_from_json(json.loads(args.from_json.read_text()))
    elif args.paths:
        results = _run(args, expectations, quiet=True)
    else:
        raise SystemExit("give test-case PATHs or --from-json FILE")
    if args.update_toml:
        reasons: dict[str, str] = {}
        for r in results:
            previous = expectations.get(r.id)
            if r.passed:
                reasons[r.id] = exp.PASS
            elif previous is not None:
                reasons[r.id] = exp.PASS if previous.passes else previous.reason
            else:
                reasons[r.id] = _suggest(r)
        exp.write_toml(args.expected, reasons)
        expectations = exp.load(args.expected)
    markdown = exp.render_markdown(results, expectations)
    if args.write:
        args.markdown.write_text(markdown, encoding="utf-8")
    else:
        sys.stdout.write(markdown)
    return 0


def _suggest(result: Result) -> str:
    try:
        case = load(Path(result.path))
    except Exception:  # any unreadable file gets the generic reason
        case = None
    return exp.suggest_reason(case, result.profile)
