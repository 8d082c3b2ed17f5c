"""`torchenv init`: write a torchenv.toml pinned to the stack `torchenv plan` chooses."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import click

from torchenv.cli import common
from torchenv.cli.examples import examples
from torchenv.errors import ExitCode
from torchenv.i18n import _

if TYPE_CHECKING:
    from torchenv.models.plan import Stack


@click.command(
    epilog=examples("init"),
    short_help=_("Write a spec pinned to the stack the plan chooses."),
    help=_(
        "Plan a stack (with the options of `torchenv plan`) and write a spec pinned to it.\n\n"
        "Without --gpu or --for the target is this machine. Exit code 3 when no build fits; "
        "nothing is written then."
    ),
)
@common.plan_target_options
@click.option(
    "--installer",
    type=click.Choice(["uv", "pip", "conda"]),
    help=_("The installer the spec names (default uv); conda plans among conda-forge builds."),
)
@click.option(
    "--name", metavar="NAME", help=_("Name of the environment (default: the directory's).")
)
@click.option(
    "--out",
    default="torchenv.toml",
    show_default=True,
    metavar="FILE",
    help=_("Where to write the spec (a directory gets a torchenv.toml)."),
)
@click.option("--force", is_flag=True, help=_("Overwrite an existing spec file."))
@click.option("--verbose", "-v", is_flag=True, help=_("When no build fits: list every candidate."))
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.init/1"))
@click.pass_context
def init(
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
    name: str | None,
    out: str,
    force: bool,
    verbose: bool,
    as_json: bool,
) -> None:
    from torchenv.commands.init import run_init  # noqa: PLC0415
    from torchenv.commands.plan import parse_options  # noqa: PLC0415

    # the file records how it was made; --out, --force and output flags do not change the spec
    origin = ["torchenv", "init"]
    for flag, values in (
        ("--torch", [torch_spec]),
        ("--python", [python]),
        ("--cuda", [cuda]),
        ("--gpu", list(gpus)),
        ("--driver", [driver]),
        ("--platform", [platform]),
        ("--for", list(machine_files)),
        ("--installer", [installer]),
        ("--name", [name]),
    ):
        origin += [part for value in values if value is not None for part in (flag, value)]
    if no_pytorch_index:
        origin.append("--no-pytorch-index")
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
    report = run_init(
        probe, options, cwd=Path.cwd(), out=out, name=name, force=force, origin=shlex.join(origin)
    )
    if as_json:
        common.write_json(report)
    elif report.path is None:
        from torchenv.report.render_plan import render_plan  # noqa: PLC0415

        render_plan(common.printer(), report.plan, verbose=verbose)
    else:
        emit = common.printer()
        emit(common.wrote(_shown(report.path)))
        if report.plan.stack is not None:
            line = _("stack: {stack}")
            emit(common.styled(line, stack=(stack_line(report.plan.stack), "green")))
        emit(common.next_step("torchenv lock", "bold"))
    if report.plan.stack is None:
        ctx.exit(ExitCode.NO_STACK)


def stack_line(stack: Stack) -> str:
    if stack.channel in ("pytorch-index", "pypi"):
        parts = [f"torch {stack.build}"]
    else:
        kind = f"cuda{stack.variant[2:]}" if stack.cuda else "cpu"
        parts = [
            _("pytorch {version} (conda-forge {kind} build)").format(version=stack.torch, kind=kind)
        ]
    parts += [
        f"{lib} {v}"
        for lib, v in (("torchvision", stack.torchvision), ("torchaudio", stack.torchaudio))
        if v
    ]
    parts.append(f"Python {stack.python}")
    parts.append(f"CUDA {stack.cuda}" if stack.cuda else _("CPU only"))
    return ", ".join(parts)


def _shown(path: str) -> str:
    """Relative to the working directory when it is inside it: shorter, and what was typed."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith("..") else relative
