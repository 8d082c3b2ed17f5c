"""`torchenv plan`: which PyTorch stack fits these machines, and how to install it."""

from __future__ import annotations

import click

from torchenv.cli import common
from torchenv.cli.examples import examples
from torchenv.errors import ExitCode
from torchenv.i18n import _


@click.command(
    epilog=examples("plan"),
    short_help=_("Choose the PyTorch build that fits these machines."),
    help=_(
        "Choose the PyTorch stack for these machines and say how to install it.\n\n"
        "Without --gpu or --for the target is this machine. Exit code 3 when no build fits."
    ),
)
@common.plan_target_options
@click.option(
    "--installer",
    type=click.Choice(["uv", "pip", "conda", "pixi"]),
    help=_("Plan for one installer (conda and pixi: conda-forge builds). Default: all."),
)
@click.option("--verbose", "-v", is_flag=True, help=_("List every rejected candidate."))
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.plan/1"))
@click.pass_context
def plan(
    ctx: click.Context,
    torch_spec: str | None,
    python: str | None,
    cuda: str | None,
    gpus: tuple[str, ...],
    driver: str | None,
    platform: str | None,
    machine_files: tuple[str, ...],
    no_pytorch_index: bool,
    installer: str | None,
    verbose: bool,
    as_json: bool,
) -> None:
    from torchenv.commands.plan import parse_options, run_plan  # noqa: PLC0415

    options = parse_options(
        torch=torch_spec,
        python=python,
        cuda=cuda,
        gpus=gpus,
        driver=driver,
        machine_files=machine_files,
        installer=installer,
        platform=platform,
        pytorch_index=not no_pytorch_index,
    )
    probe = None if (gpus or machine_files) else common.context()
    report = run_plan(probe, options)
    if as_json:
        common.write_json(report)
    else:
        from torchenv.report.render_plan import render_plan  # noqa: PLC0415

        render_plan(common.printer(), report, verbose=verbose)
    if report.stack is None:
        ctx.exit(ExitCode.NO_STACK)
