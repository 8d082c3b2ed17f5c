"""`torchenv lock` and `torchenv create`: from a spec to a locked, built, checked environment."""

from __future__ import annotations

from pathlib import Path

import click

from torchenv import i18n
from torchenv.cli import common
from torchenv.cli.examples import examples
from torchenv.errors import ExitCode
from torchenv.i18n import _


def _no_stack(ctx: click.Context, exc: object) -> None:
    from torchenv.report.render_plan import render_plan  # noqa: PLC0415

    plan = getattr(exc, "plan", None)
    if plan is not None:
        render_plan(common.printer(), plan)
    common.error_line(
        _("torchenv: error: {message}").format(
            message=i18n.shown(getattr(exc, "message", str(exc)))
        )
    )
    ctx.exit(ExitCode.NO_STACK)


@click.command(
    epilog=examples("lock"),
    short_help=_("Resolve the spec into a lock with hashes."),
    help=_(
        "Resolve the spec (torchenv.toml, or [tool.torchenv] in pyproject.toml) into a lock: "
        "pylock.toml (uv, pip) or conda.lock (conda), with exact versions, where every file "
        "comes from and its sha256, and torchenv's plan."
    ),
)
@click.argument("spec", required=False, metavar="[SPEC]")
@click.option(
    "--check",
    is_flag=True,
    help=_(
        "Write nothing; exit 0 when the lock is fresh (spec unchanged, lock unedited, its build "
        "still admitted by the knowledge), 1 with what changed when it is stale."
    ),
)
@click.option("--verbose", "-v", is_flag=True, help=_("Show the resolver's commands and output."))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help=_("Print one JSON document ({schema}; with {option} {other}).").format(
        schema="torchenv.lock/1", option="--check", other="torchenv.lock-check/1"
    ),
)
@click.pass_context
def lock(ctx: click.Context, spec: str | None, check: bool, verbose: bool, as_json: bool) -> None:
    from torchenv.commands.lock import NoStackError, run_lock  # noqa: PLC0415

    probe = common.context()
    if check:
        from torchenv.commands.lockcheck import run_lock_check  # noqa: PLC0415

        checked = run_lock_check(probe, spec, Path.cwd())
        if as_json:
            common.write_json(checked)
        else:
            from torchenv.report.render_lockcheck import render_lock_check  # noqa: PLC0415

            render_lock_check(common.printer(), checked)
        ctx.exit(0 if checked.fresh else 1)
    try:
        with common.steps(quiet=as_json, live=not verbose) as progress:
            report = run_lock(probe, spec, Path.cwd(), progress=progress, verbose=verbose)
    except NoStackError as exc:
        _no_stack(ctx, exc)
        return
    if as_json:
        common.write_json(report)
        return
    emit = common.printer()
    stack = report.stack
    emit(
        common.styled(
            _("wrote {path} ({count} packages)"),
            path=(report.lock, "bold"),
            count=len(report.packages),
        )
    )
    emit(
        [
            ("  ", None),
            *common.styled(
                _("torch {build}, Python {python}, for {platforms}"),
                build=(stack.build, "bold green"),
                python=stack.python,
                platforms=", ".join(report.platforms),
            ),
        ]
    )
    for note in report.notes:
        emit(common.note(note))
    emit(common.next_step("torchenv create"))


@click.command(
    epilog=examples("create"),
    short_help=_("Build the environment of the lock, check it, move it into place."),
    help=_(
        "Build the environment of the lock in a sibling directory, check that torch imports, "
        "then move it into place. An interrupted create leaves no environment behind."
    ),
)
@click.argument("spec", required=False, metavar="[SPEC]")
@click.option(
    "--backend",
    type=click.Choice(["uv", "pip", "conda", "micromamba"]),
    help=_(
        "Installer (default: the spec's `installer`, else uv). conda: py-rattler inside "
        "torchenv when installed, else micromamba on PATH."
    ),
)
@click.option(
    "--prefix",
    metavar="DIR",
    help=_("Where the environment goes (default: .venv beside the spec)."),
)
@click.option("--force", is_flag=True, help=_("Replace an existing environment at the prefix."))
@click.option(
    "--no-verify",
    "skip_verify",
    is_flag=True,
    help=_(
        "Move the environment into place without running verify --quick in it first "
        "(saves the import of torch, seconds; the install itself is still checked by its "
        "hashes)."
    ),
)
@click.option("--verbose", "-v", is_flag=True, help=_("Show the installer's commands and output."))
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.create/1"))
def create(
    spec: str | None,
    backend: str | None,
    prefix: str | None,
    force: bool,
    skip_verify: bool,
    verbose: bool,
    as_json: bool,
) -> None:
    from torchenv.commands.create import run_create  # noqa: PLC0415

    with common.steps(quiet=as_json, live=not verbose) as progress:
        report = run_create(
            common.context(),
            spec,
            Path.cwd(),
            backend=backend,
            prefix=prefix,
            force=force,
            verbose=verbose,
            check=not skip_verify,
            progress=progress,
        )
    if as_json:
        common.write_json(report)
        return
    emit = common.printer()
    total = sum(s.seconds for s in report.steps)
    emit(
        common.styled(
            _("created {prefix} with {installer} in {seconds} s"),
            prefix=(report.prefix, "bold"),
            installer=report.backend,
            seconds=f"{total:.1f}",
        )
    )
    emit(
        [
            ("  ", None),
            *common.styled(
                _("torch {build}, {count} packages from {lock}"),
                build=(report.torch, "bold green"),
                count=report.packages,
                lock=report.lock,
            ),
        ]
    )
    if report.replaced:
        emit([("  " + _("replaced the environment that was there"), "yellow")])
    emit(common.next_step(f"torchenv verify --prefix {report.prefix}"))
