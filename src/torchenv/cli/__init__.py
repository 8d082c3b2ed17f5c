"""Command-line interface: parses arguments, calls one command, renders its result, and maps
errors to exit codes (errors.ExitCode). No logic lives here."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence

import click

from torchenv import __version__
from torchenv.cli import common
from torchenv.cli.adopt import adopt
from torchenv.cli.build import create, lock
from torchenv.cli.ci import ci
from torchenv.cli.common import printer, progress, target_options
from torchenv.cli.db import db
from torchenv.cli.diff import diff
from torchenv.cli.export import export
from torchenv.cli.init import init
from torchenv.cli.lifecycle import history, rollback, upgrade
from torchenv.cli.listing import list_environments
from torchenv.cli.matrix import matrix
from torchenv.cli.monitor import monitor
from torchenv.cli.plan import plan
from torchenv.cli.run import run
from torchenv.cli.ship import deploy, image
from torchenv.cli.verify import verify
from torchenv.errors import ExitCode, TorchenvError
from torchenv.models import Severity


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="torchenv")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_context
def app(ctx: click.Context, debug: bool) -> None:
    """PyTorch + CUDA environments that work, prove that they work, and can be rebuilt."""
    ctx.obj = {"debug": debug}


@app.command()
@target_options
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document (torchenv.inspect/1)."
)
def inspect(python: str | None, prefix: str | None, as_json: bool) -> None:
    """Facts about this machine (driver, GPUs, toolkits) and an environment (torch build,
    packages), read without importing torch."""
    from torchenv.commands.inspect import run_inspect  # noqa: PLC0415

    report = run_inspect(common.context(), python, prefix)
    if as_json:
        from torchenv.report.render_json import render_json  # noqa: PLC0415

        sys.stdout.write(render_json(report))
    else:
        from torchenv.report.render_text import render_inspect  # noqa: PLC0415

        render_inspect(printer(), report)


@app.command()
@target_options
@click.option(
    "--deep", is_flag=True, help="Also import torch in the environment and run a CUDA op."
)
@click.option(
    "--deep-timeout",
    type=common.Seconds(),
    default=180.0,
    show_default=True,
    metavar="SECONDS",
    help="How long the --deep check may take.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document (torchenv.doctor/1)."
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning"]),
    default="error",
    show_default=True,
    help="Exit with 1 when a finding reaches this severity.",
)
@click.option("--list-rules", is_flag=True, help="Print the rule catalog and exit.")
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
) -> None:
    """Diagnose an environment: each finding with its evidence and the commands that fix it."""
    from torchenv.commands.doctor import rule_catalog, run_doctor  # noqa: PLC0415

    if list_rules:
        catalog = rule_catalog()
        if as_json:
            from torchenv.report.render_json import render_json  # noqa: PLC0415

            sys.stdout.write(render_json(catalog))
        else:
            from torchenv.report.render_text import render_rules  # noqa: PLC0415

            render_rules(printer(), catalog)
        return
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


for _command in (
    matrix,
    plan,
    db,
    init,
    lock,
    create,
    upgrade,
    rollback,
    history,
    list_environments,
    verify,
    image,
    deploy,
    diff,
    export,
    adopt,
    ci,
    monitor,
    run,
):
    app.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    for stream in (sys.stdout, sys.stderr):
        # file names that are not UTF-8 reach us as surrogates; print them escaped
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        # without standalone mode, click returns the code of ctx.exit() instead of raising
        code = app.main(args=args, prog_name="torchenv", standalone_mode=False)
        if isinstance(code, int):
            return code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        shown = io.StringIO()
        exc.show(file=shown)  # click repeats the value given: shown like every other line
        for line in shown.getvalue().splitlines():
            common.error_line(line)
        return ExitCode.USAGE
    except click.exceptions.Abort:
        return 130
    except TorchenvError as exc:
        if debug:
            raise
        common.error_line(f"torchenv: error: {exc.message}")
        if exc.hint:
            common.error_line(f"  hint: {exc.hint}")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if debug:
            raise
        common.error_line(f"torchenv: internal error: {type(exc).__name__}: {exc}")
        common.error_line("  hint: run again with --debug and report the traceback")
        return ExitCode.INTERNAL
    return ExitCode.OK
