"""`torchenv db ...`: maintain the knowledge base."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from torchenv.cli import common
from torchenv.cli.examples import examples
from torchenv.i18n import _
from torchenv.models.indexes import PYPI_INDEX, PYTORCH_INDEX

if TYPE_CHECKING:
    from torchenv.commands.db_update import DbUpdateResult

Line = Callable[[list[tuple[str, str | None]]], None]


@click.group(
    epilog=examples("db"),
    short_help=_("Maintain the knowledge base (torch releases, variants, drivers)."),
    help=_("Maintain the knowledge base (torch releases, variants, drivers)."),
)
def db() -> None:
    """The group of `db update` (its help is the decorator's, to be translated)."""


@db.command(
    epilog=examples("db update"),
    short_help=_("Read the torch release data again from the package indexes."),
    help=_(
        "Regenerate the torch release data from the package indexes (wheels are read by HTTP "
        "range requests, a few MB each) and write it to the user data directory.\n\n"
        "Writes nothing and exits 2 for a malformed index URL or a --pypi-index that holds no "
        "torch release, 4 when --pypi-index cannot be read (a --pytorch-index that cannot be "
        "read is reported, and the variants already known are kept)."
    ),
)
@click.option(
    "--pypi-index",
    default=PYPI_INDEX,
    show_default=True,
    metavar="URL",
    help=_(
        "PyPI-compatible index (PEP 691 JSON or PEP 503 HTML; file:// or a directory works), "
        "or a flat listing of wheels as pip --find-links reads (an HTML page, or a folder)."
    ),
)
@click.option(
    "--pytorch-index",
    default=PYTORCH_INDEX,
    show_default=True,
    metavar="URL",
    help=_(
        "PyTorch wheel index, read for the variants of each release (a simple index or a flat "
        "listing such as https://download.pytorch.org/whl/torch_stable.html)."
    ),
)
@click.option(
    "--full", is_flag=True, help=_("Read every release's wheels again, not only new ones.")
)
@click.option(
    "--only",
    "versions",
    multiple=True,
    metavar="VERSION",
    help=_("Update only this torch release (repeat for several), e.g. --only 2.13.0."),
)
@click.option(
    "--archs",
    is_flag=True,
    help=_("Also read the arch list of every CUDA variant's wheel on the PyTorch index (slow)."),
)
@click.option(
    "--from-scratch",
    is_flag=True,
    help=_(
        "Start from no data at all, not the current data (needs --output): rebuilds what the "
        "indexes publish, for comparing with the packaged file."
    ),
)
@click.option(
    "--output",
    type=common.FilePath(path_type=Path),
    metavar="FILE",
    help=_("Write the result to FILE instead of the user data directory."),
)
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.db-update/1"))
def update(
    pypi_index: str,
    pytorch_index: str,
    full: bool,
    versions: tuple[str, ...],
    archs: bool,
    from_scratch: bool,
    output: Path | None,
    as_json: bool,
) -> None:
    from torchenv.commands.db_update import run_db_update  # noqa: PLC0415

    with common.steps(quiet=as_json) as progress:
        result = run_db_update(
            pypi_index=pypi_index,
            pytorch_index=pytorch_index,
            full=full,
            versions=versions or None,
            archs=archs,
            progress=progress,
            from_scratch=from_scratch,
            output=output,
        )
    if as_json:
        common.write_json(result)
    else:
        render_update(common.printer(), result)


def render_update(line: Line, result: DbUpdateResult) -> None:
    where = result.path
    if not result.written:
        where = _("{path} (unchanged, not rewritten)").format(path=result.path)
    line(common.styled(_("Knowledge base: {path}"), "bold", path=(where, None)))
    started = _("started from {source}; read {index}").format(
        source=result.started_from, index=result.pypi_index
    )
    line([("  " + started, "dim")])

    def label(word: str, style: str) -> tuple[str, str | None]:
        return ("  " + common.padded(word, 8), style)

    for version in result.added:
        line([label(_("added"), "green"), (f"torch {version}", None)])
    for change in result.changed:
        fields = ", ".join(change.fields)
        line([label(_("changed"), "yellow"), (f"torch {change.version}: {fields}", None)])
    if result.minors_changed:
        line([label(_("minors"), "yellow"), (", ".join(result.minors_changed), None)])
    for item in result.arch_lists_changed:
        line([label(_("archs"), "yellow"), (item, None)])
    if not (result.added or result.changed or result.minors_changed):
        line([("  " + _("no release changed"), None)])
    for failure in result.failures:
        line([label(_("failed"), "red"), (f"{failure.source}: {failure.error}", None)])
    summary = _(
        "{releases} releases; {reads} wheel reads, {requests} requests, {megabytes} MB in "
        "{seconds} s"
    ).format(
        releases=result.releases,
        reads=result.wheel_reads,
        requests=result.requests,
        megabytes=f"{result.bytes_read / 1e6:.1f}",
        seconds=f"{result.seconds:.1f}",
    )
    line([("  " + summary, "dim")])
