"""``kmsd ttlv``: convert KMIP messages between encodings."""

from __future__ import annotations

import click


@click.group("ttlv")
def ttlv_group() -> None:
    """Inspect and convert KMIP TTLV messages."""
