"""`torchenv inspect`: the facts of the machine and an environment."""

from __future__ import annotations

import sys

import click

from torchenv.cli import common
from torchenv.cli.common import printer, target_options
from torchenv.cli.examples import examples
from torchenv.i18n import _


@click.command(
    epilog=examples("inspect"),
    short_help=_("Facts about this machine and an environment."),
    help=_(
        "Facts about this machine (driver, GPUs, toolkits) and an environment (torch build, "
        "packages), read without importing torch."
    ),
)
@target_options
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.inspect/1"))
def inspect(python: str | None, prefix: str | None, as_json: bool) -> None:
    from torchenv.commands.inspect import run_inspect  # noqa: PLC0415

    report = run_inspect(common.context(), python, prefix)
    if as_json:
        from torchenv.report.render_json import render_json  # noqa: PLC0415

        sys.stdout.write(render_json(report))
    else:
        from torchenv.report.render_text import render_inspect  # noqa: PLC0415

        render_inspect(printer(), report)
