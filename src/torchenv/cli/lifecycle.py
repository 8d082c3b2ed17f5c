"""`torchenv upgrade`, `rollback` and `history`: an environment's generations."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from torchenv.cli import common
from torchenv.cli.examples import examples, inline_examples
from torchenv.i18n import _

if TYPE_CHECKING:
    from torchenv.models.diff import DiffReport
    from torchenv.models.lifecycle import HistoryReport, UpgradeReport

Emit = Callable[[list[tuple[str, str | None]]], None]
PREFIX_HELP = _("The environment (default: .venv beside the spec).")


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def _ask(question: str, yes: bool) -> bool:
    """--yes answers; a terminal is asked; anything else is refused rather than assumed."""
    if yes:
        return True
    if not _interactive():
        from torchenv.errors import UsageError  # noqa: PLC0415

        raise UsageError(
            "confirmation-needed",
            _("{question} needs a confirmation, and this is not a terminal.").format(
                question=question
            ),
            _("Pass --yes to go ahead without one."),
        )
    return click.confirm(question, default=False, err=True)


@click.command(
    epilog=examples("upgrade"),
    short_help=_("Take the environment to what the spec says now, side by side."),
    help=_(
        "Take the environment to what the spec says now: lock, show the change, build the new "
        "generation beside the live one, verify it, then switch. The old generation stays as "
        "the rollback target; a failed or interrupted upgrade leaves it live and untouched."
    )
    + inline_examples(
        "torchenv upgrade --dry-run", "torchenv upgrade --yes --prefix /opt/envs/train"
    ),
)
@click.argument("spec", required=False, metavar="[SPEC]")
@click.option("--prefix", metavar="DIR", help=PREFIX_HELP)
@click.option("--yes", "-y", is_flag=True, help=_("Do not ask before switching."))
@click.option("--dry-run", is_flag=True, help=_("Lock and show the change; build nothing."))
@click.option(
    "--no-verify", "skip_verify", is_flag=True, help=_("Switch without verify --quick first.")
)
@click.option(
    "--keep",
    type=click.IntRange(2, 100),
    default=3,
    show_default=True,
    help=_("Generations kept afterwards, at least the new one and the rollback target."),
)
@click.option("--verbose", "-v", is_flag=True, help=_("Show the installer's commands and output."))
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.upgrade/1"))
def upgrade(
    spec: str | None,
    prefix: str | None,
    yes: bool,
    dry_run: bool,
    skip_verify: bool,
    keep: int,
    verbose: bool,
    as_json: bool,
) -> None:
    from torchenv.commands.upgrade import run_upgrade  # noqa: PLC0415

    emit = common.printer()

    def confirm(change: DiffReport) -> bool:
        if not as_json:
            _show_change(change)
        return _ask(_("Build the new generation and switch to it?"), yes)

    from torchenv.cli.build import _no_stack  # noqa: PLC0415
    from torchenv.commands.lock import NoStackError  # noqa: PLC0415

    try:
        with common.steps(quiet=as_json, live=not verbose and yes) as progress:
            report = run_upgrade(
                common.context(),
                spec,
                Path.cwd(),
                prefix=prefix,
                dry_run=dry_run,
                confirm=confirm,
                check=not skip_verify,
                keep=keep,
                verbose=verbose,
                progress=progress,
            )
    except NoStackError as exc:  # the plan's reasons, then exit 3, as lock does
        _no_stack(click.get_current_context(), exc)
        return
    if as_json:
        common.write_json(report)
        return
    _render_upgrade(emit, report)
    if report.state == "cancelled":
        raise SystemExit(1)


def _show_change(change: DiffReport) -> None:
    from torchenv.report.render_diff import render_diff  # noqa: PLC0415

    render_diff(common.printer(), change)


def _render_upgrade(emit: Emit, report: UpgradeReport) -> None:
    if report.state == "up-to-date":
        emit([(_("{prefix} is up to date with its spec").format(prefix=report.prefix), "green")])
    elif report.state == "dry-run":
        _show_change(report.change)
        emit([(_("dry run: nothing was built or switched"), "dim")])
    elif report.state == "cancelled":
        emit([(_("cancelled: nothing was built or switched"), "yellow")])
    else:
        emit(
            common.styled(
                _("upgraded {prefix} to generation {number} (verify: {verify})"),
                prefix=(report.prefix, "bold"),
                number=report.live,
                verify=report.verify,
            )
        )
        line = _("rollback target: generation {number}").format(number=report.previous)
        emit([("  " + line, "dim")])
        emit([("  " + _("lock: {path}").format(path=report.lock), "dim")])
    for note in report.notes:
        emit([("  " + _("note: {note}").format(note=note), "dim")])


@click.command(
    epilog=examples("rollback"),
    short_help=_("Make the previous (or the named) generation live again."),
    help=_(
        "Make the previous (or the named) generation live again, in one atomic switch, and put "
        "the project's lock back as it was for it."
    )
    + inline_examples("torchenv rollback", "torchenv rollback --to 2 --yes"),
)
@click.option("--prefix", metavar="DIR", help=PREFIX_HELP)
@click.option(
    "--to", "to", type=click.IntRange(1), metavar="N", help=_("The generation to make live.")
)
@click.option("--yes", "-y", is_flag=True, help=_("Do not ask before switching."))
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.rollback/1"))
def rollback(prefix: str | None, to: int | None, yes: bool, as_json: bool) -> None:
    from torchenv.commands.rollback import run_rollback  # noqa: PLC0415
    from torchenv.commands.upgrade import default_prefix, project_directory  # noqa: PLC0415

    target = default_prefix(prefix, Path.cwd())
    report = run_rollback(
        target,
        project_directory(Path.cwd()),
        to=to,
        confirm=lambda a, b: _ask(
            _("Switch {prefix} from {old} to {new}?").format(prefix=target, old=a, new=b), yes
        ),
    )
    if as_json:
        common.write_json(report)
        return
    emit = common.printer()
    emit(
        common.styled(
            _("rolled back {prefix} to generation {number} (was {previous})"),
            prefix=(report.prefix, "bold"),
            number=report.live,
            previous=report.previous,
        )
    )
    for path in report.restored:
        emit([("  " + _("restored {path}").format(path=path), None)])
    for note in report.notes:
        emit([("  " + _("note: {note}").format(note=note), "dim")])


@click.command(
    epilog=examples("history"),
    short_help=_("The generations of an environment, and which is live."),
    help=_(
        "The generations of an environment: number, date, torch, variant, Python, lock hash, "
        "verify result, and which is live."
    )
    + inline_examples("torchenv history", "torchenv history --keep 2 --prefix /opt/envs/train"),
)
@click.option("--prefix", metavar="DIR", help=PREFIX_HELP)
@click.option(
    "--keep",
    type=click.IntRange(1, 100),
    metavar="N",
    help=_("Delete all but the newest N generations (the live one always stays)."),
)
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.history/1"))
def history(prefix: str | None, keep: int | None, as_json: bool) -> None:
    from torchenv.commands.lifecycle import history as run_history  # noqa: PLC0415
    from torchenv.commands.upgrade import default_prefix  # noqa: PLC0415

    report = run_history(default_prefix(prefix, Path.cwd()), keep)
    if as_json:
        common.write_json(report)
    else:
        _render_history(common.printer(), report)


def _render_history(emit: Emit, report: HistoryReport) -> None:
    emit([(report.prefix, "bold")])
    for row in report.generations:
        mark = "*" if row.live else " "
        build = f"torch {row.torch or '?'}" + (f" ({row.variant})" if row.variant else "")
        parts = [
            f"{mark} {row.number:>3}",
            row.created[:16].replace("T", " ") if row.created else _("date unknown"),
            build,
            f"Python {row.python or '?'}",
            row.backend or "?",
            _("lock {hash}").format(hash=row.lock_sha256[:12] if row.lock_sha256 else "?"),
            _("verify {result}").format(result=row.verify or _("not recorded")),
        ]
        emit([("  ".join(parts), "bold" if row.live else None)])
        if row.problem:
            emit([(f"        {row.problem}", "yellow")])
    for number in report.pruned:
        emit([("  " + _("pruned generation {number}").format(number=number), "dim")])
    for note in report.notes:
        emit([("  " + _("note: {note}").format(note=note), "dim")])
