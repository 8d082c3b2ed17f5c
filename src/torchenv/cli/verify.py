"""`torchenv verify`: prove that an environment works, by running checks inside it."""

from __future__ import annotations

import click

from torchenv import i18n
from torchenv.cli import common
from torchenv.cli.examples import examples
from torchenv.errors import ExitCode, TorchenvError
from torchenv.i18n import _


@click.command(
    epilog=examples("verify"),
    short_help=_("Prove that an environment works, by running checks inside it."),
    help=_(
        "Run checks inside an environment: torch imports at the locked versions, torchvision "
        "and torchaudio agree with it, CUDA works, and on every GPU the build has code for it, "
        "matmul and cuDNN convolution match the CPU, bf16 autocast and large allocations work, "
        "torch.compile and NCCL run; bf16 matmul TFLOP/s and memory bandwidth as a percentage "
        "of the GPU's published peak. Exit code 1 when a check fails."
    ),
)
@common.target_options
@click.option(
    "--quick",
    is_flag=True,
    help=_(
        "Only import, versions, CUDA, the arch list and a small matmul per GPU: a few seconds, "
        "for a container HEALTHCHECK."
    ),
)
@click.option(
    "--timeout",
    type=common.Seconds(),
    default=None,
    metavar="SECONDS",
    help=_("How long the checks may take in all (default 120 with --quick, 900 otherwise)."),
)
@click.option(
    "--junit",
    metavar="FILE",
    type=common.FilePath(),
    help=_("Also write the checks as JUnit XML to FILE, for a CI system's test report."),
)
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.verify/1"))
@click.pass_context
def verify(
    ctx: click.Context,
    python: str | None,
    prefix: str | None,
    quick: bool,
    timeout: float | None,
    junit: str | None,
    as_json: bool,
) -> None:
    from torchenv.commands.verify import run_verify  # noqa: PLC0415

    try:
        with common.steps(quiet=as_json) as progress:
            report = run_verify(
                common.context(), python, prefix, quick=quick, timeout=timeout, progress=progress
            )
    except TorchenvError as exc:
        if junit is not None:  # CI publishes the report: it says why there are no checks
            from torchenv.commands.verify import write_junit_error  # noqa: PLC0415

            try:
                write_junit_error(exc, prefix or python, junit)
            except TorchenvError as unwritten:
                common.error_line(
                    _("torchenv: warning: {message}").format(message=i18n.shown(unwritten.message))
                )
        raise
    if junit is not None:
        from torchenv.commands.verify import write_junit  # noqa: PLC0415

        write_junit(report, junit)
    if as_json:
        common.write_json(report)
    else:
        from torchenv.report.render_verify import render_verify  # noqa: PLC0415

        render_verify(common.printer(), report)
    if report.summary.failed:
        ctx.exit(ExitCode.FINDINGS)
