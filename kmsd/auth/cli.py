"""``kmsd auth``: make the lines of the user list and the API token file.

``kmsd auth hash-password USER`` asks for a password (twice, hidden; or
reads one line from stdin with ``--stdin``) and prints ``USER:scrypt$…``
for ``--users-file``.  ``kmsd auth new-token USER`` prints a fresh random
token — shown once, never stored — and the ``USER:SHA256`` line for
``--api-token-file``.
"""

from __future__ import annotations

import sys

import click

from .passwords import hash_password, new_token, token_digest


@click.group("auth")
def auth_group() -> None:
    """Password hashes and API tokens for the server's user files."""


@auth_group.command("hash-password")
@click.argument("user")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from the first line of stdin.")
def hash_password_command(user: str, from_stdin: bool) -> None:
    """Print USER:HASH for --users-file."""
    if ":" in user and user.rpartition(":")[2] == "":
        raise click.BadParameter("must not end with ':'", param_hint="USER")
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.ClickException("empty password")
    click.echo(f"{user}:{hash_password(password)}")


@auth_group.command("new-token")
@click.argument("user")
def new_token_command(user: str) -> None:
    """Print a new API token for USER, and the line for --api-token-file."""
    token = new_token()
    click.echo(f"token (shown once; give it to {user}): {token}")
    click.echo(f"line for --api-token-file: {user}:{token_digest(token).hex()}")
