"""`torchenv adopt`: a spec and a lock for an environment made by hand."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from torchenv.cli import common
from torchenv.cli.examples import examples, inline_examples
from torchenv.errors import ExitCode
from torchenv.i18n import _

if TYPE_CHECKING:
    from torchenv.models.lifecycle import AdoptReport

Emit = Callable[[list[tuple[str, str | None]]], None]
LOCK_FAILED = "locking failed: "  # how commands.adopt notes a lock that could not be made


@click.command(
    epilog=examples("adopt"),
    short_help=_("Write a spec and a lock for an environment made by hand."),
    help=_(
        "Bring an environment made by hand (pip, uv, conda) under torchenv: write a spec "
        "(torchenv.toml) and a lock that rebuild it as closely as the package indexes allow, and "
        "list every package that cannot be pinned, with the reason. The environment is read from "
        "its files, without importing torch, and is left as it is. When the lock cannot be made, "
        "the spec stays for you to edit, and the exit code is 2."
    )
    + inline_examples(
        "torchenv adopt --prefix ~/venvs/train --out ~/projects/train",
        "torchenv adopt --prefix /opt/conda/envs/vision --json",
    ),
)
@click.option(
    "--prefix",
    required=True,
    metavar="DIR",
    help=_("The environment to adopt (a venv or conda prefix); nothing in it is changed."),
)
@click.option(
    "--out",
    metavar="DIR",
    help=_("Where torchenv.toml and its lock go (default: the current directory)."),
)
@click.option("--force", is_flag=True, help=_("Replace a torchenv.toml or lock already there."))
@click.option(
    "--find-links",
    "find_links",
    multiple=True,
    metavar="DIR|URL",
    help=_("A folder (or URL) of wheels for the spec's [index] (repeat for several)."),
)
@click.option(
    "--pytorch-index",
    metavar="URL",
    help=_("The PyTorch wheel index (or a mirror of it) for the spec's [index]."),
)
@click.option("--verbose", "-v", is_flag=True, help=_("Show the resolver's commands and output."))
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.adopt/1"))
@click.pass_context
def adopt(
    ctx: click.Context,
    prefix: str,
    out: str | None,
    force: bool,
    find_links: tuple[str, ...],
    pytorch_index: str | None,
    verbose: bool,
    as_json: bool,
) -> None:
    from torchenv.commands.adopt import run_adopt  # noqa: PLC0415

    # the spec records how it was made; --out, --force and output flags do not change it
    origin = ["torchenv", "adopt", "--prefix", prefix]
    for link in find_links:
        origin += ["--find-links", link]
    if pytorch_index is not None:
        origin += ["--pytorch-index", pytorch_index]
    with common.steps(quiet=as_json, live=not verbose) as progress:
        report = run_adopt(
            common.context(),
            prefix,
            Path.cwd(),
            out=out,
            force=force,
            find_links=find_links,
            pytorch_index=pytorch_index,
            origin=shlex.join(origin),
            progress=progress,
            verbose=verbose,
        )
    if as_json:
        common.write_json(report)
    else:
        _render(common.printer(), report)
    if report.lock is None:
        failure = next((n for n in report.notes if n.startswith(LOCK_FAILED)), None)
        common.error_line(
            _(
                "torchenv: error: {failure}; the spec {spec} stays: edit it, then run "
                "`torchenv lock`"
            ).format(failure=failure or _("locking failed"), spec=report.spec)
        )
        ctx.exit(ExitCode.USAGE)


def _render(emit: Emit, report: AdoptReport) -> None:
    emit(
        common.styled(
            _("adopted {prefix} ({installer})"),
            prefix=(report.prefix, "bold"),
            installer=report.installer,
        )
    )
    build = (report.torch or "?", "bold green")
    variant = report.variant or _("unknown")
    if report.python:
        line = _("torch {build} (variant {variant}, cuda = {cuda}), Python {python}")
    else:
        line = _("torch {build} (variant {variant}, cuda = {cuda})")
    emit(
        [
            ("  ", None),
            *common.styled(
                line, build=build, variant=variant, cuda=report.cuda, python=report.python
            ),
        ]
    )
    if report.libraries:
        libraries = ", ".join(report.libraries)
        line = _("libraries: {libraries} (paired with torch by the plan)")
        emit([("  " + line.format(libraries=libraries), None)])
    emit(
        common.styled(
            _("wrote {path} ({count} pinned)"), path=(report.spec, "bold"), count=report.pinned
        )
    )
    if report.lock is not None:
        emit(common.wrote(report.lock))
    if report.unpinned:
        emit([(_("not pinned ({count}):").format(count=len(report.unpinned)), "yellow")])
        for line in report.unpinned:
            emit([(f"  {line}", None)])
    for note in report.notes:
        if not note.startswith(LOCK_FAILED):  # the error line on stderr says it
            emit(common.note(note))
    if report.lock is not None:
        emit(common.next_step("torchenv create --prefix DIR"))
