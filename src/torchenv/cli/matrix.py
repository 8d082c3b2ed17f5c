"""`torchenv matrix`: browse the knowledge base as a table."""

from __future__ import annotations

import click

from torchenv.cli import common


@click.command()
@click.option(
    "--torch",
    "torch_spec",
    metavar="SPEC",
    help='Only the releases a PEP 440 specifier admits: ">=2.8", "2.13", "==2.6.0".',
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document (torchenv.matrix/1)."
)
def matrix(torch_spec: str | None, as_json: bool) -> None:
    """Browse the knowledge base: one row per torch release (newest first) with its Python
    versions, the CUDA build PyPI serves, the GPUs it covers, the driver it needs, the variants
    on download.pytorch.org and the paired torchvision/torchaudio."""
    from torchenv.commands.matrix import run_matrix  # noqa: PLC0415

    report = run_matrix(torch_spec)
    if as_json:
        common.write_json(report)
    else:
        from torchenv.report.render_matrix import render_matrix  # noqa: PLC0415

        render_matrix(common.printer(), report)
