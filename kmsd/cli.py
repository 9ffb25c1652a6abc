"""The ``kmsd`` command line: one click group, subcommands from their modules."""

from __future__ import annotations

import click

from kmsd import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kmsd")
def main() -> None:
    """kmsd: a KMIP 1.0-2.1 key management server."""


def _register() -> None:
    from kmsd.audit.cli import audit_group
    from kmsd.auth.cli import auth_group
    from kmsd.server.serve import serve_command
    from kmsd.tools.certs_cli import certs_group
    from kmsd.tools.ttlv_cli import ttlv_group

    main.add_command(serve_command)
    main.add_command(audit_group)
    main.add_command(ttlv_group)
    main.add_command(certs_group)
    main.add_command(auth_group)


_register()


if __name__ == "__main__":
    main()
