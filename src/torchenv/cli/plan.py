"""`torchenv plan`: which PyTorch stack fits these machines, and how to install it."""

from __future__ import annotations

import click


@click.command()
def plan() -> None:
    """Choose the PyTorch stack for these machines and say how to install it."""
    raise click.UsageError("not built yet")
