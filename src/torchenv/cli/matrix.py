"""`torchenv matrix`: browse the knowledge base as a table."""

from __future__ import annotations

import click


@click.command()
def matrix() -> None:
    """Browse the knowledge base: torch releases, variants, Python, GPUs covered."""
    raise click.UsageError("not built yet")
