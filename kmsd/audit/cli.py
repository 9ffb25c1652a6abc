"""``kmsd audit verify`` and ``kmsd audit search``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .chain import KEY_FILENAME, AuditKeyError, read_key
from .search import Query, parse_time, search
from .verify import verify

_PATHS = click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))


@click.group("audit")
def audit_group() -> None:
    """Check and search the tamper-evident audit log (--audit-log of kmsd serve)."""


@audit_group.command("verify")
@_PATHS
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The audit key file (default: DATA_DIR/audit.key).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="KMS_DATA_DIR",
    default="kms-data",
    show_default=True,
    show_envvar=True,
    help="Where audit.key is looked for.",
)
@click.option("--skip-mac", is_flag=True, help="Check the hash chain only, not the MAC records.")
def verify_command(paths: tuple[Path, ...], key_file: Path | None, data_dir: Path, skip_mac: bool) -> None:
    """Check the chain over PATHS (files in order, or directories of rotated files).

    Prints the first edited, deleted, inserted or reordered record (file,
    line, sequence number) and exits 1, or says that the chain holds and
    exits 0.
    """
    key: bytes | None = None
    if not skip_mac:
        path = key_file or data_dir / KEY_FILENAME
        if not os.path.exists(path):
            raise click.UsageError(f"no audit key at {path}: give --key or --data-dir, or --skip-mac")
        try:
            key = read_key(path)
        except AuditKeyError as exc:
            raise click.ClickException(str(exc)) from exc
    report = verify(list(paths), key)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(report.summary())
    raise SystemExit(0 if report.ok else 1)


def _time(ctx: click.Context, param: click.Parameter, value: str | None) -> object:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from None


@audit_group.command("search")
@_PATHS
@click.option("--user", help="Caller identity, exactly.")
@click.option("--operation", help="Operation name (Create, GetAttributes, 'Get Attributes').")
@click.option("--object", "object_id", help="A unique identifier among the record's object_ids.")
@click.option("--result", type=click.Choice(["success", "failure"]), help="failure: anything but success.")
@click.option("--event", help="Event name (kmip.operation, kmip.permission_denied, tls.handshake_failure, ...).")
@click.option("--since", callback=_time, help="ISO 8601 time (UTC when no zone is given).")
@click.option("--until", callback=_time, help="ISO 8601 time (UTC when no zone is given).")
def search_command(paths: tuple[Path, ...], **filters: object) -> None:
    """Print the records of PATHS that match every filter, as JSON lines."""
    query = Query(**filters)  # type: ignore[arg-type]
    found = 0
    for line in search(list(paths), query):
        click.echo(line)
        found += 1
    if not found:
        click.echo("no matching records", err=True)
