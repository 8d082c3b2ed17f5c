"""`torchenv doctor`: findings with their evidence and fixes."""

from __future__ import annotations

import sys

import click

from torchenv.cli import common
from torchenv.cli.common import printer, target_options
from torchenv.cli.examples import examples
from torchenv.errors import ExitCode
from torchenv.i18n import _
from torchenv.models import Severity


@click.command(
    epilog=examples("doctor"),
    short_help=_("Diagnose an environment, with the commands that fix it."),
    help=_("Diagnose an environment: each finding with its evidence and the commands that fix it."),
)
@target_options
@click.option(
    "--deep", is_flag=True, help=_("Also import torch in the environment and run a CUDA op.")
)
@click.option(
    "--deep-timeout",
    type=common.Seconds(),
    default=180.0,
    show_default=True,
    metavar="SECONDS",
    help=_("How long the --deep check may take."),
)
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.doctor/1"))
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning"]),
    default="error",
    show_default=True,
    help=_("Exit with 1 when a finding reaches this severity."),
)
@click.option("--list-rules", is_flag=True, help=_("Print the rule catalog and exit."))
@click.option(
    "--explain",
    metavar="RULE",
    help=_(
        "Print a rule's full entry (what it means, how it is detected, the fix for each "
        "installer, the sources) and exit."
    ),
)
@click.pass_context
def doctor(
    ctx: click.Context,
    python: str | None,
    prefix: str | None,
    deep: bool,
    deep_timeout: float,
    as_json: bool,
    fail_on: str,
    list_rules: bool,
    explain: str | None,
) -> None:
    from torchenv.commands.doctor import explain_rule, rule_catalog, run_doctor  # noqa: PLC0415

    if explain is not None:
        if as_json:
            raise click.UsageError(_("--explain prints text; --list-rules --json lists the rules."))
        from torchenv.report.render_explain import render_explanation  # noqa: PLC0415

        found = explain_rule(explain)  # a UsageError for an unknown id
        if found.info is not None:
            render_explanation(printer(), found.info, found.explanation)
        return
    if list_rules:
        catalog = rule_catalog()
        if as_json:
            from torchenv.report.render_json import render_json  # noqa: PLC0415

            sys.stdout.write(render_json(catalog))
        else:
            from torchenv.report.explain import rule_listing  # noqa: PLC0415
            from torchenv.report.render_explain import render_rule_listing  # noqa: PLC0415

            render_rule_listing(printer(), rule_listing())
        return
    with common.steps(quiet=as_json) as progress:
        report = run_doctor(
            common.context(),
            python,
            prefix,
            deep=deep,
            deep_timeout=deep_timeout,
            fail_on=Severity(fail_on),
            progress=progress,
        )
    if as_json:
        from torchenv.report.render_json import render_json  # noqa: PLC0415

        sys.stdout.write(render_json(report))
    else:
        from torchenv.report.render_text import render_doctor  # noqa: PLC0415

        render_doctor(printer(), report)
    if report.summary.failed:
        ctx.exit(ExitCode.FINDINGS)
