"""`torchenv diff A B`: what differs between two environments, locks or machines."""

from __future__ import annotations

import click

from torchenv.cli import common
from torchenv.cli.examples import examples
from torchenv.errors import ExitCode
from torchenv.i18n import _


@click.command(
    epilog=examples("diff"),
    short_help=_("What differs between two environments, locks or machines."),
    help=_(
        "Compare A with B, each an environment directory (venv or conda prefix), a lock "
        "(pylock.toml, conda.lock) or a `torchenv inspect --json` document: packages added, "
        "removed and changed, the torch build, and for two machines their driver, GPUs, CUDA "
        "toolkits and platform. Exits with 1 when they differ and 0 when they do not, as "
        "diff(1) does."
    ),
)
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.diff/1"))
@click.pass_context
def diff(ctx: click.Context, a: str, b: str, as_json: bool) -> None:
    from torchenv.commands.diff import run_diff  # noqa: PLC0415

    report = run_diff(common.context(), a, b)
    if as_json:
        common.write_json(report)
    else:
        from torchenv.report.render_diff import render_diff  # noqa: PLC0415

        render_diff(common.printer(), report)
    if not report.same:
        ctx.exit(ExitCode.FINDINGS)
