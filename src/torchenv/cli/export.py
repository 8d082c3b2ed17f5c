"""`torchenv export`: a lock as requirements.txt, environment.yml or pixi.toml."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from torchenv.cli import common
from torchenv.cli.examples import examples
from torchenv.i18n import _

# backends/export.py FORMATS, spelled here so that `torchenv --help` does not import the backends
# (a unit test holds the two equal)
FORMATS = ("requirements.txt", "environment.yml", "pixi.toml")


@click.command(
    epilog=examples("export"),
    short_help=_("A lock as requirements.txt, environment.yml or pixi.toml."),
    help=_(
        "Export a lock for tools that do not run torchenv: LOCK (pylock.toml or conda.lock), "
        "the lock an environment was made from (--prefix), else the lock of the spec here. What "
        "the format cannot say (hashes, markers, index strategy) is printed as notes on stderr."
    ),
)
@click.argument("lock_file", required=False, metavar="[LOCK]")
@click.option(
    "--format", "fmt", required=True, type=click.Choice(FORMATS), help=_("What to write.")
)
@click.option("--prefix", metavar="DIR", help=_("Export the lock this environment was made from."))
@click.option("--spec", "spec_file", metavar="SPEC", help=_("Export the lock of this spec."))
@click.option("--out", metavar="FILE", help=_("Write it to FILE (default: stdout)."))
@click.option(
    "--platform",
    metavar="SUBDIR",
    help=_(
        "For a conda lock or pixi.toml: the platform (linux-64, osx-arm64, or linux_x86_64); "
        "environment.yml of a conda lock defaults to this machine's or the environment's."
    ),
)
@click.option("--name", metavar="NAME", help=_("Environment name in environment.yml/pixi.toml."))
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.export/1"))
def export(
    lock_file: str | None,
    fmt: str,
    prefix: str | None,
    spec_file: str | None,
    out: str | None,
    platform: str | None,
    name: str | None,
    as_json: bool,
) -> None:
    from torchenv.commands.export import run_export  # noqa: PLC0415

    report = run_export(
        Path.cwd(),
        fmt=fmt,
        lock_file=lock_file,
        prefix=prefix,
        spec_file=spec_file,
        out=out,
        platform=platform,
        name=name,
    )
    for note in report.notes:
        common.error_line(_("torchenv: note: {note}").format(note=note))
    if as_json:
        document: dict[str, object] = {
            "schema": report.schema,
            "format": report.format,
            "source": report.source,
            "notes": list(report.notes),
        }
        document.update({"out": report.out} if report.out else {"text": report.text})
        common.write_json(document)
    elif report.out is not None:
        common.printer()(
            common.styled(_("wrote {path} ({format})"), path=(report.out, "bold"), format=fmt)
        )
    else:
        # the exported file itself, byte for byte: every value in it was checked on the way
        sys.stdout.write(report.text or "")
