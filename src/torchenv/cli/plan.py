"""`torchenv plan`: which PyTorch stack fits these machines, and how to install it."""

from __future__ import annotations

import click

from torchenv.cli import common
from torchenv.errors import ExitCode


@click.command()
@click.option(
    "--torch", "torch_spec", metavar="SPEC", help='Release or specifier: "2.13", ">=2.8".'
)
@click.option("--python", metavar="X.Y", help="Python version (default: the environment's).")
@click.option(
    "--cuda",
    metavar="auto|cpu|X.Y|cuXYZ",
    help="CUDA choice (default auto: fit the GPUs and driver; cpu when there is no GPU).",
)
@click.option(
    "--gpu",
    "gpus",
    multiple=True,
    metavar="NAME|X.Y|sm_XY",
    help="A target GPU (repeat for several); plans for a machine described here.",
)
@click.option("--driver", metavar="VERSION", help="NVIDIA driver version of the target.")
@click.option(
    "--platform",
    metavar="PLATFORM",
    help="Platform of a --gpu target: linux_x86_64 (default), linux_aarch64, win_amd64, ...",
)
@click.option(
    "--for",
    "machine_files",
    multiple=True,
    metavar="MACHINE.json",
    type=click.Path(dir_okay=False),
    help="`torchenv inspect --json` of a target machine (repeat for a fleet).",
)
@click.option(
    "--installer",
    type=click.Choice(["uv", "pip", "conda", "pixi"]),
    help="Plan for one installer (conda and pixi: conda-forge builds). Default: all.",
)
@click.option("--verbose", "-v", is_flag=True, help="List every rejected candidate.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (torchenv.plan/1).")
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
    installer: str | None,
    verbose: bool,
    as_json: bool,
) -> None:
    """Choose the PyTorch stack for these machines and say how to install it.

    Without --gpu or --for the target is this machine. Exit code 3 when no build fits.
    """
    from torchenv.commands.plan import run_plan  # noqa: PLC0415

    probe = None if (gpus or machine_files) else common.context()
    report = run_plan(
        probe,
        torch=torch_spec,
        python=python,
        cuda=cuda,
        gpus=gpus,
        driver=driver,
        machine_files=machine_files,
        installer=installer,
        platform=platform,
    )
    if as_json:
        common.write_json(report)
    else:
        from torchenv.report.render_plan import render_plan  # noqa: PLC0415

        render_plan(common.printer(), report, verbose=verbose)
    if report.stack is None:
        ctx.exit(ExitCode.NO_STACK)
