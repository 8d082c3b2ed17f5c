"""`torchenv matrix`: browse the knowledge base as a table, or check it against the indexes."""

from __future__ import annotations

import click
from click.core import ParameterSource

from torchenv.cli import common
from torchenv.cli.examples import examples
from torchenv.errors import ExitCode
from torchenv.i18n import _
from torchenv.models.indexes import PYPI_INDEX, PYTORCH_INDEX

# the options that only --check reads: given without it they would be silently ignored
_CHECK_ONLY = ("versions", "minors", "pypi_index", "pytorch_index")


@click.command(
    epilog=examples("matrix"),
    short_help=_("Browse the knowledge base, or check it against the indexes."),
    help=_(
        "Browse the knowledge base: one row per torch release (newest first) with its Python "
        "versions, the CUDA build PyPI serves, the GPUs it covers, the driver it needs, the "
        "variants on download.pytorch.org and the paired torchvision/torchaudio.\n\n"
        "With --check, compare the packaged data with a fresh `db update` held in memory "
        "(nothing is written) and list every difference: releases on the index the data lacks, "
        "releases the data has and the index lost, and each fact of the releases read in full "
        "(about 14 MB each) that reads otherwise now. Exits 0 when nothing differs, 1 when "
        "something does, 2 for bad input, 4 when the PyPI index cannot be read; a PyTorch index "
        "that cannot be read is reported as not checked and its facts are not compared."
    ),
)
@click.option(
    "--torch",
    "torch_spec",
    metavar="SPEC",
    help=_('Only the releases a PEP 440 specifier admits: ">=2.8", "2.13", "==2.6.0".'),
)
@click.option(
    "--check",
    is_flag=True,
    help=_(
        "Compare the packaged torch data with what the indexes say now (exit 1 on a difference)."
    ),
)
@click.option(
    "--only",
    "versions",
    multiple=True,
    metavar="VERSION",
    help=_("--check: read this release in full (repeat for several), e.g. --only 2.13.0."),
)
@click.option(
    "--minors",
    type=click.IntRange(min=0, max=1000),
    metavar="N",
    help=_(
        "--check without --only: read the newest release of each of the last N minors [default: 2]."
    ),
)
@click.option(
    "--pypi-index",
    default=PYPI_INDEX,
    show_default=True,
    metavar="URL",
    help=_("--check: the PyPI-compatible index to read (PEP 691 JSON or PEP 503 HTML)."),
)
@click.option(
    "--pytorch-index",
    default=PYTORCH_INDEX,
    show_default=True,
    metavar="URL",
    help=_("--check: the PyTorch wheel index, read for the variants and arch lists."),
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help=_("Print one JSON document ({schema}; with {option} {other}).").format(
        schema="torchenv.matrix/1", option="--check", other="torchenv.matrix-check/1"
    ),
)
@click.pass_context
def matrix(
    ctx: click.Context,
    torch_spec: str | None,
    check: bool,
    versions: tuple[str, ...],
    minors: int | None,
    pypi_index: str,
    pytorch_index: str,
    as_json: bool,
) -> None:
    given = [
        name
        for name in _CHECK_ONLY
        if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)
    ]
    if check:
        if torch_spec is not None:
            raise click.UsageError(_("--torch filters the table; --check takes --only VERSION."))
        _check(ctx, versions, minors, pypi_index, pytorch_index, as_json)
        return
    if given:
        option = "--" + ("only" if given[0] == "versions" else given[0].replace("_", "-"))
        raise click.UsageError(_("{option} is an option of --check.").format(option=option))
    from torchenv.commands.matrix import run_matrix  # noqa: PLC0415

    report = run_matrix(torch_spec)
    if as_json:
        common.write_json(report)
    else:
        from torchenv.report.render_matrix import render_matrix  # noqa: PLC0415

        render_matrix(common.printer(), report)


def _check(
    ctx: click.Context,
    versions: tuple[str, ...],
    minors: int | None,
    pypi_index: str,
    pytorch_index: str,
    as_json: bool,
) -> None:
    from torchenv.commands.matrix_check import run_matrix_check  # noqa: PLC0415

    with common.steps(quiet=as_json) as progress:
        report = run_matrix_check(
            only=versions,
            minors=minors,
            pypi_index=pypi_index,
            pytorch_index=pytorch_index,
            progress=progress,
        )
    if as_json:
        common.write_json(report)
    else:
        from torchenv.report.render_matrix import render_matrix_check  # noqa: PLC0415

        render_matrix_check(common.printer(), report)
    if report.differences:
        ctx.exit(ExitCode.FINDINGS)
