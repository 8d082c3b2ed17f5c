"""`torchenv db ...`: maintain the knowledge base."""

from __future__ import annotations

import click


@click.group()
def db() -> None:
    """Maintain the knowledge base (torch releases, variants, drivers)."""
