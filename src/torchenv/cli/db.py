"""`torchenv db ...`: maintain the knowledge base."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from torchenv.cli import common
from torchenv.cli.examples import examples
from torchenv.models.indexes import PYPI_INDEX, PYTORCH_INDEX

if TYPE_CHECKING:
    from torchenv.commands.db_update import DbUpdateResult

Line = Callable[[list[tuple[str, str | None]]], None]


@click.group(epilog=examples("db"))
def db() -> None:
    """Maintain the knowledge base (torch releases, variants, drivers)."""


@db.command(epilog=examples("db update"))
@click.option(
    "--pypi-index",
    default=PYPI_INDEX,
    show_default=True,
    metavar="URL",
    help="PyPI-compatible index (PEP 691 JSON or PEP 503 HTML; file:// or a directory works), "
    "or a flat listing of wheels as pip --find-links reads (an HTML page, or a folder).",
)
@click.option(
    "--pytorch-index",
    default=PYTORCH_INDEX,
    show_default=True,
    metavar="URL",
    help="PyTorch wheel index, read for the variants of each release (a simple index or a flat "
    "listing such as https://download.pytorch.org/whl/torch_stable.html).",
)
@click.option("--full", is_flag=True, help="Read every release's wheels again, not only new ones.")
@click.option(
    "--only",
    "versions",
    multiple=True,
    metavar="VERSION",
    help="Update only this torch release (repeat for several), e.g. --only 2.13.0.",
)
@click.option(
    "--archs",
    is_flag=True,
    help="Also read the arch list of every CUDA variant's wheel on the PyTorch index (slow).",
)
@click.option(
    "--from-scratch",
    is_flag=True,
    help="Start from no data at all, not the current data (needs --output): rebuilds what the "
    "indexes publish, for comparing with the packaged file.",
)
@click.option(
    "--output",
    type=common.FilePath(path_type=Path),
    metavar="FILE",
    help="Write the result to FILE instead of the user data directory.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document (torchenv.db-update/1)."
)
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
    """Regenerate the torch release data from the package indexes (wheels are read by HTTP
    range requests, a few MB each) and write it to the user data directory.

    Writes nothing and exits 2 for a malformed index URL or a --pypi-index that holds no torch
    release, 4 when --pypi-index cannot be read (a --pytorch-index that cannot be read is
    reported, and the variants already known are kept)."""
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
    where = result.path if result.written else f"{result.path} (unchanged, not rewritten)"
    line([("Knowledge base: ", "bold"), (where, None)])
    line([(f"  started from {result.started_from}; read {result.pypi_index}", "dim")])
    for version in result.added:
        line([("  added   ", "green"), (f"torch {version}", None)])
    for change in result.changed:
        line(
            [
                ("  changed ", "yellow"),
                (f"torch {change.version}: {', '.join(change.fields)}", None),
            ]
        )
    if result.minors_changed:
        line([("  minors  ", "yellow"), (", ".join(result.minors_changed), None)])
    for item in result.arch_lists_changed:
        line([("  archs   ", "yellow"), (item, None)])
    if not (result.added or result.changed or result.minors_changed):
        line([("  no release changed", None)])
    for failure in result.failures:
        line([("  failed  ", "red"), (f"{failure.source}: {failure.error}", None)])
    megabytes = result.bytes_read / 1e6
    line(
        [
            (
                f"  {result.releases} releases; {result.wheel_reads} wheel reads, "
                f"{result.requests} requests, {megabytes:.1f} MB in {result.seconds:.1f} s",
                "dim",
            )
        ]
    )
